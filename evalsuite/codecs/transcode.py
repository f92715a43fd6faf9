"""One codec pass as the runner does it: resample to the codec's rate, encode to bytes, decode
those bytes, remove the codec's delay, resample back, and match the input's length.

The result is time-aligned with the input (lag 0); ``residual_lag`` measures what remains by
cross-correlation so tests (and the results table) can prove it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio import find_lag, match_length, resample
from .base import Codec, Encoded


@dataclass
class Transcoded:
    audio: np.ndarray  # aligned, at the input's rate, same length as the input
    encoded: Encoded
    measured_kbps: float
    kbps_used: float
    note: str


def transcode(codec: Codec, audio: np.ndarray, rate: int, kbps: float) -> Transcoded:
    kbps_used, note = codec.resolve_kbps(kbps)
    x = resample(audio, rate, codec.sample_rate)
    enc = codec.encode(x, kbps_used)
    y = codec.decode(enc)
    d = codec.delay_samples
    y = y[d:] if d > 0 else y
    y = match_length(np.asarray(y, dtype=np.float32), len(x))
    y = match_length(resample(y, codec.sample_rate, rate), len(audio))
    return Transcoded(audio=y, encoded=enc, measured_kbps=enc.measured_kbps, kbps_used=kbps_used, note=note)


def residual_lag(ref: np.ndarray, deg: np.ndarray, rate: int, max_ms: float = 50.0) -> int:
    """Remaining lag after transcoding (should be 0 +-1)."""
    return find_lag(ref, deg, int(rate * max_ms / 1000))
