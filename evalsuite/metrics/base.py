"""The metric interface, with VERSA-style metadata per metric.

A metric is one small class with ``info`` (name, needs_reference, sample_rate,
higher_is_better, version/mode, which categories it applies to) and
``score(ref, deg, rate) -> {output_name: value}``. It resamples to its own rate itself
(``prepare``). Heavy models are loaded lazily once per instance, and the runner keeps one
instance per worker process.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..audio import resample


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

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


class Metric(ABC):
    info: ClassVar[MetricInfo]

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return True, "ok"

    def prepare(self, x: np.ndarray | None, rate: int) -> np.ndarray | None:
        """Resample one signal to this metric's rate (mono float32)."""
        if x is None:
            return None
        return resample(np.asarray(x, dtype=np.float32), rate, self.info.sample_rate)

    @abstractmethod
    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        """Score ``deg`` (against ``ref`` if needed); both mono float32 at ``rate``, same length."""
