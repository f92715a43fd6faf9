"""AAC-LC with FFmpeg's native AAC encoder (PyAV's libavcodec; libfdk-aac is in neither Debian
nor PyAV), decoded with FFmpeg's AAC decoder. The encoder's rate control is average-bitrate, so
measured kbps is within a few percent of the target (tests hold +-10%). Shared machinery in
``avcodec.py``; 1024-sample frames, 1024 samples of encoder priming removed in ``decode``.
"""
from __future__ import annotations

from .avcodec import AVCodecBase


class AACCodec(AVCodecBase):
    name = "aac"
    description = "AAC-LC (FFmpeg's native encoder via PyAV), 16-128 kbps, coded rate recorded"
    ENCODER, DECODER, SAMPLE_FORMAT = "aac", "aac", "fltp"
    FRAME, CODER_DELAY = 1024, 1024
    POINTS = (16.0, 24.0, 32.0, 40.0, 48.0, 56.0, 64.0, 80.0, 96.0, 112.0, 128.0)

    def _configure(self, ctx) -> None:
        ctx.profile = "LC"
