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
    est = pd.read_csv(files["estimates"]).set_index("condition")
    assert est.loc["opus@12", "model_mean"] == pytest.approx(75.0) and est.loc["opus@12", "listeners"] == 2
    # 2 kept listeners rank the 5 conditions identically: Q = 12/(2*5*6) * (2²+4²+6²+8²+10²) - 3*2*6 = 8
    fr = pd.read_csv(files["friedman"]).iloc[0]
    assert fr["statistic"] == pytest.approx(8.0) and fr["n_listeners"] == 2 and fr["k"] == 5
    assert files["posthoc"].is_file()


# -- repeated-measures statistics on simulated ratings (TEST DATA with known truth) ------------

EFFECTS = {"reference": 95.0, "anchor_lp70": 60.0, "anchor_lp35": 20.0, "codec@6": 75.0}
SD_LISTENER, SD_ITEM, SD_RESIDUAL = 8.0, 5.0, 10.0


def simulate(seed: int, listeners: int = 10, items: int = 6) -> pd.DataFrame:
    """rating = condition effect + listener effect + item effect + noise (every listener rates
    every condition on every item): the model's own assumptions, with known parameters."""
    rng = np.random.default_rng(seed)
    ul = rng.normal(0, SD_LISTENER, listeners)
    ui = rng.normal(0, SD_ITEM, items)
    rows = []
    for li in range(listeners):
        for ii in range(items):
            for cond, eff in EFFECTS.items():
                rows.append(dict(listener=f"l{li}", trial=f"t{ii}", item=f"i{ii}", category="speech", condition=cond,
                                 codec=cond.split("@")[0], kbps=math.nan, score=eff + ul[li] + ui[ii] + rng.normal(0, SD_RESIDUAL),
                                 time_spent_s=1.0))
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


@pytest.fixture(scope="module")
def simulations():
    from listening_test.mixed_model import fit_mixed_model, listener_item_bootstrap

    out = []
    for s in range(60):
        r = simulate(1000 + s)
        out.append((fit_mixed_model(r), listener_item_bootstrap(r, B=400, seed=s).set_index("condition"),
                    condition_summary(r).set_index("condition")))
    return out


def test_mixed_model_recovers_effects_and_variances(simulations):
    est = pd.concat([f.estimates.set_index("condition")["estimate"] for f, _, _ in simulations], axis=1).mean(axis=1)
    for cond, eff in EFFECTS.items():
        assert est[cond] == pytest.approx(eff, abs=1.0), cond  # measured: within 0.4 points
    vl = np.mean([f.var_listener for f, _, _ in simulations])
    vi = np.mean([f.var_item for f, _, _ in simulations])
    ve = np.mean([f.var_residual for f, _, _ in simulations])
    # REML is unbiased for balanced data; averaged over 60 fits (10 listeners, 6 items).
    # measured: listener 66.1 (true 64), item 24.3 (25), residual 99.8 (100)
    assert vl == pytest.approx(SD_LISTENER ** 2, rel=0.15)
    assert vi == pytest.approx(SD_ITEM ** 2, rel=0.25)
    assert ve == pytest.approx(SD_RESIDUAL ** 2, rel=0.03)
    assert all(f.converged for f, _, _ in simulations)


def test_mixed_model_intervals_cover_near_nominal_where_the_t_interval_does_not(simulations):
    hit_model = hit_boot = hit_t = total = 0
    for fit, boot, plain in simulations:
        e = fit.estimates.set_index("condition")
        for cond, eff in EFFECTS.items():
            total += 1
            hit_model += e.loc[cond, "low"] <= eff <= e.loc[cond, "high"]
            hit_boot += boot.loc[cond, "low"] <= eff <= boot.loc[cond, "high"]
            hit_t += plain.loc[cond, "ci95_low"] <= eff <= plain.loc[cond, "ci95_high"]
    cov_model, cov_boot, cov_t = hit_model / total, hit_boot / total, hit_t / total
    # measured over 60 simulations x 4 conditions: model 0.983, bootstrap 0.983, t-interval 0.796
    # (the four conditions of a simulation share its listeners and items, so the coverage of
    # the model's intervals has a standard error of about 0.03 here)
    assert 0.90 <= cov_model <= 0.995
    assert 0.85 <= cov_boot <= 1.0
    assert cov_t < 0.85


