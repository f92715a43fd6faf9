"""Fault injection for robustness tests (test-only plugins: real codecs and metrics with a fault).

Used as plugins by name, e.g. ``--codecs tests.support.faulty:OpusKillsWorkerOnce``, so spawn
workers import them like any codec. Markers live in $EVALSUITE_FAULT_DIR.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from evalsuite.codecs.opus import OpusCodec
from evalsuite.metrics.base import Metric, MetricInfo
from evalsuite.metrics.spectral import SiSdr


def _marker(name: str) -> Path:
    return Path(os.environ["EVALSUITE_FAULT_DIR"]) / name


class OpusKillsWorkerOnce(OpusCodec):
    """Opus that SIGKILLs its own worker process the first time it meets the target item."""

    name = "opus_kill_once"

    def encode(self, audio, kbps):
        m = _marker(f"killed-{kbps:g}")
        if kbps == float(os.environ.get("EVALSUITE_FAULT_KBPS", "12")) and not m.exists():
            m.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().encode(audio, kbps)


class OpusAlwaysKillsWorker(OpusCodec):
    """Opus whose worker always dies at one bitrate (the unit must be marked, others unaffected)."""

    name = "opus_kill_always"

    def encode(self, audio, kbps):
        if kbps == float(os.environ.get("EVALSUITE_FAULT_KBPS", "12")):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().encode(audio, kbps)


class OpusGarbage(OpusCodec):
    """Opus whose bitstream is replaced by random bytes before decoding."""

    name = "opus_garbage"

    def decode(self, encoded):
        rng = np.random.default_rng(0)
        encoded.packets = [rng.bytes(len(p)) for p in encoded.packets]
        return super().decode(encoded)


class OpusDecodesNaN(OpusCodec):
    name = "opus_nan"

    def decode(self, encoded):
        y = super().decode(encoded)
        y[len(y) // 2] = np.nan  # mid-signal: delay trimming must not remove it
        return y


class RaisingMetric(Metric):
    info = MetricInfo(name="raises", needs_reference=True, sample_rate=16000, higher_is_better=True,
                      version="test")

    def score(self, ref, deg, rate):
        raise RuntimeError("injected metric failure")


class SlowSiSdr(SiSdr):
    """SI-SDR that takes a moment, so a kill lands mid-run."""

    def score(self, ref, deg, rate):
        time.sleep(0.2)
        return super().score(ref, deg, rate)

    def score_features(self, features, deg, rate):  # the runner's path (reference side shared)
        time.sleep(0.2)
        return super().score_features(features, deg, rate)


class NaNMetric(Metric):
    """A metric that returns NaN (for the JSON output of `evalsuite score`)."""

    info = MetricInfo(name="nan_metric", needs_reference=True, sample_rate=16000, higher_is_better=True,
                      version="test")

    def score(self, ref, deg, rate):
        return {"nan_metric": float("nan")}


class OpusKillsAndCounts(OpusCodec):
    """Opus that kills its worker at one bitrate and notes which process ran every other encode,
    so a test can count how many worker processes the rest of the grid used."""

    name = "opus_kill_count"

    def encode(self, audio, kbps):
        if kbps == float(os.environ.get("EVALSUITE_FAULT_KBPS", "12")):
            os.kill(os.getpid(), signal.SIGKILL)
        (_marker(f"pid-{os.getpid()}-{time.monotonic_ns()}")).write_text("")
        return super().encode(audio, kbps)


class OpusKeyError(OpusCodec):
    """A codec with a programming error: it must show as codec_error with a traceback, not hide."""

    name = "opus_keyerror"

    def encode(self, audio, kbps):
        return {}["no such key"]


class BrokenInitCodec(OpusCodec):
    """A codec whose constructor has a bug: the run must stop and say so, not call it unavailable."""

    name = "broken_init"

    def __init__(self, ctx=None, **opts):
        raise RuntimeError("bug in the plugin's constructor")


class ValueErrorMetric(Metric):
    info = MetricInfo(name="value_error", needs_reference=True, sample_rate=16000, higher_is_better=True,
                      version="test")

    def score(self, ref, deg, rate):
        raise ValueError("a bug in the metric")
