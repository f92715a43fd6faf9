"""TEST-ONLY stand-in for the 3GPP EVS reference programs (EVS_cod / EVS_dec).

It is NOT EVS and is never used by evalsuite itself: the tests point EVALSUITE_EVS_BIN here so
the EVS adapter's command lines, file handling, G.192 parsing, rate mapping and alignment can be
exercised without 3GPP code. It honours the reference command lines

    EVS_cod [-q] [-dtx [D]] [-max_band B] [-no_delay_cmp] R Fs input bitstream
    EVS_dec [-q] [-no_delay_cmp] Fs bitstream output

and writes/reads genuine ITU-T G.192 files with exactly R/50 coded bits per 20 ms frame: each
frame is cut into R/400 blocks whose mean is coded with 8 bits (sign + 7-bit log magnitude); the
spare bits are zero. With -dtx, silent frames become NO_DATA (0 bits) except every 8th, which
is coded with 48 bits like an EVS SID frame. Output is time-aligned with the input (as the
reference programs' delay compensation makes it). Pure Python: no numpy needed.
"""
from __future__ import annotations

import math
import struct
import sys
from array import array

RATES = {5900, 7200, 8000, 9600, 13200, 16400, 24400, 32000, 48000, 64000, 96000, 128000}
SYNC_GOOD, SYNC_BAD, ONE, ZERO = 0x6B21, 0x6B20, 0x0081, 0x007F
SID_BITS, SID_EVERY = 48, 8


def _q8(v: float) -> int:
    """int16 value -> 8-bit code: sign bit + 7-bit log magnitude (mu-law-like)."""
    m = min(abs(v), 32767.0)
    c = int(round(127 * math.log1p(m / 8.0) / math.log1p(32767.0 / 8.0)))
    return (128 if v < 0 else 0) | c


def _dq8(code: int) -> float:
    m = 8.0 * math.expm1((code & 127) / 127 * math.log1p(32767.0 / 8.0))
    return -m if code & 128 else m


