"""Metric registry: names -> classes, imported lazily."""
from __future__ import annotations

from ..registry import load_class
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
    "asr": "evalsuite.metrics.asr:AsrErrorRate",
    "speaker_sim": "evalsuite.metrics.speaker:SpeakerSimilarity",
    "warpq": "evalsuite.metrics.warpq:Warpq",
}


def metric_names() -> list[str]:
    return list(_REGISTRY)


def metric_class(name: str) -> type[Metric]:
    """A registered name, or ``package.module:Class`` for your own Metric subclass."""
    return load_class(_REGISTRY, name, Metric, "metric")


def get_metric(name: str, ctx=None, **opts) -> Metric:
    cls = metric_class(name)
    ok, why = cls.availability(ctx, opts)
    if not ok:
        raise MetricUnavailable(f"metric {name!r} unavailable: {why}")
    return cls(ctx, **opts)


__all__ = ["Metric", "MetricInfo", "MetricUnavailable", "metric_names", "metric_class", "get_metric"]
