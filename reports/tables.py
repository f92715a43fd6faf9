"""The report's tables, as pandas DataFrames computed from a run's tidy results.

Curves are recomputed with evalsuite.curves (a groupby of results.parquet); savings and
Bjøntegaard deltas come from reports.bdrate.
"""
from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd

from evalsuite.curves import curves as compute_curves

from evalsuite.bdrate import bd_quality, bd_rate, below_range, rate_to_match
from .data import ANCHORS, RunData, condition_order

CATEGORY_ORDER = ["all", "clean_speech", "noisy_speech", "music", "general"]
#: a BD-rate integrated over less than this share of a curve's quality range is flagged
SMALL_OVERLAP = 0.25


def ordered_categories(cats) -> list[str]:
    cats = set(cats)
    return [c for c in CATEGORY_ORDER if c in cats] + sorted(cats - set(CATEGORY_ORDER))


def curves(run: RunData) -> pd.DataFrame:
    """codec x requested kbps x category (incl. 'all') x metric: measured kbps, mean, 95% CI, n."""
    return compute_curves(run.results)


def codec_curve(cv: pd.DataFrame, codec: str, metric: str, category: str = "all") -> pd.DataFrame:
    """One codec's points, sorted by measured rate, rows without a measured rate dropped."""
    d = cv[(cv["codec"] == codec) & (cv["metric"] == metric) & (cv["category"] == category)]
    return d.dropna(subset=["measured_kbps", "mean"]).sort_values("measured_kbps")


# ---------------------------------------------------------------------------------------------
# run summary


def run_summary(run: RunData) -> pd.DataFrame:
    """Key facts of the run as a two-column table."""
    m = run.meta
    cfg = m.get("config", {})
    res = run.results
    rows = [
        ("run", run.name),
        ("folder", str(run.layout.root)),
        ("started", m.get("started", "")),
        ("finished", m.get("finished", "")),
        ("command", m.get("command", "")),
        ("codecs", ", ".join(run.codecs())),
        ("anchors", ", ".join(c for c in ANCHORS if c in set(res["codec"]))),
        ("requested kbps", ", ".join(f"{k:g}" for k in sorted(res.loc[~res["codec"].isin(ANCHORS), "requested_kbps"].unique()))),
        ("metrics", ", ".join(run.metrics())),
        ("items", str(res["item"].nunique())),
        ("rows", str(len(res))),
        ("status counts", ", ".join(f"{k} {v}" for k, v in res["status"].value_counts().items())),
        ("corpus hash", str(m.get("corpus_hash", ""))[:16]),
    ]
    corpus = cfg.get("corpus") if isinstance(cfg, dict) else None
    if isinstance(corpus, dict):
        rows.append(("corpus preparation", ", ".join(f"{k}={v}" for k, v in corpus.items() if v is not None)))
    if m.get("metrics_skipped"):
        rows.append(("metrics skipped", "; ".join(f"{k}: {v}" for k, v in m["metrics_skipped"].items())))
    return pd.DataFrame(rows, columns=["field", "value"])


def versions_table(run: RunData) -> pd.DataFrame:
    v = run.meta.get("versions", {}) or {}
    mv = (run.results.dropna(subset=["metric_version"]).groupby("metric")["metric_version"].first()
          if "metric_version" in run.results else pd.Series(dtype=str))
    rows = [("package", k, str(val)) for k, val in v.items()] + [("metric", k, str(val)) for k, val in mv.items()]
    return pd.DataFrame(rows, columns=["kind", "name", "version"])


def codec_settings_table(run: RunData) -> pd.DataFrame:
    """codec -> settings recorded with its rows (run.json's codec_settings, else the rows)."""
    settings = dict(run.meta.get("codec_settings") or {})
    if "codec_settings" in run.results:
        for codec, g in run.results.groupby("codec", sort=False):
            if codec not in settings:
                s = g["codec_settings"].dropna()
                settings[codec] = json.loads(s.iloc[0]) if len(s) and isinstance(s.iloc[0], str) else {}
    rows = [(c, ", ".join(f"{k}={v}" for k, v in (s or {}).items()) or "-") for c, s in settings.items()]
    return pd.DataFrame(rows, columns=["codec", "settings"])


