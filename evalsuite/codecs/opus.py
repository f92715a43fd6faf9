"""Opus (RFC 6716) through libopus (ctypes, ``libopus.py``): raw packets, one per 20 ms frame.

Which libopus: option ``lib`` = ``system`` (Debian's libopus0: 1.3.1 on bookworm), ``1.5`` (Debian
trixie's 1.5.2 with the ML decoder, fetched into a private folder: ``private_libs.py``),
``pyav`` (the 1.6.1 bundled in PyAV's wheel, built without the ML decoder) or a path. Option
``dec_complexity`` (0-10, libopus >= 1.5) sets the decoder complexity: 6 = LACE, 7 = NoLACE
speech enhancement for SILK frames. Every row records the libopus version and the decoder
features found by probing that library (``libopus.probe_features``). ``opus_ml`` is the same
codec with ``lib=1.5, dec_complexity=7``.

Delay: the encoder's lookahead (``OPUS_GET_LOOKAHEAD``, 6.5 ms in voip/audio mode) plus a
small residual that depends on the coding mode and bandwidth (SILK's resamplers and voip's
high-pass), measured on the shared corpus's clean speech (``MODE_DELAY_48K``, docs/codecs.md)
and removed in ``decode`` for the mode and bandwidth the packets signal. The measured bitrate
counts every packet byte including the TOC byte. The coded audio bandwidth and mode are read
from each packet's TOC byte (RFC 6716 section 3.1) and the most frequent ones are recorded.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from . import libopus
from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .delay import delay_at, remove_delay
from .packing import from_int16, to_int16

MIN_KBPS, MAX_KBPS = 0.5, 512.0  # libopus accepts 500 bps .. 512 kbps per channel
FRAME_MS = 20
APPLICATIONS = tuple(libopus.APPLICATIONS)
RATES = (8000, 12000, 16000, 24000, 48000)
#: RFC 6716 section 2.1.1's recommended ranges (NB/WB/FB speech, FB mono music), low to high
OPERATING_POINTS = (6.0, 8.0, 12.0, 16.0, 20.0, 24.0, 32.0, 48.0, 64.0)
#: delay at 48 kHz left after removing the lookahead (negative: output early), per application,
#: TOC mode and TOC bandwidth; the median over the 12 clean speech items of the shared corpus
#: (docs/codecs.md). Measured at the 48 kHz API rate only; SILK-MB was never chosen there.
RESIDUAL_48K: dict[str, dict[tuple[str, str], int]] = {
    "voip": {("SILK", "NB"): 0, ("SILK", "WB"): -3, ("hybrid", "SWB"): -3, ("hybrid", "FB"): -3,
             ("CELT", "NB"): -1, ("CELT", "WB"): -1, ("CELT", "SWB"): -1, ("CELT", "FB"): -1},
    "audio": {("SILK", "NB"): 3, ("SILK", "WB"): -2, ("hybrid", "SWB"): -2, ("hybrid", "FB"): -2},
    "restricted_lowdelay": {},
}


def toc_bandwidth(packet: bytes) -> str:
    """Audio bandwidth signalled by the TOC byte's configuration number (RFC 6716, Table 2)."""
    config = packet[0] >> 3
    if config < 12:  # SILK-only
        return ("NB", "MB", "WB")[config // 4]
    if config < 16:  # Hybrid
        return ("SWB", "FB")[(config - 12) // 2]
    return ("NB", "WB", "SWB", "FB")[(config - 16) // 4]  # CELT-only


def toc_mode(packet: bytes) -> str:
    config = packet[0] >> 3
    return "SILK" if config < 12 else "hybrid" if config < 16 else "CELT"


class OpusCodec(Codec):
    name = "opus"
    description = "Opus (libopus; lib=system|1.5|pyav|path), 20 ms frames, 0.5-512 kbps"
    options = {"rate": 48000, "application": "voip", "cbr": False, "complexity": 10,
               "lib": "system", "dec_complexity": 0}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        _validate(self.opts)
        self._dll = None
        self._lookahead: int | None = None
        self._features: libopus.DecoderFeatures | None = None

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        try:
            dll = libopus.load(str(o["lib"]))
            if int(o["dec_complexity"]):
                libopus.Decoder(dll, 48000, int(o["dec_complexity"]))
        except CodecUnavailable as e:
            return False, str(e)
        return True, "ok"

    def dll(self):
        if self._dll is None:
            self._dll = libopus.load(str(self.opts["lib"]))
        return self._dll

    @property
    def sample_rate(self) -> int:
        return int(self.opts["rate"])

    @property
    def frame_size(self) -> int:
        return self.sample_rate * FRAME_MS // 1000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(min_kbps=MIN_KBPS, max_kbps=MAX_KBPS)

    def operating_points(self) -> tuple[float, ...]:
        return OPERATING_POINTS

    def version(self) -> str:
        return libopus.version(self.dll())

    def decoder_features(self) -> libopus.DecoderFeatures:
        if self._features is None:
            self._features = libopus.probe_features(self.dll())
        return self._features

    @property
    def delay_samples(self) -> int:
        if self._lookahead is None:
            self._lookahead = self._encoder(24000).lookahead()
        return self._lookahead

    def settings(self) -> dict[str, Any]:
        la = self.delay_samples
        f = self.decoder_features()
        dc = int(self.opts["dec_complexity"])
        active = ("NoLACE" if dc >= 7 else "LACE" if dc == 6 else "none") if f.osce else "none"
        return {**self.opts, "vbr": not self.opts["cbr"], "frame_ms": FRAME_MS,
                "lookahead_samples": la, "latency_ms": FRAME_MS + 1000 * la / self.sample_rate,
                "libopus": self.version(), "decoder_features": f.describe(),
                "decoder_enhancement": active, "deep_plc_available": f.deep_plc}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        if not math.isfinite(kbps) or not MIN_KBPS <= kbps <= MAX_KBPS:
            raise UnsupportedBitrate(
                f"opus: {kbps:g} kbps is outside libopus's accepted range {MIN_KBPS:g}-{MAX_KBPS:g} kbps")
        note = "Opus cannot code below about 6 kbps; the measured bitrate shows what it spent" if kbps < 6 else ""
        return float(kbps), note

    def _encoder(self, bps: int) -> libopus.Encoder:
        return libopus.Encoder(self.dll(), self.sample_rate, self.opts["application"], int(bps),
                               not self.opts["cbr"], int(self.opts["complexity"]))

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        self.resolve_kbps(kbps)
        enc = self._encoder(int(round(kbps * 1000)))
        fs = self.frame_size
        x = np.asarray(audio, dtype=np.float32)
        # pad so the delay's worth of the input's end is still coded, then to whole frames
        n = len(x) + self.delay_samples + self.frame_size // 4
        n_frames = max(1, -(-n // fs))
        pcm = to_int16(np.pad(x, (0, n_frames * fs - len(x))))
        packets = [enc.encode(pcm[i * fs:(i + 1) * fs]) for i in range(n_frames)]
        bw = Counter(toc_bandwidth(p) for p in packets).most_common(1)[0][0]
        mode = Counter(toc_mode(p) for p in packets).most_common(1)[0][0]
        return Encoded(packets=packets, num_samples=n_frames * fs, sample_rate=self.sample_rate,
                       kbps_used=float(kbps),
                       info={"bandwidth": bw, "mode": mode, "frames": n_frames, "libopus": self.version(),
                             "dec_complexity": int(self.opts["dec_complexity"]),
                             "residual_delay_48k": self.residual_delay(mode, bw),
                             # SILK narrow-band's phase response varies with frequency: its lag on tonal
                             # music drifts by tens of samples within an item, so it is not waveform-aligned
                             "waveform_preserving": not (mode == "SILK" and bw == "NB")})

    def residual_delay(self, mode: str, bandwidth: str) -> int:
        if self.sample_rate != 48000:
            return 0
        return RESIDUAL_48K[self.opts["application"]].get((mode, bandwidth), 0)

    def decode(self, encoded: Encoded) -> np.ndarray:
        dec = libopus.Decoder(self.dll(), self.sample_rate, int(self.opts["dec_complexity"]))
        fs = self.frame_size
        out = [dec.decode(bytes(p), fs) for p in encoded.packets]
        y = from_int16(np.concatenate(out)) if out else np.zeros(0, np.float32)
        extra = int(encoded.info.get("residual_delay_48k", 0))
        return remove_delay(y, delay_at(extra, self.sample_rate)) if extra else y


class OpusMLCodec(OpusCodec):
    name = "opus_ml"
    description = "Opus 1.5 with the ML decoder (Debian trixie libopus 1.5.2, NoLACE: decoder complexity 7)"
    options = {**OpusCodec.options, "lib": "1.5", "dec_complexity": 7}


def _validate(o: dict[str, Any]) -> None:
    if int(o["rate"]) not in RATES:
        raise ValueError(f"opus: rate must be one of {RATES}, got {o['rate']}")
    if o["application"] not in APPLICATIONS:
        raise ValueError(f"opus: application must be one of {APPLICATIONS}, got {o['application']!r}")
    if not 0 <= int(o["complexity"]) <= 10:
        raise ValueError(f"opus: complexity must be 0..10, got {o['complexity']}")
    if not 0 <= int(o["dec_complexity"]) <= 10:
        raise ValueError(f"opus: dec_complexity must be 0..10, got {o['dec_complexity']}")
