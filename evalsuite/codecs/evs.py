"""3GPP EVS (Enhanced Voice Services, TS 26.441/26.445) through the 3GPP reference programs
``EVS_cod``/``EVS_dec`` (floating-point TS 26.443 or fixed-point TS 26.442 C code).

evalsuite does not ship 3GPP code: build the programs yourself and point ``EVALSUITE_EVS_BIN``
at the folder holding them (or put them on PATH). Command lines (TS 26.443 readme):

    EVS_cod [-dtx] [-max_band B] R Fs input.raw bitstream.g192   (R in bit/s, Fs in kHz)
    EVS_dec Fs bitstream.g192 output.raw

Raw files are 16-bit little-endian PCM; the bitstream is ITU-T G.192 (16 bits per coded bit), so
the measured bitrate counts *coded* bits from the G.192 frames (``payload_bits``), NO_DATA
frames counting 0. Input is coded at 16 kHz (WB) below 9.6 kbps and 32 kHz (SWB) from 9.6 kbps
up; the adapter's rate is 32 kHz and it resamples internally for the 16 kHz case. 5.9 kbps is
EVS's source-controlled VBR mode and needs DTX, so ``-dtx`` is always passed there.

Bandwidth per rate (TS 26.445 Table 1; TS 26.441): NB 5.9-24.4 kbps, WB 5.9-128 kbps, SWB
9.6-128 kbps, FB 16.4-128 kbps. ``max_band`` caps the band; a rate the capped band cannot be
coded at (NB above 24.4 kbps: the encoder refuses it) is an UnsupportedBitrate, not a failure.

Delay: EVS's algorithmic delay is 32 ms = the 20 ms frame + 12 ms (lookahead and resampling
filters). The frame's 20 ms is buffering, not a shift of the signal in the file; the reference
programs compensate the 12 ms by default (the decoder drops its first ``get_delay(DEC)``
samples, 12 ms, and appends as many zeros at the end), so decoded output is time-aligned with the
input and ``delay_samples`` is 0. The input is padded by two 20 ms frames (more than the 12 ms
of appended zeros) so they do not eat the end of the item. Run against the real TS 26.443
programs (float, built from a public copy of the 3GPP code): every rate ok, residual lag 0 +-1
sample at 48 kHz, exact lengths, measured kbps equal to the nominal CBR rates.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import resample
from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .modes import ABOVE_TOP, best_mode, describe_points
from .packing import from_int16, g192_read, to_int16
from .tools import run_tool

ENV_VAR = "EVALSUITE_EVS_BIN"
PROGRAMS = ("EVS_cod", "EVS_dec")
EVS_KBPS = (5.9, 7.2, 8.0, 9.6, 13.2, 16.4, 24.4, 32.0, 48.0, 64.0, 96.0, 128.0)
SAMPLE_RATE = 32000
SWB_FROM_KBPS = 9.6  # EVS codes SWB from 9.6 kbps; below that WB at most
PAD_FRAMES = 2  # > the 12 ms the decoder compensates (and appends as zeros at the end)
LATENCY_MS = 32.0  # 20 ms frame + 12 ms lookahead/resampling (TS 26.441)
#: the rates each audio band can be coded at (TS 26.445 Table 1)
BAND_KBPS = {"NB": (5.9, 24.4), "WB": (5.9, 128.0), "SWB": (9.6, 128.0), "FB": (16.4, 128.0)}
BUILD_HINT = (
    "build the 3GPP EVS reference programs: download the TS 26.443 (floating point) or TS 26.442 "
    "(fixed point) C code from https://www.3gpp.org/ftp/Specs/archive/26_series/26.443/, unzip, run "
    "`make RELEASE=1 DEBUG=0` in its c-code folder (plain `make` builds -O0 -g3, about 4x slower), then `export EVALSUITE_EVS_BIN=/path/to/c-code` (the folder holding "
    "EVS_cod and EVS_dec) or put both on PATH"
)


def nearest_evs_kbps(kbps: float) -> float:
    """The EVS rate a (resolved) request names: rates are compared to 1e-6 kbps."""
    return min(EVS_KBPS, key=lambda r: abs(r - kbps))


def find_programs() -> tuple[dict[str, Path] | None, str]:
    """Locate EVS_cod/EVS_dec in $EVALSUITE_EVS_BIN (if set) or on PATH."""
    where = os.environ.get(ENV_VAR)
    found: dict[str, Path] = {}
    for prog in PROGRAMS:
        if where:
            p = Path(where).expanduser() / prog
            if p.is_file() and os.access(p, os.X_OK):
                found[prog] = p
        else:
            w = shutil.which(prog)
            if w:
                found[prog] = Path(w)
    missing = [p for p in PROGRAMS if p not in found]
    if missing:
        place = f"{ENV_VAR}={where}" if where else f"PATH ({ENV_VAR} not set)"
        return None, f"{' and '.join(missing)} not found (executable) in {place}; {BUILD_HINT}"
    return found, "ok"


class EVSCodec(Codec):
    name = "evs"
    description = "3GPP EVS reference codec (EVS_cod/EVS_dec, not shipped), 5.9-128 kbps"
    options = {"dtx": False, "max_band": "", "timeout_s": 300.0}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        mb = str(self.opts["max_band"]).upper()
        if mb not in ("", "NB", "WB", "SWB"):
            raise ValueError(f"evs: max_band must be NB, WB or SWB (FB needs 48 kHz input), got {self.opts['max_band']!r}")
        self.opts["max_band"] = mb
        self._programs: dict[str, Path] | None = None

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        progs, why = find_programs()
        return progs is not None, why

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=EVS_KBPS)

    @property
    def delay_samples(self) -> int:
        return 0  # the reference programs' default delay compensation aligns the output

    def operating_points(self) -> tuple[float, ...]:
        """EVS's rates; with max_band=NB only those NB can be coded at (up to 24.4 kbps). WB
        and SWB caps keep every rate (below a band's lowest rate EVS codes a narrower band)."""
        hi = BAND_KBPS["NB"][1] if self.opts["max_band"] == "NB" else EVS_KBPS[-1]
        return tuple(r for r in EVS_KBPS if r <= hi)

    def version(self) -> str:
        """The banner EVS_cod prints (e.g. its TS 26.443 version), else the program's path."""
        import re
        import subprocess

        prog = self._progs()["EVS_cod"]
        try:
            p = subprocess.run([str(prog)], capture_output=True, text=True, timeout=10)
            m = re.search(r"(EVS[^\n]*?(?:Version|TS\s*26\.44[23])[^\n]*)", p.stdout + p.stderr)
        except (OSError, subprocess.SubprocessError):
            m = None
        return m.group(1).strip() if m else f"EVS_cod at {prog}"

    def settings(self) -> dict[str, Any]:
        progs = self._progs()
        return {**self.opts, "EVS_cod": str(progs["EVS_cod"]), "EVS_dec": str(progs["EVS_dec"]),
                "delay_compensation": True, "bitstream": "G.192", "latency_ms": LATENCY_MS}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        band = self.opts["max_band"]
        rates = self.operating_points()
        hi = rates[-1]
        if band == "NB" and math.isfinite(kbps) and kbps > hi * ABOVE_TOP:
            raise UnsupportedBitrate(
                f"evs: max_band=NB is coded only up to {hi:g} kbps (TS 26.445; EVS_cod refuses NB above it); "
                f"{kbps:g} kbps needs max_band WB or SWB. NB rates: {describe_points(rates)}")
        used, note = best_mode("evs", rates, kbps)
        notes = [note] if note else []
        if band == "SWB" and used < BAND_KBPS["SWB"][0]:
            notes.append(f"EVS codes SWB from {BAND_KBPS['SWB'][0]:g} kbps; {used:g} kbps is coded WB")
        if used == EVS_KBPS[0] and not self.opts["dtx"]:
            notes.append("5.9 kbps is EVS's VBR mode: DTX switched on")
        return used, "; ".join(notes)

    def _progs(self) -> dict[str, Path]:
        if self._programs is None:
            progs, why = find_programs()
            if progs is None:
                raise CodecUnavailable(f"evs: {why}")
            self._programs = progs
        return self._programs

    @staticmethod
    def coding_rate(kbps: float) -> int:
        return SAMPLE_RATE if kbps >= SWB_FROM_KBPS else 16000

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        kbps = nearest_evs_kbps(self.resolve_kbps(kbps)[0])
        fs = self.coding_rate(kbps)
        x = resample(np.asarray(audio, dtype=np.float32), SAMPLE_RATE, fs)
        frame = fs // 50
        n_frames = max(1, -(-len(x) // frame)) + PAD_FRAMES
        pcm = to_int16(np.pad(x, (0, n_frames * frame - len(x))))
        dtx = bool(self.opts["dtx"]) or kbps == EVS_KBPS[0]
        cmd = [str(self._progs()["EVS_cod"])]
        if dtx:
            cmd.append("-dtx")
        if self.opts["max_band"]:
            cmd += ["-max_band", self.opts["max_band"]]
        with tempfile.TemporaryDirectory(prefix="evalsuite-evs-") as d:
            raw, bit = Path(d) / f"in.{fs // 1000}k", Path(d) / "out.192"
            raw.write_bytes(pcm.astype("<i2").tobytes())
            self._run(cmd + [str(int(round(kbps * 1000))), str(fs // 1000), str(raw), str(bit)])
            data = bit.read_bytes() if bit.is_file() else b""
        try:
            frames = g192_read(data)
        except ValueError as e:
            raise RuntimeError(f"evs: EVS_cod wrote an unreadable G.192 bitstream: {e}") from e
        if len(frames) != n_frames:
            raise RuntimeError(f"evs: EVS_cod wrote {len(frames)} frames for {n_frames} input frames")
        sizes = [len(f.bits) for f in frames]
        return Encoded(
            packets=[data], num_samples=n_frames * frame, sample_rate=fs, kbps_used=kbps,
            payload_bits=int(sum(sizes)),
            info={"evs_bps": int(round(kbps * 1000)), "coding_rate": fs, "dtx": dtx, "frames": n_frames,
                  "no_data_frames": sum(s == 0 for s in sizes), "max_frame_bits": max(sizes)},
        )

    def decode(self, encoded: Encoded) -> np.ndarray:
        fs = int(encoded.info["coding_rate"])
        with tempfile.TemporaryDirectory(prefix="evalsuite-evs-") as d:
            bit, raw = Path(d) / "in.192", Path(d) / f"out.{fs // 1000}k"
            bit.write_bytes(b"".join(encoded.packets))
            self._run([str(self._progs()["EVS_dec"]), str(fs // 1000), str(bit), str(raw)])
            y = from_int16(np.frombuffer(raw.read_bytes(), dtype="<i2")) if raw.is_file() else None
        if y is None or len(y) == 0:
            raise RuntimeError("evs: EVS_dec wrote no audio")
        return resample(y, fs, SAMPLE_RATE)

    def _run(self, cmd: list[str]) -> None:
        run_tool("evs", cmd, float(self.opts["timeout_s"]), BUILD_HINT)