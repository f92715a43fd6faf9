"""The codec interface.

A codec is one small class: a name, a native sample rate, the bitrates it supports, a known
delay, ``encode(audio, kbps) -> Encoded`` (real bitstream bytes) and ``decode(Encoded) -> audio``.
Decoding starts from the bytes encoding produced; the measured bitrate counts only those bytes.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


class CodecUnavailable(RuntimeError):
    """The codec cannot run here (a library or binary is missing); the message says how to get it."""


class UnsupportedBitrate(ValueError):
    """The requested bitrate is outside what the codec supports; never clamped silently."""


@dataclass(frozen=True)
class BitrateSupport:
    """Either an exact list of rates (``values``) or a range with a step."""

    values: tuple[float, ...] | None = None
    min_kbps: float | None = None
    max_kbps: float | None = None
    step_kbps: float | None = None

    def describe(self) -> str:
        if self.values is not None:
            return ", ".join(f"{v:g}" for v in self.values) + " kbps"
        step = f" in {self.step_kbps:g} kbps steps" if self.step_kbps else ""
        return f"{self.min_kbps:g}-{self.max_kbps:g} kbps{step}"


@dataclass
class Encoded:
    """A real bitstream: ``packets`` are the codec's own bytes (one per frame or one whole file).

    ``num_samples``/``sample_rate`` describe the input that was coded (for measured kbps).
    ``info`` carries per-encoding facts worth a column (e.g. coded bandwidth, codebooks used).
    ``payload_bits`` overrides ``8 * total bytes`` for formats whose file holds more than the
    codec's bits (e.g. G.192, which spends 16 bits per coded bit).
    """

    packets: list[bytes]
    num_samples: int
    sample_rate: int
    kbps_used: float
    info: dict[str, Any] = field(default_factory=dict)
    payload_bits: int | None = None

    @property
    def total_bits(self) -> int:
        return self.payload_bits if self.payload_bits is not None else 8 * sum(len(p) for p in self.packets)

    @property
    def measured_kbps(self) -> float:
        seconds = self.num_samples / self.sample_rate
        return self.total_bits / seconds / 1000.0 if seconds > 0 else math.nan


class Codec(ABC):
    """Base class. Subclasses set ``name``, ``sample_rate``, ``description`` and implement the rest.

    Options come in as keyword arguments (``--codec-opt name.key=value``); a subclass declares
    them in ``options`` with their defaults, and unknown options are an error.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    #: True for reference/anchor conditions: no bitstream, excluded from bitrate curves.
    is_anchor: ClassVar[bool] = False

    def __init__(self, **opts: Any) -> None:
        unknown = set(opts) - set(self.options)
        if unknown:
            raise ValueError(
                f"codec {self.name!r}: unknown option(s) {sorted(unknown)}; "
                f"known: {sorted(self.options) or 'none'}"
            )
        self.opts: dict[str, Any] = {k: _coerce(v, self.options[k]) for k, v in {**self.options, **opts}.items()}

    # --- availability -------------------------------------------------------------------
    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """(available, reason). Cheap: imports/which checks only, no model loading."""
        return True, "ok"

    # --- description --------------------------------------------------------------------
    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @abstractmethod
    def bitrates(self) -> BitrateSupport: ...

    @property
    def delay_samples(self) -> int:
        """Samples (at ``sample_rate``) by which decoded output lags the input."""
        return 0

    def settings(self) -> dict[str, Any]:
        """Settings recorded with every result row (options plus fixed facts)."""
        return dict(self.opts)

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        """Map a requested bitrate to the one that will be used, with a note when they differ.
        Raise UnsupportedBitrate (with the supported range) when it cannot be served."""
        return float(kbps), ""

    # --- the work -----------------------------------------------------------------------
    @abstractmethod
    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        """Encode mono float32 audio at ``sample_rate`` to a bitstream."""

    @abstractmethod
    def decode(self, encoded: Encoded) -> np.ndarray:
        """Decode the bitstream to mono float32 audio at ``sample_rate``."""


def _coerce(value: Any, default: Any) -> Any:
    """Options from the command line arrive as strings; coerce to the default's type."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value
