"""Lossy music codecs through FFmpeg's libavcodec as bundled in PyAV's wheel (``pip install av``):
the base of ``mp3`` (LAME via libmp3lame) and ``aac`` (FFmpeg's native AAC-LC encoder).

Packets are the encoder's own access units, with no container: for MP3 each packet is one MP3
frame (its 4-byte frame header and side info are part of the Layer III bitstream and counted; no
LAME/Xing info frame is written), for AAC a raw access unit (no ADTS header); the AAC
AudioSpecificConfig (2 bytes, out of band like SDP) travels in ``info`` and is not counted.

Coded sample rate: a low-rate MP3/AAC is coded at a lower sample rate, never silently: option
``rate`` fixes it (a bitrate the rate cannot carry is an UnsupportedBitrate), or ``auto`` takes
the rate LAME 3.100 itself picks for a 48 kHz mono input at that bitrate (``AUTO_RATE``). The
coded rate and the decoded audio bandwidth (measured on the decoded signal) are in ``info``.
The adapter's own rate is 48 kHz; it resamples to the coded rate and back internally (soxr VHQ).

Delay: encoder delay + decoder delay at the coded rate (``CODER_DELAY``, measured: MP3
576 + 529 = 1105 samples, AAC 1024), removed in ``decode``.
"""
from __future__ import annotations

import importlib.util
import math
from typing import Any, ClassVar

import numpy as np

from ..audio import resample
from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .delay import remove_delay
from .modes import ABOVE_TOP, EPS

RATE = 48000
HINT = "pip install av (PyAV bundles FFmpeg with LAME)"
#: the output sample rate LAME 3.100 chooses for a 48 kHz mono input at each CBR bitrate
AUTO_RATE = {8: 8000, 16: 16000, 24: 16000, 32: 22050, 40: 24000, 48: 32000, 56: 32000}
AUTO_TOP = 48000  # 64 kbps and above


def auto_rate(kbps: float) -> int:
    return AUTO_RATE.get(int(kbps), AUTO_TOP if kbps >= 64 else 16000)


def audio_bandwidth_hz(y: np.ndarray, rate: int, floor_db: float = 50.0) -> float:
    """Highest frequency whose long-term level is within ``floor_db`` of the loudest band."""
    from scipy.signal import welch

    if len(y) < 1024 or not np.any(y):
        return 0.0
    f, p = welch(y, rate, nperseg=1024)
    ok = np.flatnonzero(10 * np.log10(p + 1e-20) >= 10 * np.log10(p.max() + 1e-20) - floor_db)
    return float(f[ok[-1]]) if len(ok) else 0.0


