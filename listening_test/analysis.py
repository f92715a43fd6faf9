"""Analysis of MUSHRA ratings (ITU-R BS.1534-3 §4.1.2 post-screening, §9 statistics).

Pure pandas in, pandas out, except ``load_ratings`` (reads the test's store) and
``write_report`` (writes CSV/PNG/SVG). Ratings are repeated measures: the per-condition
estimates a report leads with come from a mixed model (listening_test.mixed_model), checked by
a listener x item bootstrap; BS.1534-3's t-interval over all ratings is kept for comparison.
Conditions are named and ordered by evalsuite.conditions; intervals and Holm's correction come
from evalsuite.stats; figures from evalsuite.plots. The tidy ratings table has one row per
listener x trial x condition:

    listener, trial, item, category, condition, codec, kbps, score, time_spent_s

``condition`` is 'reference' (hidden reference), 'anchor_lp35', 'anchor_lp70' or
'<codec>@<kbps:g>'; ``kbps`` is NaN for the reference and the anchors.
"""
from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from evalsuite.conditions import MID_ANCHOR, Condition, ordered_ids
from evalsuite.conditions import REFERENCE as HIDDEN_REFERENCE
from evalsuite.stats import DEFAULT_B, DEFAULT_SEED, holm, t_interval

from .config import ConfigError, load_config

RATING_COLUMNS = ["listener", "trial", "item", "category", "condition", "codec", "kbps", "score", "time_spent_s"]
SCREENING_COLUMNS = ["listener", "n_trials", "hidden_ref_below_90_frac", "mid_anchor_above_90_frac", "excluded", "reason"]
SUMMARY_STATS = ["codec", "kbps", "mean", "ci95_low", "ci95_high", "n", "median", "q25", "q75"]
PAIRWISE_COLUMNS = ["condition_a", "condition_b", "n", "statistic", "p_value", "p_holm", "significant"]


def load_ratings(test_dir: Path, url: str | None = None) -> pd.DataFrame:
    """The tidy ratings of every completed trial in the test folder's store (``url``: another
    SQLAlchemy database, as given to ``mushra serve --db``)."""
    from .storage import RatingStore

    test_dir = Path(test_dir)
    cfg = load_config(test_dir)
    store = RatingStore.for_test(test_dir, url)
    try:
        raw = store.ratings_frame()
    finally:
        store.dispose()
    return tidy_ratings(raw, cfg)


def tidy_ratings(raw: pd.DataFrame, cfg) -> pd.DataFrame:
    """Raw store rows (listener_id, trial_id, condition, score, time_spent_s) -> tidy table."""
    if raw.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("kbps", "score", "time_spent_s") else "object")
                             for c in RATING_COLUMNS})
    trials = {t.id: t for t in cfg.trials}
    df = pd.DataFrame({
        "listener": raw["listener_id"].astype(str),
        "trial": raw["trial_id"].astype(str),
        "item": [trials[t].item if t in trials else None for t in raw["trial_id"]],
        "category": [trials[t].category if t in trials else None for t in raw["trial_id"]],
        "condition": raw["condition"].astype(str),
    })
    parsed = [Condition.parse(c) for c in df["condition"]]
    df["codec"] = [p.codec for p in parsed]
    df["kbps"] = np.array([p.requested_kbps for p in parsed], dtype=float)
    df["score"] = raw["score"].astype(float).to_numpy()
    df["time_spent_s"] = raw["time_spent_s"].astype(float).to_numpy()
    return df[RATING_COLUMNS].reset_index(drop=True)


