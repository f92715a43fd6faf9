"""Two runs side by side (e.g. two SoundStream checkpoints): paired differences on the same items.

Rows are paired on (item, condition, metric); only items present with a value in both runs
count. Per condition and metric: mean of each run, mean difference B - A with a 95% interval
from the cluster bootstrap (items of one source recording resampled together;
evalsuite.stats), the paired t-test and the Wilcoxon signed-rank test (both treat items as
independent: read them beside the interval), and Holm's correction over the conditions of each
metric.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evalsuite.conditions import ordered_ids
from evalsuite.curves import normalise
from evalsuite.stats import DEFAULT_B, DEFAULT_SEED, holm, paired_difference

KEYS = ["item", "condition", "metric"]
DIFF_COLUMNS = ["metric", "condition", "n", "mean_a", "mean_b", "mean_diff", "ci95_low",
                "ci95_high", "t_p", "wilcoxon_p", "p_holm", "significant", "b_better"]


def paired_stats(a: np.ndarray, b: np.ndarray, clusters=None, B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> dict:
    """Means, B − A with its cluster-bootstrap interval (``clusters``: one label per pair; each
    pair its own cluster when None), paired t and Wilcoxon p-values."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    n = len(d)
    out = {"n": n, "mean_a": float(np.mean(a)) if n else math.nan, "mean_b": float(np.mean(b)) if n else math.nan,
           "mean_diff": float(d.mean()) if n else math.nan, "ci95_low": math.nan, "ci95_high": math.nan,
           "t_p": math.nan, "wilcoxon_p": math.nan}
    if n >= 2:
        cl = list(range(n)) if clusters is None else list(clusters)
        diff = paired_difference(a, b, cl, B=B, seed=seed)
        out["ci95_low"], out["ci95_high"] = diff.low, diff.high
        sd = d.std(ddof=1)
        if sd > 0:
            out["t_p"] = float(stats.ttest_rel(b, a).pvalue)
        elif out["mean_diff"] != 0:
            out["t_p"] = 0.0  # every item moved by the same non-zero amount
        else:
            out["t_p"] = 1.0
        out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return out


def paired_differences(ok_a: pd.DataFrame, ok_b: pd.DataFrame, directions: dict[str, bool] | None = None,
                       alpha: float = 0.05, B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Per metric and condition, run B against run A on the items both runs scored."""
    directions = directions or {}
    ok_a = ok_a if "cluster" in ok_a and "condition" in ok_a else normalise(ok_a)
    ok_b = ok_b if "condition" in ok_b else normalise(ok_b)
    a = ok_a[KEYS + ["value", "cluster"]].groupby(KEYS, as_index=False).agg(value=("value", "mean"),
                                                                          cluster=("cluster", "first"))
    b = ok_b[KEYS + ["value"]].groupby(KEYS, as_index=False)["value"].mean()
    m = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    rows = []
    for (metric, cond), g in m.groupby(["metric", "condition"], sort=True):
        s = paired_stats(g["value_a"].to_numpy(), g["value_b"].to_numpy(), g["cluster"].to_numpy(), B, seed)
        rows.append({"metric": metric, "condition": cond, **s})
    out = pd.DataFrame(rows, columns=[c for c in DIFF_COLUMNS if c not in ("p_holm", "significant", "b_better")])
    if out.empty:
        return pd.DataFrame(columns=DIFF_COLUMNS)
    out["_o"] = out["condition"].map({c: i for i, c in enumerate(ordered_ids(out["condition"].unique()))})
    out = out.sort_values(["metric", "_o"]).drop(columns="_o").reset_index(drop=True)
    out["p_holm"] = np.nan
    for _metric, idx in out.groupby("metric").groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "t_p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    sign = out["metric"].map(lambda mt: 1 if directions.get(mt, True) else -1)
    out["b_better"] = (out["mean_diff"] * sign) > 0
    return out


def coverage(ok_a: pd.DataFrame, ok_b: pd.DataFrame) -> dict:
    """How many items, conditions and metrics the runs share (pairs come only from these)."""
    ia, ib = set(ok_a["item"]), set(ok_b["item"])
    ca, cb = set(ok_a["condition"]), set(ok_b["condition"])
    return {"items_a": len(ia), "items_b": len(ib), "items_shared": len(ia & ib),
            "conditions_shared": len(ca & cb), "conditions_only_a": len(ca - cb), "conditions_only_b": len(cb - ca),
            "metrics_shared": len(set(ok_a["metric"]) & set(ok_b["metric"]))}


def describe(diff: pd.DataFrame, metric: str) -> list[str]:
    """One sentence per condition: mean difference with CI and the corrected test."""
    out = []
    for _, r in diff[diff["metric"] == metric].iterrows():
        ci = f"[{r['ci95_low']:+.4f}, {r['ci95_high']:+.4f}]" if np.isfinite(r["ci95_low"]) else "[no CI]"
        inside = np.isfinite(r["ci95_low"]) and r["ci95_low"] <= 0 <= r["ci95_high"]
        if r["significant"] and not inside:
            verdict = "B better" if r["b_better"] else "A better"
        elif r["significant"]:
            verdict = "the t-test says different, but the cluster-bootstrap interval includes 0: not established"
        else:
            verdict = "no significant difference"
        out.append(f"{r['condition']}: B − A = {r['mean_diff']:+.4f} {ci} on {int(r['n'])} items, "
                   f"paired t p = {r['t_p']:.3g} (Holm {r['p_holm']:.3g}): {verdict}")
    return out
