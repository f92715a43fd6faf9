"""Signal-level distances that need no trained model: SI-SDR, multi-resolution mel distance, LSD.

The signal processing lives in pure functions (``si_sdr``, ``mel_distance``,
``log_spectral_distance``); the metric classes only validate, resample and name the outputs.

Shared reference work: each distance is also split into a reference side, computed once per item
by ``reference_features`` (SI-SDR: the zero-mean reference and its energy; mel distance: the
level gain and the reference's clamped log-mel spectrogram per resolution; LSD: the reference's
clamped log power spectrogram), and a degraded side (``score_features``). ``score`` keeps the
two-signal functions, so the tests compare two separate code paths; they give identical values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from ..audio import AudioError, loudness_lufs
from .base import Metric, MetricInfo
from .checks import check_degraded, check_pair, check_signal, finite, frozen, package_version, requires

_MIN_SECONDS = 0.25

# --------------------------------------------------------------------------------------- SI-SDR


def si_sdr(ref: np.ndarray, deg: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux, Wisdom, Erdogan, Hershey, "SDR -- half-baked or well
    done?", ICASSP 2019, eq. 4), on zero-mean signals.

    The reference is scaled by the optimal ``alpha = <deg, ref> / ||ref||^2``; the residual
    ``deg - alpha*ref`` is the error. ``eps`` (float64 machine epsilon, as torchmetrics) keeps a
    perfect match finite (about +190 dB for a full-scale signal) instead of +inf.
    """
    s = np.asarray(ref, np.float64) - np.mean(ref, dtype=np.float64)
    y = np.asarray(deg, np.float64) - np.mean(deg, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    alpha = (np.dot(y, s) + eps) / (np.dot(s, s) + eps)
    target = alpha * s
    noise = y - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def si_sdr_reference(ref: np.ndarray) -> tuple[np.ndarray, float]:
    """The reference side of ``si_sdr``: the zero-mean reference (float64) and its energy."""
    s = np.asarray(ref, np.float64) - np.mean(ref, dtype=np.float64)
    return s, float(np.dot(s, s))


def si_sdr_from(centred_ref: np.ndarray, energy: float, deg: np.ndarray) -> float:
    """``si_sdr`` from the output of ``si_sdr_reference`` (identical arithmetic)."""
    s = centred_ref
    y = np.asarray(deg, np.float64) - np.mean(deg, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    alpha = (np.dot(y, s) + eps) / (energy + eps)
    target = alpha * s
    noise = y - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


# ---------------------------------------------------------------------- multi-resolution mel


#: DAC's evaluation/training setting (descript-audio-codec conf/base.yml, MelSpectrogramLoss):
#: seven STFTs, hop = window/4, Hann window, mel magnitudes (pow 1), log10 with clamp 1e-5,
#: L1 per resolution, summed over resolutions; the raw-magnitude term has weight 0 there.
DAC_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
DAC_N_MELS = (5, 10, 20, 40, 80, 160, 320)
DAC_CLAMP = 1e-5


@lru_cache(maxsize=32)
def _mel_basis(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    # librosa's Slaney-style filterbank, as audiotools (DAC) uses
    import librosa

    return librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=None).astype(np.float64)


def _stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| (frames x bins) with a periodic Hann window of ``n_fft`` samples, centred with
    reflect padding (torch.stft's convention, which audiotools/DAC uses)."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    spec = torch.stft(t, n_fft=n_fft, hop_length=hop, win_length=n_fft,
                      window=torch.hann_window(n_fft, dtype=torch.float64), center=True,
                      pad_mode="reflect", return_complex=True)
    return spec.abs().numpy().T


def mel_distance(ref: np.ndarray, deg: np.ndarray, rate: int, windows=DAC_WINDOWS, n_mels=DAC_N_MELS,
                 clamp: float = DAC_CLAMP) -> float:
    """Multi-resolution log-mel L1 distance as DAC's ``MelSpectrogramLoss`` (Kumar et al.,
    "High-Fidelity Audio Compression with Improved RVQGAN", NeurIPS 2023): for each (window,
    n_mels) pair, mean |log10(max(M_ref, clamp)) - log10(max(M_deg, clamp))| over mel bins and
    frames, where M is the mel-filtered STFT magnitude; summed over the resolutions."""
    if len(windows) != len(n_mels):
        raise ValueError("windows and n_mels must have the same length")
    total = 0.0
    for w, m in zip(windows, n_mels):
        if len(ref) <= w // 2:
            raise ValueError(f"signal of {len(ref)} samples is too short for a {w}-sample STFT")
        basis = _mel_basis(int(rate), int(w), int(m))
        mr = _stft_magnitude(ref, w, w // 4) @ basis.T
        md = _stft_magnitude(deg, w, w // 4) @ basis.T
        total += float(np.mean(np.abs(np.log10(np.maximum(mr, clamp)) - np.log10(np.maximum(md, clamp)))))
    return total


def mel_reference(ref: np.ndarray, rate: int, windows=DAC_WINDOWS, n_mels=DAC_N_MELS,
                  clamp: float = DAC_CLAMP) -> tuple[np.ndarray, ...]:
    """The reference side of ``mel_distance``: log10(max(M_ref, clamp)) per resolution."""
    if len(windows) != len(n_mels):
        raise ValueError("windows and n_mels must have the same length")
    out = []
    for w, m in zip(windows, n_mels):
        if len(ref) <= w // 2:
            raise ValueError(f"signal of {len(ref)} samples is too short for a {w}-sample STFT")
        basis = _mel_basis(int(rate), int(w), int(m))
        out.append(np.log10(np.maximum(_stft_magnitude(ref, w, w // 4) @ basis.T, clamp)))
    return tuple(out)


def mel_distance_from(ref_log_mels: tuple[np.ndarray, ...], deg: np.ndarray, rate: int, windows=DAC_WINDOWS,
                      n_mels=DAC_N_MELS, clamp: float = DAC_CLAMP) -> float:
    """``mel_distance`` from the output of ``mel_reference`` (identical arithmetic)."""
    if not len(ref_log_mels) == len(windows) == len(n_mels):
        raise ValueError("one reference log-mel spectrogram per (window, n_mels) resolution is needed")
    total = 0.0
    for lr, w, m in zip(ref_log_mels, windows, n_mels):
        md = _stft_magnitude(deg, w, w // 4) @ _mel_basis(int(rate), int(w), int(m)).T
        total += float(np.mean(np.abs(lr - np.log10(np.maximum(md, clamp)))))
    return total


#: DAC's evaluation level: its test set is written after ``VolumeNorm(-16)`` (audiotools
#: ``AudioSignal.normalize``, BS.1770 loudness in LUFS) and ``RescaleAudio`` (peak <= 1), and the
#: codec's output follows that level (descript-audio-codec conf/base.yml, scripts/save_test_set.py)
DAC_LEVEL_LUFS = -16.0


def reference_level_gain(ref: np.ndarray, rate: int, target_lufs: float = DAC_LEVEL_LUFS) -> float:
    """The gain that brings ``ref`` to ``target_lufs`` (BS.1770-4, pyloudnorm), reduced if needed
    so its peak stays <= 1 (DAC's RescaleAudio). Applied to *both* signals of a pair, it makes a
    level-dependent distance depend only on the pair, not on the level it was handed at."""
    lufs = loudness_lufs(ref, rate)
    if not np.isfinite(lufs):
        raise AudioError("reference: loudness undefined (too quiet or shorter than BS.1770's 0.4-s "
                         "gating block), so the mel distance cannot be put on DAC's level")
    gain = 10 ** ((target_lufs - lufs) / 20)
    peak = float(np.max(np.abs(ref))) * gain
    return gain / peak if peak > 1.0 else gain


# ------------------------------------------------------------------------------------- LSD


def log_spectral_distance(ref: np.ndarray, deg: np.ndarray, n_fft: int = 2048, hop: int = 512,
                          floor: float = 1e-8) -> float:
    """Log-spectral distance in dB: for each STFT frame, the RMS over frequency of
    ``10*log10(P_ref / P_deg)``, averaged over frames (as used for bandwidth extension, e.g.
    Kuleshov et al. 2017, Liu et al. "Neural Vocoder is All You Need for Speech
    Super-resolution" 2022, here in dB rather than in log10 units). Powers are floored at
    ``floor`` (1e-8, i.e. -80 dB re full scale, the usual clamp) so digital silence stays finite."""
    pr = _stft_power(ref, n_fft, hop)
    pd = _stft_power(deg, n_fft, hop)
    diff = 10 * (np.log10(np.maximum(pr, floor)) - np.log10(np.maximum(pd, floor)))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=1))))


def _stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return _stft_magnitude(x, n_fft, hop) ** 2


def lsd_reference(ref: np.ndarray, n_fft: int = 2048, hop: int = 512, floor: float = 1e-8) -> np.ndarray:
    """The reference side of ``log_spectral_distance``: log10(max(P_ref, floor))."""
    return np.log10(np.maximum(_stft_power(ref, n_fft, hop), floor))


def lsd_from(ref_log_power: np.ndarray, deg: np.ndarray, n_fft: int = 2048, hop: int = 512,
             floor: float = 1e-8) -> float:
    """``log_spectral_distance`` from the output of ``lsd_reference`` (identical arithmetic)."""
    diff = 10 * (ref_log_power - np.log10(np.maximum(_stft_power(deg, n_fft, hop), floor)))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=1))))


# ------------------------------------------------------------------------ reference features


@dataclass(frozen=True)
class SiSdrReference:
    """SI-SDR's reference side. ``rate``/``length``: the input the reference was given at."""

    rate: int
    length: int
    centred: np.ndarray  # zero-mean reference at the metric's rate, float64 (read-only)
    energy: float


@dataclass(frozen=True)
class MelReference:
    """The mel distance's reference side: the pair gain (None: pair scored as given) and the
    reference's clamped log-mel spectrogram per resolution (read-only)."""

    rate: int
    length: int
    gain: float | None
    log_mels: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class LsdReference:
    """LSD's reference side: the reference's clamped log10 power spectrogram (read-only)."""

    rate: int
    length: int
    log_power: np.ndarray


# --------------------------------------------------------------------------------- metrics


class SiSdr(Metric):
    """SI-SDR in dB (higher is better); scored at 48 kHz, the run's usual rate, so normally no
    resampling happens and the full band counts (a codec that drops the top octave loses SDR).
    Shared per item: the zero-mean reference and its energy."""

    info = MetricInfo(
        name="si_sdr",
        needs_reference=True,
        sample_rate=48000,
        higher_is_better=True,
        version="evalsuite si_sdr 1 (Le Roux et al. 2019, zero-mean)",
        mode="48 kHz, zero-mean",
        value_range=(-50.0, 60.0),
        description="Scale-invariant signal-to-distortion ratio (dB); waveform fidelity, "
                    "punishes phase changes that listeners do not hear.",
        waveform=True,
        cost="0.01 s per 10-s clip (CPU, 1 thread), plus 0.002 s for the reference once per item",
    )

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        return {"si_sdr": finite(si_sdr(self.prepare(ref, rate), self.prepare(deg, rate)), "SI-SDR")}

    def reference_features(self, ref: np.ndarray, rate: int) -> SiSdrReference:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        s, energy = si_sdr_reference(self.prepare(ref, rate))
        return SiSdrReference(rate=int(rate), length=len(ref), centred=frozen(s), energy=energy)

    def score_features(self, features: SiSdrReference, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_degraded(deg, rate, ref_rate=features.rate, ref_length=features.length, min_seconds=_MIN_SECONDS)
        value = si_sdr_from(features.centred, features.energy, self.prepare(deg, rate))
        return {"si_sdr": finite(value, "SI-SDR")}


class MultiResolutionMelDistance(Metric):
    """DAC's multi-resolution log-mel L1 distance at 44.1 kHz (lower is better), on DAC's level.

    The log10 clamp at 1e-5 makes the distance level-dependent (about 30% for 10 dB), so by
    default both signals get the one gain that puts the reference at -16 LUFS (peak <= 1), the
    level of DAC's evaluation set; values are then comparable with DAC's tables and do not
    depend on the level a run prepares items at. ``normalize=False`` scores the pair as given.

    Shared per item (``reference_features``): the resampled reference, the pair gain set from it
    (``score_features`` applies that same gain to each degraded signal) and the reference's
    clamped log-mel spectrograms at all seven resolutions."""

    info = MetricInfo(
        name="mel_distance",
        needs_reference=True,
        sample_rate=44100,
        higher_is_better=False,
        version=f"evalsuite mel_distance 2 (DAC MelSpectrogramLoss settings, reference at DAC's "
                f"-16 LUFS; librosa {package_version('librosa')} mel filters)",
        mode="44.1 kHz, windows 32..2048, n_mels 5..320, log10 clamp 1e-5, L1 summed; "
             "pair gain: reference at -16 LUFS",
        value_range=(0.0, 20.0),
        description="Multi-resolution log-mel spectrogram L1 distance as in DAC / Codec-SUPERB, "
                    "at DAC's evaluation level (reference -16 LUFS).",
        cost="0.20 s per 10-s clip (CPU, 1 thread), plus 0.20 s for the reference once per item",
    )

    options = {"normalize": True, "target_lufs": DAC_LEVEL_LUFS}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.normalize = bool(self.opts["normalize"])
        self.target_lufs = float(self.opts["target_lufs"])
        if not -70.0 <= self.target_lufs <= 0.0:
            raise ValueError(f"mel_distance: target_lufs must be in [-70, 0] LUFS, got {self.target_lufs}")

    def describe(self) -> MetricInfo:
        base = MultiResolutionMelDistance.info
        if self.normalize and self.target_lufs == DAC_LEVEL_LUFS:
            return base
        level = (f"reference at {self.target_lufs:g} LUFS" if self.normalize
                 else "as given (level-dependent)")
        return replace(base, mode=base.mode.replace("reference at -16 LUFS", level),
                       version=base.version.replace("reference at DAC's -16 LUFS", level),
                       description="Multi-resolution log-mel spectrogram L1 distance (DAC settings), "
                                   f"pair level: {level}.")

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return requires("mel_distance", "torch", "librosa", "pyloudnorm", pip="torch librosa pyloudnorm")

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        r, d = self.prepare(ref, rate), self.prepare(deg, rate)
        sr = self.info.sample_rate
        if self.normalize:
            g = reference_level_gain(r, sr, self.target_lufs)
            r, d = r.astype(np.float64) * g, d.astype(np.float64) * g
        return {"mel_distance": finite(mel_distance(r, d, sr), "mel distance")}

    def reference_features(self, ref: np.ndarray, rate: int) -> MelReference:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        r, sr = self.prepare(ref, rate), self.info.sample_rate
        g = None
        if self.normalize:
            g = reference_level_gain(r, sr, self.target_lufs)
            r = r.astype(np.float64) * g
        return MelReference(rate=int(rate), length=len(ref), gain=g,
                            log_mels=tuple(frozen(m) for m in mel_reference(r, sr)))

    def score_features(self, features: MelReference, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_degraded(deg, rate, ref_rate=features.rate, ref_length=features.length, min_seconds=_MIN_SECONDS)
        d = self.prepare(deg, rate)
        if features.gain is not None:  # the gain set from the reference applies to both signals
            d = d.astype(np.float64) * features.gain
        return {"mel_distance": finite(mel_distance_from(features.log_mels, d, self.info.sample_rate),
                                       "mel distance")}


class LogSpectralDistance(Metric):
    """Log-spectral distance (dB) at 48 kHz, 2048-point frames (lower is better). Shared per
    item: the reference's clamped log power spectrogram."""

    info = MetricInfo(
        name="lsd",
        needs_reference=True,
        sample_rate=48000,
        higher_is_better=False,
        version="evalsuite lsd 1 (10*log10 power, RMS over bins, mean over frames)",
        mode="48 kHz, n_fft 2048, hop 512, Hann, power floor -80 dB",
        value_range=(0.0, 60.0),
        description="Log-spectral distance in dB; sensitive to missing bandwidth.",
        cost="0.04 s per 10-s clip (CPU, 1 thread), plus 0.04 s for the reference once per item",
    )

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return requires("lsd", "torch", pip="torch")

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        r, d = self.prepare(ref, rate), self.prepare(deg, rate)
        return {"lsd": finite(log_spectral_distance(r, d), "LSD")}

    def reference_features(self, ref: np.ndarray, rate: int) -> LsdReference:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        return LsdReference(rate=int(rate), length=len(ref), log_power=frozen(lsd_reference(self.prepare(ref, rate))))

    def score_features(self, features: LsdReference, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_degraded(deg, rate, ref_rate=features.rate, ref_length=features.length, min_seconds=_MIN_SECONDS)
        return {"lsd": finite(lsd_from(features.log_power, self.prepare(deg, rate)), "LSD")}
