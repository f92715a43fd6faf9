"""Embedded audio players: reference vs each codec for a few items, so a reader can listen.

Clips are cut to a few seconds and embedded as base64 FLAC (16 bit, lossless, about half the
size of WAV) in HTML <audio> elements; the HTML report stays self-contained.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from .data import ANCHORS, RunData


def clip_data_uri(path: Path, max_seconds: float = 4.0) -> str:
    import soundfile as sf

    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x[: int(max_seconds * rate)]
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), rate, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def pick_items(run: RunData, metric: str | None, n: int = 3) -> list[str]:
    """Up to n items, one per category first, preferring the hardest (lowest mean quality)."""
    ok = run.ok[~run.ok["codec"].isin(ANCHORS)]
    if metric is not None:
        ok = ok[ok["metric"] == metric]
    if ok.empty:
        return []
    hib = run.directions().get(metric, True) if metric else True
    means = ok.groupby(["category", "item"])["value"].mean().reset_index()
    means = means.sort_values("value", ascending=hib)
    picked: list[str] = []
    for _, g in means.groupby("category", sort=False):
        if len(picked) < n:
            picked.append(g["item"].iloc[0])
    for it in means["item"]:
        if len(picked) >= n:
            break
        if it not in picked:
            picked.append(it)
    return picked


def _audio_path(run: RunData, item: str, codec: str, kbps: float) -> Path | None:
    rows = run.results[(run.results["item"] == item) & (run.results["codec"] == codec)
                       & (run.results["requested_kbps"] == kbps)]
    if "audio_path" in rows:
        for rel in rows["audio_path"].dropna():
            if rel and (run.layout.root / rel).is_file():
                return run.layout.root / rel
    p = run.layout.decoded_audio(codec, kbps, item)
    return p if p.is_file() else None


def players_html(run: RunData, items: list[str], kbps: float | None = None, max_seconds: float = 4.0) -> str:
    """A table: one row per item, one column per condition (reference first, then each codec at
    ``kbps`` or, by default, its lowest requested bitrate, where the differences are largest)."""
    res = run.results
    conds: list[tuple[str, float]] = []
    for codec in run.codecs():
        ks = sorted(res.loc[res["codec"] == codec, "requested_kbps"].unique())
        if not ks:
            continue
        k = kbps if kbps is not None and kbps in ks else ks[0]
        conds.append((codec, float(k)))
    head = "".join(f"<th>{html.escape(c)} @ {k:g} kbps</th>" for c, k in conds)
    rows = []
    for it in items:
        ref = run.layout.reference_audio(it)
        cells = [f"<td><b>{html.escape(it)}</b></td>"]
        cells.append(_cell(ref if ref.is_file() else None, max_seconds))
        for c, k in conds:
            cells.append(_cell(_audio_path(run, it, c, k), max_seconds))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="evalsuite-audio"><thead><tr><th>item</th><th>reference</th>' + head + "</tr></thead><tbody>"
            + "".join(rows) + f"</tbody></table><p><small>First {max_seconds:g} s of each item, 16-bit FLAC.</small></p>")


def _cell(path: Path | None, max_seconds: float) -> str:
    if path is None:
        return "<td>(no audio)</td>"
    return f'<td><audio controls preload="none" src="{clip_data_uri(path, max_seconds)}"></audio></td>'
