"""Bitstream helpers shared by codec adapters (pure functions, no state). SoundStream's code
packing lives in evalsuite.soundstream.bitpack (one packer for both backends).

``g192_*`` read and write ITU-T G.192 bitstreams as the 3GPP reference tools use them:
per frame a sync word (0x6B21 good frame, 0x6B20 bad frame), a length word (number of coded
bits; 0 = NO_DATA), then one 16-bit word per bit (0x0081 = 1, 0x007F = 0), little-endian.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G192_SYNC_GOOD = 0x6B21
G192_SYNC_BAD = 0x6B20
G192_ONE = 0x0081
G192_ZERO = 0x007F


@dataclass(frozen=True)
class G192Frame:
    good: bool
    bits: np.ndarray  # uint8 0/1, len = coded bits (0 for NO_DATA)


def g192_read(data: bytes) -> list[G192Frame]:
    """Parse a G.192 bitstream; raise ValueError with the offending frame on malformed input."""
    if len(data) % 2:
        raise ValueError("G.192 stream has an odd number of bytes (expected 16-bit words)")
    words = np.frombuffer(data, dtype="<u2")
    frames, i = [], 0
    while i < len(words):
        sync = int(words[i])
        if sync not in (G192_SYNC_GOOD, G192_SYNC_BAD):
            raise ValueError(f"G.192 frame {len(frames)}: bad sync word 0x{sync:04X} at word {i}")
        if i + 1 >= len(words):
            raise ValueError(f"G.192 frame {len(frames)}: truncated (no length word)")
        n = int(words[i + 1])
        body = words[i + 2 : i + 2 + n]
        if len(body) != n:
            raise ValueError(f"G.192 frame {len(frames)}: truncated ({len(body)} of {n} bit words)")
        bad = ~np.isin(body, (G192_ONE, G192_ZERO))
        if bad.any():
            raise ValueError(f"G.192 frame {len(frames)}: bit word 0x{int(body[bad][0]):04X} is neither 0x0081 nor 0x007F")
        frames.append(G192Frame(sync == G192_SYNC_GOOD, (body == G192_ONE).astype(np.uint8)))
        i += 2 + n
    return frames


def g192_write(frames: list[G192Frame]) -> bytes:
    out = []
    for f in frames:
        bits = np.asarray(f.bits, dtype=np.uint8)
        out.append(np.array([G192_SYNC_GOOD if f.good else G192_SYNC_BAD, len(bits)], dtype="<u2"))
        out.append(np.where(bits > 0, G192_ONE, G192_ZERO).astype("<u2"))
    return b"".join(a.tobytes() for a in out)


def g192_coded_bits(data: bytes) -> tuple[int, int]:
    """(total coded bits, number of frames) of a G.192 stream; NO_DATA frames count 0 bits."""
    frames = g192_read(data)
    return sum(len(f.bits) for f in frames), len(frames)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1] -> int16 with rounding and saturation (what a 16-bit PCM codec sees)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def from_int16(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x, dtype=np.float32) / 32768.0).astype(np.float32)
