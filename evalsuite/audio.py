"""Audio I/O and pure signal helpers shared by codecs, metrics, corpus and the runner.

Conventions: audio is a float32 numpy array in [-1, 1]; mono is 1-D ``(n,)``; multichannel is
``(n, channels)`` as soundfile returns it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class AudioError(ValueError):
    """Audio that cannot be evaluated (empty, non-finite, silent, unreadable, ...)."""


def read_audio(path) -> tuple[np.ndarray, int]:
    """Read any libsndfile format (WAV/FLAC/Ogg Vorbis/...) as float32; ``path`` may also be a
    file-like object."""
    import soundfile as sf

    if isinstance(path, (str, Path)):
        path = Path(path)
        if not path.is_file():
            raise AudioError(f"{path}: no such file")
    else:
        x, rate = sf.read(path, dtype="float32", always_2d=False)
        return np.ascontiguousarray(x), int(rate)
    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as e:  # libsndfile errors are RuntimeError/LibsndfileError
        raise AudioError(f"{path}: cannot be read as audio ({e})") from e
    return np.ascontiguousarray(x), int(rate)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1) to 16-bit samples: x * 32768 rounded, saturated. The one quantiser for every
    16-bit file evalsuite writes (WAV or FLAC hold the same samples)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def wav_bytes(x: np.ndarray, rate: int, subtype: str = "FLOAT") -> bytes:
    """A WAV file's bytes, deterministic: the same samples always give the same bytes (libsndfile
    stamps float WAVs with a time in a PEAK chunk), so files can be keyed on their sha256.
    ``FLOAT`` (32-bit IEEE) or ``PCM_16`` (rounded, saturated)."""
    import struct

    a = np.asarray(x)
    ch = 1 if a.ndim == 1 else int(a.shape[1])
    if subtype == "FLOAT":
        data, fmt, bits = a.astype("<f4").tobytes(), 3, 32
    elif subtype == "PCM_16":
        data = to_pcm16(a).astype("<i2").tobytes()  # from the samples as given (no float32 detour)
        fmt, bits = 1, 16
    else:
        raise ValueError(f"wav_bytes writes FLOAT or PCM_16, not {subtype!r}")
    block = ch * bits // 8
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, fmt, ch, int(rate), int(rate) * block, block, bits)
    fact = struct.pack("<4sII", b"fact", 4, len(data) // block) if fmt == 3 else b""
    body = b"WAVE" + fmt_chunk + fact + struct.pack("<4sI", b"data", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return struct.pack("<4sI", b"RIFF", len(body)) + body


def write_audio(path: str | Path, x: np.ndarray, rate: int, subtype: str = "FLOAT") -> str:
    """Write a WAV atomically and durably; return its sha256."""
    from .fsutil import atomic_write_bytes

    return atomic_write_bytes(Path(path), wav_bytes(x, rate, subtype))


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels (a plain downmix: no channel is favoured)."""
    x = np.asarray(x, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float64).astype(np.float32)


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling with libsoxr (VHQ); identity when the rates match."""
    x = np.asarray(x, dtype=np.float32)
    if int(src_rate) == int(dst_rate):
        return x
    import soxr

    return soxr.resample(x, int(src_rate), int(dst_rate), quality="VHQ").astype(np.float32)


def rms_dbfs(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(r) if r > 0 else -np.inf


def check_audio(x: np.ndarray, rate: int, *, name: str = "audio", min_seconds: float = 0.25) -> None:
    """Raise AudioError with a specific message for audio no codec or metric can use."""
    if rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {rate}")
    if x.size == 0:
        raise AudioError(f"{name}: empty (0 samples)")
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise AudioError(f"{name}: contains {bad} NaN/Inf samples")
    n = x.shape[0]
    if n < min_seconds * rate:
        raise AudioError(f"{name}: too short ({n / rate:.3f} s < {min_seconds} s)")
    if not np.any(np.abs(x - np.mean(x, axis=0)) > 1e-6):
        raise AudioError(f"{name}: silent or constant (DC only); nothing to evaluate")


def clipped_fraction(x: np.ndarray, threshold: float = 0.999) -> float:
    return float(np.mean(np.abs(x) >= threshold)) if x.size else 0.0


#: BS.1770's gating block: integrated loudness is undefined for shorter signals
LOUDNESS_BLOCK_S = 0.4


def loudness_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) via pyloudnorm."""
    import pyloudnorm as pyln

    if len(x) < LOUDNESS_BLOCK_S * rate:
        raise AudioError(f"too short for a loudness measurement ({len(x) / rate:.3f} s < {LOUDNESS_BLOCK_S} s, "
                         "the BS.1770 gating block)")
    meter = pyln.Meter(rate)
    return float(meter.integrated_loudness(np.asarray(x, dtype=np.float64)))


