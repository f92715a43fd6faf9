"""Bitrate-quality curve comparisons: Bjøntegaard deltas and "bitrate needed to match".

Bjøntegaard delta rate / quality (G. Bjøntegaard, "Calculation of average PSNR differences
between RD-curves", ITU-T SG16 VCEG-M33, 2001; piecewise-cubic variant: VCEG-AL22, 2009, and
JVET common test conditions): fit each curve as log10(rate) against quality (for BD-rate) or
quality against log10(rate) (for BD-quality), integrate the difference of the two fits over the
interval where both curves have data, and average. BD-rate is the average relative rate
difference of curve B against curve A at equal quality (negative = B needs fewer bits).

"Bitrate needed to match" follows the way the SoundStream paper (Zeghidour et al., 2021) states
its results ("to match SoundStream at 3 kbps, Opus needs 12 kbps"): interpolate a codec's
(measured kbps, mean quality) points monotonically (PCHIP in log-rate, which never overshoots
the data) and find the lowest rate at which it reaches the target quality. Outside a curve's
measured range the answer is None: we never extrapolate.

All functions are pure and take plain sequences; quality is "higher is better" unless
``higher_is_better=False`` is given (then values are negated internally, so a reduction of a
distance counts as an improvement and BD-quality is reported in the metric's own units with
positive = B better).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

METHODS = ("pchip", "cubic")


@dataclass(frozen=True)
class Curve:
    """A rate-quality curve with points sorted by rate, quality oriented higher-is-better."""

    rate: np.ndarray  # kbps, > 0, strictly increasing
    quality: np.ndarray

    @classmethod
    def of(cls, rate: Sequence[float], quality: Sequence[float], higher_is_better: bool = True) -> "Curve":
        r = np.asarray(rate, dtype=np.float64)
        q = np.asarray(quality, dtype=np.float64)
        if r.shape != q.shape or r.ndim != 1:
            raise ValueError("rate and quality must be 1-D sequences of equal length")
        keep = np.isfinite(r) & np.isfinite(q)
        r, q = r[keep], q[keep]
        if np.any(r <= 0):
            raise ValueError("rates must be positive (they are compared on a log scale)")
        order = np.argsort(r, kind="stable")
        r, q = r[order], q[order]
        if len(r) > 1 and np.any(np.diff(r) == 0):
            # two points at the same measured rate: average them, a curve is a function of rate
            ur, inv = np.unique(r, return_inverse=True)
            q = np.bincount(inv, weights=q) / np.bincount(inv)
            r = ur
        return cls(r, q if higher_is_better else -q)

    @property
    def log_rate(self) -> np.ndarray:
        return np.log10(self.rate)

    def monotone(self) -> bool:
        """Quality strictly increases with rate (needed to read rate as a function of quality)."""
        return len(self.quality) >= 2 and bool(np.all(np.diff(self.quality) > 0))


@dataclass(frozen=True)
class BDResult:
    """A Bjøntegaard delta. ``value`` is None when it cannot be computed; ``reason`` says why.

    For BD-rate, value is in percent (+100 = B needs twice the rate of A for equal quality)
    and the interval is in quality units. For BD-quality, value is in quality units
    (positive = B better) and the interval is in kbps.
    """

    value: float | None
    low: float | None = None  # overlap interval used for the integration
    high: float | None = None
    method: str = "pchip"
    reason: str = ""


def _fit(x: np.ndarray, y: np.ndarray, method: str):
    """An integrable interpolant y(x) for sorted x: PCHIP, or a least-squares polynomial of
    degree min(3, n-1) (the original Bjøntegaard cubic fit)."""
    from scipy.interpolate import PchipInterpolator

    if method == "pchip":
        f = PchipInterpolator(x, y, extrapolate=False)
        return lambda a, b: float(f.integrate(a, b))
    if method == "cubic":
        deg = min(3, len(x) - 1)
        p = np.polyint(np.polyfit(x, y, deg))
        return lambda a, b: float(np.polyval(p, b) - np.polyval(p, a))
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def _check(a: Curve, b: Curve) -> str:
    if len(a.rate) < 2 or len(b.rate) < 2:
        return "each curve needs at least two bitrates"
    return ""


def bd_rate(rate_a, quality_a, rate_b, quality_b, *, higher_is_better: bool = True,
            method: str = "pchip") -> BDResult:
    """Average rate difference of B relative to A at equal quality, in percent."""
    a = Curve.of(rate_a, quality_a, higher_is_better)
    b = Curve.of(rate_b, quality_b, higher_is_better)
    if why := _check(a, b):
        return BDResult(None, method=method, reason=why)
    if not (a.monotone() and b.monotone()):
        # rate as a function of quality only exists where quality rises with rate
        return BDResult(None, method=method, reason="quality does not rise strictly with bitrate on "
                                                      "one of the curves, so rate at equal quality is ambiguous")
    lo = max(a.quality.min(), b.quality.min())
    hi = min(a.quality.max(), b.quality.max())
    if not hi > lo:
        return BDResult(None, method=method, reason="the curves do not overlap in quality")
    ia = _fit(a.quality, a.log_rate, method)(lo, hi)
    ib = _fit(b.quality, b.log_rate, method)(lo, hi)
    avg = (ib - ia) / (hi - lo)
    sign = 1 if higher_is_better else -1
    lo_o, hi_o = sorted((sign * lo, sign * hi))
    return BDResult(float((10 ** avg - 1) * 100), float(lo_o), float(hi_o), method)


def bd_quality(rate_a, quality_a, rate_b, quality_b, *, higher_is_better: bool = True,
               method: str = "pchip") -> BDResult:
    """Average quality difference of B minus A at equal rate (positive = B better)."""
    a = Curve.of(rate_a, quality_a, higher_is_better)
    b = Curve.of(rate_b, quality_b, higher_is_better)
    if why := _check(a, b):
        return BDResult(None, method=method, reason=why)
    lo = max(a.log_rate.min(), b.log_rate.min())
    hi = min(a.log_rate.max(), b.log_rate.max())
    if not hi > lo:
        return BDResult(None, method=method, reason="the curves do not overlap in bitrate")
    ia = _fit(a.log_rate, a.quality, method)(lo, hi)
    ib = _fit(b.log_rate, b.quality, method)(lo, hi)
    return BDResult(float((ib - ia) / (hi - lo)), float(10 ** lo), float(10 ** hi), method)


def quality_at_rate(rate, quality, target_kbps: float, *, higher_is_better: bool = True) -> float | None:
    """The curve's quality at ``target_kbps`` (PCHIP in log-rate); None outside its range."""
    c = Curve.of(rate, quality, higher_is_better)
    if len(c.rate) == 0 or not (c.rate[0] <= target_kbps <= c.rate[-1]):
        return None
    if len(c.rate) == 1:
        v = float(c.quality[0])
    else:
        from scipy.interpolate import PchipInterpolator

        v = float(PchipInterpolator(c.log_rate, c.quality, extrapolate=False)(math.log10(target_kbps)))
    return v if higher_is_better else -v


