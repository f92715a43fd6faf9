"""The one condition type: what an item is processed by (a codec at a bitrate, the hidden
reference, or a BS.1534 anchor). Used by the runner, the results table, plots, reports and the
MUSHRA build, so a condition is named and ordered the same way everywhere.

Ids: ``reference``, ``anchor_lp35``, ``anchor_lp70`` and ``<codec>@<kbps:g>`` (``opus@6``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CODEC = "codec"
    REFERENCE = "reference"
    ANCHOR = "anchor"


#: the hidden reference and the BS.1534-3 anchors, high quality to low (the order they are shown in)
REFERENCE = "reference"
MID_ANCHOR = "anchor_lp70"
LOW_ANCHOR = "anchor_lp35"
NON_CODEC = (REFERENCE, MID_ANCHOR, LOW_ANCHOR)


def kind_of(name: str) -> Kind:
    if name == REFERENCE:
        return Kind.REFERENCE
    if name in (MID_ANCHOR, LOW_ANCHOR):
        return Kind.ANCHOR
    return Kind.CODEC


def kbps_label(kbps: float) -> str:
    """'3' for 3.0, '3.2' for 3.2: the bitrate as it appears in ids and folder names."""
    return f"{float(kbps):g}"


@dataclass(frozen=True)
class Condition:
    """A codec at a requested bitrate, or a non-codec condition (kbps None)."""

    codec: str
    kbps: float | None = None

    def __post_init__(self) -> None:
        k = kind_of(self.codec)
        if k is Kind.CODEC:
            if self.kbps is None or not math.isfinite(float(self.kbps)) or float(self.kbps) <= 0:
                raise ValueError(f"condition {self.codec!r} needs a positive bitrate, got {self.kbps!r}")
            object.__setattr__(self, "kbps", float(self.kbps))
        elif self.kbps is not None and not (isinstance(self.kbps, float) and math.isnan(self.kbps)):
            raise ValueError(f"{self.codec!r} has no bitrate, got {self.kbps!r}")
        else:
            object.__setattr__(self, "kbps", None)

    @property
    def kind(self) -> Kind:
        return kind_of(self.codec)

    @property
    def is_codec(self) -> bool:
        return self.kind is Kind.CODEC

    @property
    def id(self) -> str:
        return self.codec if self.kbps is None else f"{self.codec}@{kbps_label(self.kbps)}"

    @property
    def requested_kbps(self) -> float:
        """The results table's value: NaN for the reference and anchors."""
        return math.nan if self.kbps is None else float(self.kbps)

    @property
    def folder(self) -> str:
        """Path fragment of this condition's files inside a run (``opus/6``, ``reference``)."""
        return self.codec if self.kbps is None else f"{self.codec}/{kbps_label(self.kbps)}"

    @classmethod
    def parse(cls, cid: str) -> Condition:
        if "@" not in cid:
            return cls(cid)
        codec, kbps = cid.rsplit("@", 1)
        try:
            return cls(codec, float(kbps))
        except ValueError as e:
            raise ValueError(f"not a condition id: {cid!r} (expected codec@kbps, reference or an anchor)") from e

    @classmethod
    def from_row(cls, codec: str, requested_kbps: float | None) -> Condition:
        if kind_of(codec) is not Kind.CODEC:
            return cls(codec)
        return cls(codec, requested_kbps)

    def __str__(self) -> str:
        return self.id


def sort_key(c: Condition, codec_order: Iterable[str] = ()) -> tuple:
    """Reference, anchors (high to low), then codecs (in ``codec_order``, then by name) by bitrate."""
    order = list(codec_order)
    if not c.is_codec:
        return (0, NON_CODEC.index(c.codec) if c.codec in NON_CODEC else 99, "", 0.0)
    rank = order.index(c.codec) if c.codec in order else len(order)
    return (1, rank, c.codec, float(c.kbps))


def ordered(conds: Iterable[Condition | str], codec_order: Iterable[str] = ()) -> list[Condition]:
    cs = [c if isinstance(c, Condition) else Condition.parse(c) for c in conds]
    order = list(codec_order)
    return sorted(dict.fromkeys(cs), key=lambda c: sort_key(c, order))


def ordered_ids(ids: Iterable[str], codec_order: Iterable[str] = ()) -> list[str]:
    return [c.id for c in ordered(ids, codec_order)]
