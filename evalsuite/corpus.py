"""Corpus preparation: from source recordings to evaluation items.

Deterministic and cached. Each source file is downmixed to mono, resampled to the run rate,
cut to at most ``max_segment_s`` at its most active region(s) and loudness-normalised
(ITU-R BS.1770-4 integrated loudness, default -26 LUFS, as in ITU-T P.800-style tests).
Noisy speech is also built by mixing clean speech with the real noise recordings at fixed
SNRs and seeds. Items whose audio cannot be used are kept with an ``error`` so the runner can
report them instead of silently dropping them.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .audio import AudioError, check_audio, clipped_fraction, normalize_loudness, read_audio, resample, to_mono, write_audio
from .data import SourceEntry, data_root, read_sources, sha256_file, verify_corpus

CATEGORIES = ("clean_speech", "noisy_speech", "music", "general")
NOISE_CATEGORY = "noise"
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".opus"}


@dataclass(frozen=True)
class CorpusConfig:
    """How items are prepared. Part of the run configuration (and of the cache key)."""

    rate: int = 48000
    target_lufs: float = -26.0
    max_segment_s: float = 10.0
    segments_per_file: int = 1
    noisy_snrs_db: tuple[float, ...] = (0.0, 5.0, 10.0)
    noisy_mixes: int = 4
    seed: int = 20211007
    categories: tuple[str, ...] | None = None
    max_items: int | None = None


@dataclass(frozen=True)
class Source:
    """One source recording (from SOURCES.csv, a folder or a user CSV)."""

    path: Path
    category: str
    license: str = ""
    source: str = ""
    note: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Item:
    """A prepared evaluation item (a row of items.csv)."""

    item: str
    category: str
    source_file: str
    segment_start_s: float
    duration_s: float
    sample_rate: int
    loudness_lufs: float
    license: str
    source: str
    note: str
    path: str  # relative to the prepared folder: audio/reference/<item>.wav
    error: str = ""


# ---------------------------------------------------------------------------------------------
# sources


def shared_sources(root: Path, verify: bool = True) -> list[Source]:
    """Sources of the default corpus: ``<data>/corpus/SOURCES.csv`` checked against sha256."""
    corpus_dir = root / "corpus"
    entries = read_sources(corpus_dir / "SOURCES.csv")
    if verify:
        verify_corpus(corpus_dir, entries)
    return [_from_entry(corpus_dir, e) for e in entries]


def _from_entry(corpus_dir: Path, e: SourceEntry) -> Source:
    return Source(corpus_dir / e.file, e.category, e.license, e.source, e.note, e.sha256)


def user_sources(spec: str | Path) -> list[Source]:
    """A folder of audio files (category = first sub-folder name if it is a known category,
    else 'general') or a CSV with ``path`` and ``category`` columns (optional license, source,
    note; relative paths are relative to the CSV)."""
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise AudioError(f"--corpus {p}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) found")
        out = []
        for f in files:
            parts = f.relative_to(p).parts
            cat = parts[0] if len(parts) > 1 and parts[0] in CATEGORIES + (NOISE_CATEGORY,) else "general"
            cat = "clean_speech" if len(parts) > 1 and parts[0] == "speech" else cat
            out.append(Source(f, cat, note="user corpus"))
        return out
    if p.is_file() and p.suffix.lower() == ".csv":
        with open(p, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "path" not in rows[0] or "category" not in rows[0]:
            raise ValueError(f"--corpus {p}: a corpus CSV needs 'path' and 'category' columns")
        out = []
        for r in rows:
            f = Path(r["path"]).expanduser()
            f = f if f.is_absolute() else (p.parent / f)
            out.append(Source(f, r["category"].strip(), r.get("license", ""), r.get("source", ""), r.get("note", "")))
        return out
    raise FileNotFoundError(f"--corpus {p}: not a folder of audio files or a .csv file")


def default_sources(data: str | None = None) -> list[Source]:
    return shared_sources(data_root(data))


# ---------------------------------------------------------------------------------------------
# signal steps (pure)


def active_segments(x: np.ndarray, rate: int, max_s: float, count: int, floor_db: float = -40.0) -> list[int]:
    """Start samples of up to ``count`` non-overlapping windows of ``max_s`` seconds with the most
    active (within ``floor_db`` of the loudest 50 ms frame) content. Short signals: [0]."""
    win = int(round(max_s * rate))
    if len(x) <= win:
        return [0]
    hop = int(0.05 * rate)
    frames = len(x) // hop
    e = np.array([np.mean(np.square(x[i * hop:(i + 1) * hop], dtype=np.float64)) for i in range(frames)])
    edb = 10 * np.log10(e + 1e-20)
    active = (edb > edb.max() + floor_db).astype(np.float64)
    per_win = win // hop
    csum = np.concatenate([[0.0], np.cumsum(active)])
    scores = csum[per_win:] - csum[:-per_win]  # activity of the window starting at each frame
    starts: list[int] = []
    step = max(1, int(1.0 * rate) // hop)  # candidate starts every second
    cands = sorted(range(0, len(scores), step), key=lambda i: (-scores[i], i))
    for c in cands:
        if all(abs(c - s) >= per_win for s in starts):
            starts.append(c)
        if len(starts) == count:
            break
    return sorted(s * hop for s in starts)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add a random excerpt of ``noise`` (looped if short) to ``speech`` at ``snr_db`` (power over
    the whole clip)."""
    n = len(speech)
    if len(noise) < n:
        noise = np.tile(noise, int(np.ceil(n / len(noise))))
    start = int(rng.integers(0, len(noise) - n + 1))
    seg = noise[start:start + n].astype(np.float64)
    ps = np.mean(np.square(speech, dtype=np.float64))
    pn = np.mean(np.square(seg)) + 1e-20
    gain = np.sqrt(ps / (pn * 10 ** (snr_db / 10)))
    return (speech + gain * seg).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# preparation


