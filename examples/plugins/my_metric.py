"""A complete metric plugin for evalsuite: segmental SNR (dB, 20 ms frames, clamped to [-10, 35] dB
per frame as is customary), for speech items.

    evalsuite run --metrics my_metric:SegmentalSnr --metric-opt segsnr.frame_ms=30 ...
"""
from __future__ import annotations

import numpy as np

from evalsuite.metrics.base import Metric, MetricInfo
from evalsuite.metrics.checks import check_pair


class SegmentalSnr(Metric):
    info = MetricInfo(
        name="segsnr", needs_reference=True, sample_rate=16000, higher_is_better=True,
        version="example 1", mode="frames of 20 ms, clamp [-10, 35] dB",
        applies_to=("clean_speech", "noisy_speech"), waveform=True,  # phase-sensitive: see the docs
        description="Segmental SNR (plugin example)", cost="about 0.01 s per 10-s clip")
    options = {"frame_ms": 20.0}

    def score(self, ref, deg, rate):
        ref, deg = check_pair(ref, deg, rate, min_seconds=0.25)
        r, d = self.prepare(ref, rate).astype(np.float64), self.prepare(deg, rate).astype(np.float64)
        n = int(self.opts["frame_ms"] * self.info.sample_rate / 1000)
        k = len(r) // n
        e = r[: k * n].reshape(k, n)
        err = e - d[: k * n].reshape(k, n)
        snr = 10 * np.log10((np.sum(e ** 2, 1) + 1e-12) / (np.sum(err ** 2, 1) + 1e-12))
        return {"segsnr": float(np.mean(np.clip(snr, -10, 35)))}
