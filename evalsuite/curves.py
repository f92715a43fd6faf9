"""Bitrate-quality curves from the tidy results table, with cluster-bootstrap intervals.

Per metric x group x condition: mean measured kbps, mean value, a 95% interval and n.

- Groups are each category and the named pools in ``POOLS`` (``speech`` = clean + noisy speech,
  ``music+general``); there is no "all": a pool says what it holds, and a pooled mean is the mean
  of its categories' means (each category weighs the same).
- Every condition of a (metric, group) is averaged over the *same* items: those with a value in
  every condition that has any value there. Items some condition failed on are dropped for all
  (``n_dropped``), so a codec that fails on hard items cannot get a flattering mean.
- Items are not independent (a clean utterance and its noisy mixes share a source recording, the
  ``cluster`` column), so intervals come from a bootstrap over clusters, paired across the
  conditions of a group (evalsuite.stats.ClusterBootstrap; seeded, reproducible); fewer than
  evalsuite.stats.MIN_CLUSTERS source recordings give no interval.
- Conditions whose rows are all ``not_applicable`` for a metric get a row with no value and the
  reason in ``note``: shown as such, never averaged.

``normalise`` reads both the results schema with condition/cluster columns and the older one
(no cluster/condition columns, status ``error``, requested_kbps 0 for reference and anchors).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .conditions import Condition, kind_of, ordered_ids
from .stats import DEFAULT_B, DEFAULT_SEED, LEVEL, MIN_CLUSTERS, ClusterBootstrap, category_weights

OK = "ok"
NOT_APPLICABLE = "not_applicable"
CATEGORY_ORDER = ["clean_speech", "noisy_speech", "music", "general"]
#: pooled groups, named by what they hold
POOLS = {"speech": ("clean_speech", "noisy_speech"), "music+general": ("music", "general")}

CURVE_COLUMNS = ["metric", "category", "categories", "condition", "condition_kind", "codec", "requested_kbps",
                 "measured_kbps", "mean", "ci95_low", "ci95_high", "n", "n_clusters", "n_dropped", "higher_is_better",
                 "note"]


def normalise(results: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The results table with ``condition``, ``condition_kind``, ``cluster`` and new-schema
    statuses, whichever runner wrote it. Cluster: the results' own column, else items.csv's,
    else the item itself (each item its own cluster)."""
    r = results.copy()
    r["item"] = r["item"].astype(str)
    r["status"] = r["status"].astype(str).replace({"error": "metric_error"}) if "status" in r else OK
    kinds = r["codec"].astype(str).map(lambda c: kind_of(c).value)
    r["requested_kbps"] = r["requested_kbps"].astype(float).where(kinds == "codec", np.nan)
    if "condition" not in r or r["condition"].isna().any():
        ids: dict = {}

        def cid(codec, k) -> str:
            key = (codec, None if pd.isna(k) else float(k))  # NaN is not equal to itself: no dict key
            if key not in ids:
                try:
                    ids[key] = Condition.from_row(codec, key[1]).id
                except ValueError:  # a codec row without a bitrate: keep it visible, never crash a report
                    ids[key] = str(codec)
            return ids[key]

        r["condition"] = [cid(c, k) for c, k in zip(r["codec"], r["requested_kbps"])]
    r["condition_kind"] = kinds
    if "cluster" not in r or r["cluster"].isna().all():
        cl = None
        if items is not None and len(items) and "cluster" in items:
            cl = dict(zip(items["item"].astype(str), items["cluster"].astype(str)))
        r["cluster"] = r["item"].map(cl) if cl else r["item"]
    r["cluster"] = r["cluster"].fillna(r["item"]).astype(str)
    return r


def groups_of(categories) -> list[tuple[str, tuple[str, ...]]]:
    """(name, categories) for each category present and each pool with two or more present."""
    present = set(categories)
    cats = [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER))
    out = [(c, (c,)) for c in cats]
    for name, members in POOLS.items():
        have = tuple(m for m in members if m in present)
        if len(have) >= 2:
            out.append((name, have))
    return out