def _load_mono(src: Source) -> tuple[np.ndarray, int, str]:
    """Mono audio at the file's own rate (segmenting before resampling keeps long files cheap)."""
    x, r = read_audio(src.path)
    notes = []
    if x.ndim == 2 and x.shape[1] > 1:
        notes.append(f"downmixed from {x.shape[1]} channels")
    x = to_mono(x)
    check_audio(x, r, name=str(src.path.name))
    if clipped_fraction(x) > 0.001:
        notes.append(f"source clipped ({100 * clipped_fraction(x):.2f}% of samples at full scale)")
    return x, r, "; ".join(notes)


def _resample_note(r: int, rate: int) -> str:
    return f"resampled {r}->{rate} Hz" if r != rate else ""


def _safe_resample(x: np.ndarray, r: int, rate: int) -> np.ndarray:
    """Resample; a segment too short for the resampler yields an empty array (reported later)."""
    try:
        return resample(x, r, rate)
    except Exception:
        return np.zeros(0, np.float32)


def _lost_content(src: np.ndarray, seg: np.ndarray, r: int, rate: int) -> str:
    """An item whose content lies above the run's Nyquist frequency (e.g. ultrasonic recordings)
    loses it all to resampling; report that instead of evaluating the resampler's edge ringing."""
    if r <= rate or seg.size == 0:
        return ""
    p_src = float(np.mean(np.square(src, dtype=np.float64)))
    p_seg = float(np.mean(np.square(seg, dtype=np.float64)))
    if p_src > 0 and p_seg < 1e-4 * p_src:  # -40 dB: nothing audible is left
        return (f"no content below {rate // 2} Hz (the run's Nyquist frequency): "
                f"{10 * np.log10(max(p_seg, 1e-30) / p_src):.0f} dB of the power remains after resampling")
    return ""


def _item_id(path: Path, k: int, n: int) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.stem)
    return stem if n == 1 else f"{stem}_s{k + 1}"


