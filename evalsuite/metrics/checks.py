"""Input and output checks shared by the metrics: a metric must fail loudly on audio it cannot
judge (empty, too short, silent, NaN) instead of returning a number that looks like a score."""
from __future__ import annotations

from importlib import metadata

import numpy as np

from ..audio import AudioError, check_audio


def check_signal(x: np.ndarray, rate: int, *, name: str, min_seconds: float) -> np.ndarray:
    """Validate one mono signal and return it as contiguous float32."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected mono audio (1-D array), got shape {x.shape}")
    check_audio(x, rate, name=name, min_seconds=min_seconds)
    return np.ascontiguousarray(x, dtype=np.float32)


def check_pair(ref: np.ndarray | None, deg: np.ndarray, rate: int, *, min_seconds: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/degraded pair: both mono, usable, and of equal length."""
    if ref is None:
        raise AudioError("this metric needs a reference signal, but none was given")
    ref = check_signal(ref, rate, name="reference", min_seconds=min_seconds)
    deg = check_signal(deg, rate, name="degraded", min_seconds=min_seconds)
    _check_lengths(len(ref), len(deg))
    return ref, deg


def check_degraded(deg: np.ndarray, rate: int, *, ref_rate: int, ref_length: int, min_seconds: float
                   ) -> np.ndarray:
    """Validate a degraded signal against a reference that ``reference_features`` prepared
    (``ref_rate``/``ref_length``: the rate and length it was given): the checks and messages of
    ``check_pair``, so the shared path fails exactly where ``score`` does."""
    if int(rate) != int(ref_rate):
        raise AudioError(f"degraded audio at {rate} Hz, but the reference features were computed "
                         f"at {ref_rate} Hz; score both at one rate")
    deg = check_signal(deg, rate, name="degraded", min_seconds=min_seconds)
    _check_lengths(ref_length, len(deg))
    return deg


def _check_lengths(n_ref: int, n_deg: int) -> None:
    if n_ref != n_deg:
        raise AudioError(
            f"reference and degraded differ in length ({n_ref} vs {n_deg} samples); "
            "align and trim them first (evalsuite.audio.match_length)")


def frozen(x: np.ndarray) -> np.ndarray:
    """A read-only view of ``x``: reference features are reused for every condition of an item,
    so an accidental in-place write into them raises instead of changing later values."""
    v = np.asarray(x).view()
    v.flags.writeable = False
    return v


def finite(value: float, what: str) -> float:
    """Return ``value`` as float, or raise if the metric produced NaN/Inf."""
    v = float(value)
    if not np.isfinite(v):
        raise ArithmeticError(f"{what} produced a non-finite value ({v})")
    return v


def package_version(dist: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def requires(metric: str, *modules: str, pip: str) -> tuple[bool, str]:
    """Availability from installed modules: (True, "ok"), or False with what to install. Cheap:
    the modules are found, not imported (a run checks every metric before any work); a module
    that is installed but fails to import is reported as unavailable when the metric runs."""
    import importlib.util

    for m in modules:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError) as e:  # a missing parent package
            found, why = False, str(e)
        else:
            why = f"no module named {m!r}"
        if not found:
            return False, f"{metric} needs {', '.join(modules)} ({why}); install with: pip install {pip}"
    return True, "ok"