def codec_info_table(run: RunData) -> pd.DataFrame:
    """Per codec and requested bitrate: bitrate used and measured, what the codec reported
    (e.g. Opus mode and coded bandwidth, SoundStream codebooks) and notes."""
    res = run.results[~run.results["codec"].isin(ANCHORS)]
    rows = []
    for (codec, kbps), g in res.groupby(["codec", "requested_kbps"], sort=False):
        ok = g[g["status"] == "ok"]
        info = ""
        if "codec_info" in ok and ok["codec_info"].notna().any():
            infos = [json.loads(v) if isinstance(v, str) and v else {} for v in ok["codec_info"].dropna()]
            keys = [k for k in dict.fromkeys(k for i in infos for k in i) if k not in ("frames",)]
            info = ", ".join(f"{k}={'/'.join(sorted({str(i.get(k)) for i in infos if k in i}))}" for k in keys)
        notes = "; ".join(sorted({str(n) for n in g.get("note", pd.Series(dtype=str)).dropna() if n}))
        errors = "; ".join(sorted({str(e) for e in g.loc[g["status"] != "ok", "error"].dropna() if e}))[:200]
        rows.append({
            "codec": codec, "requested_kbps": kbps,
            "kbps_used": round(float(ok["kbps_used"].mean()), 3) if "kbps_used" in ok and ok["kbps_used"].notna().any() else None,
            "measured_kbps": round(float(ok["measured_kbps"].mean()), 3) if ok["measured_kbps"].notna().any() else None,
            "items": ok["item"].nunique(), "codec_info": info, "note": notes or errors,
        })
    order = {c: i for i, c in enumerate(run.codecs())}
    out = pd.DataFrame(rows, columns=["codec", "requested_kbps", "kbps_used", "measured_kbps", "items", "codec_info", "note"])
    return out.sort_values(["codec", "requested_kbps"], key=lambda s: s.map(order) if s.name == "codec" else s).reset_index(drop=True)


def corpus_table(run: RunData) -> pd.DataFrame:
    """Items with category, duration, loudness and licence (items.csv, else from results)."""
    if not run.items.empty:
        cols = [c for c in ("item", "category", "duration_s", "loudness_lufs", "license", "source") if c in run.items]
        return run.items[cols].reset_index(drop=True)
    return run.results[["item", "category"]].drop_duplicates().reset_index(drop=True)


def corpus_by_category(run: RunData) -> pd.DataFrame:
    t = corpus_table(run)
    agg = {"items": ("item", "count")}
    if "duration_s" in t:
        agg["total_s"] = ("duration_s", "sum")
    out = t.groupby("category").agg(**agg).reset_index()
    return out.set_index("category").loc[ordered_categories(out["category"])].reset_index()


# ---------------------------------------------------------------------------------------------
# curves as tables


def curve_table(cv: pd.DataFrame, metric: str, category: str = "all") -> pd.DataFrame:
    """mean and 95% CI per condition for one metric and category (3 decimals)."""
    d = cv[(cv["metric"] == metric) & (cv["category"] == category)].copy()
    d["anchor"] = d["codec"].isin(ANCHORS)
    d = d.sort_values(["anchor", "codec", "requested_kbps"])
    out = d[["codec", "requested_kbps", "measured_kbps", "mean", "ci95_low", "ci95_high", "n"]].copy()
    out["requested_kbps"] = out["requested_kbps"].map(lambda v: "-" if v == 0 else f"{v:g}")
    for c in ("measured_kbps", "mean", "ci95_low", "ci95_high"):
        out[c] = out[c].round(3)
    return out.reset_index(drop=True)


def mean_ci_pivot(cv: pd.DataFrame, metric: str) -> pd.DataFrame:
    """condition x category: 'mean ± half-width' strings."""
    d = cv[cv["metric"] == metric].copy()
    if d.empty:
        return pd.DataFrame()
    half = (d["ci95_high"] - d["ci95_low"]) / 2
    d["cell"] = [f"{m:.3f} ± {h:.3f}" if np.isfinite(h) else f"{m:.3f}" for m, h in zip(d["mean"], half)]
    d["condition"] = [c if c in ANCHORS else f"{c}@{k:g}" for c, k in zip(d["codec"], d["requested_kbps"])]
    p = d.pivot_table(index="condition", columns="category", values="cell", aggfunc="first")
    return p.loc[condition_order(p.index), ordered_categories(p.columns)]


