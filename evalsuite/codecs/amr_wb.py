"""AMR-WB (ITU-T G.722.2 / 3GPP TS 26.171/26.190, 16 kHz, 6.6-23.85 kbps): encoder
vo-amrwbenc (Debian ``libvo-amrwbenc0``), decoder opencore-amrwb (``libopencore-amrwb0``);
the frame loop is in ``amr.py``."""
from __future__ import annotations

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
    DTX_AT_INIT = False
    ENC_HINT = "apt-get install libvo-amrwbenc0 (VisualOn AMR-WB encoder)"
    DEC_HINT = "apt-get install libopencore-amrwb0 (opencore-amr's AMR-WB decoder)"