def rate_to_match(rate, quality, target_quality: float, *, higher_is_better: bool = True) -> float | None:
    """Lowest bitrate (kbps) at which the interpolated curve reaches ``target_quality``.

    The curve is PCHIP in log-rate; PCHIP is monotone between consecutive points, so each
    segment is searched for the crossing with a bracketing root finder. None when the curve
    never reaches the target within its measured range, or is already better than the target at
    its lowest rate (then the needed rate is below what was measured: we do not extrapolate).
    """
    c = Curve.of(rate, quality, higher_is_better)
    t = target_quality if higher_is_better else -target_quality
    if len(c.rate) == 0:
        return None
    if c.quality[0] >= t:
        return float(c.rate[0]) if c.quality[0] == t else None
    if len(c.rate) == 1:
        return None
    from scipy.interpolate import PchipInterpolator
    from scipy.optimize import brentq

    f = PchipInterpolator(c.log_rate, c.quality, extrapolate=False)
    x = c.log_rate
    for i in range(len(x) - 1):
        if c.quality[i] < t <= c.quality[i + 1]:
            if c.quality[i + 1] == t:
                return float(c.rate[i + 1])
            return float(10 ** brentq(lambda v: float(f(v)) - t, x[i], x[i + 1], xtol=1e-12))
    return None


def below_range(rate, quality, target_quality: float, *, higher_is_better: bool = True) -> bool:
    """True when the curve is already at least as good as the target at its lowest rate."""
    c = Curve.of(rate, quality, higher_is_better)
    t = target_quality if higher_is_better else -target_quality
    return len(c.rate) > 0 and bool(c.quality[0] > t)
