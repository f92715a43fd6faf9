"""Build a MUSHRA test folder from an ``evalsuite run`` directory (ITU-R BS.1534-3).

One trial per item: the open reference, the hidden reference, the 3.5 kHz low anchor, the
7 kHz mid anchor and the chosen codec conditions. Training trials (BS.1534-3: mandatory, grades
discarded) present the same conditions on items set aside for training, not rated afterwards.

The anchors come from :mod:`evalsuite.anchors`, the definition the run uses for its own
``audio/anchor_lp35|lp70`` files; they are recomputed here from the clipped, faded reference so
they share the excerpt's cut and fades exactly. All signals of a trial are cut at the same place
(at most 12 s), faded in/out over 10 ms (identical fades on every signal, to avoid clicks),
brought to one integrated loudness (BS.1770) so no condition wins by being louder, downmixed to
mono, and written as 16-bit FLAC (lossless: the samples are those a 16-bit WAV would hold).
"""
from __future__ import annotations

import datetime as _dt
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evalsuite.anchors import get_anchor
from evalsuite.audio import AudioError, loudness_lufs, to_mono, to_pcm16, write_audio
from evalsuite.conditions import LOW_ANCHOR, MID_ANCHOR, REFERENCE, Condition, ordered_ids
from evalsuite.fsutil import atomic_write_bytes
from evalsuite.layout import ITEM_COLUMNS, RunLayout
from evalsuite.run_audio import audio_index, read_run_audio

from .config import (
    MAX_CLIP_S,
    MAX_SIGNALS,
    SCREENING_KINDS,
    ConfigError,
    ProlificSettings,
    TestConfig,
    Trial,
    TrialCondition,
    save_config,
    short_excerpt_warning,
    validate_config,
)

FADE_S = 0.010
PEAK_LIMIT = 0.99  # of full scale, after the common gain; keeps 16-bit PCM from clipping
AUDIO_FORMATS = ("flac", "wav")


@dataclass
class BuildOptions:
    codecs: list[str]
    kbps: list[float]
    n_items: int = 12
    max_clip_s: float = MAX_CLIP_S
    clip_start_s: float = 0.0
    loudness_lufs: float = -26.0
    seed: int = 0  # item choice only; the blinding is drawn per listener when they start
    items: list[str] | None = None  # explicit item names instead of the balanced choice
    name: str = ""
    overwrite: bool = False
    n_training: int = 1  # training trials, on items not rated afterwards
    training_items: list[str] | None = None  # explicit training items
    training_from_rated: bool = False  # allow training on rated items when none are left (with a warning)
    trials_per_listener: int = 0  # K of N per listener, balanced; 0 = all
    require_play: bool = False
    lock_to_playing: bool = False
    screening: str = "auto"  # auto: Huggins pitch for Prolific studies, none otherwise
    prolific: ProlificSettings = field(default_factory=ProlificSettings)
    audio_format: str = "flac"


def choose_items(items: pd.DataFrame, n: int, seed: int = 0) -> list[str]:  # noqa: F821
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


def flac_bytes(x: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, to_pcm16(x), int(rate), subtype="PCM_16", format="FLAC")  # the WAV's exact samples
    return buf.getvalue()


def ext_note(audio_format: str) -> str:
    return "FLAC (lossless: samples identical to a 16-bit WAV)" if audio_format == "flac" else "WAV"


def write_signal(path: Path, x: np.ndarray, rate: int, audio_format: str) -> None:
    if audio_format == "flac":
        atomic_write_bytes(path, flac_bytes(x, rate))
    else:
        write_audio(path, x, rate, subtype="PCM_16")


