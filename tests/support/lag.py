"""The tests' own lag estimator (not the runner's): speech-band Butterworth of another order,
cross-correlation with parabolic interpolation, sub-sample."""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, correlate, sosfiltfilt


def lag_estimate(ref: np.ndarray, deg: np.ndarray, rate: int, max_ms: float = 10.0) -> float:
    """Lag of ``deg`` behind ``ref`` (samples) in the 300-3400 Hz band every codec here codes: a
    codec's delay differs below 300 Hz (input high-pass filters) and between split bands, so a
    lag is only defined with its band."""
    max_lag = int(rate * max_ms / 1000)
    sos = butter(6, (300, 3400), btype="band", fs=rate, output="sos")
    n = min(len(ref), len(deg))
    a = sosfiltfilt(sos, np.asarray(ref[:n], np.float64))
    b = sosfiltfilt(sos, np.asarray(deg[:n], np.float64))
    c = correlate(b, a, mode="full", method="fft")
    mid = n - 1
    w = c[mid - max_lag: mid + max_lag + 1]
    k = float(np.argmax(w))
    i = int(k)
    if 0 < i < len(w) - 1:  # parabola through the peak and its neighbours
        y0, y1, y2 = w[i - 1], w[i], w[i + 1]
        k = i + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return float(k - max_lag)
