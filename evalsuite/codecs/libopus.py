"""A minimal ctypes binding of libopus's C API, for any libopus file: Debian's (``system``), the
private Debian trixie 1.5 copy with the ML decoder (``1.5``, see private_libs), the copy bundled
in PyAV's wheel (``pyav``), or a path. One encoder/decoder object per use; no global state.

The decoder features are probed, not assumed: OSCE (LACE/NoLACE, Opus 1.5) is present when a
SILK wideband stream decodes differently at decoder complexity 7 than at 5; deep PLC when a
lost packet is concealed differently at complexity 5 than at 0.
"""
from __future__ import annotations

import ctypes
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import CodecUnavailable
from .clib import load_library
from .private_libs import fetch_command, lib_file

OPUS_OK = 0
APPLICATIONS = {"voip": 2048, "audio": 2049, "restricted_lowdelay": 2051}
SET_APPLICATION, SET_BITRATE, SET_VBR, SET_COMPLEXITY = 4000, 4002, 4006, 4010
GET_LOOKAHEAD = 4027
MAX_PACKET = 1500


def pyav_libopus() -> Path | None:
    spec = importlib.util.find_spec("av")
    if spec is None or not spec.origin:
        return None
    libs = sorted((Path(spec.origin).parent.parent / "av.libs").glob("libopus*.so*"))
    return libs[0] if libs else None


def resolve_lib(lib: str) -> str:
    """A file or soname for option ``lib``; CodecUnavailable saying how to get it."""
    if lib == "system":
        return "libopus.so.0"
    if lib == "1.5":
        p = lib_file("opus-1.5")
        if p is None:
            raise CodecUnavailable(
                f"opus: libopus 1.5 (Debian trixie libopus0, built with LACE/NoLACE and deep PLC) is not "
                f"fetched; run `{fetch_command('opus-1.5')}` (scripts/setup.sh does)")
        return str(p)
    if lib == "pyav":
        p = pyav_libopus()
        if p is None:
            raise CodecUnavailable("opus: lib=pyav needs PyAV's bundled libopus: pip install av")
        return str(p)
    return lib  # a path or soname given by the user


def load(lib: str) -> ctypes.CDLL:
    name = resolve_lib(lib)
    dll = load_library("opus", name, "apt-get install libopus0 (lib=system), or opus.lib=1.5 / pyav / a path")
    if not hasattr(dll, "opus_encoder_create"):
        raise CodecUnavailable(f"opus: {name} is not libopus (no opus_encoder_create)")
    dll.opus_get_version_string.restype = ctypes.c_char_p
    dll.opus_strerror.restype = ctypes.c_char_p
    dll.opus_encoder_create.restype = ctypes.c_void_p
    dll.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    dll.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int32]
    dll.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    dll.opus_decoder_create.restype = ctypes.c_void_p
    dll.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    dll.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    dll.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return dll


def version(dll: ctypes.CDLL) -> str:
    return dll.opus_get_version_string().decode()


def _check(dll: ctypes.CDLL, ret: int, what: str) -> int:
    if ret < 0:
        raise RuntimeError(f"opus: {what}: {dll.opus_strerror(ret).decode()}")
    return ret


class Encoder:
    def __init__(self, dll: ctypes.CDLL, rate: int, application: str, bps: int, vbr: bool, complexity: int) -> None:
        self.dll = dll
        err = ctypes.c_int()
        self.st = dll.opus_encoder_create(rate, 1, APPLICATIONS[application], ctypes.byref(err))
        _check(dll, err.value, "opus_encoder_create")
        for req, val in ((SET_BITRATE, bps), (SET_VBR, int(vbr)), (SET_COMPLEXITY, complexity)):
            _check(dll, dll.opus_encoder_ctl(ctypes.c_void_p(self.st), req, ctypes.c_int32(val)), f"encoder ctl {req}={val}")

    def lookahead(self) -> int:
        v = ctypes.c_int32()
        _check(self.dll, self.dll.opus_encoder_ctl(ctypes.c_void_p(self.st), GET_LOOKAHEAD, ctypes.byref(v)), "OPUS_GET_LOOKAHEAD")
        return v.value

    def encode(self, pcm: np.ndarray) -> bytes:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        buf = (ctypes.c_ubyte * MAX_PACKET)()
        n = _check(self.dll, self.dll.opus_encode(self.st, pcm.ctypes.data, len(pcm), buf, MAX_PACKET), "opus_encode")
        return bytes(buf[:n])

    def __del__(self) -> None:
        if getattr(self, "st", None):
            self.dll.opus_encoder_destroy(self.st)