def _choose(items, opts: BuildOptions, run: RunLayout) -> tuple[list[str], list[str], list[str]]:
    """(rated items, training items, warnings)."""
    names = list(items["item"].astype(str))
    for label, given in (("items", opts.items), ("training items", opts.training_items)):
        unknown = sorted(set(given or []) - set(names))
        if unknown:
            raise ConfigError(f"{label} not in {run.items_csv}: {unknown}")
    rated = list(opts.items) if opts.items else choose_items(items, opts.n_items, opts.seed)
    if not rated:
        raise ConfigError(f"{run.items_csv} lists no items")
    warnings = []
    if opts.training_items:
        training = list(opts.training_items)
    else:
        rest = items[~items["item"].astype(str).isin(rated)]
        training = choose_items(rest, opts.n_training, opts.seed + 1) if opts.n_training > 0 else []
    if len(training) < max(1, opts.n_training) and not opts.training_items:
        if not opts.training_from_rated:
            raise ConfigError(
                f"the run has {len(names)} usable item(s): after the {len(rated)} rated ones, "
                f"{len(training)} are left for training but {max(1, opts.n_training)} needed (BS.1534-3: training is "
                "mandatory and should not reuse rated material). Rate fewer items (--items), name training items "
                "(--training-item-names), or pass --training-from-rated to train on rated items")
        training += [i for i in rated if i not in training][: max(1, opts.n_training) - len(training)]
    reused = sorted(set(training) & set(rated))
    if reused:
        warnings.append(f"training uses rated item(s) {', '.join(reused)}: listeners hear them in training "
                        "before rating them (BS.1534-3 prefers training material that is not rated)")
    return rated, training, warnings


def build_test(run_dir: Path, out_dir: Path, opts: BuildOptions) -> TestConfig:
    """Write ``out_dir`` (mushra.yaml + audio/) and return its config. Raises ConfigError /
    AudioError with a clear message when the run lacks audio or a rule would be broken."""
    run = RunLayout(Path(run_dir))
    out_dir = Path(out_dir)
    if (out_dir / "mushra.yaml").exists() and not opts.overwrite:
        raise ConfigError(f"{out_dir} already holds a MUSHRA test; choose another -o or pass --overwrite")
    if not opts.codecs or not opts.kbps:
        raise ConfigError("choose at least one codec (--codecs) and one bitrate (--kbps)")
    if opts.audio_format not in AUDIO_FORMATS:
        raise ConfigError(f"audio format {opts.audio_format!r}: choose one of {', '.join(AUDIO_FORMATS)}")
    screening = opts.screening
    if screening == "auto":
        screening = "huggins" if opts.prolific.enabled else "none"
    if screening not in SCREENING_KINDS:
        raise ConfigError(f"--screening {screening!r}: choose one of auto, {', '.join(SCREENING_KINDS)}")
    conds = [Condition(c, float(k)) for c in opts.codecs for k in opts.kbps]
    n_signals = len(conds) + 3  # hidden reference and the two anchors
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
    index = audio_index(run)
    conds, dropped = _available_conditions(run, index, list(items["item"].astype(str)), conds)
    rated, training, warnings = _choose(items, opts, run)
    category = dict(zip(items["item"].astype(str), items["category"].astype(str)))
    every = list(dict.fromkeys(rated + training))
    missing = [f"{item} {c.id}" for item in every for c in conds if (item, c.id) not in index]
    if missing:
        raise ConfigError(
            f"the run {run.root} has no audio for {len(missing)} item x condition(s) needed for the test, e.g. "
            + ", ".join(missing[:5])
            + " (check the codec/bitrate names, or re-run `evalsuite run` with them)"
        )
    if not 0 <= opts.trials_per_listener <= len(rated):
        raise ConfigError(f"--trials-per-listener {opts.trials_per_listener} must be between 0 (all) and "
                          f"the number of trials, {len(rated)}")

    downmixed: list[str] = []
    trials = [_build_trial(run, index, out_dir, f"t{i:02d}", item, category[item], conds, opts, downmixed)
              for i, item in enumerate(rated, 1)]
    practice = [_build_trial(run, index, out_dir, f"p{i:02d}", item, category[item], conds, opts, downmixed)
                for i, item in enumerate(training, 1)]
    short = short_excerpt_warning(trials + practice)
    if short:
        warnings.append(short)
    k = opts.trials_per_listener or len(trials)
    notes = [
        "anchors: evalsuite.anchors (BS.1534-3 mask-compliant linear-phase FIR low-pass at 3.5 and 7 kHz, "
        "zero phase), the definition the run uses for audio/anchor_lp35 and audio/anchor_lp70; recomputed here "
        "from the clipped, faded reference so they share its cut and fades",
        f"clips: cut at {opts.clip_start_s:g} s, at most {opts.max_clip_s:g} s, 10 ms fades",
        "loudness: every signal of a trial gain-matched to one BS.1770 integrated loudness",
        "mono: every signal is presented mono (multichannel items are downmixed by averaging channels)",
        f"audio: 16-bit {ext_note(opts.audio_format)}",
        f"training: {len(practice)} trial(s) on {', '.join(training)}, every condition, grades discarded",
        "blinding: trial subset, order and letters drawn per listener from the OS random source when they "
        f"start, stored only in the ratings database; {k} of {len(trials)} trials per listener"
        + (" (balanced: every trial gets the same number of listeners, within 1)" if k < len(trials) else ""),
    ]
    if downmixed:
        notes.append(f"downmixed to mono: {', '.join(sorted(set(downmixed)))}")
    notes += [f"left out {c}: no decoded audio for any chosen item in the run (unsupported bitrate?)" for c in dropped]
    cfg = TestConfig(
        name=opts.name or out_dir.name,
        trials=trials,
        training=practice,
        seed=int(opts.seed),
        trials_per_listener=int(opts.trials_per_listener),
        require_play=bool(opts.require_play),
        lock_to_playing=bool(opts.lock_to_playing),
        screening=screening,
        prolific=opts.prolific,
        loudness_lufs=float(opts.loudness_lufs),
        max_clip_s=float(opts.max_clip_s),
        source_run=str(run.root.resolve()),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        notes=notes,
        warnings=warnings,
    )
    validate_config(cfg, out_dir, check_audio=True)
    save_config(cfg, out_dir)
    return cfg


