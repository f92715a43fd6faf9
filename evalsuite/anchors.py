"""The hidden reference and the ITU-R BS.1534-3 anchors: one definition for the objective run and
the MUSHRA build.

BS.1534-3 (section 5.1) asks for a low-pass anchor with a 3.5 kHz cut-off (mandatory) and a
7 kHz mid anchor. The filter is specified by a mask: passband ripple within +-0.1 dB up to the
cut-off, at least 25 dB attenuation at 8/7 of it and at least 50 dB from 9/7 of it (3.5 kHz:
4 kHz and 4.5 kHz; 7 kHz: 8 kHz and 9 kHz). A Butterworth run forward and backward is -6 dB at
its cut-off and droops well inside the passband, so the anchors here are linear-phase
Kaiser-window FIR filters, designed per sample rate, applied centred (zero phase, no delay):
+-0.01 dB to the cut-off, 60 dB down before 8/7 of it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from .conditions import LOW_ANCHOR, MID_ANCHOR, REFERENCE, Kind

#: the FIR's design targets (stricter than the mask, which the tests measure independently)
_STOP_ATTEN_DB = 60.0
#: stopband edge as a fraction of the cut-off: 60 dB reached before 8/7 of the cut-off
_STOP_EDGE = 1.125


@lru_cache(maxsize=64)
def lowpass_fir(rate: int, cutoff_hz: float) -> np.ndarray:
    """Odd-length, symmetric Kaiser-window FIR: passband to ``cutoff_hz``, >= 60 dB stopband from
    ``1.125 * cutoff_hz`` (or from just below Nyquist when that is lower)."""
    from scipy.signal import firwin, kaiserord

    nyq = rate / 2.0
    if cutoff_hz >= nyq:
        raise ValueError(f"a {cutoff_hz:g} Hz low-pass needs a sample rate above {2 * cutoff_hz:g} Hz, got {rate}")
    stop = min(_STOP_EDGE * cutoff_hz, nyq - 0.25 * (nyq - cutoff_hz))
    numtaps, beta = kaiserord(_STOP_ATTEN_DB, (stop - cutoff_hz) / nyq)
    numtaps |= 1  # odd: a whole-sample centre, so centring gives exactly zero phase
    h = firwin(numtaps, (cutoff_hz + stop) / 2.0, window=("kaiser", beta), fs=rate)
    h.setflags(write=False)
    return h


def lowpass(x: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase linear-phase FIR low-pass of mono or (n, channels) audio; same length, no delay."""
    from scipy.signal import oaconvolve

    h = lowpass_fir(int(rate), float(cutoff_hz))
    x64 = np.asarray(x, dtype=np.float64)
    hh = h if x64.ndim == 1 else h[:, None]
    # 'full' then the centred slice: output[k] = sum_j h[j] x[k + c - j] with c the centre tap
    c = len(h) // 2
    y = oaconvolve(x64, hh, mode="full", axes=0)[c:c + len(x64)]
    return y.astype(np.float32)


class Anchor(ABC):
    """A non-codec condition: processes an item at its own rate, no bitstream, no delay."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    description: ClassVar[str]

    @abstractmethod
    def process(self, x: np.ndarray, rate: int) -> np.ndarray: ...

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "description": self.description}


class HiddenReference(Anchor):
    name = REFERENCE
    kind = Kind.REFERENCE
    description = "hidden reference (the item itself)"

    def process(self, x: np.ndarray, rate: int) -> np.ndarray:
        return np.asarray(x, dtype=np.float32).copy()


@dataclass(frozen=True)
class LowPassAnchor(Anchor):
    cutoff_hz: float
    anchor_name: str

    kind = Kind.ANCHOR

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.anchor_name

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"BS.1534-3 low-pass anchor, {self.cutoff_hz / 1000:g} kHz (linear-phase Kaiser FIR, zero phase)"

    def process(self, x: np.ndarray, rate: int) -> np.ndarray:
        return lowpass(x, rate, self.cutoff_hz)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "cutoff_hz": self.cutoff_hz,
                "filter": f"Kaiser-window FIR, >= {_STOP_ATTEN_DB:g} dB from {_STOP_EDGE:g} x cut-off, zero phase"}


_ANCHORS: dict[str, Anchor] = {
    REFERENCE: HiddenReference(),
    MID_ANCHOR: LowPassAnchor(7000.0, MID_ANCHOR),
    LOW_ANCHOR: LowPassAnchor(3500.0, LOW_ANCHOR),
}


def anchor_names() -> list[str]:
    """The reference and anchors a run adds, high quality first."""
    return list(_ANCHORS)


def get_anchor(name: str) -> Anchor:
    try:
        return _ANCHORS[name]
    except KeyError:
        raise KeyError(f"unknown anchor {name!r}; known: {', '.join(_ANCHORS)}") from None


def is_anchor(name: str) -> bool:
    return name in _ANCHORS