def test_listener_item_bootstrap_by_hand():
    from listening_test.mixed_model import listener_item_bootstrap

    # one condition, two listeners x one item: scores 40 and 80. Resampling 2 listeners gives
    # means 40, 60, 60, 80 with equal probability: 2.5% and 97.5% quantiles are 40 and 80.
    r = pd.DataFrame(dict(listener=["a", "b"], item=["i", "i"], condition=["codec@6"] * 2, score=[40.0, 80.0]))
    b = listener_item_bootstrap(r, B=4000, seed=0).iloc[0]
    assert (b["mean"], b["low"], b["high"]) == (60.0, 40.0, 80.0)


def test_friedman_and_posthoc_by_hand():
    # 5 listeners rank three conditions identically: R = (5, 10, 15); Q = 12/(n k (k+1)) ΣR² - 3n(k+1)
    # = 12/(5*3*4) * (25 + 100 + 225) - 3*5*4 = 70 - 60 = 10; p = exp(-10/2) for chi2(2)
    rows = {f"l{i}": {"anchor_lp35": [10 + i], "codec@6": [50 + i], "reference": [90 + i]} for i in range(5)}
    ratings = table(rows, categories=("speech",))
    fr = analysis_friedman(ratings)
    assert fr["statistic"] == pytest.approx(10.0) and fr["p_value"] == pytest.approx(math.exp(-5.0))
    ph = analysis_posthoc(ratings).set_index(["condition_a", "condition_b"])
    # every listener-mean difference has the same sign: exact two-sided Wilcoxon p = 2/2^5 = 0.0625
    assert ph["p_value"].tolist() == pytest.approx([0.0625] * 3)
    assert ph["p_holm"].tolist() == pytest.approx([0.1875] * 3) and not ph["significant"].any()
    assert list(ph.index)[0] == ("reference", "anchor_lp35")  # evalsuite.conditions order


def analysis_friedman(r):
    from listening_test.analysis import friedman_test

    return friedman_test(r)


def analysis_posthoc(r):
    from listening_test.analysis import posthoc_listener_means

    return posthoc_listener_means(r)


def _render(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_box_plot_labels_end_at_their_ticks():
    from evalsuite.plots import mushra_box_figure

    r = simulate(1, listeners=3, items=2)
    fig = mushra_box_figure(r)
    renderer = _render(fig)
    ax = fig.axes[0]
    for tick, label in zip(ax.get_xticks(), ax.get_xticklabels()):
        x_tick = ax.transData.transform((tick, 0))[0]
        box = label.get_window_extent(renderer)
        # a 45-degree label anchored at its upper right corner: that corner sits on the tick, so
        # the box reaches right of it by the rotated line height (about h sin 45, measured 8.3 px).
        # Rotated about its centre (analysis.py's old box plot) it overhangs by half its length;
        # box-aligned without anchoring (the report's old one) its end sits h sin 45 left of the tick.
        line_px = label.get_fontsize() * fig.dpi / 72 * 1.2
        assert 0.3 * line_px <= box.x1 - x_tick <= line_px * 0.71 + 1, (label.get_text(), box.x1, x_tick)
        assert abs(box.y1 - ax.get_window_extent(renderer).y0) < line_px + 8  # just below the axis


def test_means_figure_marks_intervals_beyond_100_and_names_listeners():
    from evalsuite.plots import mushra_means_figure

    s = pd.DataFrame({"condition": ["reference", "codec@6"], "mean": [97.0, 60.0], "ci95_low": [92.0, 50.0],
                      "ci95_high": [103.0, 70.0]})
    fig = mushra_means_figure(s, title="all", listeners=7)
    _render(fig)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 100.0) and ax.get_title() == "all (7 listeners)"
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "^"]
    assert len(markers) == 1 and markers[0].get_xdata()[0] == 0 and markers[0].get_ydata()[0] == 100.0
    assert "continues beyond the axis" in fig.get_suptitle()
    by = pd.concat([s.assign(category="music"), s.assign(category="clean_speech")])
    fig2 = mushra_means_figure(by, by="category", listeners={"music": 5, "clean_speech": 6})
    assert [a.get_title() for a in fig2.axes] == ["clean_speech (6 listeners)", "music (5 listeners)"]


def test_figures_leave_the_callers_backend_alone():
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import evalsuite.plots as p, listening_test.analysis, "
            "reports.figures; import pandas as pd; "
            "p.mushra_box_figure(pd.DataFrame({'condition': ['reference'], 'score': [90.0], 'listener': ['a']})); "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
