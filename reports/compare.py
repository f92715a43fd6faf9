"""Two runs side by side (e.g. two SoundStream checkpoints): paired differences on the same items.

Rows are paired on (item, codec, requested kbps, metric); only items present with a value in
both runs count. Per condition and metric: mean of each run, mean difference B - A with a
95% t-interval, the paired t-test and the Wilcoxon signed-rank test, and Holm's correction
over the conditions of each metric.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .data import condition_id

KEYS = ["item", "codec", "requested_kbps", "metric"]
DIFF_COLUMNS = ["metric", "condition", "codec", "requested_kbps", "n", "mean_a", "mean_b", "mean_diff", "ci95_low",
                "ci95_high", "t_p", "wilcoxon_p", "p_holm", "significant", "b_better"]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN)."""
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.where(np.isfinite(p))[0]
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def paired_stats(a: np.ndarray, b: np.ndarray) -> dict:
    from scipy import stats

    d = np.asarray(b, float) - np.asarray(a, float)
    n = len(d)
    out = {"n": n, "mean_a": float(np.mean(a)) if n else math.nan, "mean_b": float(np.mean(b)) if n else math.nan,
           "mean_diff": float(d.mean()) if n else math.nan, "ci95_low": math.nan, "ci95_high": math.nan,
           "t_p": math.nan, "wilcoxon_p": math.nan}
    if n >= 2:
        sd = d.std(ddof=1)
        half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
        out["ci95_low"], out["ci95_high"] = out["mean_diff"] - half, out["mean_diff"] + half
        if sd > 0:
            out["t_p"] = float(stats.ttest_rel(b, a).pvalue)
        elif out["mean_diff"] != 0:
            out["t_p"] = 0.0  # every item moved by the same non-zero amount
        else:
            out["t_p"] = 1.0
        if np.any(d != 0):
            out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue)
        else:
            out["wilcoxon_p"] = 1.0
    return out


def paired_differences(ok_a: pd.DataFrame, ok_b: pd.DataFrame, directions: dict[str, bool] | None = None,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Per metric and condition, run B against run A on the items both runs scored."""
    directions = directions or {}
    a = ok_a[KEYS + ["value"]].groupby(KEYS, as_index=False)["value"].mean()
    b = ok_b[KEYS + ["value"]].groupby(KEYS, as_index=False)["value"].mean()
    m = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    rows = []
    for (metric, codec, kbps), g in m.groupby(["metric", "codec", "requested_kbps"], sort=True):
        s = paired_stats(g["value_a"].to_numpy(), g["value_b"].to_numpy())
        rows.append({"metric": metric, "condition": condition_id(codec, kbps), "codec": codec, "requested_kbps": kbps, **s})
    out = pd.DataFrame(rows, columns=[c for c in DIFF_COLUMNS if c not in ("p_holm", "significant", "b_better")])
    if out.empty:
        return pd.DataFrame(columns=DIFF_COLUMNS)
    out["p_holm"] = np.nan
    for metric, idx in out.groupby("metric").groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "t_p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    sign = out["metric"].map(lambda mt: 1 if directions.get(mt, True) else -1)
    out["b_better"] = (out["mean_diff"] * sign) > 0
    return out


def coverage(ok_a: pd.DataFrame, ok_b: pd.DataFrame) -> dict:
    """How many items, conditions and metrics the runs share (pairs come only from these)."""
    ia, ib = set(ok_a["item"]), set(ok_b["item"])
    ca = set(zip(ok_a["codec"], ok_a["requested_kbps"]))
    cb = set(zip(ok_b["codec"], ok_b["requested_kbps"]))
    return {"items_a": len(ia), "items_b": len(ib), "items_shared": len(ia & ib),
            "conditions_shared": len(ca & cb), "conditions_only_a": len(ca - cb), "conditions_only_b": len(cb - ca),
            "metrics_shared": len(set(ok_a["metric"]) & set(ok_b["metric"]))}


def describe(diff: pd.DataFrame, metric: str) -> list[str]:
    """One sentence per condition: mean difference with CI and the corrected test."""
    out = []
    for _, r in diff[diff["metric"] == metric].iterrows():
        ci = f"[{r['ci95_low']:+.4f}, {r['ci95_high']:+.4f}]" if np.isfinite(r["ci95_low"]) else "[no CI]"
        verdict = ("B better" if r["b_better"] else "A better") if r["significant"] else "no significant difference"
        out.append(f"{r['condition']}: B − A = {r['mean_diff']:+.4f} {ci} on {int(r['n'])} items, "
                   f"paired t p = {r['t_p']:.3g} (Holm {r['p_holm']:.3g}): {verdict}")
    return out
