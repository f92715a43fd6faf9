"""DNSMOS P.835 (Reddy, Gopal, Cutler, "DNSMOS P.835: A Non-Intrusive Perceptual Objective
Speech Quality Metric to Evaluate Noise Suppressors", ICASSP 2022) via ``speechmos``.

speechmos ships Microsoft's ONNX models inside its wheel (``speechmos/dnsmos_models``), so
nothing is downloaded at run time. Outputs: SIG (speech signal), BAK (background), OVRL
(overall) on the P.835 scale, and the P.808 overall MOS model. No reference is used. Clips are
scored in 9.01-s windows hopped by 1 s and the window scores averaged. A clip shorter than
9.01 s is concatenated with itself until it is at least 9.01 s long (Microsoft's reference
script ``dnsmos_local.py`` does exactly this, and it stays the default), so a short item is
scored on a looped version of itself over several windows: 3 s -> 12 s -> 4 windows, 9 s ->
18 s -> 10 windows, which makes a 9-s clip about five times as costly as a 10-s one.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_signal, finite, package_version, requires

_RATE = 16000
_MIN_SECONDS = 1.0
_OUTPUTS = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808")
_KEYS = {"dnsmos_ovrl": "ovrl_mos", "dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_p808": "p808_mos"}


def _model_paths() -> tuple[str, str]:
    import speechmos

    base = os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models")
    return os.path.join(base, "sig_bak_ovr.onnx"), os.path.join(base, "model_v8.onnx")


class Dnsmos(Metric):
    """Non-intrusive DNSMOS P.835 (SIG/BAK/OVRL) and P.808 MOS at 16 kHz; speech only."""

    info = MetricInfo(
        name="dnsmos",
        needs_reference=False,
        sample_rate=_RATE,
        higher_is_better=True,
        version=f"speechmos {package_version('speechmos')} (DNSMOS P.835 sig_bak_ovr.onnx + P.808 model_v8.onnx), "
                f"onnxruntime {package_version('onnxruntime')}",
        mode="P.835 non-personalized",
        outputs=_OUTPUTS,
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(1.0, 5.0),
        description="DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS (non-intrusive, no reference).",
        cost="0.49 s per 10-s clip (CPU, 1 thread; 2 windows of 9.01 s, about 0.25 s each); a clip "
             "under 9.01 s is doubled until it is at least 9.01 s long and every 1-s hop is scored: "
             "a 3-s clip costs 4 windows, a 9-s clip 10 windows (3.3 s)",
    )

    #: one intra-op thread by default: the runner parallelises over worker processes
    options = {"threads": 1}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        self.threads = int(self.opts["threads"])
        if self.threads < 1:
            raise ValueError(f"dnsmos: threads must be >= 1, got {self.threads}")
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # ONNX sessions do not pickle; a copy sent to a worker reloads them lazily
        return {**self.__dict__, "_model": None}

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        ok, why = requires("DNSMOS", "librosa", "onnxruntime", "speechmos.dnsmos", pip="speechmos onnxruntime librosa")
        if not ok:
            return ok, why
        missing = [p for p in _model_paths() if not os.path.isfile(p)]
        if missing:
            return False, f"speechmos is installed without its ONNX models ({', '.join(missing)}); reinstall speechmos"
        return True, "ok"

    def model(self) -> Any:
        if self._model is None:
            import onnxruntime as ort
            from speechmos.dnsmos import DNSMOS

            primary, p808 = _model_paths()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            # speechmos.DNSMOS builds its sessions with default (all-core) options; build ours
            # with the thread limit and give them to an instance that skips that constructor.
            m = DNSMOS.__new__(DNSMOS)
            m.primary_model_path = primary
            m.onnx_sess = ort.InferenceSession(primary, opts, providers=["CPUExecutionProvider"])
            m.p808_onnx_sess = ort.InferenceSession(p808, opts, providers=["CPUExecutionProvider"])
            self._model = m
        return self._model

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        deg = check_signal(deg, rate, name="degraded", min_seconds=_MIN_SECONDS)
        x = self.prepare(deg, rate).astype(np.float32)
        peak = float(np.max(np.abs(x)))
        if peak > 1.0:
            # resampling can overshoot full scale a little; DNSMOS rejects |x| > 1
            if peak > 1.05:
                raise ValueError(f"DNSMOS input exceeds full scale (peak {peak:.3f}); the audio is clipped")
            x = np.clip(x, -1.0, 1.0)
        result = self.model()(x, _RATE, False)
        return {out: finite(result[key], f"DNSMOS {out}") for out, key in _KEYS.items()}
