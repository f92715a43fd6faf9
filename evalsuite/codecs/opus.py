"""Opus (RFC 6716) through libopus via ``opuslib``: raw packets, one per 20 ms frame.

The encoder's lookahead (``OPUS_GET_LOOKAHEAD``, 6.5 ms in voip/audio mode) is the whole codec
delay, and ``delay_samples`` reports it so transcoded output is at lag 0. The measured bitrate
counts every packet byte including the TOC byte. The coded audio bandwidth is read from each
packet's TOC byte (RFC 6716 section 3.1) and the most frequent one is recorded.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .packing import from_int16, to_int16

MIN_KBPS, MAX_KBPS = 0.5, 512.0  # libopus accepts 500 bps .. 512 kbps per channel
FRAME_MS = 20
APPLICATIONS = ("voip", "audio", "restricted_lowdelay")
RATES = (8000, 12000, 16000, 24000, 48000)


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
    description = "Opus (libopus via opuslib), 20 ms frames, 0.5-512 kbps"
    options = {"rate": 48000, "application": "voip", "cbr": False, "complexity": 10}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        if int(self.opts["rate"]) not in RATES:
            raise ValueError(f"opus: rate must be one of {RATES}, got {self.opts['rate']}")
        if self.opts["application"] not in APPLICATIONS:
            raise ValueError(f"opus: application must be one of {APPLICATIONS}, got {self.opts['application']!r}")
        if not 0 <= int(self.opts["complexity"]) <= 10:
            raise ValueError(f"opus: complexity must be 0..10, got {self.opts['complexity']}")
        self._lookahead: int | None = None

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        try:
            import opuslib  # noqa: F401  (loads libopus through ctypes at import)
            import opuslib.api.info

            opuslib.api.info.get_version_string()
        except Exception as e:  # ImportError, or OSError/Exception when libopus is missing
            return False, f"opuslib/libopus not usable ({type(e).__name__}: {e}): pip install opuslib; apt-get install libopus0"
        return True, "ok"

    @property
    def sample_rate(self) -> int:
        return int(self.opts["rate"])

    @property
    def frame_size(self) -> int:
        return self.sample_rate * FRAME_MS // 1000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(min_kbps=MIN_KBPS, max_kbps=MAX_KBPS)

    @property
    def delay_samples(self) -> int:
        if self._lookahead is None:
            import opuslib
            import opuslib.api.ctl
            import opuslib.api.encoder

            enc = self._encoder(24000)
            self._lookahead = int(opuslib.api.encoder.encoder_ctl(enc.encoder_state, opuslib.api.ctl.get_lookahead))
        return self._lookahead

    def settings(self) -> dict[str, Any]:
        import opuslib.api.info

        v = opuslib.api.info.get_version_string()
        return {**self.opts, "vbr": not self.opts["cbr"], "frame_ms": FRAME_MS,
                "lookahead_samples": self.delay_samples,
                "libopus": v.decode() if isinstance(v, bytes) else str(v)}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        if not math.isfinite(kbps) or not MIN_KBPS <= kbps <= MAX_KBPS:
            raise UnsupportedBitrate(
                f"opus: {kbps:g} kbps is outside libopus's accepted range {MIN_KBPS:g}-{MAX_KBPS:g} kbps")
        note = "Opus cannot code below about 6 kbps; the measured bitrate shows what it spent" if kbps < 6 else ""
        return float(kbps), note

    def _encoder(self, bps: int):
        import opuslib

        enc = opuslib.Encoder(self.sample_rate, 1, self.opts["application"])
        enc.bitrate = int(bps)
        enc.vbr = 0 if self.opts["cbr"] else 1
        enc.complexity = int(self.opts["complexity"])
        return enc

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        self.resolve_kbps(kbps)
        enc = self._encoder(int(round(kbps * 1000)))
        fs = self.frame_size
        x = np.asarray(audio, dtype=np.float32)
        # pad so the lookahead's worth of the input's end is still coded, then to whole frames
        n = len(x) + self.delay_samples
        n_frames = max(1, -(-n // fs))
        pcm = to_int16(np.pad(x, (0, n_frames * fs - len(x))))
        packets = [enc.encode(pcm[i * fs:(i + 1) * fs].tobytes(), fs) for i in range(n_frames)]
        bw = Counter(toc_bandwidth(p) for p in packets).most_common(1)[0][0]
        mode = Counter(toc_mode(p) for p in packets).most_common(1)[0][0]
        return Encoded(packets=packets, num_samples=n_frames * fs, sample_rate=self.sample_rate,
                       kbps_used=float(kbps), info={"bandwidth": bw, "mode": mode, "frames": n_frames})

    def decode(self, encoded: Encoded) -> np.ndarray:
        import opuslib

        dec = opuslib.Decoder(self.sample_rate, 1)
        fs = self.frame_size
        out = []
        for p in encoded.packets:
            try:
                pcm = dec.decode(bytes(p), fs)
            except opuslib.OpusError as e:
                raise CodecUnavailable(f"opus: libopus could not decode a packet: {e}") from e
            out.append(np.frombuffer(pcm, dtype="<i2"))
        return from_int16(np.concatenate(out)) if out else np.zeros(0, np.float32)