# ---------------------------------------------------------------------------------------------
# bitrate savings


def _codec_order(cv: pd.DataFrame, codecs: list[str] | None) -> list[str]:
    present = [c for c in dict.fromkeys(cv["codec"]) if c not in ANCHORS]
    return [c for c in (codecs or []) if c in present] + [c for c in present if c not in (codecs or [])]


def savings_by_category(cv: pd.DataFrame, metric: str, higher_is_better: bool = True,
                        codecs: list[str] | None = None) -> pd.DataFrame:
    """The bitrate each codec needs to match each other codec's points, per category (kbps)."""
    parts = []
    for cat in ordered_categories(cv.loc[cv["metric"] == metric, "category"]):
        t = savings_table(cv, metric, cat, higher_is_better, codecs)
        if len(t):
            parts.append(t.assign(category=cat))
    if not parts:
        return pd.DataFrame()
    t = pd.concat(parts)
    t["to_match"] = [f"{a}@{k:g}" for a, k in zip(t["codec"], t["requested_kbps"])]
    marks = {"below_range": "below range", "not_reached": "not reached"}
    t["needed"] = [f"{v:.2f}" if pd.notna(v) else marks.get(st, "-") for v, st in zip(t["other_kbps_needed"], t["status"])]
    p = t.pivot_table(index=["other", "to_match"], columns="category", values="needed", aggfunc="first")
    return p[[c for c in ordered_categories(p.columns)]]


def savings_table(cv: pd.DataFrame, metric: str, category: str = "all", higher_is_better: bool = True,
                  codecs: list[str] | None = None) -> pd.DataFrame:
    """For every measured point of every codec, the bitrate each other codec needs to match its
    quality (monotone interpolation, no extrapolation), with a sentence in the SoundStream
    paper's style. ``codecs`` sets the order (default: as in ``cv``)."""
    codecs = _codec_order(cv, codecs)
    rows = []
    for a in codecs:
        ca = codec_curve(cv, a, metric, category)
        for _, pa in ca.iterrows():
            for b in codecs:
                if b == a:
                    continue
                cb = codec_curve(cv, b, metric, category)
                if cb.empty:
                    continue
                need = rate_to_match(cb["measured_kbps"], cb["mean"], pa["mean"], higher_is_better=higher_is_better)
                lo, hi = cb["measured_kbps"].min(), cb["measured_kbps"].max()
                head = f"to match {a} at {pa['measured_kbps']:.2f} kbps ({metric} {pa['mean']:.3f}), {b}"
                if need is not None:
                    text, status = f"{head} needs {need:.2f} kbps", "matched"
                elif below_range(cb["measured_kbps"], cb["mean"], pa["mean"], higher_is_better=higher_is_better):
                    text = f"{head} needs less than its lowest measured rate ({lo:.2f} kbps): not extrapolated"
                    status = "below_range"
                else:
                    text = f"{head} does not reach it within its measured range ({lo:.2f}-{hi:.2f} kbps)"
                    status = "not_reached"
                rows.append({
                    "codec": a, "requested_kbps": pa["requested_kbps"], "kbps": round(pa["measured_kbps"], 3),
                    "quality": round(pa["mean"], 3), "other": b,
                    "other_kbps_needed": None if need is None else round(need, 3),
                    "rate_ratio": None if need is None else round(need / pa["measured_kbps"], 3),
                    "status": status, "statement": text,
                })
    return pd.DataFrame(rows, columns=["codec", "requested_kbps", "kbps", "quality", "other", "other_kbps_needed",
                                       "rate_ratio", "status", "statement"])