def _blocks(n: int, k: int) -> list[tuple[int, int]]:
    return [(j * n // k, (j + 1) * n // k) for j in range(k)]


def _code_frame(frame: list[int], nbits: int) -> list[int]:
    k = min(nbits // 8, len(frame))
    bits: list[int] = []
    for a, b in _blocks(len(frame), k):
        c = _q8(sum(frame[a:b]) / (b - a))
        bits += [(c >> s) & 1 for s in range(7, -1, -1)]
    return bits + [0] * (nbits - len(bits))


def _decode_frame(bits: list[int], n: int) -> list[int]:
    k = min(len(bits) // 8, n)
    if k == 0:
        return [0] * n
    out = [0] * n
    for j, (a, b) in enumerate(_blocks(n, k)):
        c = 0
        for bit in bits[8 * j:8 * j + 8]:
            c = (c << 1) | bit
        v = int(round(max(-32768.0, min(32767.0, _dq8(c)))))
        out[a:b] = [v] * (b - a)
    return out


def _fail(msg: str) -> int:
    sys.stderr.write(f"fake EVS: {msg}\n")
    return 1


def _parse_options(args: list[str], allowed: set[str]) -> tuple[dict, list[str]]:
    opts: dict = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a not in allowed:
            raise ValueError(f"unknown option {a}")
        if a == "-dtx":
            opts["dtx"] = True
            if i + 1 < len(args) and args[i + 1].isdigit() and len(args) - (i + 2) >= 4:
                i += 1  # optional SID update rate
        elif a == "-max_band":
            i += 1
            if i >= len(args) or args[i].upper() not in ("NB", "WB", "SWB", "FB"):
                raise ValueError("-max_band needs NB, WB, SWB or FB")
        else:
            opts[a] = True
        i += 1
    return opts, args[i:]


def _inject_fault(program: str, out_path: str | None) -> int | None:
    """Fault injection for robustness tests: $FAKE_EVS_FAULT = PROGRAM:hang|crash|garbage."""
    import os
    import time

    spec = os.environ.get("FAKE_EVS_FAULT", "")
    prog, _, kind = spec.partition(":")
    if prog != program or not kind:
        return None
    if kind == "hang":
        time.sleep(3600)
    if kind == "crash":
        os.abort()  # SIGABRT, as a crashing C program would die
    if kind == "garbage" and out_path:
        with open(out_path, "wb") as f:
            f.write(os.urandom(4001))  # odd length: not G.192, not whole int16 samples
        return 0
    return None


def encoder_main(argv: list[str]) -> int:
    try:
        opts, rest = _parse_options(argv, {"-q", "-dtx", "-max_band", "-no_delay_cmp"})
    except ValueError as e:
        return _fail(str(e))
    if len(rest) != 4:
        return _fail("usage: EVS_cod [Options] R Fs input_file bitstream_file")
    rate, fs, inp, out = int(rest[0]), int(rest[1]), rest[2], rest[3]
    fault = _inject_fault("EVS_cod", out)
    if fault is not None:
        return fault
    if rate not in RATES:
        return _fail(f"bitrate {rate} not supported")
    if fs not in (8, 16, 32, 48):
        return _fail(f"sampling rate {fs} kHz not supported")
    if rate == 5900 and not opts.get("dtx"):
        return _fail("5.9 kbps (VBR) requires DTX")
    pcm = array("h")
    with open(inp, "rb") as f:
        pcm.frombytes(f.read())
    if sys.byteorder != "little":
        pcm.byteswap()
    n = fs * 1000 // 50
    nbits = rate // 50
    words = array("H")
    inactive = 0
    for start in range(0, len(pcm), n):
        frame = list(pcm[start:start + n]) + [0] * max(0, start + n - len(pcm))
        bits = None
        if opts.get("dtx") and math.sqrt(sum(v * v for v in frame) / n) < 30.0:
            inactive += 1
            bits = _code_frame(frame, SID_BITS) if inactive % SID_EVERY == 1 else []
        else:
            inactive = 0
            bits = _code_frame(frame, nbits)
        words.extend([SYNC_GOOD, len(bits)] + [ONE if b else ZERO for b in bits])
    if sys.byteorder != "little":
        words.byteswap()
    with open(out, "wb") as f:
        f.write(words.tobytes())
    return 0


def decoder_main(argv: list[str]) -> int:
    try:
        _, rest = _parse_options(argv, {"-q", "-no_delay_cmp"})
    except ValueError as e:
        return _fail(str(e))
    if len(rest) != 3:
        return _fail("usage: EVS_dec [Options] Fs bitstream_file output_file")
    fs, inp, out = int(rest[0]), rest[1], rest[2]
    fault = _inject_fault("EVS_dec", out)
    if fault is not None:
        return fault
    if fs not in (8, 16, 32, 48):
        return _fail(f"sampling rate {fs} kHz not supported")
    n = fs * 1000 // 50
    with open(inp, "rb") as f:
        data = f.read()
    words = struct.unpack(f"<{len(data) // 2}H", data[: len(data) // 2 * 2])
    pcm = array("h")
    i = 0
    while i < len(words):
        sync, nb = words[i], (words[i + 1] if i + 1 < len(words) else -1)
        if sync not in (SYNC_GOOD, SYNC_BAD) or nb < 0 or i + 2 + nb > len(words):
            return _fail(f"corrupt G.192 stream at word {i}")
        bits = [1 if w == ONE else 0 for w in words[i + 2:i + 2 + nb]]
        pcm.extend(_decode_frame(bits, n) if sync == SYNC_GOOD else [0] * n)
        i += 2 + nb
    if sys.byteorder != "little":
        pcm.byteswap()
    with open(out, "wb") as f:
        f.write(pcm.tobytes())
    return 0
