"""ViSQOL v3 (Chinen et al., "ViSQOL v3: An Open Source Production Ready Objective Speech and
Audio Metric", QoMEX 2020) via ``visqol-python``, a pure-Python port of Google's C++ v3.3.3.

Two metrics, as Google's command line offers two modes:

* ``visqol_audio`` -- audio mode: 48 kHz, 32 gammatone bands, SVR mapping to MOS-LQO
  (for music and general audio, and for speech heard at full band).
* ``visqol_speech`` -- speech mode: 16 kHz, 21 bands, VAD-selected patches; the similarity is
  mapped to MOS-LQO with the deep-lattice model by default (the C++ default,
  ``--use_lattice_model=true``) or with the older exponential fit
  (``VisqolSpeech(mapping="exponential")``, the C++ ``--use_lattice_model=false``).

Shared reference work: ``reference_features`` computes ViSQOL's reference side once per item (the
reference's gammatone spectrogram, envelope, level, patch indices -- in speech mode from the
reference VAD -- and each reference patch's slice, envelope and spectrogram for the fine
realignment; see ``visqol_reference``); ``score_features`` runs the rest per condition (the
degraded alignment, which depends on both signals, patch matching, NSIM, the mapping) and gives
``score``'s values exactly. ``score`` itself calls the library on the pair.

Only the sequential path of visqol-python is used: its ``measure_batch(parallel=True)`` forks a
process pool, which deadlocks in an already-forked worker; evalsuite's runner parallelises
across spawn workers instead. Speed comes from numba (visqol-python's ``[accel]`` extra), which
visqol-python picks up automatically when installed; results are identical without it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_degraded, check_pair, check_signal, finite, package_version, requires
from .visqol_reference import VisqolReference, split_supported, visqol_moslqo_from, visqol_reference

#: ViSQOL compares 20-30 frame patches; below ~1 s there are too few to mean anything.
_MIN_SECONDS = 1.0
_SPEECH_MAPPINGS = ("lattice", "exponential")


def _version(extra: str) -> str:
    return f"visqol-python {package_version('visqol-python')} (port of ViSQOL v3.3.3); {extra}"


def visqol_moslqo(api: Any, ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """MOS-LQO of one mono pair with a created ``visqol.VisqolApi``."""
    result = api.measure_from_arrays(np.asarray(ref, np.float64), np.asarray(deg, np.float64), rate)
    return finite(result.moslqo, "ViSQOL")


def _availability(need_lattice: bool) -> tuple[bool, str]:
    """Cheap: the modules are found, not imported (importing visqol imports scipy.signal, 2-3 s)."""
    ok, why = requires("visqol", "visqol", pip="'visqol-python[accel]==3.8.0'")
    if ok and need_lattice:
        ok, why = requires("the lattice speech mapping", "ai_edge_litert",
                           pip="'visqol-python[lattice]' (ai-edge-litert), or use VisqolSpeech(mapping='exponential')")
    return ok, why


class _Visqol(Metric):
    _mode: ClassVar[str]

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self._api: Any = None  # created on first use: loading the SVR/TFLite model costs time

    def __getstate__(self) -> dict[str, Any]:
        # the ViSQOL objects (libsvm/TFLite handles) do not pickle; a copy rebuilds them lazily
        return {**self.__dict__, "_api": None}

    def _create_kwargs(self) -> dict[str, Any]:
        return {"mode": self._mode}

    def api(self) -> Any:
        if self._api is None:
            from visqol import VisqolApi

            api = VisqolApi()
            api.create(**self._create_kwargs())
            self._api = api
        return self._api

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        r, d = self.prepare(ref, rate), self.prepare(deg, rate)
        return {self.info.name: visqol_moslqo(self.api(), r, d, self.info.sample_rate)}

    def reference_features(self, ref: np.ndarray, rate: int) -> Any:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        if not split_supported():  # the split is a port of one release; others score pairs whole
            return ref
        # the library's private manager: the API object has no public handle on its settings
        return visqol_reference(self.api()._manager, self.prepare(ref, rate), self.info.sample_rate,
                                rate=rate, length=len(ref))

    def score_features(self, features: Any, deg: np.ndarray, rate: int) -> dict[str, float]:
        if not isinstance(features, VisqolReference):
            return self.score(features, deg, rate)
        deg = check_degraded(deg, rate, ref_rate=features.rate, ref_length=features.length,
                             min_seconds=_MIN_SECONDS)
        value = visqol_moslqo_from(self.api()._manager, features, self.prepare(deg, rate))
        return {self.info.name: finite(value, "ViSQOL")}


class VisqolAudio(_Visqol):
    """ViSQOL v3 audio mode (48 kHz, SVR mapping) for music and general audio.

    Speech items are scored by ``visqol_speech`` instead, as the ViSQOL v3 paper (Chinen et al.,
    2020) recommends speech mode for speech; this also halves a default run's ViSQOL time."""

    _mode = "audio"
    info = MetricInfo(
        name="visqol_audio",
        needs_reference=True,
        sample_rate=48000,
        higher_is_better=True,
        version=_version("audio mode, bundled libsvm nu-SVR model"),
        mode="audio (48 kHz, SVR)",
        applies_to=("music", "general"),
        value_range=(1.0, 5.0),
        description="ViSQOL v3 audio-mode MOS-LQO at 48 kHz.",
        cost="1.3 s per 10-s clip (CPU, 1 thread, numba), plus 0.77 s for the reference once per item",
    )

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return _availability(need_lattice=False)


class VisqolSpeech(_Visqol):
    """ViSQOL v3 speech mode (16 kHz); lattice mapping by default, exponential on request."""

    _mode = "speech"
    info = MetricInfo(
        name="visqol_speech",
        needs_reference=True,
        sample_rate=16000,
        higher_is_better=True,
        version=_version("speech mode, deep-lattice TFLite mapping (C++ default)"),
        mode="speech (16 kHz, lattice)",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(1.0, 5.0),
        description="ViSQOL v3 speech-mode MOS-LQO at 16 kHz (lattice mapping, as Google's CLI).",
        cost="0.38 s per 10-s clip (CPU, 1 thread, numba), plus 0.29 s for the reference once per item",
    )

    options = {"mapping": "lattice"}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.mapping = self.opts["mapping"]
        if self.mapping not in _SPEECH_MAPPINGS:
            raise ValueError(f"ViSQOL speech mapping must be one of {_SPEECH_MAPPINGS}, got {self.mapping!r}")

    def describe(self) -> MetricInfo:
        if self.mapping == "lattice":
            return self.info
        # the recorded mode/version must say which mapping produced the value
        return replace(
            VisqolSpeech.info,
            mode="speech (16 kHz, exponential)",
            version=_version("speech mode, exponential mapping (C++ --use_lattice_model=false)"),
            description="ViSQOL v3 speech-mode MOS-LQO at 16 kHz (exponential mapping).",
        )

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return _availability(need_lattice=(opts or {}).get("mapping", "lattice") == "lattice")

    def _create_kwargs(self) -> dict[str, Any]:
        return {"mode": "speech", "use_lattice_model": self.mapping == "lattice"}
