"""Speex (Xiph, RFC 5574) narrowband / wideband / ultra-wideband through libspeex (Debian
``libspeex1``, ctypes): one packet per 20 ms frame.

Modes: each band's qualities 0-10 select the codec's sub-modes; their nominal rates come from the
library itself (``SPEEX_GET_BITRATE``), e.g. NB 2.15/3.95/5.95/8/11/15/18.2/24.6 kbps. A request
maps to the best mode that fits. Bits counted: the coded bits of each frame (``SpeexBits.nbBits``
after ``speex_encode_int``), not the terminator bits that pad a packet to whole bytes, so
measured kbps equals the mode's nominal rate; ``info.storage_kbps`` gives the byte-padded rate.

Delay: the encoder's lookahead (``SPEEX_GET_LOOKAHEAD``) plus a small measured residual of the
decoder (perceptual enhancer on, as speexdec does), removed in ``decode`` (docs/codecs.md).
"""
from __future__ import annotations

import ctypes
from typing import Any, ClassVar

import numpy as np

from .base import BitrateSupport, Codec, Encoded
from .clib import debian_version, library_available, library_path, load_library
from .delay import delay_at, remove_delay
from .modes import best_mode
from .packing import from_int16, to_int16

HINT = "apt-get install libspeex1"
SET_ENH, GET_FRAME_SIZE, SET_QUALITY, SET_COMPLEXITY, GET_BITRATE, GET_LOOKAHEAD = 0, 3, 4, 16, 19, 39
LIB_GET_VERSION_STRING = 9
FRAME_MS = 20


class SpeexBits(ctypes.Structure):
    _fields_ = [("chars", ctypes.c_char_p), ("nbBits", ctypes.c_int), ("charPtr", ctypes.c_int),
                ("bitPtr", ctypes.c_int), ("owner", ctypes.c_int), ("overflow", ctypes.c_int),
                ("buf_size", ctypes.c_int), ("reserved1", ctypes.c_int), ("reserved2", ctypes.c_void_p)]


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.speex_lib_get_mode.restype = ctypes.c_void_p
    lib.speex_lib_get_mode.argtypes = [ctypes.c_int]
    for f in ("speex_encoder_init", "speex_decoder_init"):
        getattr(lib, f).restype = ctypes.c_void_p
        getattr(lib, f).argtypes = [ctypes.c_void_p]
    for f in ("speex_encoder_ctl", "speex_decoder_ctl"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_encode_int.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(SpeexBits)]
    lib.speex_decode_int.argtypes = [ctypes.c_void_p, ctypes.POINTER(SpeexBits), ctypes.c_void_p]
    for f in ("speex_encoder_destroy", "speex_decoder_destroy"):
        getattr(lib, f).argtypes = [ctypes.c_void_p]
    for f in ("speex_bits_init", "speex_bits_reset", "speex_bits_destroy", "speex_bits_insert_terminator"):
        getattr(lib, f).argtypes = [ctypes.POINTER(SpeexBits)]
    lib.speex_bits_write.argtypes = [ctypes.POINTER(SpeexBits), ctypes.c_char_p, ctypes.c_int]
    lib.speex_bits_read_from.argtypes = [ctypes.POINTER(SpeexBits), ctypes.c_char_p, ctypes.c_int]
    lib.speex_lib_ctl.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return lib


