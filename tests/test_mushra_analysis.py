"""Analysis checked against hand-computed values on small ratings tables (test data only)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from listening_test.analysis import (
    RATING_COLUMNS,
    condition_summary,
    holm,
    load_ratings,
    mean_ci95,
    pairwise_tests,
    post_screening,
    write_report,
)
from listening_test.config import load_config
from listening_test.storage import RatingStore
from test_mushra_fixtures import fresh_test, mushra_run, mushra_test_dir  # noqa: F401


def table(rows: dict[str, dict[str, list[float]]], categories=("speech", "speech", "music", "music")) -> pd.DataFrame:
    """rows: listener -> condition -> scores per trial t1..tn."""
    out = []
    for listener, conds in rows.items():
        for cond, scores in conds.items():
            codec, kbps = (cond.split("@")[0], float(cond.split("@")[1])) if "@" in cond else (cond, math.nan)
            for i, s in enumerate(scores):
                out.append(dict(listener=listener, trial=f"t{i + 1}", item=f"i{i + 1}", category=categories[i],
                                condition=cond, codec=codec, kbps=kbps, score=float(s), time_spent_s=10.0))
    return pd.DataFrame(out, columns=RATING_COLUMNS)


GOOD = {"reference": [100, 100, 95, 100], "anchor_lp70": [60, 70, 50, 65], "anchor_lp35": [20, 25, 10, 30],
        "codec@6": [80, 70, 60, 75]}


def test_screening_rules():
    ratings = table({
        "good": GOOD,
        "refbad": {**GOOD, "reference": [100, 85, 100, 100]},  # 1/4 = 25 % < 90 -> excluded
        "midbad": {**GOOD, "anchor_lp70": [60, 95, 50, 65]},  # 1/4 = 25 % > 90 -> excluded
        "edge": {**GOOD, "reference": [100, 90, 100, 100], "anchor_lp70": [90, 70, 50, 65]},  # 90 is fine
    })
    kept, scr = post_screening(ratings)
    scr = scr.set_index("listener")
    assert scr.loc["good", "excluded"] == False and scr.loc["edge", "excluded"] == False  # noqa: E712
    assert scr.loc["refbad", "excluded"] and scr.loc["refbad", "hidden_ref_below_90_frac"] == 0.25
    assert "hidden reference rated below 90 in 1/4" in scr.loc["refbad", "reason"]
    assert scr.loc["midbad", "excluded"] and scr.loc["midbad", "mid_anchor_above_90_frac"] == 0.25
    assert "mid anchor rated above 90 in 1/4" in scr.loc["midbad", "reason"]
    assert (scr["n_trials"] == 4).all()
    assert set(kept["listener"]) == {"good", "edge"} and len(kept) == 2 * 16


def test_screening_fifteen_percent_boundary():
    seven = ["speech"] * 7
    base = {"reference": [100] * 7, "anchor_lp70": [50] * 7}
    one = table({"x": {**base, "reference": [80] + [100] * 6}}, seven)  # 1/7 = 14.3 % -> kept
    two = table({"x": {**base, "reference": [80, 80] + [100] * 5}}, seven)  # 2/7 = 28.6 % -> excluded
    assert not post_screening(one)[1]["excluded"].item()
    assert post_screening(two)[1]["excluded"].item()


def test_mean_ci_by_hand():
    # [60, 70, 80]: mean 70, s = 10, t(0.975, 2) = 4.302653 -> half width 24.8414
    m, lo, hi = mean_ci95(np.array([60.0, 70.0, 80.0]))
    assert m == 70 and hi - m == pytest.approx(24.8414, abs=1e-4) and m - lo == pytest.approx(24.8414, abs=1e-4)
    assert math.isnan(mean_ci95(np.array([50.0]))[1])


def test_condition_summary_by_hand():
    ratings = table({"a": {"reference": [100, 100, 100, 100], "codec@6": [60, 70, 80, 90]},
                     "b": {"reference": [100, 100, 100, 100], "codec@6": [50, 60, 70, 80]}})
    s = condition_summary(ratings).set_index("condition")
    assert list(s.index) == ["reference", "codec@6"]
    c = s.loc["codec@6"]
    x = np.array([60, 70, 80, 90, 50, 60, 70, 80.0])
    assert c["n"] == 8 and c["mean"] == pytest.approx(70.0)
    # s = sqrt(sum((x-70)^2)/7) = sqrt(1200/7) = 13.0931; t(0.975,7) = 2.364624 -> 10.9456
    assert c["ci95_high"] - c["mean"] == pytest.approx(2.364624 * math.sqrt(1200 / 7) / math.sqrt(8), rel=1e-6)
    assert c["ci95_high"] - c["mean"] == pytest.approx(10.9456, abs=1e-3)
    assert c["median"] == 70 and c["q25"] == 60 and c["q75"] == 80  # linear interpolation of sorted x
    assert c["codec"] == "codec" and c["kbps"] == 6 and math.isnan(s.loc["reference", "kbps"])
    assert s.loc["reference", "ci95_low"] == 100  # zero variance
    by = condition_summary(ratings, ["category", "condition"])
    row = by[(by["category"] == "music") & (by["condition"] == "codec@6")].iloc[0]
    assert row["n"] == 4 and row["mean"] == pytest.approx((80 + 90 + 70 + 80) / 4)
    assert np.allclose(x.mean(), c["mean"])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.20 -> 4*0.01, 3*0.03, max(2*0.04, 0.09), max(0.20, 0.09)
    assert np.allclose(holm([0.01, 0.04, 0.03, 0.20]), [0.04, 0.09, 0.09, 0.20])
    assert np.allclose(holm([0.5, 0.6]), [1.0, 1.0])


def test_pairwise_by_hand():
    # codec@6 - codec@12 differences over 5 (listener, trial) cells: 1..5 -> W- = 0; the exact
    # two-sided p of the signed-rank test with n = 5 is 2 / 2^5 = 0.0625
    rows = []
    for i, d in enumerate([1, 2, 3, 4, 5]):
        for cond, s in (("codec@6", 50 + d), ("codec@12", 50.0), ("reference", 100.0)):
            rows.append(dict(listener=f"l{i}", trial="t1", item="i", category="c", condition=cond,
                             codec=cond.split("@")[0], kbps=math.nan, score=s, time_spent_s=1.0))
    pw = pairwise_tests(pd.DataFrame(rows)).set_index(["condition_a", "condition_b"])
    r = pw.loc[("codec@6", "codec@12")]
    assert r["n"] == 5 and r["statistic"] == 0 and r["p_value"] == pytest.approx(0.0625)
    # reference vs codec@12: all differences 50 -> W = 0, p = 0.0625 too; Holm over 3 pairs
    assert pw["p_value"].tolist() == pytest.approx([0.0625] * 3)
    assert pw["p_holm"].tolist() == pytest.approx([0.1875] * 3)
    assert not pw["significant"].any()


def test_load_and_report(fresh_test, tmp_path):
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    for lid, ref in (("l1", 100), ("l2", 100), ("l3", 80)):
        tok = store.create_listener(lid)
        for pos, t in enumerate(cfg.trials):
            labels = {c.id: chr(65 + i) for i, c in enumerate(t.conditions)}
            sc = {"reference": ref, "anchor_lp35": 10, "anchor_lp70": 40, "opus@6": 55, "opus@12": 100 if ref < 100 else 75}
            store.submit_trial(lid, tok, t.id, sc, labels, pos, 20.0)
    store.dispose()
    r = load_ratings(fresh_test)
    assert list(r.columns) == RATING_COLUMNS and len(r) == 3 * 4 * 5
    assert set(r["category"]) == {"clean_speech", "noisy_speech", "music", "general"}
    assert r.loc[r["condition"] == "opus@12", "kbps"].eq(12).all() and r.loc[r["codec"] == "reference", "kbps"].isna().all()
    files = write_report(fresh_test, tmp_path / "rep")
    for name in ("ratings", "screening", "summary", "summary_by_category", "pairwise", "boxplot.png", "means.svg",
                 "means_by_category.png"):
        assert files[name].is_file() and files[name].stat().st_size > 0
    scr = pd.read_csv(files["screening"]).set_index("listener")
    assert scr.loc["l3", "excluded"] and not scr.loc["l1", "excluded"]
    summ = pd.read_csv(files["summary"]).set_index("condition")
    assert summ.loc["opus@6", "n"] == 8 and summ.loc["opus@12", "mean"] == 75
