"""AMR-NB and AMR-WB through their C libraries (ctypes), frame by frame, in the RFC 4867 §5
storage format: every 20 ms frame is one packet holding a 1-byte frame header (the frame type FT
of 3GPP TS 26.101 / 26.201) and the frame's bits padded to whole bytes.

Bits counted (``payload_bits``): the codec bits of each frame from the frame-type table of
RFC 4867 §3.6 / TS 26.101 Table 1a / TS 26.201 Table 2 (e.g. 477 bits for AMR-WB 23.85), not
the header byte or the padding, so a speech frame costs exactly the mode's rate. With DTX, SID
frames count their comfort-noise bits (39 NB / 40 WB) and NO_DATA frames 0. ``info`` also
gives ``storage_kbps`` (with header and padding).

Delay: the decoded output lags the input by the codec's lookahead (5 ms; AMR-WB 5.9375 ms with
its 12.8 kHz resampling). Phase of the codec's high-pass and post-filters moves the lag measured
on speech by a few 48 kHz samples per item; each mode's ``DELAY_48K`` is the lag measured on the
shared corpus's 12 clean speech items (docs/codecs.md), removed in ``decode`` with sub-sample
precision (``delay.remove_delay``).
"""
from __future__ import annotations

import ctypes
from collections import Counter
from typing import Any, ClassVar

import numpy as np

from .base import BitrateSupport, Codec, Encoded
from .clib import debian_version, library_available, library_path, load_library
from .delay import delay_at, remove_delay
from .modes import best_mode
from .packing import from_int16, to_int16

FRAME_MS = 20