def common_items(ok: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows of the items that have a value in every condition present in ``ok`` (one metric,
    one group), and how many items were dropped."""
    per_item = ok.groupby("item")["condition"].nunique()
    n_cond = ok["condition"].nunique()
    keep = set(per_item.index[per_item == n_cond])
    return ok[ok["item"].isin(keep)], int(len(per_item) - len(keep))


def item_matrix(ok: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """item x condition (mean over duplicate rows)."""
    return ok.pivot_table(index="item", columns="condition", values=column, aggfunc="mean")


def curves(results: pd.DataFrame, items: pd.DataFrame | None = None, B: int = DEFAULT_B,
           seed: int = DEFAULT_SEED, level: float = LEVEL) -> pd.DataFrame:
    r = normalise(results, items)
    rows = []
    codec_order = list(dict.fromkeys(r.loc[r["condition_kind"] == "codec", "codec"]))
    for metric, rm in r.groupby("metric", sort=True):
        hib_v = rm["higher_is_better"].dropna() if "higher_is_better" in rm else pd.Series(dtype=bool)
        hib = bool(hib_v.iloc[0]) if len(hib_v) else None
        for name, cats in groups_of(rm["category"].unique()):
            g = rm[rm["category"].isin(cats)]
            ok, dropped = common_items(g[g["status"] == OK])
            conds = ordered_ids(ok["condition"].unique(), codec_order) if len(ok) else []
            base = {"metric": metric, "category": name, "categories": "+".join(cats), "higher_is_better": hib}
            if conds:
                vals = item_matrix(ok)[conds]
                rates = item_matrix(ok, "measured_kbps").reindex(index=vals.index, columns=conds)
                cat_of = ok.groupby("item")["category"].first().reindex(vals.index)
                cl_of = ok.groupby("item")["cluster"].first().reindex(vals.index)
                w = category_weights(cat_of.to_numpy())
                boot = ClusterBootstrap(cl_of.to_numpy(), B=B, seed=seed)
                reps = boot.means(vals.to_numpy(), w) if boot.n_clusters >= MIN_CLUSTERS else None
                q = [(1 - level) / 2, (1 + level) / 2]
                for j, cid in enumerate(conds):
                    c = Condition.parse(cid)
                    v = vals[cid].to_numpy()
                    rv = rates[cid].to_numpy(dtype=float)
                    lo, hi = np.quantile(reps[:, j], q) if reps is not None else (math.nan, math.nan)
                    rows.append({**base, "condition": cid, "condition_kind": c.kind.value, "codec": c.codec,
                                 "requested_kbps": c.requested_kbps,
                                 "measured_kbps": float(np.sum(w * rv) / np.sum(w)) if np.isfinite(rv).all() else math.nan,
                                 "mean": float(np.sum(w * v) / np.sum(w)), "ci95_low": float(lo), "ci95_high": float(hi),
                                 "n": len(v), "n_clusters": boot.n_clusters, "n_dropped": dropped, "note": ""})
            na = g[(g["status"] == NOT_APPLICABLE) & ~g["condition"].isin(conds)]
            for cid, gn in na.groupby("condition", sort=False):
                c = Condition.parse(cid)
                why = "; ".join(sorted({str(e) for e in gn.get("error", pd.Series(dtype=str)).dropna() if e}))
                rows.append({**base, "condition": cid, "condition_kind": c.kind.value, "codec": c.codec,
                             "requested_kbps": c.requested_kbps, "measured_kbps": math.nan, "mean": math.nan,
                             "ci95_low": math.nan, "ci95_high": math.nan, "n": 0, "n_clusters": 0, "n_dropped": 0,
                             "note": "not applicable" + (f": {why}" if why else "")})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)
