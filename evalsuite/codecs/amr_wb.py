"""AMR-WB (ITU-T G.722.2 / 3GPP TS 26.171/26.190, 16 kHz, 6.6-23.85 kbps): encoder
vo-amrwbenc (Debian ``libvo-amrwbenc0``), decoder opencore-amrwb (``libopencore-amrwb0``);
the frame loop is in ``amr.py``."""
from __future__ import annotations

import ctypes

import numpy as np

from .amr import AMRBase


class AMRWBCodec(AMRBase):
    name = "amr_wb"
    description = "AMR-WB / G.722.2 (vo-amrwbenc + opencore-amrwb), 16 kHz, 9 modes 6.6-23.85 kbps, 20 ms frames"
    options = {"dtx": False, "encoder_lib": "libvo-amrwbenc.so.0", "decoder_lib": "libopencore-amrwb.so.0"}

    RATE = 16000
    MODES_KBPS = (6.6, 8.85, 12.65, 14.25, 15.85, 18.25, 19.85, 23.05, 23.85)
    # TS 26.201 Table 2: bits per 20 ms frame of each mode; FT 9 = SID (40 bits)
    MODE_BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477)
    SID_FT, SID_BITS = 9, 40
    # lag of decoded speech at 48 kHz per mode (5.9375 ms = 285 in theory, less the
    # high-pass filter's phase); measured, see docs/codecs.md
    DELAY_48K = (283, 283, 284, 284, 284, 284, 284, 284, 284)
    LATENCY_MS = 25.9375  # 20 ms frame + 5 ms lookahead + 0.9375 ms resampling (G.722.2)
    BANDWIDTH = "WB (50-7000 Hz; 6.4-7 kHz band parametric below 23.85)"
    ENC_SYMBOLS = ("E_IF_init", "E_IF_encode", "E_IF_exit")
    DEC_SYMBOLS = ("D_IF_init", "D_IF_decode", "D_IF_exit")
    ENC_HINT = "apt-get install libvo-amrwbenc0 (VisualOn AMR-WB encoder)"
    DEC_HINT = "apt-get install libopencore-amrwb0 (opencore-amr's AMR-WB decoder)"

    def _declare(self, enc: ctypes.CDLL, dec: ctypes.CDLL) -> None:
        enc.E_IF_init.restype = ctypes.c_void_p
        enc.E_IF_encode.restype = ctypes.c_int
        enc.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        enc.E_IF_exit.argtypes = [ctypes.c_void_p]
        dec.D_IF_init.restype = ctypes.c_void_p
        dec.D_IF_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        dec.D_IF_exit.argtypes = [ctypes.c_void_p]

    def _encode_frames(self, pcm: np.ndarray, mode: int, dtx: bool) -> list[bytes]:
        enc, _ = self.libs()
        fs = self.frame_size
        state = enc.E_IF_init()
        if not state:
            raise RuntimeError("amr_wb: E_IF_init failed")
        out = (ctypes.c_ubyte * 64)()
        packets = []
        try:
            for i in range(len(pcm) // fs):
                frame = np.ascontiguousarray(pcm[i * fs:(i + 1) * fs], dtype=np.int16)
                n = enc.E_IF_encode(state, mode, frame.ctypes.data, out, int(dtx))
                if n <= 0:
                    raise RuntimeError(f"amr_wb: E_IF_encode returned {n} at frame {i}")
                packets.append(bytes(out[:n]))
        finally:
            enc.E_IF_exit(state)
        return packets

    def _decode_frames(self, packets: list[bytes]) -> np.ndarray:
        _, dec = self.libs()
        fs = self.frame_size
        state = dec.D_IF_init()
        if not state:
            raise RuntimeError("amr_wb: D_IF_init failed")
        out = np.zeros(len(packets) * fs, np.int16)
        try:
            for i, p in enumerate(packets):
                self._check_packet(p)
                buf = (ctypes.c_ubyte * len(p)).from_buffer_copy(p)
                dec.D_IF_decode(state, buf, out[i * fs:].ctypes.data, 0)
        finally:
            dec.D_IF_exit(state)
        return out
