"""AMR-NB (3GPP TS 26.071/26.090, 8 kHz, 4.75-12.2 kbps) through opencore-amrnb (Debian
``libopencore-amrnb0``): the adapter and its tables; the frame loop is in ``amr.py``."""
from __future__ import annotations

import ctypes

import numpy as np

from .amr import AMRBase

HINT = "apt-get install libopencore-amrnb0 (opencore-amr's AMR-NB encoder and decoder)"


class AMRNBCodec(AMRBase):
    name = "amr_nb"
    description = "AMR-NB (3GPP, opencore-amrnb), 8 kHz, 8 modes 4.75-12.2 kbps, 20 ms frames"
    options = {"dtx": False, "encoder_lib": "libopencore-amrnb.so.0", "decoder_lib": "libopencore-amrnb.so.0"}

    RATE = 8000
    MODES_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)
    # TS 26.101 Table 1a: class A+B+C bits per 20 ms frame of each mode; FT 8 = SID (39 bits)
    MODE_BITS = (95, 103, 118, 134, 148, 159, 204, 244)
    SID_FT, SID_BITS = 8, 39
    # lag of decoded speech at 48 kHz per mode (5 ms lookahead = 240, pulled earlier by the
    # 80 Hz high-pass filter's phase); measured, see docs/codecs.md
    DELAY_48K = (235, 235, 235, 235, 235, 235, 235, 235)
    LATENCY_MS = 25.0  # 20 ms frame + 5 ms lookahead (TS 26.090)
    BANDWIDTH = "NB (300-3400 Hz)"
    ENC_SYMBOLS = ("Encoder_Interface_init", "Encoder_Interface_Encode", "Encoder_Interface_exit")
    DEC_SYMBOLS = ("Decoder_Interface_init", "Decoder_Interface_Decode", "Decoder_Interface_exit")
    ENC_HINT = DEC_HINT = HINT

    def _declare(self, enc: ctypes.CDLL, dec: ctypes.CDLL) -> None:
        enc.Encoder_Interface_init.restype = ctypes.c_void_p
        enc.Encoder_Interface_init.argtypes = [ctypes.c_int]
        enc.Encoder_Interface_Encode.restype = ctypes.c_int
        enc.Encoder_Interface_Encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        enc.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
        dec.Decoder_Interface_init.restype = ctypes.c_void_p
        dec.Decoder_Interface_Decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        dec.Decoder_Interface_exit.argtypes = [ctypes.c_void_p]

    def _encode_frames(self, pcm: np.ndarray, mode: int, dtx: bool) -> list[bytes]:
        enc, _ = self.libs()
        fs = self.frame_size
        state = enc.Encoder_Interface_init(int(dtx))
        if not state:
            raise RuntimeError("amr_nb: Encoder_Interface_init failed")
        out = (ctypes.c_ubyte * 64)()
        packets = []
        try:
            for i in range(len(pcm) // fs):
                frame = np.ascontiguousarray(pcm[i * fs:(i + 1) * fs], dtype=np.int16)
                n = enc.Encoder_Interface_Encode(state, mode, frame.ctypes.data, out, 0)
                if n <= 0:
                    raise RuntimeError(f"amr_nb: Encoder_Interface_Encode returned {n} at frame {i}")
                packets.append(bytes(out[:n]))
        finally:
            enc.Encoder_Interface_exit(state)
        return packets

    def _decode_frames(self, packets: list[bytes]) -> np.ndarray:
        _, dec = self.libs()
        fs = self.frame_size
        state = dec.Decoder_Interface_init()
        if not state:
            raise RuntimeError("amr_nb: Decoder_Interface_init failed")
        out = np.zeros(len(packets) * fs, np.int16)
        try:
            for i, p in enumerate(packets):
                self._check_packet(p)
                buf = (ctypes.c_ubyte * len(p)).from_buffer_copy(p)
                dec.Decoder_Interface_Decode(state, buf, out[i * fs:].ctypes.data, 0)
        finally:
            dec.Decoder_Interface_exit(state)
        return out
