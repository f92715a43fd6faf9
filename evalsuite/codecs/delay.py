"""Removing a codec's decoder-output delay, including a fraction of a sample.

A delay measured at 48 kHz (say 283 samples for AMR-WB) is 94.33 samples at the codec's 16 kHz;
removing only the whole 94 would leave a 1-sample lag at 48 kHz. The fraction is removed with
an exact band-limited shift (a linear phase ramp in the frequency domain of the zero-padded
signal), which is lossless for audio band-limited to the codec's Nyquist frequency, as decoded
audio is. Pure functions.
"""
from __future__ import annotations

import numpy as np


def remove_delay(y: np.ndarray, delay: float) -> np.ndarray:
    """``y`` advanced by ``delay`` samples (may be fractional): output[n] = y(n + delay). A
    negative delay (output early) delays ``y`` instead, with zeros in front. No samples are
    invented at the end."""
    y = np.asarray(y, dtype=np.float32)
    if delay < 0:
        k = int(np.ceil(-delay))
        y = np.concatenate([np.zeros(k, np.float32), y])
        delay += k
    whole = int(np.floor(delay))
    frac = float(delay - whole)
    y = y[whole:]
    if frac < 1e-9 or len(y) < 2:
        return y.copy()
    n = len(y)
    size = 1 << int(np.ceil(np.log2(n + 64)))  # zero padding: the circular shift wraps into zeros
    spec = np.fft.rfft(y.astype(np.float64), size)
    k = np.arange(len(spec))
    shifted = np.fft.irfft(spec * np.exp(2j * np.pi * k * frac / size), size)
    return shifted[: n - 1].astype(np.float32)


def delay_at(delay_48k: float, rate: int) -> float:
    """A delay given in 48 kHz samples, in samples at ``rate``."""
    return delay_48k * rate / 48000.0
