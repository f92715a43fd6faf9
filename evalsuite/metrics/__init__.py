"""Metric registry: names -> classes, imported lazily."""
from __future__ import annotations

import importlib

from .base import Metric, MetricInfo, MetricUnavailable

_REGISTRY: dict[str, str] = {
    "pesq_wb": "evalsuite.metrics.pesq:PesqWideband",
    "pesq_nb": "evalsuite.metrics.pesq:PesqNarrowband",
    "stoi": "evalsuite.metrics.stoi:Stoi",
    "estoi": "evalsuite.metrics.stoi:ExtendedStoi",
    "visqol_audio": "evalsuite.metrics.visqol:VisqolAudio",
    "visqol_speech": "evalsuite.metrics.visqol:VisqolSpeech",
    "si_sdr": "evalsuite.metrics.spectral:SiSdr",
    "mel_distance": "evalsuite.metrics.spectral:MultiResolutionMelDistance",
    "lsd": "evalsuite.metrics.spectral:LogSpectralDistance",
    "dnsmos": "evalsuite.metrics.dnsmos:Dnsmos",
}


def metric_names() -> list[str]:
    return list(_REGISTRY)


def metric_class(name: str) -> type[Metric]:
    """A registered name, or ``package.module:Class`` for your own Metric subclass."""
    spec = _REGISTRY.get(name) or (name if ":" in name else None)
    if spec is None:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(_REGISTRY)} (or package.module:Class)")
    mod, cls = spec.split(":")
    obj = getattr(importlib.import_module(mod), cls)
    if not (isinstance(obj, type) and issubclass(obj, Metric)):
        raise KeyError(f"{name!r} is not a Metric subclass")
    return obj


def get_metric(name: str) -> Metric:
    cls = metric_class(name)
    ok, why = cls.availability()
    if not ok:
        raise MetricUnavailable(f"metric {name!r} unavailable: {why}")
    return cls()


__all__ = ["Metric", "MetricInfo", "MetricUnavailable", "metric_names", "metric_class", "get_metric"]
