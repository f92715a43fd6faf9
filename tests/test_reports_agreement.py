"""Metric <-> MUSHRA agreement and paired run comparison, as pure functions."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalsuite.conditions import ordered_ids as condition_order
from reports.agreement import correlations, fisher_ci, metric_agreement, objective_condition_means
from reports.compare import holm, paired_differences, paired_stats

CONDS = ["reference", "anchor_lp70", "anchor_lp35", "opus@6", "opus@12", "soundstream@3", "soundstream@6"]
MUSHRA = pd.DataFrame({"condition": CONDS, "mean": [98.0, 70.0, 35.0, 55.0, 80.0, 72.0, 85.0]})


def test_fisher_ci_matches_the_textbook_formula():
    r, n = 0.8, 12
    z, h = math.atanh(r), 1.959963984540054 / math.sqrt(n - 3)
    assert fisher_ci(r, n) == pytest.approx((math.tanh(z - h), math.tanh(z + h)))
    lo, hi = fisher_ci(r, n, spearman=True)  # Bonett-Wright: wider
    assert lo < math.tanh(z - h) and hi > math.tanh(z + h) - 1e-12
    assert all(math.isnan(v) for v in fisher_ci(0.5, 3))


def test_perfect_and_monotone_agreement():
    # metric A is an exact linear function of MUSHRA; metric B is monotone but non-linear;
    # metric C is a distance (lower is better) that falls as MUSHRA rises
    y = MUSHRA["mean"].to_numpy()
    obj = pd.concat([
        pd.DataFrame({"condition": CONDS, "metric": "A", "mean": 0.04 * y + 1.0, "higher_is_better": True}),
        pd.DataFrame({"condition": CONDS, "metric": "B", "mean": np.exp(y / 10), "higher_is_better": True}),
        pd.DataFrame({"condition": CONDS, "metric": "C", "mean": 100 - y, "higher_is_better": False}),
    ])
    st, pairs = metric_agreement(obj, MUSHRA)
    st = st.set_index("metric")
    assert st.loc["A", "pearson_r"] == pytest.approx(1.0)
    assert st.loc["B", "spearman_rho"] == pytest.approx(1.0) and st.loc["B", "pearson_r"] < 0.99
    assert st.loc["C", "spearman_rho"] == pytest.approx(-1.0) and st.loc["C", "agrees"] == pytest.approx(1.0)
    assert (st["n"] == len(CONDS)).all()
    assert len(pairs) == 3 * len(CONDS)


def test_agreement_against_scipy_on_noisy_data():
    rng = np.random.default_rng(1)
    y = MUSHRA["mean"].to_numpy()
    x = y + rng.normal(0, 12, len(y))
    obj = pd.DataFrame({"condition": CONDS, "metric": "m", "mean": x})
    st, _ = metric_agreement(obj, MUSHRA)
    row = st.iloc[0]
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert row["spearman_rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert row["pearson_low"] < row["pearson_r"] < row["pearson_high"]
    assert row["spearman_p"] == pytest.approx(stats.spearmanr(x, y).pvalue)


def test_only_shared_conditions_are_paired():
    obj = pd.DataFrame({"condition": ["opus@6", "opus@12", "opus@24", "codec2@3.2"], "metric": "m",
                        "mean": [1.0, 2.0, 3.0, 0.5]})
    st, pairs = metric_agreement(obj, MUSHRA)
    assert set(pairs["condition"]) == {"opus@6", "opus@12"}
    assert st.iloc[0]["n"] == 2 and math.isnan(st.iloc[0]["pearson_r"])  # too few to correlate


def test_objective_condition_means_use_the_listening_items_only():
    res = pd.DataFrame({
        "item": ["a", "b", "a", "b", "a"], "codec": ["opus", "opus", "opus", "opus", "reference"],
        "requested_kbps": [6.0, 6.0, 12.0, 12.0, 0.0], "metric": "m", "value": [1.0, 3.0, 2.0, 4.0, 5.0],
        "higher_is_better": True,
    })
    all_items = objective_condition_means(res).set_index("condition")["mean"]
    assert all_items.to_dict() == {"opus@12": 3.0, "opus@6": 2.0, "reference": 5.0}
    only_a = objective_condition_means(res, items=["a"]).set_index("condition")["mean"]
    assert only_a.to_dict() == {"opus@12": 2.0, "opus@6": 1.0, "reference": 5.0}


def test_condition_order():
    assert condition_order(["opus@12", "soundstream@3", "anchor_lp35", "opus@6", "reference", "anchor_lp70"]) == \
        ["reference", "anchor_lp70", "anchor_lp35", "opus@6", "opus@12", "soundstream@3"]


def test_holm_matches_the_definition():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert np.allclose(holm(p)[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert math.isnan(holm(p)[3])


def test_paired_stats_and_differences():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = a + np.array([0.5, 0.4, 0.6, 0.5, 0.55, 0.45])
    s = paired_stats(a, b)
    assert s["mean_diff"] == pytest.approx(0.5)
    assert s["t_p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert s["ci95_low"] < 0.5 < s["ci95_high"]
    rows = lambda vals, metric: pd.DataFrame({"item": [f"i{k}" for k in range(6)], "codec": "x", "requested_kbps": 6.0,
                                               "metric": metric, "value": vals})
    ra = pd.concat([rows(a, "q"), rows(a, "dist")])
    rb = pd.concat([rows(b, "q"), rows(b, "dist"), rows(b, "q").assign(item="only_in_b")])
    d = paired_differences(ra, rb, {"q": True, "dist": False}).set_index("metric")
    assert d.loc["q", "n"] == 6 and d.loc["q", "condition"] == "x@6"
    assert bool(d.loc["q", "significant"]) and bool(d.loc["q", "b_better"])
    assert not bool(d.loc["dist", "b_better"])  # a larger distance is worse
    same = paired_stats(a, a)
    assert same["t_p"] == 1.0 and same["wilcoxon_p"] == 1.0


def test_codec_only_agreement_leaves_out_reference_and_anchors():
    obj = pd.DataFrame({"condition": CONDS, "metric": "m", "mean": MUSHRA["mean"].to_numpy() / 20})
    _, pairs = metric_agreement(obj, MUSHRA, include_anchors=False)
    assert set(pairs["condition"]) == {"opus@6", "opus@12", "soundstream@3", "soundstream@6"}


def test_correlations_of_a_constant_metric_are_undefined():
    c = correlations([1.0, 1.0, 1.0, 1.0], [10.0, 20.0, 30.0, 40.0])
    assert c["n"] == 4 and math.isnan(c["pearson_r"]) and math.isnan(c["spearman_rho"])
