"""ITU-T G.722 (SB-ADPCM, 16 kHz, 64/56/48 kbps) through the ``G722`` package (Sippy's libg722,
the bit-exact spandsp/CMU implementation; pip install g722).

G.722 codes one 8-bit codeword per pair of 16 kHz samples; at 56 and 48 kbps the encoder drops
1 or 2 low-band bits (modes 2 and 3), so each codeword carries 7 or 6 bits. The library writes
one codeword per byte (unpacked); ``payload_bits`` counts the codeword bits (6/7/8 per pair), so
measured kbps equals the mode's rate. Packets are 20 ms of codewords (RTP's usual ptime).

Delay: the QMF analysis and synthesis filters (24 taps each), measured at 22 samples at 16 kHz on
speech; ``delay_samples`` reports it. G.722 has no frame, so its latency is that delay.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded
from .modes import best_mode
from .packing import from_int16, to_int16

RATE = 16000
MODES_KBPS = (48.0, 56.0, 64.0)
BITS = {48.0: 6, 56.0: 7, 64.0: 8}  # bits per codeword (one codeword per 2 samples)
PACKET_MS = 20
DELAY = 22  # samples at 16 kHz: QMF analysis + synthesis (measured, docs/codecs.md)
HINT = "pip install g722"


class G722Codec(Codec):
    name = "g722"
    description = "ITU-T G.722 SB-ADPCM (libg722 via the g722 package), 16 kHz, 48/56/64 kbps"
    options = {"module": "G722"}  # the Python module to import (a test points it elsewhere)

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        if importlib.util.find_spec(str(o["module"])) is None:
            return False, f"g722: Python module {o['module']} not found: {HINT}"
        return True, "ok"

    def _mod(self):
        ok, why = self.availability(opts=self.opts)
        if not ok:
            raise CodecUnavailable(why)
        return importlib.import_module(str(self.opts["module"]))

    @property
    def sample_rate(self) -> int:
        return RATE

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=MODES_KBPS)

    def operating_points(self) -> tuple[float, ...]:
        return MODES_KBPS

    @property
    def delay_samples(self) -> int:
        return DELAY

    def version(self) -> str:
        try:
            return f"libg722 (g722 {importlib.metadata.version('g722')})"
        except importlib.metadata.PackageNotFoundError:
            return "libg722"

    def settings(self) -> dict[str, Any]:
        return {**self.opts, "latency_ms": 1000 * DELAY / RATE, "packet_ms": PACKET_MS, "library": self.version()}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        return best_mode(self.name, MODES_KBPS, kbps)

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        used, _ = self.resolve_kbps(kbps)
        bits = BITS[used]
        per_packet = RATE * PACKET_MS // 1000
        x = np.asarray(audio, dtype=np.float32)
        n_packets = max(1, -(-(len(x) + DELAY) // per_packet))
        pcm = to_int16(np.pad(x, (0, n_packets * per_packet - len(x))))
        codes = self._mod().G722(RATE, int(used * 1000), use_numpy=False).encode(pcm)
        if len(codes) != len(pcm) // 2 or max(codes) >= 1 << bits:
            raise RuntimeError(f"g722: expected {len(pcm) // 2} codewords of {bits} bits, got {len(codes)} (max {max(codes)})")
        step = per_packet // 2
        packets = [bytes(codes[i:i + step]) for i in range(0, len(codes), step)]
        return Encoded(packets=packets, num_samples=len(pcm), sample_rate=RATE, kbps_used=used,
                       payload_bits=bits * len(codes),
                       info={"mode": {64.0: 1, 56.0: 2, 48.0: 3}[used], "bits_per_codeword": bits,
                             "codewords": len(codes), "bandwidth": "WB (50-7000 Hz)",
                             "storage": "one codeword per byte"})

    def decode(self, encoded: Encoded) -> np.ndarray:
        kbps = float(encoded.kbps_used)
        y = self._mod().G722(RATE, int(kbps * 1000), use_numpy=False).decode(b"".join(encoded.packets))
        return from_int16(np.asarray(y, dtype=np.int16))
