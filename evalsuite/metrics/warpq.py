"""WARP-Q (Jassim, Skoglund, Chinen, Hines: "WARP-Q: Quality prediction for generative neural
speech codecs", ICASSP 2021; "Speech quality assessment with WARP-Q: from similarity to
subsequence dynamic time warp cost", IET Signal Processing 16(9), 2022): the full-reference
speech measure designed for generative codecs, which tolerates the small timing and phase
changes they make.

Why not the ``warpq`` package: warpq 1.5.2 (the only release on PyPI, October 2024) fails on
NumPy 2 in its default configuration, twice: its VAD dependency ``pyvad`` 0.1.3 / 0.2.0 calls
``np.lib.pad`` (removed in NumPy 2.0; pyvad 0.2.0 pins numpy<2), and ``warpq.utils.cmvnw`` calls
``np.lib.pad`` as well -> ``AttributeError: module 'numpy.lib' has no attribute 'pad'``. This is
the same algorithm with the package's defaults, written as pure functions:

1. WebRTC VAD (aggressiveness 0, 30-ms frames at 16 kHz, a frame kept if it or a neighbour is
   voiced: pyvad's ``vad``), applied to reference and degraded separately; only voiced samples
   are kept.
2. MFCC (librosa): 13 coefficients up to 5 kHz, 32-ms Hann window, 4-ms hop, n_fft 1024, lifter 3.
3. Local cepstral mean and variance normalisation over a 0.836-s window (201 frames, symmetric
   padding), as speechpy's ``cmvnw``.
4. The degraded MFCC is cut into 0.4-s patches (92 frames) every 0.2 s (42 frames); each patch is
   aligned to the whole reference by subsequence DTW (librosa, Euclidean, steps (1,0), (0,3),
   (1,3), band radius 0.25); its cost is the accumulated cost at the path end divided by the
   patch length.
5. The score is the median of the patch costs: the raw WARP-Q score, lower is better; 3.5 is the
   package's normalisation ceiling. Identical speech does not score 0 but about 0.5-0.65 (the
   step sizes forbid the one-to-one diagonal, so even a perfect copy pays an alignment cost;
   warpq 1.5.2 itself gives 0.55 for vctk_p286_011 against itself). The package rounds the
   score to 3 decimals; this keeps full precision.

Checked against the values the WARP-Q authors publish in their README for their example pairs
(p239_021 vs EVS, Opus, flow-mel codings): equal to all 3 decimals when the 48-kHz files are
resampled to 16 kHz as the authors did (librosa 0.9 ``load``, resampy ``kaiser_best``), within
0.015 when resampled with libsoxr as evalsuite does (VAD decisions move with the resampler).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_pair, check_signal, finite, frozen, package_version, requires

_RATE = 16000
_MIN_SECONDS = 0.5

#: warpq 1.5.2 defaults at 16 kHz
N_MFCC = 13
FMAX = 5000.0
WIN_LENGTH = 512  # 32 ms
HOP_LENGTH = 64  # 4 ms
N_FFT = 1024  # 2 * win_length
LIFTER = 3
PATCH_SECONDS = 0.4
PATCH_FRAMES = 92  # librosa.time_to_frames(0.4, sr=16000, hop_length=64, n_fft=1024)
PATCH_STEP = 42  # librosa.time_to_frames(0.2, ...)
CMVN_WINDOW = 201  # librosa.time_to_frames(0.836, ...), odd
SIGMA = np.array([[1, 0], [0, 3], [1, 3]])
VAD_HOP_MS = 30
VAD_MODE = 0


def webrtc_vad_mask(x: np.ndarray, rate: int = _RATE, hop_ms: int = VAD_HOP_MS, mode: int = VAD_MODE) -> np.ndarray:
    """Per-sample voice activity (bool) as pyvad's ``vad``: WebRTC VAD on ``hop_ms`` frames of 16-bit
    audio (zero-padded to whole frames), then a frame counts as voiced if it or a neighbour is."""
    import webrtcvad

    if rate not in (8000, 16000, 32000, 48000):
        raise ValueError(f"WebRTC VAD runs at 8/16/32/48 kHz, not {rate} Hz")
    # truncation toward zero as pyvad's astype('int16'); clipped so that full scale cannot wrap
    pcm = np.clip(np.trunc(np.asarray(x, np.float32) * np.float32(32768.0)), -32768, 32767).astype(np.int16)
    hop = rate * hop_ms // 1000
    n_frames = pcm.size // hop + 1
    frames = np.pad(pcm, (0, n_frames * hop - pcm.size)).reshape(n_frames, hop)
    vad = webrtcvad.Vad(mode)
    voiced = np.array([vad.is_speech(f.tobytes(), rate) for f in frames], dtype=np.float64)
    active = np.convolve(voiced, np.ones(3) / 3, mode="same") > 0
    return np.repeat(active, hop)[: pcm.size]


def mfcc(x: np.ndarray, rate: int = _RATE) -> np.ndarray:
    import librosa

    return librosa.feature.mfcc(y=np.asarray(x, np.float32), sr=rate, n_mfcc=N_MFCC, fmax=FMAX, n_fft=N_FFT,
                                win_length=WIN_LENGTH, hop_length=HOP_LENGTH, lifter=LIFTER)


def cmvn_sliding(features: np.ndarray, window: int = CMVN_WINDOW, eps: float = 2.0**-30) -> np.ndarray:
    """Local mean and variance normalisation of ``features`` (frames x coefficients) over an odd
    ``window`` of frames with symmetric padding (speechpy's ``cmvnw`` with variance_normalization;
    intermediate values kept in float32 as there)."""
    from numpy.lib.stride_tricks import sliding_window_view

    if window % 2 != 1:
        raise ValueError("the normalisation window must have an odd number of frames")
    pad = (window - 1) // 2
    v = np.asarray(features, np.float32)
    windows = sliding_window_view(np.pad(v, ((pad, pad), (0, 0)), mode="symmetric"), window, axis=0)
    centred = (v - windows.mean(axis=-1, dtype=np.float64)).astype(np.float32)
    windows = sliding_window_view(np.pad(centred, ((pad, pad), (0, 0)), mode="symmetric"), window, axis=0)
    return (centred / (windows.std(axis=-1, dtype=np.float64) + eps)).astype(np.float32)


def patch_costs(mfcc_ref: np.ndarray, mfcc_deg: np.ndarray) -> np.ndarray:
    """Subsequence-DTW cost of each 0.4-s patch of the degraded MFCC (coefficients x frames)
    against the whole reference, normalised by the patch length."""
    import librosa

    costs = []
    for start in range(0, mfcc_deg.shape[1] - PATCH_FRAMES + 1, PATCH_STEP):
        patch = mfcc_deg[:, start:start + PATCH_FRAMES]
        acc, path = librosa.sequence.dtw(X=patch, Y=mfcc_ref, metric="euclidean", step_sizes_sigma=SIGMA,
                                         weights_mul=np.array([1, 1, 1]), band_rad=0.25, subseq=True,
                                         backtrack=True)
        end = path[0, 1]  # librosa returns the path end first
        costs.append(acc[-1, end] / acc.shape[0])
    return np.asarray(costs, np.float64)


@dataclass(frozen=True)
class WarpqReference:
    """The reference side (VAD-trimmed, normalised MFCC; read-only), computed once per item."""

    mfcc: np.ndarray


def warpq_reference(ref16k: np.ndarray, apply_vad: bool = True) -> WarpqReference:
    x = np.asarray(ref16k, np.float32)
    if apply_vad:
        x = x[webrtc_vad_mask(x)]
    if x.size < PATCH_SECONDS * _RATE:
        raise RuntimeError(f"WARP-Q: the reference has {x.size / _RATE:.2f} s of speech after VAD, "
                           f"less than one {PATCH_SECONDS}-s patch")
    return WarpqReference(mfcc=frozen(cmvn_sliding(mfcc(x).T).T))


def warpq_raw(ref: WarpqReference, deg16k: np.ndarray, apply_vad: bool = True, score_fn: str = "median") -> float:
    """Raw WARP-Q score (lower is better) of 16-kHz degraded speech against a prepared reference."""
    y = np.asarray(deg16k, np.float32)
    if apply_vad:
        y = y[webrtc_vad_mask(y)]
    if y.size < PATCH_SECONDS * _RATE:
        raise RuntimeError(f"WARP-Q: the degraded signal has {y.size / _RATE:.2f} s of speech after VAD, "
                           f"less than one {PATCH_SECONDS}-s patch")
    m = cmvn_sliding(mfcc(y).T).T
    if m.shape[1] < PATCH_FRAMES:
        raise RuntimeError("WARP-Q: the degraded signal is shorter than one patch after VAD")
    costs = patch_costs(ref.mfcc, m)
    return float(np.median(costs) if score_fn == "median" else np.mean(costs))


class Warpq(Metric):
    """Raw WARP-Q score at 16 kHz (lower is better; about 0.5-0.65 for identical speech)."""

    info = MetricInfo(
        name="warpq",
        needs_reference=True,
        sample_rate=_RATE,
        higher_is_better=False,
        version=f"evalsuite warpq 1 (warpq 1.5.2 algorithm and defaults; librosa "
                f"{package_version('librosa')}, webrtcvad {package_version('webrtcvad-wheels')})",
        mode="raw score, 16 kHz, WebRTC VAD, 13 MFCC to 5 kHz, 0.4-s patches, SDTW, median",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(0.0, 3.5),
        description="WARP-Q raw score (subsequence-DTW cost of MFCC patches; Jassim et al. 2021), "
                    "designed for generative speech codecs; lower is better.",
        cost="0.57 s per 10-s clip (CPU, 1 thread), plus 0.14 s for the reference once per item",
    )

    options = {"apply_vad": True, "score_fn": "median"}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.apply_vad = bool(self.opts["apply_vad"])
        self.score_fn = str(self.opts["score_fn"])
        if self.score_fn not in ("median", "mean"):
            raise ValueError(f"warpq: score_fn must be 'median' or 'mean', got {self.score_fn!r}")

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        ok, why = requires("warpq", "librosa", pip="librosa")
        if not ok:
            return ok, why
        from .speaker import _availability as webrtcvad_availability

        return webrtcvad_availability() if (opts or {}).get("apply_vad", True) else (True, "ok")

    def describe(self) -> MetricInfo:
        if self.apply_vad and self.score_fn == "median":
            return self.info
        mode = self.info.mode.replace("WebRTC VAD", "WebRTC VAD" if self.apply_vad else "no VAD")
        return replace(Warpq.info, mode=mode.replace("median", self.score_fn))

    def reference_features(self, ref: np.ndarray, rate: int) -> WarpqReference:
        ref = check_signal(ref, rate, name="reference", min_seconds=_MIN_SECONDS)
        return warpq_reference(self.prepare(ref, rate), self.apply_vad)

    def score_features(self, features: WarpqReference, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_signal(deg, rate, name="degraded", min_seconds=_MIN_SECONDS)
        value = warpq_raw(features, self.prepare(deg, rate), self.apply_vad, self.score_fn)
        return {"warpq": finite(value, "WARP-Q")}

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        return self.score_features(self.reference_features(ref, rate), deg, rate)
