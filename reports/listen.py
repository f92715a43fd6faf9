"""Embedded audio players: for one item of every category, the reference, the anchors and each
codec at each operating point, labelled with the bitrate measured on that item.

Clips are cut to a few seconds and embedded as base64 FLAC (16 bit, lossless, about half the
size of WAV) in HTML <audio> elements; the HTML report stays self-contained.
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np

from evalsuite.conditions import LOW_ANCHOR, MID_ANCHOR, REFERENCE, ordered_ids
from evalsuite.plots import ordered_groups

from .data import RunData

LABELS = {REFERENCE: "reference (unprocessed)", MID_ANCHOR: "anchor: 7 kHz low-pass", LOW_ANCHOR: "anchor: 3.5 kHz low-pass"}


def clip_data_uri(x: np.ndarray, rate: int, max_seconds: float = 4.0) -> str:
    import soundfile as sf

    x = np.asarray(x, dtype=np.float32)[: int(max_seconds * rate)]
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), rate, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def pick_items(run: RunData, metric: str | None, per_category: int = 1) -> list[str]:
    """``per_category`` items of every category, the hardest first (lowest mean quality of the
    codec conditions on ``metric``; the first items where the metric has no value)."""
    d = run.ok[run.ok["condition_kind"] == "codec"]
    hib = run.directions().get(metric, True) if metric else True
    picked: list[str] = []
    all_items = run.results[["category", "item"]].drop_duplicates()
    for cat in ordered_groups(all_items["category"].unique()):
        dm = d[(d["category"] == cat) & (d["metric"] == metric)] if metric else d.iloc[0:0]
        if len(dm):
            order = list(dm.groupby("item")["value"].mean().sort_values(ascending=hib).index)
        else:
            order = sorted(all_items.loc[all_items["category"] == cat, "item"])
        picked += order[:per_category]
    return picked


def _label(run: RunData, item: str, condition: str) -> str:
    if condition in LABELS:
        return LABELS[condition]
    rows = run.results[(run.results["item"] == item) & (run.results["condition"] == condition)]
    kb = rows["measured_kbps"].dropna()
    return f"{condition}: {kb.iloc[0]:.2f} kbps measured" if len(kb) else f"{condition}: (no bitstream)"


def players_html(run: RunData, items: list[str], max_seconds: float = 4.0) -> str:
    """One table per item: every condition with audio, in the shared order (reference, anchors,
    codecs by bitrate), labelled with the bitrate measured on that item."""
    from evalsuite.run_audio import RunAudioError, audio_index, read_run_audio

    parts = []
    cats = run.results.groupby("item")["category"].first()
    try:
        index = audio_index(run.layout)
    except RunAudioError:
        index = {}
    for it in items:
        conds = ordered_ids(run.results.loc[run.results["item"] == it, "condition"].unique(), run.codecs())
        rows = []
        for cond in conds:
            if (it, cond) not in index and cond != REFERENCE:
                continue
            try:  # only audio the run's table vouches for (sha256 checked)
                x, rate = read_run_audio(run.layout, index, it, cond)
            except RunAudioError as e:
                rows.append(f"<tr><td>{html.escape(_label(run, it, cond))}</td><td>{html.escape(str(e))}</td></tr>")
                continue
            rows.append(f"<tr><td>{html.escape(_label(run, it, cond))}</td><td><audio controls preload=\"none\" "
                        f"src=\"{clip_data_uri(x, rate, max_seconds)}\"></audio></td></tr>")
        parts.append(f"<h4>{html.escape(str(cats.get(it, '')))}: {html.escape(it)}</h4>"
                     f"<table class=\"evalsuite-audio\"><tbody>{''.join(rows) or '<tr><td>(no audio)</td></tr>'}"
                     "</tbody></table>")
    return "".join(parts) + f"<p><small>First {max_seconds:g} s of each item, 16-bit FLAC.</small></p>"
