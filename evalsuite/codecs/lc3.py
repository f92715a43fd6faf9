"""LC3 (Bluetooth LE Audio's Low Complexity Communication Codec) through Google's liblc3 as
bundled in the ``lc3py`` wheel (option ``libpath`` points at another liblc3).

An LC3 frame is a whole number of bytes (20-400) per frame of 10/7.5/5/2.5 ms, so the native
bitrates are multiples of 8 bits per frame duration (0.8 kbps steps at 10 ms). Each frame is one
packet with no header: measured kbps = packet bytes / duration. A request maps to the largest
frame size not above it (``lc3_frame_bytes``'s own rule), with a note when they differ.

Delay: liblc3's ``lc3_delay_samples`` (2.5 ms at 10 ms frames, 4 ms at 7.5 ms): the encoder's
lookahead; the input is padded by it and ``delay_samples`` reports it.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .packing import from_int16, to_int16

RATES = (8000, 16000, 24000, 32000, 48000)
FRAME_US = {10.0: 10000, 7.5: 7500, 5.0: 5000, 2.5: 2500}
MIN_BYTES, MAX_BYTES = 20, 400
#: Bluetooth BAP's codec configurations (e.g. 16_2 = 32 kbps) plus the lowest frame size
BAP_POINTS = {8000: (16.0, 24.0), 16000: (16.0, 24.0, 32.0), 24000: (24.0, 32.0, 48.0),
              32000: (32.0, 48.0, 64.0), 48000: (64.0, 80.0, 96.0, 124.0)}
HINT = "pip install lc3py (bundles Google's liblc3)"


class LC3Codec(Codec):
    name = "lc3"
    description = "LC3, Bluetooth LE Audio (liblc3 via lc3py), 8-48 kHz, 10 ms frames, 16-320 kbps"
    options = {"rate": 16000, "frame_ms": 10.0, "libpath": ""}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        if int(self.opts["rate"]) not in RATES:
            raise ValueError(f"lc3: rate must be one of {RATES}, got {self.opts['rate']}")
        if float(self.opts["frame_ms"]) not in FRAME_US:
            raise ValueError(f"lc3: frame_ms must be one of {tuple(FRAME_US)}, got {self.opts['frame_ms']}")

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        if importlib.util.find_spec("lc3") is None:
            return False, f"lc3: the lc3 module is missing: {HINT}"
        if o["libpath"] and not Path(str(o["libpath"])).expanduser().is_file():
            return False, f"lc3: liblc3 {o['libpath']} does not exist; unset lc3.libpath to use lc3py's, or {HINT}"
        return True, "ok"

    def _lc3(self, decoder: bool = False):
        ok, why = self.availability(opts=self.opts)
        if not ok:
            raise CodecUnavailable(why)
        import lc3

        cls = lc3.Decoder if decoder else lc3.Encoder
        try:
            return cls(FRAME_US[float(self.opts["frame_ms"])], self.sample_rate, 1,
                       libpath=str(Path(self.opts["libpath"]).expanduser()) if self.opts["libpath"] else None)
        except (OSError, lc3.BaseError) as e:
            raise CodecUnavailable(f"lc3: cannot load liblc3 ({e}); {HINT}") from e

    @property
    def sample_rate(self) -> int:
        return int(self.opts["rate"])

    @property
    def frame_ms(self) -> float:
        return float(self.opts["frame_ms"])

    def kbps_of(self, nbytes: int) -> float:
        return nbytes * 8 / self.frame_ms

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(min_kbps=self.kbps_of(MIN_BYTES), max_kbps=self.kbps_of(MAX_BYTES),
                              step_kbps=self.kbps_of(1))

    def operating_points(self) -> tuple[float, ...]:
        lo, hi = self.kbps_of(MIN_BYTES), self.kbps_of(MAX_BYTES)
        return tuple(sorted({self.kbps_of(self.frame_bytes(p)) for p in BAP_POINTS[self.sample_rate] if lo <= p <= hi}))

    def version(self) -> str:
        try:
            v = importlib.metadata.version("lc3py")
        except importlib.metadata.PackageNotFoundError:
            v = "?"
        return f"liblc3 (lc3py {v})" if not self.opts["libpath"] else f"liblc3 {self.opts['libpath']}"

    @property
    def delay_samples(self) -> int:
        return int(self._lc3().get_delay_samples())

    def settings(self) -> dict[str, Any]:
        d = self.delay_samples
        return {**self.opts, "latency_ms": self.frame_ms + 1000 * d / self.sample_rate,
                "lookahead_samples": d, "library": self.version()}

    def frame_bytes(self, kbps: float) -> int:
        return int(math.floor(kbps * self.frame_ms / 8 + 1e-9))

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        lo, hi = self.kbps_of(MIN_BYTES), self.kbps_of(MAX_BYTES)
        if not math.isfinite(kbps) or kbps < lo - 1e-9 or kbps > hi + 1e-9:
            raise UnsupportedBitrate(
                f"lc3: {kbps:g} kbps is outside LC3's {lo:g}-{hi:g} kbps at {self.frame_ms:g} ms frames "
                f"({MIN_BYTES}-{MAX_BYTES} bytes per frame)")
        used = self.kbps_of(self.frame_bytes(kbps))
        if abs(used - kbps) < 1e-9:
            return used, ""
        return used, f"LC3 frames are whole bytes: {kbps:g} kbps -> {self.frame_bytes(kbps)} bytes/frame = {used:g} kbps"

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        used, _ = self.resolve_kbps(kbps)
        nbytes = self.frame_bytes(kbps)
        enc = self._lc3()
        fs = enc.get_frame_samples()
        x = np.asarray(audio, dtype=np.float32)
        n_frames = max(1, -(-(len(x) + int(enc.get_delay_samples())) // fs))
        pcm = to_int16(np.pad(x, (0, n_frames * fs - len(x))))
        packets = [enc.encode(pcm[i * fs:(i + 1) * fs].tobytes(), nbytes, bit_depth=16) for i in range(n_frames)]
        return Encoded(packets=packets, num_samples=n_frames * fs, sample_rate=self.sample_rate, kbps_used=used,
                       info={"frame_bytes": nbytes, "frame_ms": self.frame_ms, "frames": n_frames,
                             "bandwidth": f"{self.sample_rate // 2000} kHz audio band (coded rate {self.sample_rate} Hz)"})

    def decode(self, encoded: Encoded) -> np.ndarray:
        dec = self._lc3(decoder=True)
        out = [np.frombuffer(dec.decode(bytes(p), bit_depth=16), dtype=np.int16) for p in encoded.packets]
        return from_int16(np.concatenate(out)) if out else np.zeros(0, np.float32)