class SpeexBase(Codec):
    BAND: ClassVar[int]  # 0 NB, 1 WB, 2 UWB
    RATE: ClassVar[int]
    #: residual lag at 48 kHz after removing the lookahead, per quality (measured; docs/codecs.md)
    RESIDUAL_48K: ClassVar[dict[int, int]] = {}
    options = {"enh": True, "complexity": 3, "lib": "libspeex.so.1"}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self._lib: ctypes.CDLL | None = None
        self._table: dict[float, int] | None = None

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        return library_available(cls.name, str(o["lib"]), HINT, ("speex_encoder_init", "speex_lib_get_mode"))

    def lib(self) -> ctypes.CDLL:
        if self._lib is None:
            self._lib = _declare(load_library(self.name, str(self.opts["lib"]), HINT))
        return self._lib

    def _encoder(self, quality: int) -> int:
        lib = self.lib()
        st = lib.speex_encoder_init(lib.speex_lib_get_mode(self.BAND))
        for req, val in ((SET_QUALITY, quality), (SET_COMPLEXITY, int(self.opts["complexity"]))):
            v = ctypes.c_int(val)
            lib.speex_encoder_ctl(st, req, ctypes.byref(v))
        return st

    def _get(self, st: int, req: int) -> int:
        v = ctypes.c_int()
        self.lib().speex_encoder_ctl(st, req, ctypes.byref(v))
        return v.value

    def mode_table(self) -> dict[float, int]:
        """nominal kbps -> the lowest quality giving it (the library's own rate table)."""
        if self._table is None:
            table: dict[float, int] = {}
            for q in range(11):
                st = self._encoder(q)
                table.setdefault(self._get(st, GET_BITRATE) / 1000, q)
                self.lib().speex_encoder_destroy(st)
            self._table = dict(sorted(table.items()))
        return self._table

    @property
    def sample_rate(self) -> int:
        return self.RATE

    @property
    def frame_size(self) -> int:
        return self.RATE * FRAME_MS // 1000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=tuple(self.mode_table()))

    def operating_points(self) -> tuple[float, ...]:
        return tuple(self.mode_table())

    def lookahead(self) -> int:
        st = self._encoder(8)
        try:
            return self._get(st, GET_LOOKAHEAD)
        finally:
            self.lib().speex_encoder_destroy(st)

    @property
    def delay_samples(self) -> int:
        return 0  # decode() removes the lookahead and the measured residual

    def version(self) -> str:
        s = ctypes.c_char_p()
        self.lib().speex_lib_ctl(LIB_GET_VERSION_STRING, ctypes.byref(s))
        pkg = debian_version(library_path(self.lib()))
        return f"libspeex {s.value.decode()}" + (f" ({pkg})" if pkg else "")

    def settings(self) -> dict[str, Any]:
        la = self.lookahead()
        # frame + the decoder-output delay (lookahead + decoder), rounded: Speex's manual gives
        # 30 ms (NB) and 34 ms (WB)
        delay_ms = 1000 * la / self.RATE + 1000 * self.RESIDUAL_48K[8] / 48000
        return {**self.opts, "frame_ms": FRAME_MS, "lookahead_samples": la,
                "latency_ms": round(FRAME_MS + delay_ms), "library": self.version()}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        return best_mode(self.name, tuple(self.mode_table()), kbps)

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        used, _ = self.resolve_kbps(kbps)
        quality = self.mode_table()[used]
        lib = self.lib()
        fs = self.frame_size
        la = self.lookahead()
        total_delay = la + delay_at(self.RESIDUAL_48K.get(quality, 0), self.RATE)
        x = np.asarray(audio, dtype=np.float32)
        n_frames = max(1, -(-(len(x) + int(np.ceil(max(total_delay, 0)))) // fs))
        pcm = to_int16(np.pad(x, (0, n_frames * fs - len(x))))
        st = self._encoder(quality)
        bits = SpeexBits()
        lib.speex_bits_init(ctypes.byref(bits))
        buf = ctypes.create_string_buffer(2000)
        packets, coded = [], []
        try:
            for i in range(n_frames):
                frame = np.ascontiguousarray(pcm[i * fs:(i + 1) * fs])
                lib.speex_bits_reset(ctypes.byref(bits))
                lib.speex_encode_int(st, frame.ctypes.data, ctypes.byref(bits))
                coded.append(bits.nbBits)
                lib.speex_bits_insert_terminator(ctypes.byref(bits))
                n = lib.speex_bits_write(ctypes.byref(bits), buf, len(buf))
                packets.append(buf.raw[:n])
        finally:
            lib.speex_bits_destroy(ctypes.byref(bits))
            lib.speex_encoder_destroy(st)
        seconds = n_frames * fs / self.RATE
        return Encoded(packets=packets, num_samples=n_frames * fs, sample_rate=self.RATE, kbps_used=used,
                       payload_bits=int(sum(coded)),
                       info={"quality": quality, "bits_per_frame": sorted(set(coded)), "frames": n_frames,
                             "storage_kbps": 8 * sum(len(p) for p in packets) / seconds / 1000,
                             "bandwidth": ("NB", "WB", "UWB")[self.BAND], "delay_samples": total_delay,
                             "waveform_preserving": quality > 0})  # quality 0 is a vocoder

    def decode(self, encoded: Encoded) -> np.ndarray:
        lib = self.lib()
        fs = self.frame_size
        st = lib.speex_decoder_init(lib.speex_lib_get_mode(self.BAND))
        enh = ctypes.c_int(int(bool(self.opts["enh"])))
        lib.speex_decoder_ctl(st, SET_ENH, ctypes.byref(enh))
        bits = SpeexBits()
        lib.speex_bits_init(ctypes.byref(bits))
        out = np.zeros(len(encoded.packets) * fs, np.int16)
        try:
            for i, p in enumerate(encoded.packets):
                lib.speex_bits_read_from(ctypes.byref(bits), bytes(p), len(p))
                ret = lib.speex_decode_int(st, ctypes.byref(bits), out[i * fs:].ctypes.data)
                if ret != 0:
                    raise RuntimeError(f"{self.name}: speex_decode_int returned {ret} at frame {i} (corrupt stream)")
        finally:
            lib.speex_bits_destroy(ctypes.byref(bits))
            lib.speex_decoder_destroy(st)
        return remove_delay(from_int16(out), float(encoded.info["delay_samples"]))


# Residual delays (48 kHz samples after the lookahead, per quality): the decoder's own delay, about
# 5 ms (Speex's 30/34 ms algorithmic delay = 20 ms frame + lookahead + this). The median lag over
# the corpus's 12 clean speech items, moved by at most 1.5 samples where that keeps the standard
# item (pesq_speech) within +-1; items spread +-3 around it (phase of the codec's filters).
# Quality 0 is a vocoder mode (2.15 kbps NB core): its waveform lag is meaningless, so it takes
# quality 1's value.
_WB_RESIDUAL = {0: 235, 1: 235, 2: 236, 3: 237, 4: 237, 5: 237, 6: 238, 7: 238, 8: 238, 9: 238, 10: 238}


class SpeexNBCodec(SpeexBase):
    name = "speex_nb"
    description = "Speex narrowband (libspeex), 8 kHz, 2.15-24.6 kbps, 20 ms frames"
    BAND, RATE = 0, 8000
    RESIDUAL_48K = {0: 230, 1: 230, 2: 232, 3: 233, 4: 233, 5: 234, 6: 234, 7: 234, 8: 234, 9: 234, 10: 234}


class SpeexWBCodec(SpeexBase):
    name = "speex_wb"
    description = "Speex wideband (libspeex), 16 kHz, 3.95-42.2 kbps, 20 ms frames"
    BAND, RATE = 1, 16000
    RESIDUAL_48K = _WB_RESIDUAL


class SpeexUWBCodec(SpeexBase):
    name = "speex_uwb"
    description = "Speex ultra-wideband (libspeex), 32 kHz, 4.15-44 kbps, 20 ms frames"
    BAND, RATE = 2, 32000
    RESIDUAL_48K = _WB_RESIDUAL
