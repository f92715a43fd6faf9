"""The bitstream container: one small versioned file per item x condition holding exactly what
a decoder gets (after encodec's ``binary.py``: magic, version, JSON header, payload).

    offset  size  field
    0       4     magic b"ESBS"
    4       1     format version (1)
    5       4     header length H (uint32 LE)
    9       H     header: UTF-8 JSON {codec, codec_version, options, sample_rate, num_samples,
                  kbps_used, info, payload_bits, packets}
    9+H     ...   packets, each: length (uint32 LE) + the codec's bytes
    end-4   4     CRC-32 of everything before it (truncation and corruption are detected)

The runner writes this file, reads it back and decodes from what it read: decoding depends on
nothing but the file. The measured bitrate counts the codec's bytes only (``payload_bits`` when
the codec's own framing holds more than its coded bits), never this container's overhead.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .codecs.base import Encoded

MAGIC = b"ESBS"
VERSION = 1
_HEAD = struct.Struct("<4sBI")
_LEN = struct.Struct("<I")


class BitstreamError(ValueError):
    """A container file that is not one, is truncated, corrupt or of an unknown version."""


@dataclass(frozen=True)
class Header:
    codec: str
    codec_version: str
    options: dict[str, Any]


def dumps(enc: Encoded, codec: str, codec_version: str = "", options: dict[str, Any] | None = None) -> bytes:
    header = {
        "codec": codec, "codec_version": codec_version, "options": options or {},
        "sample_rate": int(enc.sample_rate), "num_samples": int(enc.num_samples),
        "kbps_used": float(enc.kbps_used), "info": enc.info, "payload_bits": enc.payload_bits,
        "packets": len(enc.packets),
    }
    try:
        h = json.dumps(header, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"{codec}: Encoded.info must hold JSON values only ({e})") from e
    parts = [_HEAD.pack(MAGIC, VERSION, len(h)), h]
    for p in enc.packets:
        p = bytes(p)
        parts += [_LEN.pack(len(p)), p]
    body = b"".join(parts)
    return body + _LEN.pack(zlib.crc32(body))


def loads(data: bytes) -> tuple[Header, Encoded]:
    if len(data) < _HEAD.size + 4 or data[:4] != MAGIC:
        raise BitstreamError("not an evalsuite bitstream (bad magic)")
    body, crc = data[:-4], _LEN.unpack(data[-4:])[0]
    if zlib.crc32(body) != crc:
        raise BitstreamError("bitstream file is truncated or corrupt (CRC mismatch)")
    _, version, hlen = _HEAD.unpack_from(body)
    if version != VERSION:
        raise BitstreamError(f"bitstream format version {version} is not supported (this evalsuite reads {VERSION})")
    off = _HEAD.size
    try:
        header = json.loads(body[off:off + hlen])
    except ValueError as e:
        raise BitstreamError(f"bitstream header is not JSON ({e})") from e
    off += hlen
    packets = []
    for _ in range(int(header["packets"])):
        (n,) = _LEN.unpack_from(body, off)
        off += _LEN.size
        packets.append(body[off:off + n])
        off += n
    if off != len(body):
        raise BitstreamError(f"bitstream has {len(body) - off} unexpected trailing bytes")
    enc = Encoded(packets=packets, num_samples=int(header["num_samples"]), sample_rate=int(header["sample_rate"]),
                  kbps_used=float(header["kbps_used"]), info=header["info"], payload_bits=header["payload_bits"])
    return Header(header["codec"], header.get("codec_version", ""), header.get("options", {})), enc
