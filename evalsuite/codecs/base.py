"""The codec interface.

A codec is one small class: a name, a native sample rate, the bitrates it supports and its
native operating points, a known delay, ``encode(audio, kbps) -> Encoded`` (real bitstream
bytes) and ``decode(Encoded) -> audio``. The runner stores every ``Encoded`` in a bitstream
container file (evalsuite.bitstream) and decodes from what it reads back, so ``decode`` may use
only the packets, ``num_samples``, ``sample_rate``, ``kbps_used`` and ``info`` (JSON values).
The measured bitrate counts only the codec's own bits.

Codecs get a :class:`~evalsuite.context.RunContext` (data location, threads) instead of reading
the environment.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..context import RunContext


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

    def __init__(self, ctx: RunContext | None = None, **opts: Any) -> None:
        from ..context import RunContext
        from ..options import resolve_options

        self.ctx: RunContext = ctx if ctx is not None else RunContext()
        self.opts: dict[str, Any] = resolve_options("codec", self.name, self.options, opts)

    # --- availability -------------------------------------------------------------------
    @classmethod
    def availability(cls, ctx: RunContext | None = None, opts: dict[str, Any] | None = None) -> tuple[bool, str]:
        """(available, reason) for these options in this context. Cheap: imports, which and
        file-existence checks only, no model loading. The reason says how to get what is missing."""
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

    def operating_points(self) -> tuple[float, ...]:
        """The codec's native operating points (kbps), low to high: the modes it was designed
        and tuned for (``--kbps native`` runs these). Continuous-rate codecs list the rates
        their documentation recommends."""
        b = self.bitrates()
        return tuple(b.values) if b.values else ()

    def version(self) -> str:
        """Version of the library or program doing the coding (recorded with every row)."""
        return ""

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