class Decoder:
    def __init__(self, dll: ctypes.CDLL, rate: int, complexity: int = 0) -> None:
        self.dll, self.rate = dll, rate
        err = ctypes.c_int()
        self.st = dll.opus_decoder_create(rate, 1, ctypes.byref(err))
        _check(dll, err.value, "opus_decoder_create")
        if complexity:
            ret = dll.opus_decoder_ctl(ctypes.c_void_p(self.st), SET_COMPLEXITY, ctypes.c_int32(complexity))
            if ret != OPUS_OK:
                raise CodecUnavailable(
                    f"opus: {version(dll)} has no decoder complexity ({dll.opus_strerror(ret).decode()}); "
                    f"it needs libopus >= 1.5: use opus.lib=1.5 (`{fetch_command('opus-1.5')}`)")

    def decode(self, packet: bytes | None, frame_size: int) -> np.ndarray:
        out = np.zeros(frame_size, np.int16)
        if packet is None:  # a lost packet: packet loss concealment
            n = self.dll.opus_decode(self.st, None, 0, out.ctypes.data, frame_size, 0)
        else:
            buf = (ctypes.c_ubyte * len(packet)).from_buffer_copy(packet)
            n = self.dll.opus_decode(self.st, buf, len(packet), out.ctypes.data, frame_size, 0)
        return out[:_check(self.dll, n, "opus_decode")]

    def __del__(self) -> None:
        if getattr(self, "st", None):
            self.dll.opus_decoder_destroy(self.st)


@dataclass(frozen=True)
class DecoderFeatures:
    complexity_ctl: bool  # OPUS_SET_COMPLEXITY on the decoder (1.5+)
    osce: bool  # LACE (complexity 6) / NoLACE (7) speech enhancement
    deep_plc: bool  # neural packet loss concealment (complexity >= 5)

    def describe(self) -> str:
        if not self.complexity_ctl:
            return "classic decoder only (no decoder complexity: libopus < 1.5)"
        parts = ["OSCE LACE/NoLACE (decoder complexity 6/7)" if self.osce else "no OSCE (LACE/NoLACE not built)",
                 "deep PLC" if self.deep_plc else "no deep PLC"]
        return ", ".join(parts)


def probe_features(dll: ctypes.CDLL) -> DecoderFeatures:
    """Decode a short SILK-WB stream of a synthetic voiced signal at several decoder
    complexities and compare (milliseconds of work)."""
    rate, fs = 16000, 320
    t = np.arange(rate // 2) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    x = sum(np.sin(2 * np.pi * np.cumsum(f0 * k) / rate) / k for k in range(1, 30)) * 0.1
    pcm = np.clip(x * 32767, -32768, 32767).astype(np.int16)
    enc = Encoder(dll, rate, "voip", 12000, True, 10)
    packets = [enc.encode(pcm[i:i + fs]) for i in range(0, len(pcm) - fs + 1, fs)]
    try:
        Decoder(dll, rate, 5)
    except CodecUnavailable:
        return DecoderFeatures(False, False, False)

    def run(cx: int, lose: int | None = None) -> np.ndarray:
        d = Decoder(dll, rate, cx)
        return np.concatenate([d.decode(None if i == lose else p, fs) for i, p in enumerate(packets)])

    osce = not np.array_equal(run(5), run(7))
    lost = len(packets) // 2
    plc = not np.array_equal(run(0, lost)[lost * fs:(lost + 1) * fs], run(5, lost)[lost * fs:(lost + 1) * fs])
    return DecoderFeatures(True, osce, plc)