def prepare(sources: list[Source], cfg: CorpusConfig, out_dir: Path, progress: bool = False) -> list[Item]:
    """Prepare all items into ``out_dir`` (audio/reference/<item>.wav + items.csv)."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    items: list[Item] = []
    clean_for_mix: list[tuple[Source, np.ndarray]] = []
    noises: list[tuple[Source, np.ndarray]] = []
    eval_sources = [s for s in sources if s.category != NOISE_CATEGORY]
    for src in tqdm(eval_sources, desc="corpus", unit="file", disable=not progress):
        if cfg.categories and src.category not in cfg.categories and not (
            src.category == "clean_speech" and "noisy_speech" in cfg.categories
        ):
            continue
        try:
            x, r, note = _load_mono(src)
        except AudioError as e:
            iid = _item_id(src.path, 0, 1)
            items.append(Item(iid, src.category, str(src.path), 0.0, 0.0, cfg.rate, float("nan"),
                              src.license, src.source, src.note, "", error=str(e)))
            continue
        note = "; ".join(n for n in (note, _resample_note(r, cfg.rate)) if n)
        starts = active_segments(x, r, cfg.max_segment_s, cfg.segments_per_file)
        if src.category == "clean_speech":
            first = x[starts[0]:starts[0] + int(cfg.max_segment_s * r)]
            clean_for_mix.append((src, _safe_resample(first, r, cfg.rate)))
        if cfg.categories and src.category not in cfg.categories:
            continue
        for k, s0 in enumerate(starts):
            raw = x[s0:s0 + int(cfg.max_segment_s * r)]
            seg = _safe_resample(raw, r, cfg.rate)
            items.append(_finish_item(_item_id(src.path, k, len(starts)), src, seg, s0 / r, note, cfg, out_dir,
                                      error=_lost_content(raw, seg, r, cfg.rate)))
    if not cfg.categories or "noisy_speech" in cfg.categories:
        for src in (s for s in sources if s.category == NOISE_CATEGORY):
            try:
                x, r, _ = _load_mono(src)
                noises.append((src, resample(x, r, cfg.rate)))
            except AudioError:
                continue
        items.extend(_noisy_mixes(clean_for_mix, noises, cfg, out_dir))
    items.sort(key=lambda it: (CATEGORIES.index(it.category) if it.category in CATEGORIES else 99, it.item))
    if cfg.max_items:
        items = balanced_subset(items, cfg.max_items)
    _dedupe_ids(items)
    write_items_csv(out_dir / "items.csv", items)
    return items


def _finish_item(iid: str, src: Source, seg: np.ndarray, start_s: float, note: str, cfg: CorpusConfig,
                 out_dir: Path, error: str = "") -> Item:
    rel = f"audio/reference/{iid}.wav"
    try:
        if error:
            raise AudioError(f"{iid}: {error}")
        check_audio(seg, cfg.rate, name=iid)
        y = normalize_loudness(seg, cfg.rate, cfg.target_lufs)
        from .audio import loudness_lufs

        lufs = loudness_lufs(y, cfg.rate)
        write_audio(out_dir / rel, y, cfg.rate)
        err = ""
    except AudioError as e:
        rel, lufs, err = "", float("nan"), str(e)
    if np.isfinite(lufs) and abs(lufs - cfg.target_lufs) > 0.5:
        note = "; ".join(n for n in (note, f"peak-limited to {lufs:.1f} LUFS (target {cfg.target_lufs:g})") if n)
    full_note = "; ".join(n for n in (src.note, note) if n)
    return Item(iid, src.category, str(src.path), round(start_s, 3), round(len(seg) / cfg.rate, 3), cfg.rate,
                round(lufs, 2) if np.isfinite(lufs) else lufs, src.license, src.source, full_note, rel, err)


def _noisy_mixes(clean: list, noises: list, cfg: CorpusConfig, out_dir: Path) -> list[Item]:
    """Mix k: clean item (k*3 mod n), noise (k mod m), SNR (k mod len(snrs)); seeded per mix."""
    if not clean or not noises or cfg.noisy_mixes <= 0:
        return []
    clean = sorted(clean, key=lambda t: t[0].path.name)
    noises = sorted(noises, key=lambda t: t[0].path.name)
    out = []
    for k in range(cfg.noisy_mixes):
        src, x = clean[(k * 3) % len(clean)]
        nsrc, nx = noises[k % len(noises)]
        snr = cfg.noisy_snrs_db[k % len(cfg.noisy_snrs_db)]
        rng = np.random.default_rng([cfg.seed, k])
        mixed = mix_at_snr(x, nx, snr, rng)
        iid = f"{_item_id(src.path, 0, 1)}+{_item_id(nsrc.path, 0, 1)}_{snr:g}dB"
        mix_src = Source(src.path, "noisy_speech", f"{src.license} + noise: {nsrc.license}",
                         f"{src.source} + {nsrc.source}", f"mixed with {nsrc.path.name} at {snr:g} dB SNR")
        out.append(_finish_item(iid, mix_src, mixed, 0.0, "", cfg, out_dir))
    return out


def balanced_subset(items: list[Item], n: int) -> list[Item]:
    """Round-robin over categories so a small subset still covers every category."""
    by_cat: dict[str, list[Item]] = {}
    for it in items:
        by_cat.setdefault(it.category, []).append(it)
    out: list[Item] = []
    while len(out) < n and any(by_cat.values()):
        for cat in list(by_cat):
            if by_cat[cat] and len(out) < n:
                out.append(by_cat[cat].pop(0))
    return out


def _dedupe_ids(items: list[Item]) -> None:
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.item in seen:
            seen[it.item] += 1
            items[i] = replace(it, item=f"{it.item}~{seen[it.item]}")
        else:
            seen[it.item] = 0


def write_items_csv(path: Path, items: list[Item]) -> None:
    import pandas as pd

    from .layout import ITEM_COLUMNS

    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame([asdict(i) for i in items], columns=ITEM_COLUMNS + ["error"])
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def read_items_csv(path: Path) -> list[Item]:
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=False, dtype={"item": str})
    out = []
    for r in df.to_dict("records"):
        r["loudness_lufs"] = float(r["loudness_lufs"]) if r["loudness_lufs"] != "" else float("nan")
        out.append(Item(**{k: r[k] for k in Item.__dataclass_fields__ if k in r}))
    return out


# ---------------------------------------------------------------------------------------------
# cache


def cache_dir() -> Path:
    return Path(os.environ.get("EVALSUITE_CACHE", Path.home() / ".cache" / "evalsuite")).expanduser()


def cache_key(sources: list[Source], cfg: CorpusConfig) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True, default=str).encode())
    for s in sorted(sources, key=lambda s: str(s.path)):
        digest = s.sha256 or (sha256_file(s.path) if s.path.is_file() else "missing")
        h.update(f"{s.path.name}|{s.category}|{digest}\n".encode())
    return h.hexdigest()[:16]


def prepare_cached(sources: list[Source], cfg: CorpusConfig, progress: bool = False) -> tuple[Path, list[Item]]:
    """Prepare once per (sources, config); later runs reuse the folder."""
    d = cache_dir() / "corpus" / cache_key(sources, cfg)
    if (d / "items.csv").is_file():
        return d, read_items_csv(d / "items.csv")
    return d, prepare(sources, cfg, d, progress=progress)
