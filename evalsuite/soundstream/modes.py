"""SoundStream's bitrate modes: the one kbps -> quantizers mapping for every backend.

A frame carries ``n`` codes of ``bits`` bits, written MSB-first into whole bytes (Lyra's
packetiser layout, evalsuite.soundstream.bitpack). A request is a budget per frame: it maps to
the nearest whole number of bytes per frame, and the frame carries as many codes as fit in them,
so bits that are sent anyway carry codes, never padding. Lyra v2's own modes come out exactly:
3 or 3.2 kbps -> 8 bytes -> 16 quantizers (3.2 kbps), 6 -> 15 bytes -> 30, 9.2 -> 23 bytes -> 46;
the previous rule (15 quantizers for 3 kbps) sent the same 8 bytes with 4 bits of padding.
Requests above the top mode are unsupported, never clamped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    quantizers: int
    bits_per_frame: int
    bytes_per_frame: int
    kbps: float  # what the frames cost on the wire: bytes x 8 x frame rate
    note: str


def packet_bytes(n: int, bits: int) -> int:
    return (n * bits + 7) // 8


def mode_for(kbps: float, kbps_per_q: float, bits: int, max_q: int, frame_rate: float) -> Mode:
    """The mode a request runs at; ValueError outside the codec's range."""
    if not math.isfinite(kbps) or kbps <= 0:
        raise ValueError(f"{kbps!r} is not a bitrate")
    top = max_q * kbps_per_q
    if kbps > top + 1e-9:
        raise ValueError(f"{kbps:g} kbps is above the highest mode ({top:g} kbps, {max_q} quantizers)")
    nbytes = int(math.floor(kbps * 1000.0 / frame_rate / 8.0 + 0.5 + 1e-9))
    n = min(max_q, (nbytes * 8) // bits)
    if n < 1:
        low = packet_bytes(1, bits) * 8 * frame_rate / 1000.0
        raise ValueError(f"{kbps:g} kbps is below the lowest mode ({low:g} kbps, 1 quantizer in "
                         f"{packet_bytes(1, bits)} byte(s) per frame)")
    nbytes = packet_bytes(n, bits)
    wire = round(nbytes * 8 * frame_rate / 1000.0, 6)
    note = "" if abs(wire - kbps) < 1e-6 else (
        f"{kbps:g} kbps -> {nbytes} bytes per frame = {wire:g} kbps, carrying {n} quantizers "
        f"({n * bits} of {nbytes * 8} bits)")
    return Mode(n, n * bits, nbytes, wire, note)
