"""MP3 (MPEG-1/2 Layer III) with LAME (libmp3lame in PyAV's FFmpeg), CBR; decoded with FFmpeg's
mp3 decoder. Shared machinery (coded rate, packets, bandwidth, delay) in ``avcodec.py``.

Bitrates per coded rate (ISO 11172-3 / 13818-3): MPEG-1 (32-48 kHz) 32-320 kbps, MPEG-2
(16-24 kHz) 8-160 kbps, MPEG-2.5 (8-12 kHz) 8-64 kbps. Each MP3 frame of 1152 (MPEG-1) or 576
samples carries its 4-byte header; CBR frames carry exactly the rate's bits (with LAME's padding
slots), so measured kbps equals the bitrate.
"""
from __future__ import annotations

from .avcodec import AVCodecBase

MPEG1 = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MPEG2 = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
MPEG25 = (8, 16, 24, 32, 40, 48, 56, 64)


class MP3Codec(AVCodecBase):
    name = "mp3"
    description = "MP3 (LAME 3.100 via PyAV/libmp3lame), CBR 16-128 kbps, coded rate recorded"
    ENCODER, DECODER, SAMPLE_FORMAT = "libmp3lame", "mp3float", "fltp"
    FRAME = 1152  # MPEG-1; MPEG-2/2.5 frames are 576 (latency is quoted for the larger)
    CODER_DELAY = 1105  # LAME's 576-sample encoder delay + the decoder's 529 (measured)
    POINTS = (16.0, 24.0, 32.0, 40.0, 48.0, 56.0, 64.0, 80.0, 96.0, 112.0, 128.0)

    def allowed(self, rate: int) -> tuple[float, ...]:
        table = MPEG1 if rate >= 32000 else MPEG2 if rate >= 16000 else MPEG25
        return tuple(float(b) for b in table if b in self.POINTS)

    def _configure(self, ctx) -> None:
        ctx.options = {"reservoir": "1"}
