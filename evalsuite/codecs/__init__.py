"""Codec registry: names -> classes. A plain dict; modules are imported lazily so a missing
optional library only affects the codec that needs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..registry import load_class
from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate

if TYPE_CHECKING:
    from ..context import RunContext

# name -> "module:Class"
_REGISTRY: dict[str, str] = {
    "soundstream": "evalsuite.codecs.soundstream:SoundStreamCodec",
    "opus": "evalsuite.codecs.opus:OpusCodec",
    "opus_ml": "evalsuite.codecs.opus:OpusMLCodec",
    "evs": "evalsuite.codecs.evs:EVSCodec",
    "codec2": "evalsuite.codecs.codec2:Codec2Codec",
    "amr_nb": "evalsuite.codecs.amr_nb:AMRNBCodec",
    "amr_wb": "evalsuite.codecs.amr_wb:AMRWBCodec",
    "lc3": "evalsuite.codecs.lc3:LC3Codec",
    "g722": "evalsuite.codecs.g722:G722Codec",
    "speex_nb": "evalsuite.codecs.speex:SpeexNBCodec",
    "speex_wb": "evalsuite.codecs.speex:SpeexWBCodec",
    "speex_uwb": "evalsuite.codecs.speex:SpeexUWBCodec",
    "mp3": "evalsuite.codecs.mp3:MP3Codec",
    "aac": "evalsuite.codecs.aac:AACCodec",
}


def codec_names() -> list[str]:
    return list(_REGISTRY)


def codec_class(name: str) -> type[Codec]:
    """A registered name, or ``package.module:Class`` for your own Codec subclass."""
    return load_class(_REGISTRY, name, Codec, "codec")


def get_codec(name: str, ctx: RunContext | None = None, **opts: Any) -> Codec:
    cls = codec_class(name)
    ok, why = cls.availability(ctx, opts)
    if not ok:
        raise CodecUnavailable(f"codec {name!r} unavailable: {why}")
    return cls(ctx, **opts)


@dataclass(frozen=True)
class CodecListing:
    name: str
    available: bool
    reason: str
    sample_rate: int | None
    bitrates: str
    operating_points: tuple[float, ...]
    version: str
    description: str


def list_codecs(ctx: RunContext | None = None) -> list[CodecListing]:
    out = []
    for name in _REGISTRY:
        try:
            cls = codec_class(name)
            ok, why = cls.availability(ctx, {})
            rate, rates, points, version = None, "", (), ""
            if ok:
                c = cls(ctx)
                rate, rates, points, version = c.sample_rate, c.bitrates().describe(), c.operating_points(), c.version()
            out.append(CodecListing(name, ok, why, rate, rates, tuple(points), version, cls.description))
        except Exception as e:  # noqa: BLE001 - a broken adapter must not hide the others
            out.append(CodecListing(name, False, f"{type(e).__name__}: {e}", None, "", (), "", ""))
    return out


__all__ = [
    "BitrateSupport", "Codec", "CodecUnavailable", "Encoded", "UnsupportedBitrate",
    "codec_names", "codec_class", "get_codec", "list_codecs", "CodecListing",
]
