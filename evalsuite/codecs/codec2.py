"""Codec 2 (David Rowe's open low-bitrate speech codec) through the Debian ``codec2`` tools
``c2enc``/``c2dec``: 8 kHz, 16-bit raw PCM in and out, modes 3200..450 bit/s.

The bitstream is written headerless (a ``.bin`` name: c2enc writes a 7-byte mode header only
for ``.c2`` names), so the file holds only coded frames, each padded to whole bytes. Bits counted
(``payload_bits``): the mode's codec bits per frame (1300: 52 bits/40 ms = 1.3 kbps), not the
file format's byte padding, the rule every codec here follows (as AMR's storage header is not
counted); ``info["storage_kbps"]`` gives the file's rate (1300: 7 bytes/40 ms = 1.4 kbps, 700C
0.8, 450 0.6).

Delay: depends on the mode (20-31 ms, ``MODE_DELAY``); ``decode`` removes it, so the adapter's
``delay_samples`` is 0 and output is time-aligned with the input.
"""
from __future__ import annotations

import functools
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .packing import from_int16, to_int16
from .tools import run_tool

SAMPLE_RATE = 8000
# mode name -> (kbps, samples per frame, bits per frame)
MODES: dict[str, tuple[float, int, int]] = {
    "3200": (3.2, 160, 64), "2400": (2.4, 160, 48), "1600": (1.6, 320, 64), "1400": (1.4, 320, 56),
    "1300": (1.3, 320, 52), "1200": (1.2, 320, 48), "700C": (0.7, 320, 28), "450": (0.45, 320, 18),
}
# Codec 2 is parametric (phase is synthesised), so its delay cannot be read off a waveform
# cross-correlation; these are the lags of the peak of the Hilbert-envelope cross-correlation,
# pooled over the 12 clean speech items of the shared corpus (see docs/codecs.md).
MODE_DELAY: dict[str, int] = {
    "3200": 160, "2400": 160, "1600": 165, "1400": 165, "1300": 165, "1200": 165, "700C": 245, "450": 220,
}


def nearest_mode(kbps: float) -> str:
    return min(MODES, key=lambda m: (abs(MODES[m][0] - kbps), -MODES[m][0]))


#: latency per mode: the frame (20 or 40 ms of buffering) plus the signal delay measured above
#: (the analysis window's lookahead and synthesis overlap); Codec 2 states no figure of its own
LATENCY_MS: dict[str, float] = {m: 1000 * (MODES[m][1] + MODE_DELAY[m]) / SAMPLE_RATE for m in MODES}


class Codec2Codec(Codec):
    name = "codec2"
    description = "Codec 2 (Debian c2enc/c2dec), 8 kHz, 0.45-3.2 kbps"
    options = {"timeout_s": 120.0}

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        missing = [t for t in ("c2enc", "c2dec") if shutil.which(t) is None]
        if missing:
            return False, f"{' and '.join(missing)} not found on PATH: apt-get install codec2"
        return True, "ok"

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=tuple(sorted(m[0] for m in MODES.values())))

    @property
    def delay_samples(self) -> int:
        return 0  # decode() already removes the mode's own delay (MODE_DELAY)

    def operating_points(self) -> tuple[float, ...]:
        return tuple(sorted(m[0] for m in MODES.values()))

    def version(self) -> str:
        return "codec2 " + _codec2_version()

    def settings(self) -> dict[str, Any]:
        return {**self.opts, "tools": "c2enc/c2dec " + _codec2_version(),
                "latency_ms": {m: LATENCY_MS[m] for m in MODES}}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        lo, hi = min(m[0] for m in MODES.values()), max(m[0] for m in MODES.values())
        if not math.isfinite(kbps) or kbps > hi + 1e-9:
            raise UnsupportedBitrate(f"codec2: {kbps:g} kbps is above its highest mode ({hi:g} kbps)")
        if kbps < lo - 1e-9:
            raise UnsupportedBitrate(f"codec2: {kbps:g} kbps is below its lowest mode ({lo:g} kbps)")
        mode = nearest_mode(kbps)
        used = MODES[mode][0]
        return used, "" if abs(used - kbps) < 1e-9 else f"{kbps:g} kbps -> nearest Codec 2 mode {mode} ({used:g} kbps)"

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        mode = nearest_mode(kbps)
        _, spf, bits = MODES[mode]
        x = np.asarray(audio, dtype=np.float32)
        n_frames = max(1, -(-(len(x) + MODE_DELAY[mode]) // spf))  # pad so the end survives the delay
        pcm = to_int16(np.pad(x, (0, n_frames * spf - len(x))))
        with tempfile.TemporaryDirectory(prefix="evalsuite-c2-") as d:
            raw, bit = Path(d) / "in.raw", Path(d) / "out.bin"
            raw.write_bytes(pcm.astype("<i2").tobytes())
            self._run(["c2enc", mode, str(raw), str(bit)])
            data = bit.read_bytes()
        expect = n_frames * ((bits + 7) // 8)
        if len(data) != expect:
            raise CodecUnavailable(f"codec2: c2enc wrote {len(data)} bytes for {n_frames} frames of mode {mode}; expected {expect}")
        return Encoded(packets=[data], num_samples=n_frames * spf, sample_rate=SAMPLE_RATE, kbps_used=MODES[mode][0],
                       payload_bits=bits * n_frames,
                       info={"storage_kbps": 8 * len(data) / (n_frames * spf / SAMPLE_RATE) / 1000, "mode": mode, "delay_samples": MODE_DELAY[mode], "latency_ms": LATENCY_MS[mode], "bits_per_frame": bits, "bytes_per_frame": (bits + 7) // 8, "frames": n_frames,
                             "waveform_preserving": False})  # parametric: the phase is synthesised

    def decode(self, encoded: Encoded) -> np.ndarray:
        mode = encoded.info["mode"]
        with tempfile.TemporaryDirectory(prefix="evalsuite-c2-") as d:
            bit, raw = Path(d) / "in.bin", Path(d) / "out.raw"
            bit.write_bytes(b"".join(encoded.packets))
            self._run(["c2dec", mode, str(bit), str(raw)])
            y = from_int16(np.frombuffer(raw.read_bytes(), dtype="<i2"))
        return y[MODE_DELAY[mode]:]

    def _run(self, cmd: list[str]) -> None:
        run_tool("codec2", cmd, float(self.opts["timeout_s"]), "apt-get install codec2")


@functools.cache  # asked for every transcode (settings, version); a dpkg-query process each time
def _codec2_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "codec2"], capture_output=True, timeout=10)
        return out.stdout.decode().strip() or "unknown"
    except Exception:
        return "unknown"
