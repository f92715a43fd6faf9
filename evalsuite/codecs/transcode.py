"""One codec pass as the transcode stage runs it.

resample to the codec's rate -> encode -> bitstream container bytes -> ``through_file`` (the runner
writes the container and returns what it reads back) -> decode from those bytes alone -> remove
the codec's known delay -> resample back -> align the residual by a bounded, band-limited
cross-correlation search (the lag used is recorded) -> the input's length.

The measured bitrate is the codec's payload bits over the input's duration (one rule for every
codec and backend). ``lag_spread`` measures how much the best lag varies over the item (window by
window): a large spread means the codec rebuilds phase (parametric or frequency-dependent
delay), so waveform metrics are meaningless for this output and the runner marks them so.
"""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import bitstream
from ..audio import find_lag, match_length, resample
from .base import Codec, Encoded

#: version of this procedure: part of every transcode record's key (bump when outputs change)
TRANSCODE_VERSION = "2"
#: the residual-alignment search range after delay compensation
MAX_RESIDUAL_MS = 10.0
#: lag spread (samples at the run rate) above which the output is not waveform-aligned
SPREAD_LIMIT = 2.0
_WIN_S, _HOP_S = 0.5, 0.25


@dataclass
class Transcoded:
    audio: np.ndarray  # aligned, at the input's rate, same length as the input
    encoded: Encoded
    container: bytes
    measured_kbps: float
    kbps_used: float
    note: str
    lag_samples: int  # residual lag removed after delay compensation (run rate)
    lag_spread: float  # range of per-window lags after alignment (NaN: too few reliable windows)
    encode_cpu_s: float
    decode_cpu_s: float
    waveform_note: str  # why waveform metrics do not apply ('' if they do)


def _cpu() -> float:
    """Process CPU time plus that of finished child processes (codecs run as programs)."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def coded_band_hz(codec: Codec, enc: Encoded) -> float:
    """Upper edge of the coded band: the codec's Nyquist, or the bandwidth it reports."""
    band = codec.sample_rate / 2
    bw = enc.info.get("bandwidth_hz") if isinstance(enc.info, dict) else None
    named = {"NB": 4000, "MB": 6000, "WB": 8000, "SWB": 12000, "FB": 20000}
    if bw is None and isinstance(enc.info, dict) and enc.info.get("bandwidth") in named:
        bw = named[enc.info["bandwidth"]]
    return float(min(band, bw)) if bw else float(band)


def band_limit(x: np.ndarray, rate: int, band_hz: float) -> np.ndarray:
    if band_hz >= 0.45 * rate:
        return np.asarray(x, dtype=np.float32)
    from ..anchors import lowpass

    return lowpass(x, rate, 0.9 * band_hz)


def shift(y: np.ndarray, lag: int) -> np.ndarray:
    """Advance ``y`` by ``lag`` samples (positive: it was late), keeping its length."""
    if lag > 0:
        return np.concatenate([y[lag:], np.zeros(lag, np.float32)])
    if lag < 0:
        return np.concatenate([np.zeros(-lag, np.float32), y[:lag]])
    return y


def lag_spread(ref: np.ndarray, deg: np.ndarray, rate: int, max_lag: int) -> float:
    """Spread (5th to 95th percentile) of the best lag over 0.5 s windows whose reference is within
    30 dB of the loudest window and whose correlation peak is strong (>= 0.5); NaN with fewer than
    three such windows."""
    from scipy.signal import correlate

    w, h = int(_WIN_S * rate), int(_HOP_S * rate)
    if len(ref) < w:
        return float("nan")
    starts = range(0, len(ref) - w + 1, h)
    energies = np.array([np.sum(np.square(ref[s:s + w], dtype=np.float64)) for s in starts])
    floor = energies.max() * 1e-3
    lags = []
    for s, e in zip(starts, energies):
        if e < floor:
            continue
        a = ref[s:s + w].astype(np.float64)
        lo, hi = max(0, s - max_lag), min(len(deg), s + w + max_lag)
        b = deg[lo:hi].astype(np.float64)
        c = correlate(b, a, mode="valid", method="fft")  # c[k]: deg window starting at lo + k
        k = int(np.argmax(c))
        nb = np.linalg.norm(b[k:k + w])
        if nb == 0 or c[k] / (np.linalg.norm(a) * nb) < 0.5:
            continue
        lags.append(lo + k - s)
    if len(lags) < 3:
        return float("nan")
    return float(np.percentile(lags, 95) - np.percentile(lags, 5))


def transcode(codec: Codec, audio: np.ndarray, rate: int, kbps: float,
              through_file: Callable[[bytes], bytes] | None = None) -> Transcoded:
    kbps_used, note = codec.resolve_kbps(kbps)
    x = resample(audio, rate, codec.sample_rate)
    t0 = _cpu()
    enc = codec.encode(x, kbps_used)
    t_enc = _cpu() - t0
    blob = bitstream.dumps(enc, codec.name, codec.version(), codec.opts)
    _, enc_read = bitstream.loads(through_file(blob) if through_file else blob)
    t0 = _cpu()
    y = codec.decode(enc_read)
    t_dec = _cpu() - t0
    if not np.all(np.isfinite(y)):
        from ..audio import AudioError

        raise AudioError("decoded audio contains NaN/Inf")
    d = codec.delay_samples
    y = np.asarray(y[d:] if d > 0 else y, dtype=np.float32)
    y = match_length(y, len(x))
    y = match_length(resample(y, codec.sample_rate, rate), len(audio))
    band = coded_band_hz(codec, enc)
    max_lag = int(rate * MAX_RESIDUAL_MS / 1000)
    ref_b, y_b = band_limit(audio, rate, band), band_limit(y, rate, band)
    lag = find_lag(ref_b, y_b, max_lag)
    y = shift(y, lag)
    spread = lag_spread(ref_b, shift(y_b, lag), rate, max_lag)
    waveform_note = ""
    if isinstance(enc.info, dict) and enc.info.get("waveform_preserving") is False:
        waveform_note = f"{codec.name} rebuilds the waveform's phase in this mode (parametric coding)"
    elif np.isfinite(spread) and spread > SPREAD_LIMIT:
        waveform_note = (f"the output's lag varies by {spread:.0f} samples within the item (frequency-dependent "
                         "phase): it is not waveform-aligned")
    measured = enc.total_bits / (len(audio) / rate) / 1000.0
    return Transcoded(audio=y, encoded=enc, container=blob, measured_kbps=measured, kbps_used=kbps_used, note=note,
                      lag_samples=int(lag), lag_spread=spread, encode_cpu_s=t_enc, decode_cpu_s=t_dec,
                      waveform_note=waveform_note)


def residual_lag(ref: np.ndarray, deg: np.ndarray, rate: int, max_ms: float = 50.0) -> int:
    """Remaining lag of an output (should be 0 +-1)."""
    return find_lag(ref, deg, int(rate * max_ms / 1000))