def bd_table(cv: pd.DataFrame, metric: str, category: str = "all", higher_is_better: bool = True,
             method: str = "pchip", codecs: list[str] | None = None) -> pd.DataFrame:
    """Bjøntegaard delta rate (%) and quality of B against A for every pair of codecs, A
    before B in ``codecs`` order (default: as in ``cv``)."""
    codecs = _codec_order(cv, codecs)
    rows = []
    for a, b in combinations(codecs, 2):
        ca, cb = codec_curve(cv, a, metric, category), codec_curve(cv, b, metric, category)
        if ca.empty or cb.empty:
            continue
        args = (ca["measured_kbps"], ca["mean"], cb["measured_kbps"], cb["mean"])
        r = bd_rate(*args, higher_is_better=higher_is_better, method=method)
        q = bd_quality(*args, higher_is_better=higher_is_better, method=method)
        notes = [x for x in (r.reason and f"BD-rate: {r.reason}", q.reason and f"BD-quality: {q.reason}") if x]
        if r.value is not None:
            share = (r.high - r.low) / max(np.ptp(ca["mean"]), np.ptp(cb["mean"]))
            if share < SMALL_OVERLAP:
                notes.append(f"quality overlap is only {share:.0%} of the wider curve's range: treat BD-rate with care")
        rows.append({
            "metric": metric, "category": category, "A": a, "B": b,
            "bd_rate_pct": None if r.value is None else round(r.value, 2),
            "quality_interval": "" if r.value is None else f"{r.low:.3f}-{r.high:.3f}",
            "bd_quality": None if q.value is None else round(q.value, 4),
            "kbps_interval": "" if q.value is None else f"{q.low:.2f}-{q.high:.2f}",
            "note": "; ".join(notes),
        })
    return pd.DataFrame(rows, columns=["metric", "category", "A", "B", "bd_rate_pct", "quality_interval", "bd_quality",
                                       "kbps_interval", "note"])


# ---------------------------------------------------------------------------------------------
# items


def item_table(run: RunData, metric: str) -> pd.DataFrame:
    """item x condition values of one metric."""
    d = run.ok[run.ok["metric"] == metric].copy()
    d["condition"] = [c if c in ANCHORS else f"{c}@{k:g}" for c, k in zip(d["codec"], d["requested_kbps"])]
    p = d.pivot_table(index=["category", "item"], columns="condition", values="value", aggfunc="mean")
    return p.round(3)


def worst_items(run: RunData, metric: str, n: int = 3, higher_is_better: bool = True) -> pd.DataFrame:
    """The n worst items per codec and requested bitrate for one metric."""
    d = run.ok[(run.ok["metric"] == metric) & ~run.ok["codec"].isin(ANCHORS)]
    rows = []
    for (codec, kbps), g in d.groupby(["codec", "requested_kbps"], sort=True):
        g = g.sort_values("value", ascending=higher_is_better).head(n)
        for rank, (_, r) in enumerate(g.iterrows(), 1):
            rows.append({"codec": codec, "requested_kbps": kbps, "rank": rank, "item": r["item"],
                         "category": r["category"], metric: round(float(r["value"]), 3)})
    return pd.DataFrame(rows)


def problems_table(run: RunData) -> pd.DataFrame:
    """Rows that did not produce a value, grouped by codec, status and error."""
    bad = run.results[run.results["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame(columns=["codec", "status", "error", "rows"])
    return (bad.fillna({"error": ""}).groupby(["codec", "status", "error"]).size().rename("rows").reset_index())


def key_findings(cv: pd.DataFrame, metric: str, higher_is_better: bool = True, codecs: list[str] | None = None,
                 method: str = "pchip") -> list[str]:
    """Headline sentences for the codec under test (the first codec) on one metric, all items:
    what the other codecs need to match it, and the BD-rate between them."""
    order = _codec_order(cv, codecs)
    if len(order) < 2:
        return []
    lead = order[0]
    out = []
    sav = savings_table(cv, metric, "all", higher_is_better, order)
    out += list(sav.loc[sav["codec"] == lead, "statement"])
    bd = bd_table(cv, metric, "all", higher_is_better, method, order)
    for _, r in bd[bd["A"] == lead].iterrows():
        if pd.notna(r["bd_rate_pct"]):
            more = "more" if r["bd_rate_pct"] > 0 else "less"
            out.append(f"BD-rate ({method}): {r['B']} needs {abs(r['bd_rate_pct']):.1f}% {more} bitrate than {lead} "
                       f"for the same {metric} (quality {r['quality_interval']})")
        else:
            out.append(f"BD-rate of {r['B']} against {lead}: not computed ({r['note']})")
    return out
