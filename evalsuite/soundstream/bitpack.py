"""Codes <-> bytes. Each frame's ``n`` codes of ``bits`` bits are written most significant bit
first and padded with zeros to whole bytes, one packet per frame (as Lyra's packetiser does:
16/30/46 codebooks x 4 bits = 8/15/23 bytes; the paper configuration at 10 bits per code is
exact for multiples of 4 quantisers: 4 x 10 bits = 5 bytes)."""
from __future__ import annotations

import numpy as np


def packet_bytes(n_codes: int, bits: int) -> int:
    return (n_codes * bits + 7) // 8


def pack_frame(codes: np.ndarray, bits: int) -> bytes:
    codes = np.asarray(codes, dtype=np.int64).reshape(-1)
    if codes.size and (codes.min() < 0 or codes.max() >= 1 << bits):
        raise ValueError(f"codes must lie in 0..{(1 << bits) - 1}")
    # bit matrix [n, bits], MSB first
    b = ((codes[:, None] >> np.arange(bits - 1, -1, -1)[None]) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(b).tobytes()


def unpack_frame(packet: bytes, n_codes: int, bits: int) -> np.ndarray:
    if len(packet) != packet_bytes(n_codes, bits):
        raise ValueError(f"packet has {len(packet)} bytes, expected {packet_bytes(n_codes, bits)} "
                         f"for {n_codes} codes of {bits} bits")
    b = np.unpackbits(np.frombuffer(packet, dtype=np.uint8))[: n_codes * bits].reshape(n_codes, bits)
    return (b.astype(np.int64) << np.arange(bits - 1, -1, -1)[None]).sum(1)


def pack(codes: np.ndarray, bits: int) -> list[bytes]:
    """codes [T, n] -> T packets."""
    return [pack_frame(f, bits) for f in np.asarray(codes)]


def unpack(packets: list[bytes], n_codes: int, bits: int) -> np.ndarray:
    """T packets -> codes [T, n]."""
    if not packets:
        return np.zeros((0, n_codes), dtype=np.int64)
    return np.stack([unpack_frame(p, n_codes, bits) for p in packets])
