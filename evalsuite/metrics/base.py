"""The metric interface, with VERSA-style metadata per metric.

A metric is one small class with ``info`` (name, needs_reference, sample_rate,
higher_is_better, version/mode, which categories it applies to) and
``score(ref, deg, rate) -> {output_name: value}``. It resamples to its own rate itself
(``prepare``). Heavy models are loaded lazily once per instance, and the runner keeps one
instance per worker process.

Options are declared in ``options`` with defaults (``--metric-opt name.key=value``); an instance
whose options change what it measures returns its own ``describe()`` (mode/version say which
options produced a value). ``reference_features`` / ``score_features`` let a metric compute the
reference side once per item and reuse it for every condition (the runner's score stage does);
the default just keeps the reference.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..audio import resample

if TYPE_CHECKING:
    from ..context import RunContext


class MetricUnavailable(RuntimeError):
    """A metric's library or model is missing; the message says how to get it."""


@dataclass(frozen=True)
class MetricInfo:
    name: str
    needs_reference: bool
    sample_rate: int
    higher_is_better: bool
    version: str
    mode: str = ""
    #: names of the values ``score`` returns (one result row each); defaults to (name,)
    outputs: tuple[str, ...] = ()
    #: item categories the metric is meaningful for (None: all)
    applies_to: tuple[str, ...] | None = None
    #: value range, for plots and sanity checks
    value_range: tuple[float, float] | None = None
    description: str = ""
    #: phase-sensitive (compares waveforms sample by sample, e.g. SI-SDR): meaningless for a
    #: decoded signal whose phase the codec rebuilds instead of coding it (parametric modes such
    #: as Codec 2 or Opus SILK narrow-band, where the lag drifts within an item); the runner
    #: marks such rows ``not_applicable`` (see ``not_applicable_reason``)
    waveform: bool = False
    #: measured cost, e.g. "0.09 s per 10-s clip (1 thread)"; what ``evalsuite metrics`` prints
    cost: str = ""

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


def not_applicable_reason(info: MetricInfo, category: str | None = None, *, waveform_note: str = "") -> str | None:
    """Why ``info``'s metric is meaningless for an item/condition, or None if it applies: the one
    text a result row's error gives.

    ``category`` is the item's category; ``waveform_note`` is the codec's own statement that this
    condition rebuilds the phase ('' when it codes the waveform): declared, not guessed."""
    if category is not None and info.applies_to is not None and category not in info.applies_to:
        return f"{info.name} applies to {', '.join(info.applies_to)} only, not {category}"
    if info.waveform and waveform_note:
        return f"{info.name} compares waveforms; {waveform_note}"
    return None


class Metric(ABC):
    info: ClassVar[MetricInfo]
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, ctx: RunContext | None = None, **opts: Any) -> None:
        from ..context import RunContext
        from ..options import resolve_options

        self.ctx: RunContext = ctx if ctx is not None else RunContext()
        self.opts: dict[str, Any] = resolve_options("metric", self.info.name, self.options, opts)

    @classmethod
    def availability(cls, ctx: RunContext | None = None, opts: dict[str, Any] | None = None) -> tuple[bool, str]:
        """(available, reason): cheap import/file checks; the reason says how to get what is missing."""
        return True, "ok"

    def describe(self) -> MetricInfo:
        """This instance's metadata (options may change mode and version)."""
        return self.info

    def reference_features(self, ref: np.ndarray, rate: int) -> Any:
        """Whatever of the reference side can be computed once per item (default: the signal)."""
        return ref

    def score_features(self, features: Any, deg: np.ndarray, rate: int) -> dict[str, float]:
        """Score ``deg`` against precomputed ``reference_features`` (same values as ``score``)."""
        return self.score(features, deg, rate)

    def prepare(self, x: np.ndarray | None, rate: int) -> np.ndarray | None:
        """Resample one signal to this metric's rate (mono float32)."""
        if x is None:
            return None
        return resample(np.asarray(x, dtype=np.float32), rate, self.info.sample_rate)

    @abstractmethod
    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        """Score ``deg`` (against ``ref`` if needed); both mono float32 at ``rate``, same length."""
