"""Content preservation: word and character error rate of the decoded speech against an ASR
transcript of the reference (the convention of DAC's and Codec-SUPERB's evaluation scripts: no
human transcript is needed, and an ASR slip on the reference costs nothing as long as the decoded
speech is heard the same way).

ASR: faster-whisper (CTranslate2) with a local model folder; by default Whisper tiny.en from the
data location (``<data>/models/whisper-tiny.en``, MIT; see its SOURCE.md). Nothing is ever
downloaded: the model must be a local folder holding model.bin, config.json and tokenizer.json.
Decoding is deterministic: beam search (5 by default), temperature 0 with no fallback to
sampling, English, no VAD, no "no speech" dropping of segments, no timestamps, CPU int8
(``compute_type=float32`` on request), ``ctx.threads`` intra-op threads.

Text: Whisper's English normaliser (lower case, punctuation and filler removal, British ->
American spelling, numbers to digits; the ``whisper-normalizer`` package's copy of OpenAI's) on
both sides, then jiwer (whitespace collapse) for WER (words) and CER (characters, spaces
included). ``normalizer=basic`` uses jiwer's lower-case/punctuation/whitespace transforms only.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_pair, check_signal, finite, package_version, requires

_RATE = 16000
_MIN_SECONDS = 0.5
_DEFAULT_MODEL = "whisper-tiny.en"
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
_NORMALIZERS = ("whisper", "basic")
_COMPUTE_TYPES = ("int8", "float32")


@dataclass(frozen=True)
class Transcript:
    """The reference side, computed once per item (``reference_features``)."""

    text: str
    normalized: str


def model_dir(ctx: Any, model: str) -> Path:
    """The faster-whisper model folder: the ``model`` option, or the default in the data location."""
    return Path(model).expanduser() if model else ctx.data_root() / "models" / _DEFAULT_MODEL


def _model_problem(d: Path) -> str | None:
    if not d.is_dir():
        return (f"ASR model folder {d} does not exist; give a local faster-whisper (CTranslate2) model "
                f"folder with --metric-opt asr.model=DIR, or put Whisper tiny.en in <data>/models/"
                f"{_DEFAULT_MODEL} (Systran faster-whisper-tiny.en; nothing is downloaded at run time)")
    missing = [f for f in _MODEL_FILES if not (d / f).is_file()]
    if missing:
        return (f"ASR model folder {d} lacks {', '.join(missing)} (a faster-whisper model folder holds "
                f"{', '.join(_MODEL_FILES)}); without tokenizer.json faster-whisper would download one")
    return None


def _sha256_prefix(path: Path, n: int = 12) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def basic_normalize(text: str) -> str:
    import jiwer

    t = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    return t(text)


def error_rates(reference: str, hypothesis: str) -> tuple[float, float]:
    """(WER, CER) of two already-normalised texts; the reference must hold at least one word."""
    import jiwer

    if not reference.strip():
        raise ValueError("empty reference text")
    words = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    chars = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfChars()])
    wer = jiwer.wer(reference, hypothesis, reference_transform=words, hypothesis_transform=words)
    cer = jiwer.cer(reference, hypothesis, reference_transform=chars, hypothesis_transform=chars)
    return float(wer), float(cer)


class AsrErrorRate(Metric):
    """WER and CER (0 = same words; lower is better) of decoded speech vs. ASR of the reference."""

    info = MetricInfo(
        name="asr",
        needs_reference=True,
        sample_rate=_RATE,
        higher_is_better=False,
        version=f"faster-whisper {package_version('faster-whisper')}, ctranslate2 "
                f"{package_version('ctranslate2')}, jiwer {package_version('jiwer')}, "
                f"whisper-normalizer {package_version('whisper-normalizer')}",
        mode=f"{_DEFAULT_MODEL} (data location), beam 5, temperature 0, en, no VAD, CPU int8, "
             "Whisper English normaliser",
        outputs=("wer", "cer"),
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(0.0, 1.0),
        description="Content preservation: WER/CER of the decoded speech against an ASR transcript "
                    "of the reference (faster-whisper; values depend on the ASR model).",
        cost="1.4 s per 10-s clip (CPU, 1 thread; tiny.en int8, beam 5; about the same for any clip "
             "up to 30 s, as Whisper pads to 30-s windows), plus 1.5 s for the reference transcript "
             "once per item",
    )

    options = {"model": "", "beam_size": 5, "compute_type": "int8", "normalizer": "whisper"}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.beam_size = int(self.opts["beam_size"])
        if not 1 <= self.beam_size <= 32:
            raise ValueError(f"asr: beam_size must be in 1..32, got {self.beam_size}")
        self.compute_type = str(self.opts["compute_type"])
        if self.compute_type not in _COMPUTE_TYPES:
            raise ValueError(f"asr: compute_type must be one of {_COMPUTE_TYPES}, got {self.compute_type!r}")
        self.normalizer = str(self.opts["normalizer"])
        if self.normalizer not in _NORMALIZERS:
            raise ValueError(f"asr: normalizer must be one of {_NORMALIZERS}, got {self.normalizer!r}")
        self.model_path = model_dir(self.ctx, str(self.opts["model"]))
        self._model: Any = None
        self._model_id: str | None = None
        self._norm: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # CTranslate2 models do not pickle; a copy sent to a worker reloads lazily
        return {**self.__dict__, "_model": None, "_norm": None}

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        from ..context import RunContext
        from ..data import DataError

        opts = opts or {}
        modules = ["faster_whisper", "jiwer"]
        if opts.get("normalizer", "whisper") == "whisper":
            modules.append("whisper_normalizer.english")
        ok, why = requires("asr", *modules, pip="faster-whisper jiwer whisper-normalizer")
        if not ok:
            return ok, why
        try:
            d = model_dir(ctx if ctx is not None else RunContext(), str(opts.get("model", "")))
        except DataError as e:
            return False, f"asr needs the data location for its default model: {e}"
        problem = _model_problem(d)
        return (False, problem) if problem else (True, "ok")

    def model_id(self) -> str:
        """Model folder name + the first 12 hex digits of model.bin's sha256 (what the rows record)."""
        if self._model_id is None:
            self._model_id = f"{self.model_path.name} (model.bin sha256 {_sha256_prefix(self.model_path / 'model.bin')})"
        return self._model_id

    def describe(self) -> MetricInfo:
        norm = "Whisper English normaliser" if self.normalizer == "whisper" else "jiwer basic normaliser"
        return replace(
            AsrErrorRate.info,
            mode=f"{self.model_id()}, beam {self.beam_size}, temperature 0, en, no VAD, "
                 f"CPU {self.compute_type}, {norm}",
        )

    def model(self) -> Any:
        if self._model is None:
            problem = _model_problem(self.model_path)
            if problem:
                raise RuntimeError(problem)
            from faster_whisper import WhisperModel

            self._model = WhisperModel(str(self.model_path), device="cpu", compute_type=self.compute_type,
                                       cpu_threads=max(1, int(self.ctx.threads)), num_workers=1,
                                       local_files_only=True)
        return self._model

    def normalize(self, text: str) -> str:
        if self.normalizer == "basic":
            return basic_normalize(text)
        if self._norm is None:
            from whisper_normalizer.english import EnglishTextNormalizer

            self._norm = EnglishTextNormalizer()
        return re.sub(r"\s+", " ", self._norm(text)).strip()

    def transcribe(self, x16k: np.ndarray) -> str:
        segments, _ = self.model().transcribe(
            np.ascontiguousarray(x16k, dtype=np.float32), language="en", task="transcribe",
            beam_size=self.beam_size, best_of=1, temperature=0.0,
            # no fallback and no silent dropping of segments judged "no speech": every
            # condition is transcribed the same way, whatever its quality
            compression_ratio_threshold=None, log_prob_threshold=None, no_speech_threshold=None,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    def reference_features(self, ref: np.ndarray, rate: int) -> Transcript:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        text = self.transcribe(self.prepare(ref, rate))
        return Transcript(text=text, normalized=self.normalize(text))

    def score_features(self, features: Transcript, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_signal(deg, rate, name="degraded", min_seconds=_MIN_SECONDS)
        if not features.normalized:
            raise RuntimeError(f"the ASR ({self.model_path.name}) heard no words in the reference "
                               f"(raw transcript {features.text!r}); WER is undefined for this item")
        hyp = self.normalize(self.transcribe(self.prepare(deg, rate)))
        wer, cer = error_rates(features.normalized, hyp)
        return {"wer": finite(wer, "WER"), "cer": finite(cer, "CER")}

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        return self.score_features(self.reference_features(ref, rate), deg, rate)


__all__ = ["AsrErrorRate", "Transcript", "error_rates", "basic_normalize", "model_dir"]
