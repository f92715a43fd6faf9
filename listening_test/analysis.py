"""Analysis of MUSHRA ratings (ITU-R BS.1534-3 §4.1.2 post-screening, §9 statistics).

Pure pandas in, pandas out, except ``load_ratings`` (reads the test's store) and
``write_report`` (writes CSV/PNG/SVG). The tidy ratings table has one row per
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

from .config import ANCHORS, HIDDEN_REFERENCE, MID_ANCHOR, ConfigError, load_config, parse_condition

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
    parsed = [parse_condition(c) for c in df["condition"]]
    df["codec"] = [p[0] for p in parsed]
    df["kbps"] = np.array([p[1] for p in parsed], dtype=float)
    df["score"] = raw["score"].astype(float).to_numpy()
    df["time_spent_s"] = raw["time_spent_s"].astype(float).to_numpy()
    return df[RATING_COLUMNS].reset_index(drop=True)


def condition_sort_key(cond: str) -> tuple:
    """Hidden reference first, then codecs (by name, bitrate), then anchors (mid, low)."""
    codec, kbps = parse_condition(cond)
    if cond == HIDDEN_REFERENCE:
        return (0, "", 0.0)
    if cond in ANCHORS:
        return (2, "", -ANCHORS[cond])
    return (1, codec, kbps)


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
    n < 2 gives a NaN interval."""
    from scipy.stats import t as student_t

    x = np.asarray(scores, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan
    half = float(student_t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


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
            codec, kbps = parse_condition(row["condition"])
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
        df["_k"] = df["condition"].map(condition_sort_key)
        sort_cols.append("_k")
    df = df.sort_values(sort_cols, kind="stable").drop(columns=[c for c in ["_k"] if c in df]).reset_index(drop=True)
    return df


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (Holm 1979): sort ascending,
    p_adj(i) = max_{j<=i} min(1, (m - j + 1) p(j)). NaN p-values are left NaN and not counted."""
    p = np.asarray(p_values, dtype=float)
    adj = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    running = 0.0
    for rank, idx in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adj[idx] = running
    return adj


def pairwise_tests(ratings: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank test for every pair of conditions over the
    (listener, trial) cells rated in both, zero differences dropped (Wilcoxon's method; all
    differences zero gives statistic NaN and p = 1), Holm correction over all pairs;
    ``significant`` = p_holm < alpha. Also reports the median paired difference (a - b)."""
    from scipy.stats import wilcoxon

    wide = ratings.pivot_table(index=["listener", "trial"], columns="condition", values="score", aggfunc="first")
    conds = sorted(wide.columns, key=condition_sort_key)
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


# -- report --------------------------------------------------------------------------------------
def _plot_box(ratings: pd.DataFrame, path_stem: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = sorted(ratings["condition"].unique(), key=condition_sort_key)
    data = [ratings.loc[ratings["condition"] == c, "score"].to_numpy() for c in conds]
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(conds) + 2), 4.5))
    # whiskers at 1.5 IQR, median line: the usual box plot of MUSHRA reports
    ax.boxplot(data, tick_labels=conds, showmeans=False, whis=1.5)
    _bands(ax)
    ax.set_ylabel("MUSHRA score")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return _save(fig, path_stem)


def _bands(ax) -> None:
    from .config import BANDS

    ax.set_ylim(0, 100)
    for lo, hi, name in BANDS:
        ax.axhline(hi, color="0.85", lw=0.8, zorder=0)
        ax.text(1.01, (lo + hi) / 2, name, transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="0.4")


def _plot_means(summary: pd.DataFrame, path_stem: Path, title: str, hue: str | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = sorted(summary["condition"].unique(), key=condition_sort_key)
    x = {c: i for i, c in enumerate(conds)}
    groups = [(None, summary)] if hue is None else list(summary.groupby(hue, sort=True))
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(conds) + 2), 4.5))
    width = 0.8 / max(1, len(groups))
    for gi, (name, g) in enumerate(groups):
        off = (gi - (len(groups) - 1) / 2) * width
        xs = np.array([x[c] for c in g["condition"]]) + off
        err = np.vstack([g["mean"] - g["ci95_low"], g["ci95_high"] - g["mean"]]).clip(min=0)
        ax.errorbar(xs, g["mean"], yerr=np.nan_to_num(err), fmt="o", capsize=3, label=name)
    ax.set_xticks(range(len(conds)), conds, rotation=45, ha="right")
    _bands(ax)
    ax.set_ylabel("mean MUSHRA score (95 % CI)")
    ax.set_title(title)
    if hue is not None:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _save(fig, path_stem)


def _save(fig, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    out = []
    for ext in ("png", "svg"):
        p = stem.with_suffix(f".{ext}")
        fig.savefig(p, dpi=120)
        out.append(p)
    plt.close(fig)
    return out


def write_report(test_dir: Path, out_dir: Path | None = None, url: str | None = None) -> dict[str, Path]:
    """Write the analysis of a test's ratings to ``out_dir`` (default <test>/report):

    ratings.csv (all completed trials, tidy), screening.csv, ratings_kept.csv,
    summary.csv and summary_by_category.csv (kept listeners), pairwise.csv,
    boxplot.png/svg, means.png/svg, means_by_category.png/svg. Returns name -> path."""
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
    summary = condition_summary(basis, ["condition"])
    by_cat = condition_summary(basis, ["category", "condition"])
    csv("summary", summary)
    csv("summary_by_category", by_cat)
    csv("pairwise", pairwise_tests(basis))
    n_l = basis["listener"].nunique()
    for p in _plot_box(basis, out_dir / "boxplot", f"MUSHRA scores, {n_l} listener(s){note}"):
        files[p.name] = p
    for p in _plot_means(summary, out_dir / "means", f"Mean and 95% CI, {n_l} listener(s){note}"):
        files[p.name] = p
    for p in _plot_means(by_cat, out_dir / "means_by_category", "Mean and 95% CI per category", hue="category"):
        files[p.name] = p
    return files
