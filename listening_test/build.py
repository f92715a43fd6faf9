"""Build a MUSHRA test folder from an ``evalsuite run`` directory (ITU-R BS.1534-3).

One trial per item: the open reference, the hidden reference, the 3.5 kHz low anchor, the
7 kHz mid anchor and the chosen codec conditions. The anchors are always computed here from the
clipped reference with the standard low-pass (``evalsuite.audio.lowpass``), so every test uses
the same definition whatever the run stored. All signals of a trial are cut at the same place
(at most 12 s), faded in/out over 10 ms (identical fades on every signal, to avoid clicks), and
brought to one integrated loudness (BS.1770) so no condition wins by being louder.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalsuite.audio import AudioError, loudness_lufs, lowpass, read_audio, write_audio
from evalsuite.layout import ITEM_COLUMNS, RunLayout

from .config import (
    ANCHORS,
    HIDDEN_REFERENCE,
    LOW_ANCHOR,
    MAX_CLIP_S,
    MAX_SIGNALS,
    MID_ANCHOR,
    Condition,
    ConfigError,
    TestConfig,
    Trial,
    condition_id,
    save_config,
    validate_config,
)

FADE_S = 0.010
PEAK_LIMIT = 0.99  # of full scale, after the common gain; keeps 16-bit PCM from clipping


@dataclass
class BuildOptions:
    codecs: list[str]
    kbps: list[float]
    n_items: int = 12
    max_clip_s: float = MAX_CLIP_S
    clip_start_s: float = 0.0
    loudness_lufs: float = -26.0
    seed: int = 0
    items: list[str] | None = None  # explicit item names instead of the balanced choice
    name: str = ""
    overwrite: bool = False


def choose_items(items: "pd.DataFrame", n: int, seed: int = 0) -> list[str]:  # noqa: F821
    """Balanced choice across categories: categories take turns (sorted by name), each giving
    its next item in a seeded shuffle, until ``n`` items are chosen or all are used. With 12
    items and 4 categories of enough items, each category gets 3."""
    rng = np.random.default_rng(seed)
    pools = {}
    for cat in sorted(items["category"].astype(str).unique()):
        names = list(items.loc[items["category"].astype(str) == cat, "item"].astype(str))
        pools[cat] = [names[i] for i in rng.permutation(len(names))]
    chosen: list[str] = []
    while len(chosen) < n and any(pools.values()):
        for cat in list(pools):
            if pools[cat] and len(chosen) < n:
                chosen.append(pools[cat].pop(0))
    return chosen


def _read_items(run: RunLayout):
    import pandas as pd

    if not run.items_csv.is_file():
        raise ConfigError(f"{run.root} is not an evalsuite run folder (no items.csv); run `evalsuite run` first")
    items = pd.read_csv(run.items_csv)
    missing = [c for c in ("item", "category") if c not in items.columns]
    if missing:
        raise ConfigError(f"{run.items_csv}: missing columns {missing} (expected {ITEM_COLUMNS})")
    return items


def _fade(x: np.ndarray, rate: int) -> np.ndarray:
    n = min(int(FADE_S * rate), len(x) // 2)
    if n == 0:
        return x
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    y = x.astype(np.float64).copy()
    y[:n] *= ramp if y.ndim == 1 else ramp[:, None]
    y[-n:] *= ramp[::-1] if y.ndim == 1 else ramp[::-1, None]
    return y


def common_gain_db(signals: dict[str, np.ndarray], rate: int, target_lufs: float) -> tuple[dict[str, float], float]:
    """Per-signal gains (dB) that bring every signal to one loudness. The target is
    ``target_lufs`` unless that would push some peak over PEAK_LIMIT; then the whole trial's
    target is lowered (all signals together), so loudness stays aligned and nothing clips."""
    lufs, peak = {}, {}
    for k, x in signals.items():
        lufs[k] = loudness_lufs(x, rate)
        if not math.isfinite(lufs[k]):
            raise AudioError(f"{k}: loudness undefined (too quiet or shorter than 0.4 s)")
        peak[k] = float(np.max(np.abs(x)))
    target = target_lufs
    for k in signals:
        headroom = 20 * math.log10(PEAK_LIMIT / max(peak[k], 1e-12))
        target = min(target, lufs[k] + headroom)
    return {k: target - lufs[k] for k in signals}, target


def build_test(run_dir: Path, out_dir: Path, opts: BuildOptions) -> TestConfig:
    """Write ``out_dir`` (mushra.yaml + audio/) and return its config. Raises ConfigError /
    AudioError with a clear message when the run lacks audio or a rule would be broken."""
    run = RunLayout(Path(run_dir))
    out_dir = Path(out_dir)
    if (out_dir / "mushra.yaml").exists() and not opts.overwrite:
        raise ConfigError(f"{out_dir} already holds a MUSHRA test; choose another -o or pass --overwrite")
    if not opts.codecs or not opts.kbps:
        raise ConfigError("choose at least one codec (--codecs) and one bitrate (--kbps)")
    conds = [(c, float(k)) for c in opts.codecs for k in opts.kbps]
    n_signals = len(conds) + 1 + len(ANCHORS)
    if n_signals > MAX_SIGNALS:
        raise ConfigError(
            f"{len(conds)} codec conditions + hidden reference + 2 anchors = {n_signals} signals per trial; "
            f"BS.1534-3 allows at most {MAX_SIGNALS}: choose fewer codecs or bitrates"
        )
    if not 0 < opts.max_clip_s <= MAX_CLIP_S:
        raise ConfigError(f"--max-clip-s must be in (0, {MAX_CLIP_S:g}] (BS.1534-3 recommends at most 12 s)")
    items = _read_items(run)
    if "error" in items.columns:  # items the runner could not prepare
        items = items[items["error"].isna() | (items["error"].astype(str).str.strip() == "")]
    if opts.items:
        unknown = sorted(set(opts.items) - set(items["item"].astype(str)))
        if unknown:
            raise ConfigError(f"items not in {run.items_csv}: {unknown}")
        chosen = list(opts.items)
    else:
        chosen = choose_items(items, opts.n_items, opts.seed)
    if not chosen:
        raise ConfigError(f"{run.items_csv} lists no items")
    category = dict(zip(items["item"].astype(str), items["category"].astype(str)))

    conds, dropped = _available_conditions(run, chosen, conds)
    missing = []
    for item in chosen:
        for p in [run.reference_audio(item)] + [run.decoded_audio(c, k, item) for c, k in conds]:
            if not p.is_file():
                missing.append(str(p.relative_to(run.root)))
    if missing:
        raise ConfigError(
            f"the run {run.root} lacks {len(missing)} audio file(s) needed for the test, e.g. "
            + ", ".join(missing[:5])
            + " (check the codec/bitrate names, or re-run `evalsuite run` with them)"
        )

    trials = []
    for i, item in enumerate(chosen, 1):
        tid = f"t{i:02d}"
        trials.append(_build_trial(run, out_dir, tid, item, category[item], conds, opts))
    cfg = TestConfig(
        name=opts.name or out_dir.name,
        trials=trials,
        training_trial=trials[0].id,
        seed=int(opts.seed),
        loudness_lufs=float(opts.loudness_lufs),
        max_clip_s=float(opts.max_clip_s),
        source_run=str(run.root.resolve()),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        notes=[
            "anchors: zero-phase 8th-order Butterworth low-pass of the clipped reference at 3.5 and 7 kHz",
            f"clips: cut at {opts.clip_start_s:g} s, at most {opts.max_clip_s:g} s, 10 ms fades",
            "loudness: every signal of a trial gain-matched to one BS.1770 integrated loudness",
        ] + [f"left out {c}: no decoded audio for any chosen item in the run (unsupported bitrate?)" for c in dropped],
    )
    validate_config(cfg, out_dir, check_audio=True)
    save_config(cfg, out_dir)
    return cfg


def _available_conditions(run: RunLayout, items: list[str], conds: list[tuple[str, float]]):
    """Drop (codec, kbps) pairs the run has no audio for at all, e.g. 12 kbps for SoundStream,
    whose range ends at 9.2 kbps (the runner marks those 'unsupported'). A pair present for some
    items only is kept, and the caller reports the missing files: trials must be comparable."""
    keep, dropped = [], []
    for codec, kbps in conds:
        if any(run.decoded_audio(codec, kbps, i).is_file() for i in items):
            keep.append((codec, kbps))
        else:
            dropped.append(condition_id(codec, kbps))
    if not keep:
        raise ConfigError(
            f"the run {run.root} has no decoded audio for any of {', '.join(dropped)}; "
            "check the codec/bitrate names, or re-run `evalsuite run` with them")
    return keep, dropped


def _build_trial(run: RunLayout, out_dir: Path, tid: str, item: str, category: str,
                 conds: list[tuple[str, float]], opts: BuildOptions) -> Trial:
    ref, rate = read_audio(run.reference_audio(item))
    raw = {HIDDEN_REFERENCE: ref}
    for codec, kbps in conds:
        x, r = read_audio(run.decoded_audio(codec, kbps, item))
        if r != rate or x.shape[1:] != ref.shape[1:]:
            raise AudioError(
                f"{item}: {codec}@{kbps:g} is {r} Hz/{x.shape} but the reference is {rate} Hz/{ref.shape}; "
                "every signal of a trial must share rate and channel count"
            )
        if abs(len(x) - len(ref)) > 0:
            raise AudioError(
                f"{item}: {codec}@{kbps:g} has {len(x)} samples, the reference {len(ref)}; the run must "
                "store decoded audio aligned and trimmed to the reference"
            )
        raw[condition_id(codec, kbps)] = x
    start = int(round(opts.clip_start_s * rate))
    if start >= len(ref):
        raise AudioError(f"{item}: --clip-start {opts.clip_start_s:g} s is past its end ({len(ref) / rate:.2f} s)")
    stop = min(len(ref), start + int(opts.max_clip_s * rate))
    clips = {k: _fade(x[start:stop], rate) for k, x in raw.items()}
    # anchors from the clipped, faded reference: identical timing, standard definition
    clips[LOW_ANCHOR] = lowpass(clips[HIDDEN_REFERENCE], rate, ANCHORS[LOW_ANCHOR]).astype(np.float64)
    clips[MID_ANCHOR] = lowpass(clips[HIDDEN_REFERENCE], rate, ANCHORS[MID_ANCHOR]).astype(np.float64)
    gains, target = common_gain_db(clips, rate, opts.loudness_lufs)

    conditions = []
    for cid, x in clips.items():
        y = x * 10 ** (gains[cid] / 20)
        rel = f"audio/{tid}/{cid.replace('@', '_')}.wav"
        write_audio(out_dir / rel, y, rate, subtype="PCM_16")
        codec, kbps = (cid.split("@")[0], float(cid.split("@")[1])) if "@" in cid else (cid, None)
        conditions.append(Condition(id=cid, codec=codec, kbps=kbps, path=rel))
    ref_rel = f"audio/{tid}/reference.wav"
    return Trial(
        id=tid, item=item, category=category, reference=ref_rel, conditions=conditions,
        clip_start_s=start / rate, duration_s=(stop - start) / rate, sample_rate=int(rate),
        channels=1 if ref.ndim == 1 else int(ref.shape[1]), loudness_lufs=round(float(target), 2),
    )
