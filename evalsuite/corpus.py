"""Corpus preparation: from source recordings to evaluation items.

Deterministic and cached per source: each file is downmixed to mono, cut to at most
``max_segment_s`` at its most active region(s) (found by streaming through the file, so a
30-minute file costs no more memory than its segment), resampled to the run rate and
loudness-normalised (ITU-R BS.1770-4 integrated loudness, default -26 LUFS). Noisy speech is also
built by mixing clean speech with the real noise recordings at fixed SNRs and seeds.

The cache key of every prepared item is the sha256 of its source's *content* plus the
preparation settings, so a file changed under the same path is prepared again. Item ids are
assigned for the whole corpus before anything is written (evalsuite.item_ids). Items whose audio
cannot be used are kept with an ``error`` so the run reports them (``bad_input``).

Items derived from the same recording (a clean utterance and its noisy mixes, or a noisy file
that is a clean item plus noise) share a ``cluster``, so statistics can resample recordings
rather than items: mixes inherit their clean item's cluster, a CSV may name clusters, and items
whose waveforms correlate strongly are linked.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import item_ids
from .audio import (
    AudioError,
    audio_info,
    check_audio,
    clipped_fraction,
    frame_energies,
    loudness_lufs,
    normalize_loudness,
    read_segment,
    resample,
    to_mono,
    wav_bytes,
    wav_truncation,
)
from .cache import read_json, write_json
from .fsutil import atomic_write_bytes, sha256_file
from .layout import ITEM_COLUMNS as _LAYOUT_ITEM_COLUMNS
from .sources import CATEGORIES, NOISE_CATEGORY, Source

#: bump when preparation changes what it produces: old cache entries are then never used
PREP_VERSION = 2
#: sources up to this long are read whole; longer ones are streamed
_READ_WHOLE_S = 120.0
#: normalised cross-correlation above which two items are taken to share a recording
_DERIVED_NCC = 0.3


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

    def validate(self) -> None:
        """Raise ValueError (one line) for settings no preparation can honour."""
        if not (isinstance(self.rate, int) and 8000 <= self.rate <= 384000):
            raise ValueError(f"--rate must be a whole number of Hz between 8000 and 384000, got {self.rate}")
        if not math.isfinite(self.target_lufs) or not -70 <= self.target_lufs <= -5:
            raise ValueError(f"--lufs must be a finite loudness between -70 and -5 LUFS, got {self.target_lufs}")
        if not math.isfinite(self.max_segment_s) or self.max_segment_s < 1.0:
            raise ValueError(f"--segment-s must be at least 1 s (metrics need about a second of audio), "
                             f"got {self.max_segment_s}")
        if self.segments_per_file < 1:
            raise ValueError(f"--segments-per-file must be at least 1, got {self.segments_per_file}")
        if self.max_items is not None and self.max_items < 1:
            raise ValueError(f"--max-items must be at least 1, got {self.max_items}")
        if self.categories:
            bad = [c for c in self.categories if c not in CATEGORIES]
            if bad:
                raise ValueError(f"--categories: unknown {bad}; use {', '.join(CATEGORIES)}")

    def prep_key(self) -> dict:
        """The settings that change a prepared item (selection settings do not)."""
        d = asdict(self)
        for k in ("categories", "max_items", "noisy_snrs_db", "noisy_mixes"):
            d.pop(k)
        return d


@dataclass(frozen=True)
class Item:
    """A prepared evaluation item (a row of items.csv)."""

    item: str
    category: str
    cluster: str
    source_file: str
    segment_start_s: float
    duration_s: float
    sample_rate: int
    loudness_lufs: float
    license: str
    source: str
    note: str
    sha256: str  # of the prepared WAV: part of every result's key
    error: str = ""


ITEM_COLUMNS = list(Item.__dataclass_fields__)
assert ITEM_COLUMNS == _LAYOUT_ITEM_COLUMNS, "items.csv columns are defined in layout.py"


@dataclass
class PreparedCorpus:
    items: list[Item]
    #: item id -> prepared WAV (in the cache); items with an error have none
    audio: dict[str, Path] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# signal steps (pure)


def select_starts(energy: np.ndarray, per_win: int, count: int, step: int, floor_db: float = -40.0) -> list[int]:
    """Frame indices of up to ``count`` non-overlapping windows of ``per_win`` frames holding the
    most active frames (within ``floor_db`` of the loudest), candidates every ``step`` frames."""
    if len(energy) <= per_win:
        return [0]
    edb = 10 * np.log10(energy + 1e-20)
    active = (edb > edb.max() + floor_db).astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(active)])
    scores = csum[per_win:] - csum[:-per_win]
    starts: list[int] = []
    for c in sorted(range(0, len(scores), step), key=lambda i: (-scores[i], i)):
        if all(abs(c - s) >= per_win for s in starts):
            starts.append(c)
        if len(starts) == count:
            break
    return sorted(starts)


def active_segments(x: np.ndarray, rate: int, max_s: float, count: int, floor_db: float = -40.0) -> list[int]:
    """Start samples of up to ``count`` windows of ``max_s`` seconds with the most active content."""
    win = int(round(max_s * rate))
    if len(x) <= win:
        return [0]
    hop = int(0.05 * rate)
    frames = len(x) // hop
    e = np.mean(np.square(x[: frames * hop].reshape(frames, hop), dtype=np.float64), axis=1)
    return [s * hop for s in select_starts(e, win // hop, count, max(1, rate // hop), floor_db)]


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


def derived_pairs(signals: dict[str, np.ndarray], rate: int, threshold: float = _DERIVED_NCC) -> list[tuple[str, str]]:
    """Pairs of items whose waveforms share a recording: peak normalised cross-correlation (any
    lag, at 4 kHz) above ``threshold``. Unrelated recordings stay near 0.05; a clean utterance and
    itself plus noise at 0 dB SNR reach about 0.7."""
    from scipy.signal import fftconvolve

    low = {k: resample(v, rate, 4000).astype(np.float64) for k, v in signals.items()}
    low = {k: v - v.mean() for k, v in low.items() if v.size and np.any(v)}
    keys = sorted(low)
    out = []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            x, y = low[a], low[b]
            c = fftconvolve(x, y[::-1], mode="full")
            ncc = float(np.max(np.abs(c)) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-20))
            if ncc > threshold:
                out.append((a, b))
    return out


# ---------------------------------------------------------------------------------------------
# per-source preparation (cached on content)


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _read_mono(src: Source, cfg: CorpusConfig) -> tuple[list[tuple[float, np.ndarray]], int, list[str]]:
    """[(start_s, mono segment at the file's rate)], file rate, notes. Long files are streamed."""
    frames, r, ch = audio_info(src.path)
    notes = [n for n in (wav_truncation(src.path),) if n]
    if ch > 1:
        notes.append(f"downmixed from {ch} channels")
    win = int(round(cfg.max_segment_s * r))
    if frames <= _READ_WHOLE_S * r:
        x, r = read_segment(src.path, 0, frames)
        x = to_mono(x)
        check_audio(x, r, name=src.path.name)
        starts = active_segments(x, r, cfg.max_segment_s, cfg.segments_per_file)
        segs = [(s / r, x[s:s + win]) for s in starts]
    else:
        hop = int(0.05 * r)
        e = frame_energies(src.path, hop)
        starts = [s * hop for s in select_starts(e, win // hop, cfg.segments_per_file, max(1, r // hop))]
        segs = []
        for s in starts:
            seg, _ = read_segment(src.path, s, win)
            segs.append((s / r, to_mono(seg)))
        check_audio(segs[0][1], r, name=src.path.name)
    if clipped_fraction(segs[0][1]) > 0.001:
        notes.append(f"source clipped ({100 * clipped_fraction(segs[0][1]):.2f}% of samples at full scale)")
    return segs, r, notes


def _lost_content(raw: np.ndarray, seg: np.ndarray, r: int, rate: int) -> str:
    """Content entirely above the run's Nyquist frequency is lost to resampling: report it instead
    of evaluating the resampler's edge ringing."""
    if r <= rate or seg.size == 0:
        return ""
    p_src = float(np.mean(np.square(raw, dtype=np.float64)))
    p_seg = float(np.mean(np.square(seg, dtype=np.float64)))
    if p_src > 0 and p_seg < 1e-4 * p_src:
        return (f"no content below {rate // 2} Hz (the run's Nyquist frequency): "
                f"{10 * np.log10(max(p_seg, 1e-30) / p_src):.0f} dB of the power remains after resampling")
    return ""


def _normalise(seg: np.ndarray, cfg: CorpusConfig, name: str) -> tuple[np.ndarray, float, str]:
    check_audio(seg, cfg.rate, name=name)
    y = normalize_loudness(seg, cfg.rate, cfg.target_lufs)
    lufs = loudness_lufs(y, cfg.rate)
    note = ""
    if math.isfinite(lufs) and abs(lufs - cfg.target_lufs) > 0.5:
        note = f"peak-limited to {lufs:.1f} LUFS (target {cfg.target_lufs:g})"
    return y, lufs, note


class _Cache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "prepared"

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def load(self, key: str) -> dict | None:
        meta = read_json(self.entry(key) / "meta.json")
        if not meta or meta.get("version") != PREP_VERSION:
            return None
        for seg in meta["segments"]:
            if seg.get("file") and not (self.entry(key) / seg["file"]).is_file():
                return None
        return meta

    def store(self, key: str, meta: dict, audio: dict[str, tuple[np.ndarray, int]]) -> dict:
        d = self.entry(key)
        for name, (x, rate) in audio.items():
            atomic_write_bytes(d / name, wav_bytes(x, rate), "the prepared-corpus cache")
        write_json(d / "meta.json", {**meta, "version": PREP_VERSION})
        return meta


def _prepare_source(src: Source, sha: str, cfg: CorpusConfig, cache: _Cache, want_mix: bool) -> dict:
    """Segments of one source (cached): meta {'segments': [...], 'mix': file or None}."""
    key = _digest({"sha": sha, "cfg": cfg.prep_key(), "mix": want_mix, "v": PREP_VERSION})
    meta = cache.load(key)
    if meta is not None:
        meta["dir"] = str(cache.entry(key))
        return meta
    audio: dict[str, tuple[np.ndarray, int]] = {}
    segments = []
    mix_file = None
    try:
        raw_segs, r, notes = _read_mono(src, cfg)
    except AudioError as e:
        meta = {"segments": [{"start_s": 0.0, "duration_s": 0.0, "error": str(e), "note": "", "file": None}], "mix": None}
        return {**cache.store(key, meta, {}), "dir": str(cache.entry(key))}
    base_note = "; ".join(n for n in notes + ([f"resampled {r}->{cfg.rate} Hz"] if r != cfg.rate else []) if n)
    for k, (start_s, raw) in enumerate(raw_segs):
        seg = resample(raw, r, cfg.rate) if raw.size >= 16 else np.zeros(0, np.float32)
        if want_mix and k == 0:
            mix_file = "mix.wav"
            audio[mix_file] = (seg, cfg.rate)
        err = _lost_content(raw, seg, r, cfg.rate)
        entry = {"start_s": round(start_s, 3), "duration_s": round(len(seg) / cfg.rate, 3), "note": base_note,
                 "error": err, "file": None, "lufs": None, "sha256": ""}
        if not err:
            try:
                y, lufs, note = _normalise(seg, cfg, src.path.name)
                f = f"seg{k}.wav"
                audio[f] = (y, cfg.rate)
                entry.update(file=f, lufs=round(lufs, 2), sha256=hashlib.sha256(wav_bytes(y, cfg.rate)).hexdigest(),
                             note="; ".join(n for n in (base_note, note) if n))
            except AudioError as e:
                entry["error"] = str(e)
        segments.append(entry)
    meta = cache.store(key, {"segments": segments, "mix": mix_file}, audio)
    meta["dir"] = str(cache.entry(key))
    return meta


def _prepare_mix(k: int, clean: tuple[Source, dict], noise: tuple[Source, str], cfg: CorpusConfig,
                 snrs: tuple[float, ...], cache: _Cache) -> dict:
    csrc, cmeta = clean
    nsrc, nsha = noise
    snr = snrs[k % len(snrs)]
    key = _digest({"clean": cmeta["key_sha"], "noise": nsha, "snr": snr, "k": k, "cfg": cfg.prep_key(), "v": PREP_VERSION})
    meta = cache.load(key)
    if meta is None:
        x, _ = read_segment(Path(cmeta["dir"]) / cmeta["mix"], 0, -1)
        frames, r, _ = audio_info(nsrc.path)
        nx, r = read_segment(nsrc.path, 0, frames)
        nx = resample(to_mono(nx), r, cfg.rate)
        mixed = mix_at_snr(x, nx, snr, np.random.default_rng([cfg.seed, k]))
        entry = {"start_s": 0.0, "duration_s": round(len(mixed) / cfg.rate, 3), "error": "", "file": None,
                 "note": f"mixed with {nsrc.path.name} at {snr:g} dB SNR", "lufs": None, "sha256": ""}
        audio = {}
        try:
            y, lufs, note = _normalise(mixed, cfg, f"{csrc.path.name}+{nsrc.path.name}")
            audio["seg0.wav"] = (y, cfg.rate)
            entry.update(file="seg0.wav", lufs=round(lufs, 2), sha256=hashlib.sha256(wav_bytes(y, cfg.rate)).hexdigest(),
                         note="; ".join(n for n in (entry["note"], note) if n))
        except AudioError as e:
            entry["error"] = str(e)
        meta = cache.store(key, {"segments": [entry], "mix": None, "snr": snr}, audio)
    meta["dir"] = str(cache.entry(key))
    return meta


def prepare(sources: list[Source], cfg: CorpusConfig, cache_root: Path, progress: bool = False) -> PreparedCorpus:
    """Prepare every item (cached), assign ids, link clusters, apply the category/size selection."""
    from tqdm import tqdm

    cfg.validate()
    cache = _Cache(cache_root)
    eval_srcs = [s for s in sources if s.category != NOISE_CATEGORY]
    noise_srcs = [s for s in sources if s.category == NOISE_CATEGORY and not s.problem]
    want = set(cfg.categories or CATEGORIES)
    base_ids = dict(zip(eval_srcs, item_ids.assign([s.rel for s in eval_srcs]))) if eval_srcs else {}
    mixing = "noisy_speech" in want and cfg.noisy_mixes > 0 and bool(noise_srcs)

    items: list[Item] = []
    audio: dict[str, Path] = {}
    clean_for_mix: list[tuple[Source, dict]] = []
    for src in tqdm(eval_srcs, desc="corpus", unit="file", disable=not progress):
        needed = src.category in want or (mixing and src.category == "clean_speech")
        if not needed:
            continue
        iid = base_ids[src]
        cluster = src.cluster or iid
        if src.problem:
            items.append(_item(iid, src, cluster, {"start_s": 0, "duration_s": 0, "error": f"{src.path.name}: {src.problem}",
                                                   "note": "", "lufs": None, "sha256": ""}, cfg))
            continue
        sha = src.sha256 or sha256_file(src.path)
        meta = _prepare_source(src, sha, cfg, cache, want_mix=mixing and src.category == "clean_speech")
        meta["key_sha"] = sha
        if mixing and src.category == "clean_speech" and meta.get("mix"):
            clean_for_mix.append((src, meta))
        if src.category not in want:
            continue
        segs = meta["segments"]
        for k, seg in enumerate(segs):
            sid = iid if len(segs) == 1 else f"{iid}_s{k + 1}"
            items.append(_item(sid, src, cluster, seg, cfg))
            if seg.get("file"):
                audio[sid] = Path(meta["dir"]) / seg["file"]
    if mixing and clean_for_mix:
        clean_for_mix.sort(key=lambda t: t[0].path.name)
        noises = sorted(((s, s.sha256 or sha256_file(s.path)) for s in noise_srcs), key=lambda t: t[0].path.name)
        for k in range(cfg.noisy_mixes):
            csrc, cmeta = clean_for_mix[(k * 3) % len(clean_for_mix)]
            nsrc, nsha = noises[k % len(noises)]
            meta = _prepare_mix(k, (csrc, cmeta), (nsrc, nsha), cfg, cfg.noisy_snrs_db, cache)
            seg = meta["segments"][0]
            cid = base_ids[csrc]
            mid = f"{cid}+{item_ids.clean(nsrc.path.stem)}_{meta['snr']:g}dB"
            mix_src = Source(csrc.path, "noisy_speech", csrc.rel, f"{csrc.license} + noise: {nsrc.license}",
                             f"{csrc.source} + {nsrc.source}", "")
            items.append(_item(item_ids.shorten(mid, mid), mix_src, csrc.cluster or cid, seg, cfg))
            if seg.get("file"):
                audio[items[-1].item] = Path(meta["dir"]) / seg["file"]
    items, audio = _unique(items, audio)
    items.sort(key=lambda it: (CATEGORIES.index(it.category) if it.category in CATEGORIES else 99, it.item))
    if cfg.max_items:
        items = balanced_subset(items, cfg.max_items)
        audio = {k: v for k, v in audio.items() if k in {i.item for i in items}}
    items = _link_clusters(items, audio, cfg.rate, cache)
    return PreparedCorpus(items, audio)


def _item(iid: str, src: Source, cluster: str, seg: dict, cfg: CorpusConfig) -> Item:
    lufs = seg.get("lufs")
    note = "; ".join(n for n in (src.note, seg.get("note", "")) if n)
    return Item(iid, src.category, cluster, str(src.path), float(seg["start_s"]), float(seg["duration_s"]), cfg.rate,
                float(lufs) if lufs is not None else float("nan"), src.license, src.source, note,
                seg.get("sha256", ""), seg.get("error", ""))


def _unique(items: list[Item], audio: dict[str, Path]) -> tuple[list[Item], dict[str, Path]]:
    """Segment and mix suffixes could meet another source's id: make every id unique."""
    seen: set[str] = set()
    out, new_audio = [], {}
    for it in items:
        iid = it.item
        if iid.casefold() in seen:
            iid = item_ids.shorten(f"{iid}-{hashlib.sha1((it.source_file + iid).encode()).hexdigest()[:6]}", iid)
        seen.add(iid.casefold())
        if it.item in audio:
            new_audio[iid] = audio[it.item]
        out.append(replace(it, item=iid))
    item_ids.ensure_unique(i.item for i in out)
    return out, new_audio


def _link_clusters(items: list[Item], audio: dict[str, Path], rate: int, cache: _Cache) -> list[Item]:
    """Union items whose waveforms share a recording (within speech, music and general audio)."""
    from .audio import read_audio

    groups = {"speech": ("clean_speech", "noisy_speech"), "music": ("music",), "general": ("general",)}
    parent = {i.item: i.cluster for i in items}
    key = _digest(sorted((i.item, i.sha256) for i in items if i.item in audio))
    cached = read_json(cache.root / "clusters" / f"{key}.json")
    if cached is None:
        pairs: list[tuple[str, str]] = []
        for cats in groups.values():
            members = [i for i in items if i.category in cats and i.item in audio]
            if len(members) > 1:
                sigs = {i.item: read_audio(audio[i.item])[0] for i in members}
                pairs += derived_pairs(sigs, rate)
        cached = {"pairs": pairs}
        try:
            write_json(cache.root / "clusters" / f"{key}.json", cached)
        except OSError:
            pass  # a cache that cannot be written only costs time
    root = {c: c for c in parent.values()}

    def find(c: str) -> str:
        while root[c] != c:
            root[c] = root[root[c]]
            c = root[c]
        return c

    for a, b in cached["pairs"]:
        ra, rb = find(parent[a]), find(parent[b])
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
    return [replace(i, cluster=find(i.cluster)) for i in items]


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


def write_items_csv(path: Path, items: list[Item]) -> None:
    import pandas as pd

    df = pd.DataFrame([asdict(i) for i in items], columns=ITEM_COLUMNS)
    atomic_write_bytes(path, df.to_csv(index=False).encode(), "items.csv")


def read_items_csv(path: Path) -> list[Item]:
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=False, dtype={"item": str, "cluster": str})
    out = []
    for r in df.to_dict("records"):
        r["loudness_lufs"] = float(r["loudness_lufs"]) if r["loudness_lufs"] != "" else float("nan")
        out.append(Item(**{k: r[k] for k in ITEM_COLUMNS if k in r}))
    return out