def normalize_loudness(x: np.ndarray, rate: int, target_lufs: float = -26.0, peak_limit: float = 0.99) -> np.ndarray:
    """Gain to ``target_lufs``; if that would clip, reduce the gain so the peak stays below
    ``peak_limit`` (a gain change only: no limiter distorts the reference)."""
    lufs = loudness_lufs(x, rate)
    if not np.isfinite(lufs):
        raise AudioError("loudness undefined (signal too quiet or too short for BS.1770 gating)")
    gain = 10 ** ((target_lufs - lufs) / 20)
    peak = float(np.max(np.abs(x))) * gain
    if peak > peak_limit:
        gain *= peak_limit / peak
    return (np.asarray(x, dtype=np.float64) * gain).astype(np.float32)


def find_lag(ref: np.ndarray, deg: np.ndarray, max_lag: int) -> int:
    """Lag (in samples) of ``deg`` relative to ``ref`` by FFT cross-correlation:
    positive means ``deg`` is late. Searches |lag| <= max_lag."""
    from scipy.signal import correlate

    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(deg, dtype=np.float64)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    c = correlate(b, a, mode="full", method="fft")
    lags = np.arange(-n + 1, n)
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(c[keep])])


def match_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to exactly ``n`` samples."""
    if len(x) >= n:
        return x[:n]
    pad = np.zeros((n - len(x),) + x.shape[1:], dtype=x.dtype)
    return np.concatenate([x, pad])


def lowpass(x: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase linear-phase low-pass: the BS.1534 anchor filter (one definition, in anchors)."""
    from .anchors import lowpass as _lowpass

    return _lowpass(x, rate, cutoff_hz)


# ---------------------------------------------------------------------------------------------
# reading only what is needed (long files)


def audio_info(path: Path) -> tuple[int, int, int]:
    """(frames, sample rate, channels) from the file's header."""
    import soundfile as sf

    try:
        i = sf.info(str(path))
    except Exception as e:  # libsndfile errors are RuntimeError/LibsndfileError
        raise AudioError(f"{Path(path).name}: cannot be read as audio ({e})") from e
    return int(i.frames), int(i.samplerate), int(i.channels)


def read_segment(path: Path, start: int, frames: int) -> tuple[np.ndarray, int]:
    """``frames`` frames from ``start`` (the file's own rate), without reading the rest."""
    import soundfile as sf

    try:
        x, rate = sf.read(str(path), start=int(start), frames=int(frames), dtype="float32", always_2d=False)
    except Exception as e:
        raise AudioError(f"{Path(path).name}: cannot be read as audio ({e})") from e
    return np.ascontiguousarray(x), int(rate)


def frame_energies(path: Path, hop: int, block_frames: int = 1 << 20) -> np.ndarray:
    """Mean square of the mono downmix per ``hop`` frames, read block by block (constant memory)."""
    import soundfile as sf

    out = []
    carry = np.zeros(0, np.float64)
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                m = np.concatenate([carry, block.mean(axis=1, dtype=np.float64)])
                n = len(m) // hop
                if n:
                    out.append(np.mean(np.square(m[: n * hop].reshape(n, hop)), axis=1))
                carry = m[n * hop:]
    except Exception as e:
        raise AudioError(f"{Path(path).name}: cannot be read as audio ({e})") from e
    return np.concatenate(out) if out else np.zeros(0)


def wav_truncation(path: Path) -> str:
    """A note when a RIFF/WAVE file holds less data than its header announces ('' otherwise)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return ""
            size = Path(path).stat().st_size
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"data":
                    have = size - pos - 8
                    if clen != 0xFFFFFFFF and have < clen:
                        return (f"truncated file: the WAV header announces {clen} data bytes, the file holds {have} "
                                f"({100 * have / clen:.1f}%); only what is there is used")
                    return ""
                pos += 8 + clen + (clen & 1)
    except OSError:
        return ""
    return ""
