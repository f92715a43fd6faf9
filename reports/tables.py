"""The report's tables and sentences, as pandas DataFrames computed from a run's tidy results.

Curves come from evalsuite.curves (cluster bootstrap, common items, named pools); every
interval, BD-rate and "needs N kbps" statement from evalsuite.stats, which also decides
whether a number may be stated at all (docs/statistics.md).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from evalsuite.bdrate import bd_quality, rate_to_match
from evalsuite.conditions import NON_CODEC, ordered_ids
from evalsuite.curves import common_items, groups_of, item_matrix
from evalsuite.curves import curves as compute_curves
from evalsuite.plots import ordered_groups
from evalsuite.stats import (
    DEFAULT_B,
    DEFAULT_SEED,
    MIN_BD_OVERLAP,
    ClusterBootstrap,
    bd_rate_ci,
    category_weights,
    curve_replicates,
    paired_difference,
    rate_to_match_ci,
)

from .data import RunData

#: metrics known to under-rate generative (neural) codecs
WAVEFORM_OR_INTRUSIVE = ("pesq_wb", "pesq_nb", "visqol", "visqol_speech", "visqol_audio", "stoi", "estoi")

_ABS_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+([\w.+-]+)")


def strip_paths(text: str) -> str:
    """Absolute paths in recorded settings and errors shortened to their last component: a
    report never shows the layout of the machine that made the run."""
    return _ABS_PATH.sub(lambda m: m.group(1), str(text))


def curves(run: RunData, B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """metric x group (categories and named pools) x condition: measured kbps, mean, 95% CI, n."""
    return compute_curves(run.results, run.items, B=B, seed=seed)


def groups(cv: pd.DataFrame, metric: str) -> list[str]:
    return ordered_groups(cv.loc[(cv["metric"] == metric) & cv["mean"].notna(), "category"])


def _fmt_ci(lo: float, hi: float, fmt: str = ".3f") -> str:
    def one(v):
        if v == math.inf:
            return "beyond range"
        if v == -math.inf:
            return "below range"
        return format(v, fmt)

    return f"[{one(lo)}, {one(hi)}]" if not (math.isnan(lo) or math.isnan(hi)) else "[no interval]"


# ---------------------------------------------------------------------------------------------
# run summary, corpus, complexity


def run_summary(run: RunData) -> pd.DataFrame:
    """Key facts of the run as a two-column table (no paths of the machine that made it)."""
    m = run.meta
    cfg = m.get("config", {})
    res = run.results
    codec_rows = res[res["condition_kind"] == "codec"]
    rows = [
        ("run", run.name),
        ("started", m.get("started", "")),
        ("finished", m.get("finished", "")),
        ("command", strip_paths(m.get("command", ""))),
        ("codecs", ", ".join(run.codecs())),
        ("reference and anchors", ", ".join(c for c in NON_CODEC if c in set(res["condition"]))),
        ("requested kbps", ", ".join(f"{k:g}" for k in sorted(codec_rows["requested_kbps"].dropna().unique()))),
        ("metrics", ", ".join(run.metrics())),
        ("items", str(res["item"].nunique())),
        ("source recordings (clusters)", str(res["cluster"].nunique())),
        ("rows", str(len(res))),
        ("status counts", ", ".join(f"{k} {v}" for k, v in res["status"].value_counts().items())),
        ("corpus hash", str(m.get("corpus_hash", ""))[:16]),
    ]
    corpus = cfg.get("corpus") if isinstance(cfg, dict) else None
    if isinstance(corpus, dict):
        rows.append(("corpus preparation", ", ".join(f"{k}={v}" for k, v in corpus.items() if v is not None)))
    if m.get("metrics_skipped"):
        rows.append(("metrics skipped", strip_paths("; ".join(f"{k}: {v}" for k, v in m["metrics_skipped"].items()))))
    return pd.DataFrame(rows, columns=["field", "value"])


def versions_table(run: RunData) -> pd.DataFrame:
    v = run.meta.get("versions", {}) or {}
    mv = (run.results.dropna(subset=["metric_version"]).groupby("metric")["metric_version"].first()
          if "metric_version" in run.results else pd.Series(dtype=str))
    rows = [("package", k, strip_paths(val)) for k, val in v.items()] + [("metric", k, str(val)) for k, val in mv.items()]
    return pd.DataFrame(rows, columns=["kind", "name", "version"])


def codec_settings_table(run: RunData) -> pd.DataFrame:
    """codec -> settings recorded with its rows (run.json's codec_settings, else the rows)."""
    settings = dict(run.meta.get("codec_settings") or {})
    if "codec_settings" in run.results:
        for codec, g in run.results.groupby("codec", sort=False):
            if codec not in settings:
                s = g["codec_settings"].dropna()
                settings[codec] = json.loads(s.iloc[0]) if len(s) and isinstance(s.iloc[0], str) and s.iloc[0] else {}
    rows = [(c, strip_paths(", ".join(f"{k}={v}" for k, v in (s or {}).items())) or "-") for c, s in settings.items()]
    return pd.DataFrame(rows, columns=["codec", "settings"])


def codec_info_table(run: RunData) -> pd.DataFrame:
    """Per codec condition: bitrate used and measured, what the codec reported (e.g. Opus mode
    and coded bandwidth, SoundStream codebooks), the residual lag when recorded, and notes."""
    res = run.results[run.results["condition_kind"] == "codec"]
    rows = []
    for cid, g in res.groupby("condition", sort=False):
        ok = g[g["status"] == "ok"]
        info = ""
        if "codec_info" in ok and ok["codec_info"].notna().any():
            infos = [json.loads(v) if isinstance(v, str) and v else {} for v in ok["codec_info"].dropna()]
            keys = [k for k in dict.fromkeys(k for i in infos for k in i) if k not in ("frames",)]
            info = ", ".join(f"{k}={'/'.join(sorted({str(i.get(k)) for i in infos if k in i}))}" for k in keys)
        notes = "; ".join(sorted({str(n) for n in g.get("note", pd.Series(dtype=str)).dropna() if n}))
        errors = "; ".join(sorted({str(e) for e in g.loc[g["status"] != "ok", "error"].dropna() if e}))[:200]
        row = {"condition": cid, "codec": g["codec"].iloc[0], "requested_kbps": g["requested_kbps"].iloc[0],
               "kbps_used": round(float(ok["kbps_used"].mean()), 3) if "kbps_used" in ok and ok["kbps_used"].notna().any() else None,
               "measured_kbps": round(float(ok["measured_kbps"].mean()), 3) if ok["measured_kbps"].notna().any() else None,
               "items": ok["item"].nunique()}
        if "lag_samples" in ok:
            lag = ok.drop_duplicates("item")["lag_samples"].dropna()
            row["residual_lag_samples"] = f"{lag.min():g}..{lag.max():g}" if len(lag) else "-"
        row.update(codec_info=strip_paths(info), note=strip_paths(notes or errors))
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = {c: i for i, c in enumerate(ordered_ids(out["condition"], run.codecs()))}
    return out.sort_values("condition", key=lambda s: s.map(order)).reset_index(drop=True)


def complexity_table(run: RunData) -> tuple[pd.DataFrame, str]:
    """Per codec condition: encode and decode CPU seconds per second of audio (summed over
    items), and latency (frame + lookahead). Returns (table, note); an empty table with a note
    when the run did not record CPU times."""
    need = {"encode_cpu_s", "decode_cpu_s"}
    res = run.results
    if not need <= set(res.columns) or res[list(need)].isna().all().all():
        return pd.DataFrame(), ("This run's results have no encode_cpu_s/decode_cpu_s columns (the runner that wrote it "
                                "did not record CPU time): no complexity table. Runs made with the current runner have it.")
    codec_rows = res[(res["condition_kind"] == "codec") & (res["status"] == "ok")].drop_duplicates(["item", "condition"])
    dur = None
    if len(run.items) and "duration_s" in run.items:
        dur = dict(zip(run.items["item"].astype(str), run.items["duration_s"].astype(float)))
    rows = []
    for cid, g in codec_rows.groupby("condition", sort=False):
        seconds = g["item"].map(dur) if dur else pd.Series(np.nan, index=g.index)
        keep = seconds.notna() & g["encode_cpu_s"].notna() & g["decode_cpu_s"].notna()
        total = float(seconds[keep].sum())
        lat = g["latency_ms"].dropna().unique() if "latency_ms" in g else []
        rows.append({
            "condition": cid, "codec": g["codec"].iloc[0],
            "encode_cpu_s_per_s": float(g.loc[keep, "encode_cpu_s"].sum() / total) if total > 0 else math.nan,
            "decode_cpu_s_per_s": float(g.loc[keep, "decode_cpu_s"].sum() / total) if total > 0 else math.nan,
            "latency_ms": "/".join(f"{v:g}" for v in sorted(lat)) if len(lat) else "-",
            "items": int(keep.sum()), "audio_s": round(total, 2),
        })
    out = pd.DataFrame(rows)
    note = ("CPU seconds (process time, one thread) per second of audio, summed over the items; latency = the "
            "codec's frame plus lookahead. Measured on the machine that made the run.")
    if dur is None:
        note += " items.csv has no durations, so CPU time per second could not be computed."
    if len(out):
        order = {c: i for i, c in enumerate(ordered_ids(out["condition"], run.codecs()))}
        out = out.sort_values("condition", key=lambda s: s.map(order)).reset_index(drop=True)
        for c in ("encode_cpu_s_per_s", "decode_cpu_s_per_s"):
            out[c] = out[c].round(4)
    return out, note


def corpus_table(run: RunData) -> pd.DataFrame:
    """Items with category, source recording (cluster), duration, loudness, licence and notes
    (band-limited or lossy-coded sources, resampling, downmix)."""
    cl = run.results.groupby("item")["cluster"].first()
    if not run.items.empty:
        t = run.items.copy()
        t["item"] = t["item"].astype(str)
        if "source_file" in t:
            t["source_file"] = t["source_file"].map(lambda p: Path(str(p)).name if isinstance(p, str) else p)
        cols = [c for c in ("item", "category", "source_file", "duration_s", "loudness_lufs", "license", "note") if c in t]
        t = t[cols]
    else:
        t = run.results[["item", "category"]].drop_duplicates()
    t.insert(2, "source_recording", t["item"].map(cl))
    if "note" in t:
        t["note"] = t["note"].fillna("").map(strip_paths)
    return t.reset_index(drop=True)


def corpus_notes(run: RunData) -> list[str]:
    """One line per item whose source needs a caveat (items.csv ``note``)."""
    t = corpus_table(run)
    if "note" not in t:
        return []
    return [f"{r['item']} ({r['category']}): {r['note']}" for _, r in t.iterrows() if str(r["note"]).strip()]


def corpus_by_category(run: RunData) -> pd.DataFrame:
    t = corpus_table(run)
    agg = {"items": ("item", "count"), "source_recordings": ("source_recording", "nunique")}
    if "duration_s" in t:
        agg["total_s"] = ("duration_s", "sum")
    out = t.groupby("category").agg(**agg).reset_index()
    return out.set_index("category").loc[ordered_groups(out["category"])].reset_index()


# ---------------------------------------------------------------------------------------------
# curves as tables


def curve_table(cv: pd.DataFrame, metric: str, group: str) -> pd.DataFrame:
    """mean and 95% CI per condition for one metric and group (3 decimals)."""
    d = cv[(cv["metric"] == metric) & (cv["category"] == group)]
    out = d[["condition", "measured_kbps", "mean", "ci95_low", "ci95_high", "n", "n_clusters", "n_dropped", "note"]].copy()
    for c in ("measured_kbps", "mean", "ci95_low", "ci95_high"):
        out[c] = out[c].round(3)
    return out.reset_index(drop=True)


def mean_ci_pivot(cv: pd.DataFrame, metric: str) -> pd.DataFrame:
    """condition x group: 'mean [low, high]' strings; 'not applicable' where so flagged."""
    d = cv[cv["metric"] == metric].copy()
    if d.empty:
        return pd.DataFrame()
    d["cell"] = [("n/a" if not np.isfinite(m) else f"{m:.3f} {_fmt_ci(lo, hi)}")
                 for m, lo, hi in zip(d["mean"], d["ci95_low"], d["ci95_high"])]
    p = d.pivot_table(index="condition", columns="category", values="cell", aggfunc="first")
    return p.loc[ordered_ids(p.index), ordered_groups(p.columns)]


def not_applicable_table(run: RunData, metric: str | None = None) -> pd.DataFrame:
    """Conditions and items where a metric is flagged not applicable, with the reason."""
    na = run.results[run.results["status"] == "not_applicable"]
    if metric is not None:
        na = na[na["metric"] == metric]
    if na.empty:
        return pd.DataFrame(columns=["metric", "condition", "items", "reason"])
    return (na.fillna({"error": ""}).groupby(["metric", "condition", "error"]).agg(items=("item", "nunique"))
            .reset_index().rename(columns={"error": "reason"})[["metric", "condition", "items", "reason"]])


# ---------------------------------------------------------------------------------------------
# comparisons of two codecs: common items, paired resamples


@dataclass(frozen=True)
class Pair:
    """Two codecs' curves on the items common to all their conditions in one group."""

    metric: str
    group: str
    a: str
    b: str
    conds_a: list
    conds_b: list
    reps_a: object  # CurveReplicates
    reps_b: object
    n_items: int
    n_clusters: int
    n_dropped: int


def pair(run: RunData, metric: str, group: str, a: str, b: str, B: int = DEFAULT_B,
         seed: int = DEFAULT_SEED) -> Pair | None:
    cats = dict(groups_of(run.results["category"].unique())).get(group)
    if cats is None:
        return None
    ok = run.ok[(run.ok["metric"] == metric) & run.ok["category"].isin(cats) & run.ok["codec"].isin([a, b])
                & (run.ok["condition_kind"] == "codec")]
    ok = ok[ok["measured_kbps"].notna()]
    ok, dropped = common_items(ok)
    if ok.empty:
        return None
    conds_a = ordered_ids(ok.loc[ok["codec"] == a, "condition"].unique())
    conds_b = ordered_ids(ok.loc[ok["codec"] == b, "condition"].unique())
    if not conds_a or not conds_b:
        return None
    vals, rates = item_matrix(ok), item_matrix(ok, "measured_kbps")
    first = ok.groupby("item")[["category", "cluster"]].first().reindex(vals.index)
    w = category_weights(first["category"].to_numpy())
    boot = ClusterBootstrap(first["cluster"].to_numpy(), B=B, seed=seed)
    ra = curve_replicates(boot, rates[conds_a].to_numpy(), vals[conds_a].to_numpy(), w)
    rb = curve_replicates(boot, rates[conds_b].to_numpy(), vals[conds_b].to_numpy(), w)
    return Pair(metric, group, a, b, conds_a, conds_b, ra, rb, len(vals), boot.n_clusters, dropped)


def _codec_order(run: RunData, codecs: list[str] | None) -> list[str]:
    present = run.codecs()
    return [c for c in (codecs or []) if c in present] + [c for c in present if c not in (codecs or [])]


def bd_table(run: RunData, metric: str, group: str, higher_is_better: bool = True, method: str = "pchip",
             codecs: list[str] | None = None, B: int = DEFAULT_B, seed: int = DEFAULT_SEED,
             min_overlap: float = MIN_BD_OVERLAP) -> pd.DataFrame:
    """Bjøntegaard delta rate (%) of B against A with its bootstrap interval, quality overlap and
    whether it is stated; BD-quality (metric units at equal rate) beside it."""
    rows = []
    for a, b in combinations(_codec_order(run, codecs), 2):
        p = pair(run, metric, group, a, b, B, seed)
        if p is None:
            continue
        s = bd_rate_ci(p.reps_a, p.reps_b, higher_is_better=higher_is_better, method=method, min_overlap=min_overlap)
        q = bd_quality(p.reps_a.rate, p.reps_a.quality, p.reps_b.rate, p.reps_b.quality,
                       higher_is_better=higher_is_better, method=method)
        rows.append({
            "metric": metric, "group": group, "A": a, "B": b,
            "bd_rate_pct": None if s.value is None else round(s.value, 1),
            "ci95": "" if s.value is None else _fmt_ci(s.low, s.high, "+.1f"),
            "quality_overlap": None if math.isnan(s.overlap) else f"{s.overlap:.0%}",
            "stated": s.stated, "bd_quality": None if q.value is None else round(q.value, 4),
            "n_items": p.n_items, "n_sources": p.n_clusters, "note": s.reason,
        })
    return pd.DataFrame(rows, columns=["metric", "group", "A", "B", "bd_rate_pct", "ci95", "quality_overlap", "stated",
                                       "bd_quality", "n_items", "n_sources", "note"])


def savings_table(run: RunData, metric: str, group: str, higher_is_better: bool = True,
                  codecs: list[str] | None = None, B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """For every point of every codec, the rate each other codec needs to match its quality:
    PCHIP in log-rate (linear beside it), a bootstrap interval, and a sentence that says it
    only where the interval is bounded (never extrapolated)."""
    order = _codec_order(run, codecs)
    rows = []
    for a in order:
        for b in order:
            if a == b:
                continue
            p = pair(run, metric, group, a, b, B, seed)
            if p is None:
                continue
            for i, cid in enumerate(p.conds_a):
                s = rate_to_match_ci(p.reps_a, i, p.reps_b, higher_is_better=higher_is_better)
                ka, qa = float(p.reps_a.rate[i]), float(p.reps_a.quality[i])
                lin = rate_to_match(p.reps_b.rate, p.reps_b.quality, qa, higher_is_better=higher_is_better,
                                    interp="linear")
                head = (f"{group}: to match {cid} at {ka:.2f} kbps ({metric} {qa:.3f}), {b} needs")
                tail = f" (n = {p.n_items} items from {p.n_clusters} sources)"
                lo_b, hi_b = float(p.reps_b.rate.min()), float(p.reps_b.rate.max())
                if s.value is None:
                    where = "less than its lowest" if s.low == -math.inf and s.high == -math.inf else "more than its highest"
                    text = f"{head} {where} measured rate ({lo_b:.2f}-{hi_b:.2f} kbps): not extrapolated{tail}"
                    status = "below_range" if where.startswith("less") else "not_reached"
                elif not s.stated:
                    text = f"{head} {s.value:.2f} kbps, but this is {s.reason}{tail}"
                    status = "not_stated"
                else:
                    text = f"{head} {s.value:.2f} kbps (95% CI {_fmt_ci(s.low, s.high, '.2f')}"
                    if lin is not None and abs(lin - s.value) > 0.02 * s.value:
                        text += f"; {lin:.2f} with linear interpolation"
                    text += ")"
                    if not s.significant:
                        text += f"; the interval includes {a}'s own {ka:.2f} kbps: no significant rate difference"
                    text += tail
                    status = "stated"
                rows.append({"group": group, "condition": cid, "kbps": round(ka, 3), "quality": round(qa, 3),
                             "other": b, "other_kbps_needed": None if s.value is None else round(s.value, 3),
                             "ci95": _fmt_ci(s.low, s.high, ".2f"),
                             "linear": None if lin is None else round(lin, 3), "status": status,
                             "significant": s.significant, "statement": text})
    return pd.DataFrame(rows, columns=["group", "condition", "kbps", "quality", "other", "other_kbps_needed", "ci95",
                                       "linear", "status", "significant", "statement"])


def savings_by_group(run: RunData, metric: str, higher_is_better: bool = True, codecs: list[str] | None = None,
                     B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """(other, point to match) x group: needed kbps with its interval, or why not stated."""
    cv_groups = [g for g, _ in groups_of(run.ok.loc[run.ok["metric"] == metric, "category"].unique())]
    parts = [savings_table(run, metric, g, higher_is_better, codecs, B, seed) for g in cv_groups]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    t = pd.concat(parts)
    marks = {"below_range": "below range", "not_reached": "not reached"}
    t["needed"] = [f"{v:.2f} {ci}" if st == "stated" else (f"({v:.2f}: not stated)" if st == "not_stated"
                                                           else marks.get(st, "-"))
                   for v, ci, st in zip(t["other_kbps_needed"], t["ci95"], t["status"])]
    p = t.pivot_table(index=["other", "condition"], columns="group", values="needed", aggfunc="first")
    return p[ordered_groups(p.columns)]


def headline_groups(run: RunData, metric: str) -> list[str]:
    """The pools present (they say what they hold), then the categories no pool covers."""
    found = groups_of(run.ok.loc[run.ok["metric"] == metric, "category"].unique())
    pools = [(g, cats) for g, cats in found if len(cats) > 1]
    covered = {c for _, cats in pools for c in cats}
    return [g for g, _ in pools] + [g for g, cats in found if len(cats) == 1 and g not in covered]


def key_findings(run: RunData, metric: str, higher_is_better: bool = True, codecs: list[str] | None = None,
                 method: str = "pchip", B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> list[str]:
    """Headline sentences for the codec under test (the first codec) on one metric: what the
    other codecs need to match it and the BD-rates, each with its interval, n and caveats; a
    number the rules do not allow is replaced by why."""
    order = _codec_order(run, codecs)
    if len(order) < 2:
        return []
    lead = order[0]
    out = []
    for g in headline_groups(run, metric):
        sav = savings_table(run, metric, g, higher_is_better, order, B, seed)
        out += list(sav.loc[sav["condition"].str.startswith(f"{lead}@"), "statement"])
        bd = bd_table(run, metric, g, higher_is_better, method, order, B, seed)
        for _, r in bd[bd["A"] == lead].iterrows():
            if r["stated"]:
                more = "more" if r["bd_rate_pct"] > 0 else "less"
                s = (f"{g}: BD-rate ({method}): {r['B']} needs {abs(r['bd_rate_pct']):.1f}% {more} bitrate than {lead} "
                     f"for the same {metric} (95% CI {r['ci95']}%; quality overlap {r['quality_overlap']}; "
                     f"n = {r['n_items']} items from {r['n_sources']} sources)")
                if r["note"]:
                    s += f"; {r['note']}"
            elif r["bd_rate_pct"] is not None and not pd.isna(r["bd_rate_pct"]):
                s = f"{g}: BD-rate of {r['B']} against {lead}: {r['note']}"
            else:
                s = f"{g}: BD-rate of {r['B']} against {lead}: not computed ({r['note']})"
            out.append(s)
    return out


def condition_difference(run: RunData, metric: str, group: str, a: str, b: str, B: int = DEFAULT_B,
                         seed: int = DEFAULT_SEED):
    """Mean of condition b minus condition a on their common items of a group, with the paired
    cluster-bootstrap interval (categories weighted equally, as in the curves)."""
    cats = dict(groups_of(run.results["category"].unique())).get(group, (group,))
    ok = run.ok[(run.ok["metric"] == metric) & run.ok["category"].isin(cats) & run.ok["condition"].isin([a, b])]
    ok, _ = common_items(ok)
    if ok.empty or ok["condition"].nunique() < 2:
        return None
    vals = item_matrix(ok)
    first = ok.groupby("item")[["category", "cluster"]].first().reindex(vals.index)
    return paired_difference(vals[a].to_numpy(), vals[b].to_numpy(), first["cluster"].to_numpy(),
                             category_weights(first["category"].to_numpy()), B=B, seed=seed)


def generative_caveat(run: RunData, cv: pd.DataFrame, codecs: list[str], B: int = DEFAULT_B,
                      seed: int = DEFAULT_SEED) -> list[str]:
    """Where this run's intrusive metrics rank Opus at 12 kbps or more above SoundStream at 6 kbps
    or less on speech, the opposite of the SoundStream paper's MUSHRA result (SoundStream at 3
    kbps above Opus at 12 kbps): one clause per pair, with the paired difference, its interval
    and whether it is significant."""
    out = []
    if "soundstream" not in codecs or "opus" not in codecs:
        return out
    for metric in WAVEFORM_OR_INTRUSIVE:
        d = cv[(cv["metric"] == metric) & cv["mean"].notna()]
        grp = next((g for g in ("speech", "clean_speech") if g in set(d["category"])), None)
        if grp is None:
            continue
        d = d[d["category"] == grp].set_index("condition")
        hib = bool(d["higher_is_better"].dropna().iloc[0]) if d["higher_is_better"].notna().any() else True
        opus = [c for c in d.index if c.startswith("opus@") and d.loc[c, "requested_kbps"] >= 12]
        ss = [c for c in d.index if c.startswith("soundstream@") and d.loc[c, "requested_kbps"] <= 6.0]
        for o in opus:
            for s in ss:
                better = d.loc[o, "mean"] > d.loc[s, "mean"] if hib else d.loc[o, "mean"] < d.loc[s, "mean"]
                if not better:
                    continue
                diff = condition_difference(run, metric, grp, s, o, B, seed)
                clause = f"{metric} ({grp}) ranks {o} ({d.loc[o, 'mean']:.3f}) above {s} ({d.loc[s, 'mean']:.3f})"
                if diff is not None and np.isfinite(diff.low):
                    clause += (f", difference {diff.mean:+.3f} (95% CI {_fmt_ci(diff.low, diff.high, '+.3f')}, "
                               f"n = {diff.n_items} items from {diff.n_clusters} sources"
                               + (")" if diff.significant else "; not significant: the interval includes 0)"))
                elif diff is not None:
                    clause += f" (n = {diff.n_items} items from {diff.n_clusters} sources: too few for an interval)"
                out.append(clause)
    return out


# ---------------------------------------------------------------------------------------------
# items


def item_table(run: RunData, metric: str) -> pd.DataFrame:
    """item x condition values of one metric ('n/a' where flagged not applicable)."""
    d = run.results[(run.results["metric"] == metric) & run.results["status"].isin(["ok", "not_applicable"])]
    p = d.pivot_table(index=["category", "item"], columns="condition", values="value", aggfunc="mean").round(3)
    na = d[d["status"] == "not_applicable"]
    p = p.astype(object)
    for _, r in na.iterrows():
        p.loc[(r["category"], r["item"]), r["condition"]] = "n/a"
    return p[ordered_ids(p.columns, run.codecs())]


def worst_items(run: RunData, metric: str, n: int = 3, higher_is_better: bool = True) -> pd.DataFrame:
    """The n worst items per codec condition for one metric."""
    d = run.ok[(run.ok["metric"] == metric) & (run.ok["condition_kind"] == "codec")]
    rows = []
    for cid in ordered_ids(d["condition"].unique(), run.codecs()):
        g = d[d["condition"] == cid].sort_values("value", ascending=higher_is_better).head(n)
        for rank, (_, r) in enumerate(g.iterrows(), 1):
            rows.append({"condition": cid, "rank": rank, "item": r["item"], "category": r["category"],
                         metric: round(float(r["value"]), 3)})
    return pd.DataFrame(rows)


def problems_table(run: RunData) -> pd.DataFrame:
    """Rows that did not produce a value, grouped by condition, status and error."""
    bad = run.results[run.results["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame(columns=["condition", "status", "error", "rows"])
    t = bad.fillna({"error": ""}).groupby(["condition", "status", "error"]).size().rename("rows").reset_index()
    t["error"] = t["error"].map(strip_paths)
    return t
