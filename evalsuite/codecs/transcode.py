"""One codec pass as the transcode stage runs it.

resample to the codec's rate -> encode -> bitstream container bytes -> ``through_file`` (the runner
writes the container and returns what it reads back) -> decode from those bytes alone -> remove
the codec's known delay -> resample back -> align the residual by a bounded, band-limited
cross-correlation search (the lag used is recorded) -> the input's length.

The measured bitrate is the codec's payload bits over the duration of the frames it coded
(``Encoded.measured_kbps``, one rule for every codec and backend): a constant-bitrate mode
measures exactly its nominal rate. A codec declares modes that do not preserve the waveform's phase (parametric
coding, frequency-dependent phase) with ``info["waveform_preserving"] = False``; waveform metrics
are then marked not applicable for that output. (A lag measured window by window cannot decide
this: on tonal material the correlation peaks repeat every pitch period.)
"""
from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import bitstream
from ..audio import find_lag, match_length, resample
from .base import Codec, Encoded

#: version of this procedure: part of every transcode record's key (bump when outputs change)
TRANSCODE_VERSION = "4"
#: the residual-alignment search range after delay compensation
MAX_RESIDUAL_MS = 10.0


@dataclass
class Transcoded:
    audio: np.ndarray  # aligned, at the input's rate, same length as the input
    encoded: Encoded
    container: bytes
    measured_kbps: float
    kbps_used: float
    note: str
    lag_samples: float  # residual lag removed after delay compensation (run rate); NaN: phase not preserved
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


#: The residual lag is measured in one band for every codec: 300-3400 Hz, which every codec here
#: codes and where speech has its energy (P.862's time alignment also works on a telephone-band
#: filtered signal). Codecs' delay is not the same at every frequency: input high-pass filters
#: (AMR, Speex, SILK) bend the phase below 300 Hz by several samples, and hybrid or split-band
#: modes differ by 1-2 samples between their lower and upper bands, so a lag is only defined with
#: its band.
ALIGN_BAND_HZ = (300.0, 3400.0)


def band_limit(x: np.ndarray, rate: int, band_hz: float) -> np.ndarray:
    """Zero-phase band-pass to the alignment band (within the coded band; filtering both signals
    the same way leaves their relative lag untouched)."""
    from scipy.signal import butter, sosfiltfilt

    low, high = ALIGN_BAND_HZ
    high = min(high, 0.9 * band_hz, 0.45 * rate)
    sos = butter(4, (low, high), btype="band", fs=rate, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64)).astype(np.float32)


def shift(y: np.ndarray, lag: int) -> np.ndarray:
    """Advance ``y`` by ``lag`` samples (positive: it was late), keeping its length."""
    if lag > 0:
        return np.concatenate([y[lag:], np.zeros(lag, np.float32)])
    if lag < 0:
        return np.concatenate([np.zeros(-lag, np.float32), y[:lag]])
    return y


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
    waveform_note = ""
    if isinstance(enc.info, dict) and enc.info.get("waveform_preserving") is False:
        # no waveform to correlate: the codec's measured delay is all there is (lag not measurable)
        waveform_note = f"{codec.name} does not preserve the waveform's phase in this mode"
        lag: float = float("nan")
    else:
        band = coded_band_hz(codec, enc)
        max_lag = int(rate * MAX_RESIDUAL_MS / 1000)
        lag = find_lag(band_limit(audio, rate, band), band_limit(y, rate, band), max_lag)
        y = shift(y, lag)
    measured = enc.measured_kbps
    return Transcoded(audio=y, encoded=enc, container=blob, measured_kbps=measured, kbps_used=kbps_used, note=note,
                      lag_samples=float(lag), encode_cpu_s=t_enc, decode_cpu_s=t_dec,
                      waveform_note=waveform_note)