def _available_conditions(run: RunLayout, index: dict, items: list[str], conds: list[Condition]):
    """Drop conditions the run's table has no audio for at all (for any of ``items``), e.g. 12 kbps for
    SoundStream, whose range ends at 9.2 kbps (the runner marks those 'unsupported'). A condition present
    for some items only is kept, and the caller reports what is missing: trials must be comparable."""
    keep, dropped = [], []
    for c in conds:
        if any((i, c.id) in index for i in items):
            keep.append(c)
        else:
            dropped.append(c.id)
    if not keep:
        raise ConfigError(
            f"the run {run.root} has no decoded audio for any of {', '.join(dropped)}; "
            "check the codec/bitrate names, or re-run `evalsuite run` with them")
    return keep, dropped


def _build_trial(run: RunLayout, index: dict, out_dir: Path, tid: str, item: str, category: str,
                 conds: list[Condition], opts: BuildOptions, downmixed: list[str]) -> Trial:
    ref, rate = read_run_audio(run, index, item, REFERENCE)
    if ref.ndim > 1:
        downmixed.append(item)
        ref = to_mono(ref)
    raw = {REFERENCE: ref}
    for c in conds:
        x, r = read_run_audio(run, index, item, c.id)
        if x.ndim > 1:
            x = to_mono(x)
        if r != rate:
            raise AudioError(f"{item}: {c.id} is {r} Hz but the reference is {rate} Hz; every signal of a trial "
                             "must share the sample rate")
        if len(x) != len(ref):
            raise AudioError(
                f"{item}: {c.id} has {len(x)} samples, the reference {len(ref)}; the run must "
                "store decoded audio aligned and trimmed to the reference"
            )
        raw[c.id] = x
    start = int(round(opts.clip_start_s * rate))
    if start >= len(ref):
        raise AudioError(f"{item}: --clip-start {opts.clip_start_s:g} s is past its end ({len(ref) / rate:.2f} s)")
    stop = min(len(ref), start + int(opts.max_clip_s * rate))
    clips = {k: _fade(x[start:stop], rate) for k, x in raw.items()}
    # anchors from the clipped, faded reference: identical timing, the run's definition
    for name in (MID_ANCHOR, LOW_ANCHOR):
        clips[name] = get_anchor(name).process(clips[REFERENCE], rate).astype(np.float64)
    gains, target = common_gain_db(clips, rate, opts.loudness_lufs)

    ext = opts.audio_format
    conditions = []
    for cid in ordered_ids(clips, opts.codecs):
        y = clips[cid] * 10 ** (gains[cid] / 20)
        rel = f"audio/{tid}/{cid.replace('@', '_')}.{ext}"
        write_signal(out_dir / rel, y, rate, ext)
        c = Condition.parse(cid)
        conditions.append(TrialCondition(id=cid, codec=c.codec, kbps=c.kbps, path=rel))
    return Trial(
        id=tid, item=item, category=category, reference=f"audio/{tid}/reference.{ext}", conditions=conditions,
        clip_start_s=start / rate, duration_s=(stop - start) / rate, sample_rate=int(rate),
        channels=1, loudness_lufs=round(float(target), 2),
    )
