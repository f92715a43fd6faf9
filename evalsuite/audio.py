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


def wav_bytes(x: np.ndarray, rate: int, subtype: str = "FLOAT") -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(x, dtype=np.float32), int(rate), subtype=subtype, format="WAV")
    return buf.getvalue()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file + rename: a killed process never leaves half a file under the final name."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_audio(path: str | Path, x: np.ndarray, rate: int, subtype: str = "FLOAT") -> None:
    """Write a WAV atomically."""
    atomic_write_bytes(Path(path), wav_bytes(x, rate, subtype))


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


def loudness_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) via pyloudnorm."""
    import pyloudnorm as pyln

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


def lowpass(x: np.ndarray, rate: int, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass (BS.1534 anchors): no delay, steep enough to be audible."""
    from scipy.signal import butter, sosfiltfilt

    if cutoff_hz >= rate / 2:
        return np.asarray(x, dtype=np.float32)
    sos = butter(order, cutoff_hz, btype="low", fs=rate, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=0).astype(np.float32)
