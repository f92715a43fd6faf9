"""The tidy results table of a run's grid, and the files written from it.

One row per item x condition x metric output: a value (``ok``) or an explained status. The
table is built from the store's content-keyed records for exactly the command's grid, plus the
rows decided without computing (``bad_input``, ``unsupported``, ``unavailable``).
"""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pandas as pd

from . import layout as L
from .conditions import Kind
from .fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from .runner import _Engine


def results_table(e: _Engine) -> pd.DataFrame:
    rows: list[dict] = []
    for it in e.items:
        for cond, entry in e.conditions:
            is_codec = cond.kind is Kind.CODEC
            base = {"item": it.item, "category": it.category, "cluster": it.cluster, "condition": cond.id,
                    "condition_kind": cond.kind.value, "codec": cond.codec, "requested_kbps": cond.requested_kbps,
                    "kbps_used": math.nan, "measured_kbps": math.nan, "lag_samples": math.nan,
                    "encode_cpu_s": math.nan, "decode_cpu_s": math.nan, "latency_ms": math.nan,
                    "codec_settings": "{}", "codec_info": "{}", "codec_version": "", "note": "", "audio_path": "",
                    "audio_sha256": ""}
            status, reason = "", ""
            if it.error:
                status, reason = L.BAD_INPUT, it.error
            else:
                status, reason = e.decided(cond, entry)
                if status == L.UNSUPPORTED and entry is not None:
                    base["codec_settings"] = json.dumps(entry.instance.settings(), sort_keys=True, default=str)
                if not status and (it.item, cond.id) in e.unavailable_t:
                    status, reason = L.UNAVAILABLE, e.unavailable_t[(it.item, cond.id)]
            rec = None
            if not status:
                rec = e.record(it, cond, entry)
                if rec is None:
                    continue  # not computed (the run stopped early): no row rather than a wrong one
                base.update(codec_settings=rec.codec_settings or "{}", codec_info=rec.codec_info or "{}",
                            codec_version=rec.codec_version or "", note=rec.note or "",
                            lag_samples=_f(rec.lag_samples), encode_cpu_s=_f(rec.encode_cpu_s),
                            decode_cpu_s=_f(rec.decode_cpu_s), latency_ms=_f(rec.latency_ms))
                if is_codec:
                    base.update(kbps_used=_f(rec.kbps_used), measured_kbps=_f(rec.measured_kbps))
                if rec.status != L.OK:
                    status, reason = rec.status, rec.error
                else:
                    base.update(audio_path=rec.audio_rel, audio_sha256=rec.audio_sha)
            for m in e.metrics:
                if m.applies_to is not None and it.category not in m.applies_to:
                    continue
                info = m.instance.describe()
                mbase = {**base, "higher_is_better": bool(info.higher_is_better), "metric_version": info.version,
                         "metric_mode": info.mode}
                if status:
                    rows += [{**mbase, "metric": o, "value": math.nan, "status": status, "error": reason}
                             for o in m.outputs]
                    continue
                if m.name in e.unavailable_m:
                    rows += [{**mbase, "metric": o, "value": math.nan, "status": L.UNAVAILABLE,
                              "error": e.unavailable_m[m.name]} for o in m.outputs]
                    continue
                stored = e.scores.get((it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key))
                for r in stored or []:
                    rows.append({**mbase, "metric": r.output, "value": _f(r.value), "status": r.status,
                                 "error": r.error or "", "metric_version": r.metric_version,
                                 "metric_mode": r.metric_mode})
    df = pd.DataFrame(rows, columns=L.RESULT_COLUMNS)
    df["higher_is_better"] = df["higher_is_better"].astype("boolean")
    for c in ("requested_kbps", "kbps_used", "measured_kbps", "lag_samples", "encode_cpu_s", "decode_cpu_s",
              "latency_ms", "value"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df.sort_values(["item", "condition", "metric"], kind="stable").reset_index(drop=True)


def _f(v) -> float:
    try:
        return math.nan if v is None else float(v)
    except (TypeError, ValueError):
        return math.nan


def table_digest(results: pd.DataFrame) -> str:
    """A content digest of a results table (an unchanged table is not written again)."""
    import hashlib

    h = hashlib.sha256(",".join(results.columns).encode())
    h.update(pd.util.hash_pandas_object(results, index=False).to_numpy().tobytes())
    return h.hexdigest()


def exported(run: L.RunLayout) -> bool:
    return all(p.is_file() for p in (run.results_parquet, run.results_csv, run.curves_csv))


def export_all(run: L.RunLayout, results: pd.DataFrame, helpers: int = 0) -> pd.DataFrame:
    """Write the table, the curves and one plot per metric; ``helpers`` forked copies of this
    process draw plots beside it (evalsuite.plot_sharing)."""
    from .curves import curves
    from .plot_sharing import draw_all
    from .plots import plot_metric

    _atomic(run.results_parquet, lambda p: results.to_parquet(p, index=False))
    _atomic(run.results_csv, lambda p: results.to_csv(p, index=False))
    cv = curves(results)
    _atomic(run.curves_csv, lambda p: cv.to_csv(p, index=False))
    metrics = sorted(cv["metric"].unique()) if len(cv) else []
    draw_all(plot_metric, [(cv[cv["metric"] == m], m, run.plots_dir / m) for m in metrics], helpers)
    return cv


def _atomic(path, write) -> None:
    import io

    if path.suffix == ".parquet":
        buf = io.BytesIO()
        write(buf)
        data = buf.getvalue()
    else:
        buf = io.StringIO()
        write(buf)
        data = buf.getvalue().encode()
    atomic_write_bytes(path, data, path.name)
