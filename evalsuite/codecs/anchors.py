"""MUSHRA conditions that are not codecs: the hidden reference and the low-pass anchors of
ITU-R BS.1534-3 (section 5.1: a 3.5 kHz low-pass "mandatory" anchor and a 7 kHz one).

They work on the item at its own rate: ``sample_rate`` is an option (default 48000, the rate the
runner prepares items at), so ``transcode`` does not resample 48 kHz items at all. There is no
bitstream: ``encode`` returns an :class:`AnchorEncoded` with no packets whose measured bitrate is
NaN, and the processed audio travels in the object (never in ``info``, which becomes columns).
The low-pass is evalsuite.audio.lowpass: a zero-phase Butterworth, so there is no delay.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import lowpass
from .base import BitrateSupport, Codec, Encoded


class NoBitrate(BitrateSupport):
    """Bitrate support of a condition that has no bitrate."""

    def describe(self) -> str:
        return "n/a"


@dataclass
class AnchorEncoded(Encoded):
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    @property
    def measured_kbps(self) -> float:
        return math.nan


class _Anchor(Codec):
    is_anchor = True
    options = {"sample_rate": 48000}
    cutoff_hz: float | None = None

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        if int(self.opts["sample_rate"]) <= 0:
            raise ValueError(f"{self.name}: sample_rate must be positive")
        if self.cutoff_hz is not None and self.cutoff_hz >= int(self.opts["sample_rate"]) / 2:
            raise ValueError(f"{self.name}: sample_rate {self.opts['sample_rate']} is too low for a "
                             f"{self.cutoff_hz:g} Hz low-pass")

    @property
    def sample_rate(self) -> int:
        return int(self.opts["sample_rate"])

    def bitrates(self) -> BitrateSupport:
        return NoBitrate(values=())

    def settings(self) -> dict[str, Any]:
        s = {**self.opts, "is_anchor": True}
        if self.cutoff_hz is not None:
            s.update(cutoff_hz=self.cutoff_hz, filter="zero-phase Butterworth order 8 (sosfiltfilt)")
        return s

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        return math.nan, ""  # anchors have no bitrate; the runner records NaN

    def process(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32).copy()

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        x = np.asarray(audio, dtype=np.float32)
        return AnchorEncoded(packets=[], num_samples=len(x), sample_rate=self.sample_rate, kbps_used=math.nan,
                             info={"cutoff_hz": self.cutoff_hz} if self.cutoff_hz else {},
                             audio=self.process(x))

    def decode(self, encoded: Encoded) -> np.ndarray:
        if not isinstance(encoded, AnchorEncoded):
            raise TypeError(f"{self.name}: can only decode what its own encode() returned")
        return encoded.audio


class HiddenReference(_Anchor):
    """The unprocessed input, presented as a hidden condition (BS.1534-3 section 5.1)."""

    name = "reference"
    description = "Hidden reference (identity), MUSHRA condition"


class LowPass35(_Anchor):
    name = "anchor_lp35"
    description = "BS.1534-3 low-pass anchor, 3.5 kHz cut-off"
    cutoff_hz = 3500.0

    def process(self, x: np.ndarray) -> np.ndarray:
        return lowpass(x, self.sample_rate, self.cutoff_hz)


class LowPass70(_Anchor):
    name = "anchor_lp70"
    description = "BS.1534-3 low-pass anchor, 7 kHz cut-off"
    cutoff_hz = 7000.0

    def process(self, x: np.ndarray) -> np.ndarray:
        return lowpass(x, self.sample_rate, self.cutoff_hz)
