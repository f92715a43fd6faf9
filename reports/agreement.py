"""Agreement between objective metrics and MUSHRA: which metric predicts listeners?

Both sides are reduced to one mean per condition ('opus@6', 'anchor_lp35', ...), the
conditions present on both sides are paired, and Pearson's r and Spearman's rho are reported
with 95% confidence intervals from Fisher's z transform (Spearman with the Bonett & Wright
(2000) variance, (1 + rho^2/2) / (n - 3)). This is the condition-level correlation used when
validating objective measures against listening tests (e.g. ITU-T P.1401).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evalsuite.conditions import Condition
from evalsuite.curves import normalise

STAT_COLUMNS = ["metric", "n", "pearson_r", "pearson_low", "pearson_high", "pearson_p",
                "spearman_rho", "spearman_low", "spearman_high", "spearman_p", "agrees"]


def fisher_ci(r: float, n: int, spearman: bool = False, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a correlation via Fisher's z; NaN when n < 4 or |r| == 1."""
    from scipy import stats

    if n < 4 or not np.isfinite(r) or abs(r) >= 1:
        return (math.nan, math.nan)
    var = (1 + r * r / 2) / (n - 3) if spearman else 1 / (n - 3)
    z, h = math.atanh(r), stats.norm.ppf(0.5 + level / 2) * math.sqrt(var)
    return (math.tanh(z - h), math.tanh(z + h))


def correlations(x, y) -> dict:
    """Pearson and Spearman with CIs and p-values for paired samples."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    out = {"n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = math.nan
        return {**out, "pearson_r": nan, "pearson_low": nan, "pearson_high": nan, "pearson_p": nan,
                "spearman_rho": nan, "spearman_low": nan, "spearman_high": nan, "spearman_p": nan}
    pr = stats.pearsonr(x, y)
    sr = stats.spearmanr(x, y)
    r, rho = float(pr.statistic), float(sr.statistic)
    pl, ph = fisher_ci(r, n)
    sl, sh = fisher_ci(rho, n, spearman=True)
    return {**out, "pearson_r": r, "pearson_low": pl, "pearson_high": ph, "pearson_p": float(pr.pvalue),
            "spearman_rho": rho, "spearman_low": sl, "spearman_high": sh, "spearman_p": float(sr.pvalue)}


def objective_condition_means(results_ok: pd.DataFrame, items=None) -> pd.DataFrame:
    """condition, metric, mean, higher_is_better over the given items (all items when None).

    Restricting to the listening test's items keeps both sides on the same material."""
    d = results_ok if "condition" in results_ok else normalise(results_ok)
    if items is not None:
        d = d[d["item"].isin(set(items))]
    if d.empty:
        return pd.DataFrame(columns=["condition", "metric", "mean", "higher_is_better"])
    agg = d.groupby(["condition", "metric"]).agg(mean=("value", "mean")).reset_index()
    if "higher_is_better" in d:
        hib = d.groupby("metric")["higher_is_better"].first()
        agg["higher_is_better"] = agg["metric"].map(lambda m: bool(hib.get(m, True)) if pd.notna(hib.get(m, True)) else True)
    else:
        agg["higher_is_better"] = True
    return agg


def metric_agreement(objective: pd.DataFrame, mushra: pd.DataFrame,
                     include_anchors: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Correlate per-condition objective means with per-condition MUSHRA means.

    ``objective``: condition, metric, mean (optional higher_is_better); ``mushra``: condition,
    mean. Returns (stats per metric sorted by how well it agrees, the paired points).
    ``include_anchors=False`` keeps codec conditions only (the hidden reference and low-pass
    anchors span the scale and can dominate a correlation over few conditions).
    ``agrees`` is Spearman's rho signed so that +1 means the metric orders conditions exactly as
    listeners do (a distance, lower-is-better, is expected to correlate negatively).
    """
    m = mushra[["condition", "mean"]].rename(columns={"mean": "mushra"})
    pairs = objective.rename(columns={"mean": "objective"}).merge(m, on="condition", how="inner")
    if not include_anchors:
        pairs = pairs[pairs["condition"].map(lambda c: Condition.parse(c).is_codec)]
    rows = []
    for metric, g in pairs.groupby("metric", sort=True):
        c = correlations(g["objective"], g["mushra"])
        sign = 1 if ("higher_is_better" not in g or bool(g["higher_is_better"].iloc[0])) else -1
        rows.append({"metric": metric, **c, "agrees": sign * c["spearman_rho"], "_r": sign * c["pearson_r"]})
    stats = pd.DataFrame(rows, columns=STAT_COLUMNS + ["_r"])
    # rank ties (few conditions make them common) are broken by the signed Pearson r
    stats = stats.sort_values(["agrees", "_r"], ascending=False, na_position="last").drop(columns="_r")
    stats = stats.reset_index(drop=True)
    return stats, pairs[["metric", "condition", "objective", "mushra"]].reset_index(drop=True)