def post_screening(ratings: pd.DataFrame, ref_threshold: float = 90.0, anchor_threshold: float = 90.0,
                   max_fraction: float = 0.15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """BS.1534-3 §4.1.2 post-screening: exclude a listener who rates the hidden reference below
    90 in more than 15 % of the trials, or the mid anchor (7 kHz) above 90 in more than 15 % of
    the trials. Fractions are over the listener's trials that contain that signal.

    Returns (ratings of kept listeners, screening table with one row per listener and the reason
    for each exclusion)."""
    rows = []
    for listener, g in ratings.groupby("listener", sort=True):
        n_trials = int(g["trial"].nunique())
        ref = g[g["condition"] == HIDDEN_REFERENCE]
        mid = g[g["condition"] == MID_ANCHOR]
        ref_bad = int((ref["score"] < ref_threshold).sum())
        mid_bad = int((mid["score"] > anchor_threshold).sum())
        ref_frac = ref_bad / len(ref) if len(ref) else math.nan
        mid_frac = mid_bad / len(mid) if len(mid) else math.nan
        reasons = []
        if len(ref) and ref_frac > max_fraction:
            reasons.append(f"hidden reference rated below {ref_threshold:g} in {ref_bad}/{len(ref)} trials "
                           f"({ref_frac:.0%} > {max_fraction:.0%})")
        if len(mid) and mid_frac > max_fraction:
            reasons.append(f"mid anchor rated above {anchor_threshold:g} in {mid_bad}/{len(mid)} trials "
                           f"({mid_frac:.0%} > {max_fraction:.0%})")
        rows.append(dict(listener=listener, n_trials=n_trials, hidden_ref_below_90_frac=ref_frac,
                         mid_anchor_above_90_frac=mid_frac, excluded=bool(reasons), reason="; ".join(reasons)))
    screening = pd.DataFrame(rows, columns=SCREENING_COLUMNS)
    screening["excluded"] = screening["excluded"].astype(bool)
    excluded = set(screening.loc[screening["excluded"], "listener"])
    kept = ratings[~ratings["listener"].isin(excluded)].reset_index(drop=True)
    return kept, screening


def mean_ci95(scores: np.ndarray) -> tuple[float, float, float]:
    """Mean and two-sided 95 % confidence interval from Student's t with n-1 degrees of freedom
    (BS.1534-3 §9.2.1): mean ± t(0.975, n-1) * s / sqrt(n), s the sample standard deviation.
    n < 2 gives a NaN interval. Treats every score as independent."""
    ci = t_interval(scores)
    return ci.mean, ci.low, ci.high


def condition_summary(ratings: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean with 95 % CI (t-distribution over the listener x item scores of each group), n,
    median and interquartile range per group of ``by`` (default ['condition'];
    e.g. ['category', 'condition'])."""
    by = list(by or ["condition"])
    out = []
    for key, g in ratings.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        m, lo, hi = mean_ci95(g["score"].to_numpy())
        s = g["score"].astype(float)
        row = dict(zip(by, key))
        if "condition" in by:
            c = Condition.parse(row["condition"])
            codec, kbps = c.codec, c.requested_kbps
        else:
            codec, kbps = None, math.nan
        row.update(codec=codec, kbps=kbps, mean=m, ci95_low=lo, ci95_high=hi, n=int(s.notna().sum()),
                   median=float(s.median()), q25=float(s.quantile(0.25)), q75=float(s.quantile(0.75)))
        out.append(row)
    df = pd.DataFrame(out, columns=by + SUMMARY_STATS)
    if df.empty:
        return df
    sort_cols = [c for c in by if c != "condition"]
    if "condition" in by:
        rank = {c: i for i, c in enumerate(ordered_ids(df["condition"].unique()))}
        df["_k"] = df["condition"].map(rank)
        sort_cols.append("_k")
    df = df.sort_values(sort_cols, kind="stable").drop(columns=[c for c in ["_k"] if c in df]).reset_index(drop=True)
    return df


def pairwise_tests(ratings: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank test for every pair of conditions over the
    (listener, trial) cells rated in both, zero differences dropped (Wilcoxon's method; all
    differences zero gives statistic NaN and p = 1), Holm correction over all pairs;
    ``significant`` = p_holm < alpha. Also reports the median paired difference (a - b)."""
    from scipy.stats import wilcoxon

    wide = ratings.pivot_table(index=["listener", "trial"], columns="condition", values="score", aggfunc="first")
    conds = ordered_ids(wide.columns)
    rows = []
    for a, b in combinations(conds, 2):
        pair = wide[[a, b]].dropna()
        d = (pair[a] - pair[b]).to_numpy()
        n = len(d)
        if n == 0:
            stat, p = math.nan, math.nan
        elif not np.any(d != 0):
            stat, p = math.nan, 1.0
        else:
            r = wilcoxon(pair[a].to_numpy(), pair[b].to_numpy(), zero_method="wilcox", alternative="two-sided")
            stat, p = float(r.statistic), float(r.pvalue)
        rows.append(dict(condition_a=a, condition_b=b, n=n, statistic=stat, p_value=p,
                         median_diff=float(np.median(d)) if n else math.nan))
    df = pd.DataFrame(rows, columns=["condition_a", "condition_b", "n", "statistic", "p_value", "median_diff"])
    df["p_holm"] = holm(df["p_value"].to_numpy()) if len(df) else []
    df["significant"] = (df["p_holm"] < alpha).astype(bool)
    return df[PAIRWISE_COLUMNS + ["median_diff"]]


# -- repeated-measures statistics --------------------------------------------------------------
def estimates_table(ratings: pd.DataFrame, B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Per condition: the mixed model's estimate with its 95% interval (model_*), the listener x
    item bootstrap's (boot_*), and BS.1534-3's t-interval over all ratings (t_*, independent
    ratings assumed), n ratings and n listeners. Attributes: the fit's variance components."""
    from .mixed_model import fit_mixed_model, listener_item_bootstrap

    fit = fit_mixed_model(ratings)
    boot = listener_item_bootstrap(ratings, B=B, seed=seed).set_index("condition")
    plain = condition_summary(ratings, ["condition"]).set_index("condition")
    e = fit.estimates.set_index("condition")
    out = pd.DataFrame({
        "condition": e.index,
        "model_mean": e["estimate"].to_numpy(), "model_low": e["low"].to_numpy(), "model_high": e["high"].to_numpy(),
        "boot_low": boot["low"].reindex(e.index).to_numpy(), "boot_high": boot["high"].reindex(e.index).to_numpy(),
        "mean": plain["mean"].reindex(e.index).to_numpy(),
        "t_low": plain["ci95_low"].reindex(e.index).to_numpy(), "t_high": plain["ci95_high"].reindex(e.index).to_numpy(),
        "n": plain["n"].reindex(e.index).to_numpy(),
        "listeners": ratings.groupby("condition")["listener"].nunique().reindex(e.index).to_numpy(),
    })
    out.attrs.update(var_listener=fit.var_listener, var_item=fit.var_item, var_residual=fit.var_residual,
                     df=float(e["df"].iloc[0]) if len(e) else math.nan, converged=fit.converged,
                     n_listeners=fit.n_listeners, n_items=fit.n_items)
    return out.reset_index(drop=True)


def model_note(table: pd.DataFrame) -> str:
    """One paragraph: the model, its variance components and what the intervals mean."""
    a = table.attrs
    if not a:
        return ""
    sd = lambda v: math.sqrt(max(v, 0.0))  # noqa: E731
    text = (f"Mixed model rating ~ condition + (1|listener) + (1|item), REML, {a['n_listeners']} listeners, "
            f"{a['n_items']} items: listener SD {sd(a['var_listener']):.1f}, item SD {sd(a['var_item']):.1f}, "
            f"residual SD {sd(a['var_residual']):.1f} points; intervals: estimate ± t({a['df']:.1f} df, "
            "Satterthwaite) x SE.")
    if not a.get("converged", True):
        text += " **The fit did not converge: read the bootstrap interval instead.**"
    if a["n_listeners"] < 10:
        text += (f" With {a['n_listeners']} listeners the intervals are wide and rest on few people "
                 "(BS.1534-3 asks for at least 20 after screening).")
    return text


def listener_means(ratings: pd.DataFrame) -> pd.DataFrame:
    """listener x condition: mean score over the items each listener rated, listeners who rated
    every condition only (a complete block design)."""
    wide = ratings.pivot_table(index="listener", columns="condition", values="score", aggfunc="mean")
    return wide.dropna()[ordered_ids(wide.columns)]


def friedman_test(ratings: pd.DataFrame) -> dict:
    """Friedman's test over listeners (blocks) and conditions, on listener means."""
    from scipy.stats import friedmanchisquare

    wide = listener_means(ratings)
    n, k = wide.shape
    if n < 2 or k < 3:
        return {"statistic": math.nan, "p_value": math.nan, "n_listeners": n, "k": k,
                "text": f"Friedman's test needs at least 2 listeners and 3 conditions (have {n} and {k})."}
    r = friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
    return {"statistic": float(r.statistic), "p_value": float(r.pvalue), "n_listeners": n, "k": k,
            "text": f"Friedman's test over {n} listeners and {k} conditions (listener means): "
                    f"chi2({k - 1}) = {r.statistic:.2f}, p = {r.pvalue:.3g}."}


def posthoc_listener_means(ratings: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Post-hoc to Friedman: Wilcoxon signed-rank on listener means for every pair of
    conditions, Holm-corrected (recommended over mean-rank tests such as Nemenyi, whose result
    for a pair depends on the other conditions: Benavoli et al. 2016)."""
    from scipy.stats import wilcoxon

    wide = listener_means(ratings)
    rows = []
    for i, a in enumerate(wide.columns):
        for b in wide.columns[i + 1:]:
            d = (wide[a] - wide[b]).to_numpy()
            if len(d) == 0:
                stat, p = math.nan, math.nan
            elif not np.any(d != 0):
                stat, p = math.nan, 1.0
            else:
                r = wilcoxon(wide[a].to_numpy(), wide[b].to_numpy(), zero_method="wilcox")
                stat, p = float(r.statistic), float(r.pvalue)
            rows.append({"condition_a": a, "condition_b": b, "n_listeners": len(d), "statistic": stat, "p_value": p,
                         "mean_diff": float(d.mean()) if len(d) else math.nan})
    df = pd.DataFrame(rows, columns=["condition_a", "condition_b", "n_listeners", "statistic", "p_value", "mean_diff"])
    df["p_holm"] = holm(df["p_value"].to_numpy()) if len(df) else []
    df["significant"] = (df["p_holm"] < alpha).astype(bool)
    return df


# -- report --------------------------------------------------------------------------------------
def write_report(test_dir: Path, out_dir: Path | None = None, url: str | None = None, B: int = DEFAULT_B,
                 seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the analysis of a test's ratings to ``out_dir`` (default <test>/report):

    ratings.csv (all completed trials, tidy), screening.csv, ratings_kept.csv, estimates.csv
    (mixed model, bootstrap, t-interval), summary.csv and summary_by_category.csv (kept
    listeners), pairwise.csv, friedman.csv, posthoc.csv, boxplot.png/svg, means.png/svg,
    means_by_category.png/svg. Returns name -> path."""
    from evalsuite.plots import mushra_box_figure, mushra_means_figure, save

    test_dir = Path(test_dir)
    out_dir = Path(out_dir) if out_dir else test_dir / "report"
    ratings = load_ratings(test_dir, url)
    if ratings.empty:
        raise ConfigError(f"no completed trials in {test_dir} yet: nothing to report")
    out_dir.mkdir(parents=True, exist_ok=True)
    kept, screening = post_screening(ratings)
    files: dict[str, Path] = {}

    def csv(name: str, df: pd.DataFrame) -> None:
        p = out_dir / f"{name}.csv"
        df.to_csv(p, index=False)
        files[name] = p

    csv("ratings", ratings)
    csv("screening", screening)
    csv("ratings_kept", kept)
    if kept.empty:
        # every listener failed screening: still report, clearly, on all ratings
        basis, note = ratings, " (ALL listeners: every one failed post-screening)"
    else:
        basis, note = kept, ""
    est = estimates_table(basis, B=B, seed=seed)
    csv("estimates", est)
    summary = condition_summary(basis, ["condition"])
    by_cat = condition_summary(basis, ["category", "condition"])
    csv("summary", summary)
    csv("summary_by_category", by_cat)
    csv("pairwise", pairwise_tests(basis))
    fr = friedman_test(basis)
    csv("friedman", pd.DataFrame([{k: v for k, v in fr.items() if k != "text"}]))
    csv("posthoc", posthoc_listener_means(basis))
    n_l = basis["listener"].nunique()
    model = est.drop(columns="mean").rename(columns={"model_mean": "mean", "model_low": "ci95_low",
                                                     "model_high": "ci95_high"})
    figs = {
        "boxplot": mushra_box_figure(basis, f"MUSHRA scores{note}"),
        "means": mushra_means_figure(model, title=f"Mixed-model estimate and 95% interval{note}", listeners=n_l),
        "means_by_category": mushra_means_figure(by_cat, by="category",
                                                 listeners=basis.groupby("category")["listener"].nunique().to_dict()),
    }
    for stem, fig in figs.items():
        for p in save(fig, out_dir / stem):
            files[p.name] = p
    return files
