"""Bitrate-quality curves: a pandas groupby over the tidy results table.

Per codec x requested bitrate x category x metric: mean measured kbps, mean value, 95%
confidence interval of the mean (Student t over items), n. Category 'all' pools every item.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .layout import OK

CURVE_COLUMNS = ["codec", "requested_kbps", "category", "metric", "measured_kbps", "mean", "std",
                 "ci95_low", "ci95_high", "n", "higher_is_better"]


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float, int]:
    """(mean, std, ci_low, ci_high, n) with a t-interval; n<2 gives an undefined (NaN) interval."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan, 0)
    m = float(v.mean())
    if n < 2:
        return (m, np.nan, np.nan, np.nan, n)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n))
    return (m, sd, m - half, m + half, n)


def curves(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == OK]
    if ok.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    pooled = ok.assign(category="all")
    rows = []
    for keys, g in pd.concat([ok, pooled]).groupby(["codec", "requested_kbps", "category", "metric"], sort=True, dropna=False):
        m, sd, lo, hi, n = mean_ci(g["value"].to_numpy())
        rows.append({
            "codec": keys[0], "requested_kbps": keys[1], "category": keys[2], "metric": keys[3],
            "measured_kbps": float(g["measured_kbps"].mean()) if g["measured_kbps"].notna().any() else np.nan,
            "mean": m, "std": sd, "ci95_low": lo, "ci95_high": hi, "n": n,
            "higher_is_better": bool(g["higher_is_better"].iloc[0]) if g["higher_is_better"].notna().any() else None,
        })
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)
