"""Speaker preservation: cosine similarity of speaker embeddings of the reference and the decoded
speech (as VERSA, Codec-SUPERB and DAC's scripts report it, each with its own embedder).

Embedder: resemblyzer's GE2E speaker encoder (Wan et al., "Generalized End-to-End Loss for
Speaker Verification", ICASSP 2018; 3-layer LSTM on 40-band mel frames, 256-d L2-normalised
utterance embedding averaged over 1.6-s partials). Its weights ship inside the resemblyzer wheel
(``resemblyzer/pretrained.pt``), so nothing is downloaded. Preprocessing is resemblyzer's own
(``preprocess_wav``): 16 kHz, volume raised to -30 dBFS if quieter, pauses longer than its VAD
limit removed with WebRTC's VAD (``vad_trim=False`` keeps them), applied to each side separately.

Values are comparable only within one embedder: a similarity of 0.9 from GE2E is not 0.9 from
WavLM-SV or ECAPA-TDNN, so the embedder is recorded in every row.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .base import Metric, MetricInfo, MetricUnavailable
from .checks import check_pair, check_signal, finite, package_version, requires

_RATE = 16000
#: resemblyzer embeds 1.6-s partials; shorter speech gives one padded partial, less stable
_MIN_SECONDS = 1.0


def _availability() -> tuple[bool, str]:
    """Cheap: the modules are found, not imported (importing resemblyzer imports torch, 3 s)."""
    return requires("speaker_sim", "webrtcvad", "resemblyzer", pip="resemblyzer webrtcvad-wheels")


def _import_resemblyzer() -> Any:
    """resemblyzer, or MetricUnavailable saying how to repair what is installed but broken."""
    try:
        import webrtcvad  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name == "pkg_resources":
            # PyPI's webrtcvad 2.0.10 (resemblyzer's dependency) imports pkg_resources, which
            # setuptools >= 81 no longer ships; webrtcvad-wheels is the same module without it
            raise MetricUnavailable(
                "the installed webrtcvad 2.0.10 imports pkg_resources (gone from setuptools >= 81); "
                "replace it with: pip install --force-reinstall --no-deps webrtcvad-wheels") from e
        raise MetricUnavailable(f"speaker_sim needs webrtcvad ({e}); install with: pip install webrtcvad-wheels") from e
    try:
        import resemblyzer
    except ImportError as e:
        raise MetricUnavailable(f"speaker_sim needs resemblyzer ({e}); install with: pip install resemblyzer") from e
    return resemblyzer


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class SpeakerSimilarity(Metric):
    """Cosine similarity of GE2E (resemblyzer) speaker embeddings, in [-1, 1]; higher is better."""

    info = MetricInfo(
        name="speaker_sim",
        needs_reference=True,
        sample_rate=_RATE,
        higher_is_better=True,
        version=f"resemblyzer {package_version('resemblyzer')} (GE2E LSTM, bundled pretrained.pt), "
                f"torch {package_version('torch')}",
        mode="GE2E 256-d utterance embedding, resemblyzer preprocessing with VAD trim, cosine",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(-1.0, 1.0),
        description="Speaker preservation: cosine similarity of resemblyzer (GE2E) speaker embeddings "
                    "of reference and decoded speech; comparable only within one embedder.",
        cost="0.11 s per 10-s clip (CPU, 1 thread), plus 0.09 s for the reference embedding once per item",
    )

    options = {"vad_trim": True}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.vad_trim = bool(self.opts["vad_trim"])
        self._encoder: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_encoder": None}

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return _availability()

    def describe(self) -> MetricInfo:
        if self.vad_trim:
            return self.info
        return replace(SpeakerSimilarity.info,
                       mode="GE2E 256-d utterance embedding, resemblyzer preprocessing without VAD trim, cosine")

    def encoder(self) -> Any:
        if self._encoder is None:
            self._encoder = _import_resemblyzer().VoiceEncoder(device="cpu", verbose=False)
        return self._encoder

    def embed(self, x: np.ndarray, rate: int) -> np.ndarray:
        encoder = self.encoder()  # first: says how to repair a broken install (MetricUnavailable)
        from resemblyzer.audio import normalize_volume, trim_long_silences
        from resemblyzer.hparams import audio_norm_target_dBFS

        wav = self.prepare(x, rate).astype(np.float32)
        # resemblyzer's preprocess_wav, minus its librosa resampling (we hand it 16 kHz already)
        wav = normalize_volume(wav, audio_norm_target_dBFS, increase_only=True)
        if self.vad_trim:
            wav = trim_long_silences(wav)
        if wav.size < _RATE // 4:
            raise RuntimeError("speaker_sim: less than 0.25 s of speech left after removing pauses "
                               "(WebRTC VAD); nothing to embed")
        return np.asarray(encoder.embed_utterance(wav), dtype=np.float64)

    def reference_features(self, ref: np.ndarray, rate: int) -> np.ndarray:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        return self.embed(ref, rate)

    def score_features(self, features: np.ndarray, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_signal(deg, rate, name="degraded", min_seconds=_MIN_SECONDS)
        return {"speaker_sim": finite(cosine(features, self.embed(deg, rate)), "speaker similarity")}

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        return self.score_features(self.reference_features(ref, rate), deg, rate)
