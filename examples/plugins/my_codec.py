"""A complete codec plugin for evalsuite: 8-bit mu-law companding (ITU-T G.711's curve) at 8 kHz,
a real bitstream of one byte per sample (64 kbps), decoded from those bytes alone.

Run it from this folder (the current folder is searched for plugins, as with `python -m`):

    evalsuite run --codecs my_codec:MuLaw --kbps 64 --metrics pesq_nb,si_sdr --corpus MY_FOLDER --category clean_speech

Rows and folders use the class's ``name`` (``mulaw``), never the spec.
"""
from __future__ import annotations

import numpy as np

from evalsuite.codecs.base import BitrateSupport, Codec, Encoded, UnsupportedBitrate


class MuLaw(Codec):
    name = "mulaw"  # rows, folders and --codec-opt use this name
    description = "8-bit mu-law (G.711 curve) at 8 kHz, 64 kbps (plugin example)"
    options = {"mu": 255}  # --codec-opt mulaw.mu=100; values arrive as strings, coerced to int

    RATE, KBPS = 8000, 64.0

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return True, "ok"  # nothing to install; say how to get what is missing otherwise

    @property
    def sample_rate(self) -> int:
        return self.RATE

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=(self.KBPS,))

    def operating_points(self) -> tuple[float, ...]:
        return (self.KBPS,)

    def version(self) -> str:
        return "example 1"

    @property
    def delay_samples(self) -> int:
        return 0  # sample by sample: no delay (the runner still measures and records any residual)

    def settings(self) -> dict:
        return {**self.opts, "latency_ms": 0.125}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        if abs(kbps - self.KBPS) > 1e-9:
            raise UnsupportedBitrate(f"mulaw codes 64 kbps only, not {kbps:g}")
        return self.KBPS, ""

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        mu = float(self.opts["mu"])
        x = np.clip(np.asarray(audio, dtype=np.float64), -1, 1)
        y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
        codes = np.round((y + 1) * 127.5).astype(np.uint8)
        # one packet for the whole item; info holds only JSON values the decoder needs
        return Encoded(packets=[codes.tobytes()], num_samples=len(codes), sample_rate=self.RATE, kbps_used=self.KBPS,
                       info={"mu": mu})

    def decode(self, encoded: Encoded) -> np.ndarray:
        mu = float(encoded.info["mu"])
        y = np.frombuffer(encoded.packets[0], dtype=np.uint8).astype(np.float64) / 127.5 - 1
        return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)