class AMRBase(Codec):
    """The frame loop; subclasses give the tables and the C entry points' names."""

    RATE: ClassVar[int]
    MODES_KBPS: ClassVar[tuple[float, ...]]  # frame type i = mode i
    MODE_BITS: ClassVar[tuple[int, ...]]
    SID_FT: ClassVar[int]
    SID_BITS: ClassVar[int]
    NO_DATA_FT: ClassVar[int] = 15
    DELAY_48K: ClassVar[tuple[int, ...]]
    LATENCY_MS: ClassVar[float]
    BANDWIDTH: ClassVar[str]
    ENC_SYMBOLS: ClassVar[tuple[str, str, str]]  # init, encode one frame, exit
    DEC_SYMBOLS: ClassVar[tuple[str, str, str]]
    DTX_AT_INIT: ClassVar[bool]
    ENC_HINT: ClassVar[str]
    DEC_HINT: ClassVar[str]
    options: ClassVar[dict[str, Any]]

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self._libs: tuple[ctypes.CDLL, ctypes.CDLL] | None = None

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        o = {**cls.options, **(opts or {})}
        for lib, syms, hint in ((o["encoder_lib"], cls.ENC_SYMBOLS, cls.ENC_HINT),
                                (o["decoder_lib"], cls.DEC_SYMBOLS, cls.DEC_HINT)):
            ok, why = library_available(cls.name, str(lib), hint, syms)
            if not ok:
                return ok, why
        return True, "ok"

    def libs(self) -> tuple[ctypes.CDLL, ctypes.CDLL]:
        if self._libs is None:
            enc = load_library(self.name, str(self.opts["encoder_lib"]), self.ENC_HINT)
            dec = load_library(self.name, str(self.opts["decoder_lib"]), self.DEC_HINT)
            self._declare(enc, dec)
            self._libs = (enc, dec)
        return self._libs

    # --- description ----------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.RATE

    @property
    def frame_size(self) -> int:
        return self.RATE * FRAME_MS // 1000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=self.MODES_KBPS)

    def operating_points(self) -> tuple[float, ...]:
        return self.MODES_KBPS

    @property
    def delay_samples(self) -> int:
        return 0  # decode() removes each mode's measured delay (DELAY_48K)

    def version(self) -> str:
        enc, dec = self.libs()
        vs = []
        for lib in (enc, dec):
            path = library_path(lib)
            vs.append(debian_version(path) or path)
        return " / ".join(dict.fromkeys(vs))

    def settings(self) -> dict[str, Any]:
        return {**self.opts, "frame_ms": FRAME_MS, "latency_ms": self.LATENCY_MS,
                "storage": "RFC 4867 section 5 frames (1-byte header + padded bits)",
                "libraries": self.version()}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        return best_mode(self.name, self.MODES_KBPS, kbps)

    def mode_index(self, kbps: float) -> int:
        used, _ = self.resolve_kbps(kbps)
        return self.MODES_KBPS.index(used)

    def frame_bits(self, ft: int) -> int:
        if ft < len(self.MODE_BITS):
            return self.MODE_BITS[ft]
        if ft == self.SID_FT:
            return self.SID_BITS
        if ft == self.NO_DATA_FT:
            return 0
        raise RuntimeError(f"{self.name}: the encoder wrote frame type {ft}, which this adapter does not count")

    # --- the work -------------------------------------------------------------------------
    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        mode = self.mode_index(kbps)
        fs = self.frame_size
        x = np.asarray(audio, dtype=np.float32)
        delay = delay_at(self.DELAY_48K[mode], self.RATE)
        n_frames = max(1, -(-(len(x) + int(np.ceil(delay))) // fs))  # the end survives the delay
        pcm = to_int16(np.pad(x, (0, n_frames * fs - len(x))))
        packets = self._encode_frames(pcm, mode, bool(self.opts["dtx"]))
        fts = [(p[0] >> 3) & 0x0F for p in packets]
        counts = Counter("speech" if ft < len(self.MODE_BITS) else "sid" if ft == self.SID_FT
                         else "no_data" if ft == self.NO_DATA_FT else str(ft) for ft in fts)
        speech_modes = {ft for ft in fts if ft < len(self.MODE_BITS)}
        if speech_modes - {mode}:
            raise RuntimeError(f"{self.name}: asked for mode {mode}, the encoder wrote frame types {sorted(speech_modes)}")
        bits = sum(self.frame_bits(ft) for ft in fts)
        seconds = n_frames * fs / self.RATE
        return Encoded(
            packets=packets, num_samples=n_frames * fs, sample_rate=self.RATE,
            kbps_used=self.MODES_KBPS[mode], payload_bits=bits,
            info={"mode": mode, "mode_kbps": self.MODES_KBPS[mode], "bits_per_speech_frame": self.MODE_BITS[mode],
                  "frames": n_frames, "speech_frames": counts.get("speech", 0),
                  "sid_frames": counts.get("sid", 0), "no_data_frames": counts.get("no_data", 0),
                  "dtx": bool(self.opts["dtx"]), "bandwidth": self.BANDWIDTH,
                  "storage_kbps": 8 * sum(len(p) for p in packets) / seconds / 1000,
                  "delay_48k": self.DELAY_48K[mode]},
        )

    def decode(self, encoded: Encoded) -> np.ndarray:
        y = self._decode_frames(encoded.packets)
        return remove_delay(from_int16(y), delay_at(self.DELAY_48K[int(encoded.info["mode"])], self.RATE))

    def _check_packet(self, p: bytes) -> None:
        ft = (p[0] >> 3) & 0x0F if p else -1
        if not p or len(p) != 1 + (self.frame_bits(ft) + 7) // 8:
            raise RuntimeError(f"{self.name}: packet of {len(p)} bytes does not match its frame type {ft}")

    # --- the C calls: one frame loop for both libraries ----------------------------------------
    def _declare(self, enc: ctypes.CDLL, dec: ctypes.CDLL) -> None:
        init, code, close = (getattr(enc, s) for s in self.ENC_SYMBOLS)
        init.restype = ctypes.c_void_p
        init.argtypes = [ctypes.c_int] if self.DTX_AT_INIT else []
        code.restype = ctypes.c_int
        code.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        close.argtypes = [ctypes.c_void_p]
        init, code, close = (getattr(dec, s) for s in self.DEC_SYMBOLS)
        init.restype = ctypes.c_void_p
        code.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        close.argtypes = [ctypes.c_void_p]

    def _encode_frames(self, pcm: np.ndarray, mode: int, dtx: bool) -> list[bytes]:
        enc, _ = self.libs()
        init, code, close = (getattr(enc, s) for s in self.ENC_SYMBOLS)
        fs = self.frame_size
        # opencore-amrnb takes DTX at init (the last encode argument is force_speech);
        # vo-amrwbenc takes it with every frame
        state = init(int(dtx)) if self.DTX_AT_INIT else init()
        last = 0 if self.DTX_AT_INIT else int(dtx)
        if not state:
            raise RuntimeError(f"{self.name}: {self.ENC_SYMBOLS[0]} failed")
        out = (ctypes.c_ubyte * 64)()
        packets = []
        try:
            for i in range(len(pcm) // fs):
                frame = np.ascontiguousarray(pcm[i * fs:(i + 1) * fs], dtype=np.int16)
                n = code(state, mode, frame.ctypes.data, out, last)
                if n <= 0:
                    raise RuntimeError(f"{self.name}: {self.ENC_SYMBOLS[1]} returned {n} at frame {i}")
                packets.append(bytes(out[:n]))
        finally:
            close(state)
        return packets

    def _decode_frames(self, packets: list[bytes]) -> np.ndarray:
        _, dec = self.libs()
        init, code, close = (getattr(dec, s) for s in self.DEC_SYMBOLS)
        fs = self.frame_size
        state = init()
        if not state:
            raise RuntimeError(f"{self.name}: {self.DEC_SYMBOLS[0]} failed")
        out = np.zeros(len(packets) * fs, np.int16)
        try:
            for i, p in enumerate(packets):
                self._check_packet(p)
                buf = (ctypes.c_ubyte * len(p)).from_buffer_copy(p)
                code(state, buf, out[i * fs:].ctypes.data, 0)  # bad-frame indicator 0
        finally:
            close(state)
        return out