class AVCodecBase(Codec):
    ENCODER: ClassVar[str]
    DECODER: ClassVar[str]
    SAMPLE_FORMAT: ClassVar[str] = "fltp"
    FRAME: ClassVar[int]  # samples per frame (informational; the encoder says)
    CODER_DELAY: ClassVar[int]
    POINTS: ClassVar[tuple[float, ...]]
    options = {"rate": "auto", "module": "av"}

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        if importlib.util.find_spec(str(o["module"])) is None:
            return False, f"{cls.name}: Python module {o['module']} not found: {HINT}"
        return True, "ok"

    def _av(self):
        ok, why = self.availability(opts=self.opts)
        if not ok:
            raise CodecUnavailable(why)
        import av

        return av

    @property
    def sample_rate(self) -> int:
        return RATE

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=self.POINTS)

    def operating_points(self) -> tuple[float, ...]:
        return self.POINTS

    @property
    def delay_samples(self) -> int:
        return 0  # decode() removes CODER_DELAY at the coded rate

    def coded_rate(self, kbps: float) -> int:
        return auto_rate(kbps) if str(self.opts["rate"]) == "auto" else int(self.opts["rate"])

    def allowed(self, rate: int) -> tuple[float, ...]:
        return self.POINTS

    def version(self) -> str:
        av = self._av()
        lav = av.library_versions.get("libavcodec", ())
        return f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, lav))}"

    def settings(self) -> dict[str, Any]:
        # latency depends on the coded rate, so it is given per operating point (and per row in info)
        return {**self.opts, "encoder": self.ENCODER, "decoder": self.DECODER, "library": self.version(),
                "latency_ms": {f"{p:g}": self.latency_ms(self.coded_rate(p)) for p in self.operating_points()}}

    def latency_ms(self, rate: int) -> float:
        """One frame of buffering plus the encoder + decoder delay, at the coded rate."""
        return round(1000 * (self.FRAME + self.CODER_DELAY) / rate, 3)

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        if not math.isfinite(kbps):
            raise UnsupportedBitrate(f"{self.name}: {kbps} kbps")
        fixed = str(self.opts["rate"]) != "auto"
        pts = self.allowed(int(self.opts["rate"])) if fixed else self.POINTS
        where = f" at {self.opts['rate']} Hz" if fixed else ""
        if not pts or kbps < pts[0] - EPS or kbps > pts[-1] * ABOVE_TOP + EPS:
            raise UnsupportedBitrate(
                f"{self.name}: {kbps:g} kbps is outside its bitrates{where} "
                f"({', '.join(f'{p:g}' for p in pts) or 'none'} kbps)")
        used = max(p for p in pts if p <= kbps + EPS)
        note = "" if abs(used - kbps) <= EPS else f"{kbps:g} kbps is not a {self.name} bitrate{where}; using the best that fits, {used:g} kbps"
        rate = self.coded_rate(used)
        if rate != RATE:
            note = "; ".join(n for n in (note, f"coded at {rate} Hz") if n)
        return used, note

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        used, _ = self.resolve_kbps(kbps)
        av = self._av()
        rate = self.coded_rate(used)
        x = resample(np.asarray(audio, dtype=np.float32), RATE, rate)
        ctx = av.CodecContext.create(self.ENCODER, "w")
        ctx.sample_rate, ctx.layout, ctx.format = rate, "mono", self.SAMPLE_FORMAT
        ctx.bit_rate = int(round(used * 1000))
        self._configure(ctx)
        ctx.open()
        fs = ctx.frame_size
        n_in = -(-(len(x) + self.CODER_DELAY) // fs) * fs  # the end survives the delay
        pcm = np.pad(x, (0, n_in - len(x))).astype(np.float32)
        packets: list[bytes] = []
        for i in range(0, n_in, fs):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + fs], format=self.SAMPLE_FORMAT, layout="mono")
            frame.sample_rate, frame.pts = rate, i
            packets += [bytes(p) for p in ctx.encode(frame)]
        packets += [bytes(p) for p in ctx.encode(None)]
        extradata = bytes(ctx.extradata or b"")
        enc = Encoded(packets=packets, num_samples=len(packets) * fs, sample_rate=rate, kbps_used=used,
                      info={"coded_rate": rate, "frame_samples": fs, "frames": len(packets),
                            "extradata": extradata.hex(), "input_samples": len(x),
                            "latency_ms": self.latency_ms(rate)})
        y = self._decode_raw(enc)
        enc.info["bandwidth_hz"] = round(audio_bandwidth_hz(y, rate))
        return enc

    def _configure(self, ctx) -> None:
        """Encoder options of a subclass."""

    def _decode_raw(self, encoded: Encoded) -> np.ndarray:
        av = self._av()
        ctx = av.CodecContext.create(self.DECODER, "r")
        ctx.sample_rate, ctx.layout = int(encoded.info["coded_rate"]), "mono"
        if encoded.info.get("extradata"):
            ctx.extradata = bytes.fromhex(encoded.info["extradata"])
        out = []
        for i, p in enumerate(encoded.packets):
            try:
                frames = ctx.decode(av.Packet(bytes(p)))
            except av.error.FFmpegError as e:  # a corrupt packet: a clear codec error
                raise RuntimeError(f"{self.name}: FFmpeg's {self.DECODER} decoder rejected packet {i}: {e}") from e
            for f in frames:
                out.append(f.to_ndarray().astype(np.float32).reshape(-1))
        for f in ctx.decode(None):
            out.append(f.to_ndarray().astype(np.float32).reshape(-1))
        y = np.concatenate(out) if out else np.zeros(0, np.float32)
        if y.dtype != np.float32 or (len(y) and np.abs(y).max() > 4):  # integer sample formats
            y = y / 32768.0
        return y.astype(np.float32)

    def decode(self, encoded: Encoded) -> np.ndarray:
        rate = int(encoded.info["coded_rate"])
        y = remove_delay(self._decode_raw(encoded), float(self.CODER_DELAY))
        return resample(y, rate, RATE)
