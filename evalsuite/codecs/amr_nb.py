"""AMR-NB (3GPP TS 26.071/26.090, 8 kHz, 4.75-12.2 kbps) through opencore-amrnb (Debian
``libopencore-amrnb0``): the adapter and its tables; the frame loop is in ``amr.py``."""
from __future__ import annotations

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
    DTX_AT_INIT = True
    ENC_HINT = DEC_HINT = HINT
