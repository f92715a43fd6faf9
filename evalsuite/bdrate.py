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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("pchip", "cubic")


@dataclass(frozen=True)
class Curve:
    """A rate-quality curve with points sorted by rate, quality oriented higher-is-better."""

    rate: np.ndarray  # kbps, > 0, strictly increasing
    quality: np.ndarray

    @classmethod
    def of(cls, rate: Sequence[float], quality: Sequence[float], higher_is_better: bool = True) -> Curve:
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


def rate_to_match(rate, quality, target_quality: float, *, higher_is_better: bool = True,
                  interp: str = "pchip") -> float | None:
    """Lowest bitrate (kbps) at which the interpolated curve reaches ``target_quality``.

    ``interp``: 'pchip' (monotone piecewise cubic in log-rate, the default) or 'linear'
    (straight lines in log-rate); reports state both when they disagree, since the needed rate
    between two measured points is only as good as the interpolant. PCHIP is monotone between
    consecutive points, so each segment is searched for the crossing with a bracketing root
    finder. None when the curve never reaches the target within its measured range, or is
    already better than the target at its lowest rate (then the needed rate is below what was
    measured: we do not extrapolate).
    """
    if interp not in ("pchip", "linear"):
        raise ValueError(f"unknown interpolant {interp!r}; use 'pchip' or 'linear'")
    c = Curve.of(rate, quality, higher_is_better)
    t = target_quality if higher_is_better else -target_quality
    if len(c.rate) == 0:
        return None
    if c.quality[0] >= t:
        return float(c.rate[0]) if c.quality[0] == t else None
    if len(c.rate) == 1:
        return None
    x = c.log_rate
    for i in range(len(x) - 1):
        if c.quality[i] < t <= c.quality[i + 1]:
            if c.quality[i + 1] == t:
                return float(c.rate[i + 1])
            if interp == "linear":
                frac = (t - c.quality[i]) / (c.quality[i + 1] - c.quality[i])
                return float(10 ** (x[i] + frac * (x[i + 1] - x[i])))
            from scipy.interpolate import PchipInterpolator
            from scipy.optimize import brentq

            f = PchipInterpolator(x, c.quality, extrapolate=False)
            return float(10 ** brentq(lambda v, f=f: float(f(v)) - t, x[i], x[i + 1], xtol=1e-12))
    return None


def quality_overlap(quality_a, quality_b) -> float:
    """Share of the two curves' joint quality range that both cover: |overlap| / |union|
    (0 = disjoint, 1 = identical ranges). The definition of the FAU-LMS ``bjontegaard``
    package, which warns when it is small; evalsuite suppresses BD-rates below
    ``evalsuite.stats.MIN_BD_OVERLAP`` (docs/statistics.md says why)."""
    a = np.asarray(quality_a, float)
    b = np.asarray(quality_b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    union = max(a.max(), b.max()) - min(a.min(), b.min())
    inter = min(a.max(), b.max()) - max(a.min(), b.min())
    if union <= 0:
        return 1.0 if inter >= 0 else 0.0
    return float(max(inter, 0.0) / union)


def below_range(rate, quality, target_quality: float, *, higher_is_better: bool = True) -> bool:
    """True when the curve is already at least as good as the target at its lowest rate."""
    c = Curve.of(rate, quality, higher_is_better)
    t = target_quality if higher_is_better else -target_quality
    return len(c.rate) > 0 and bool(c.quality[0] > t)


# ---------------------------------------------------------------------------------------------
# the same quantities for many curves at once (bootstrap replicates): arrays of shape (B, P),
# P operating points per curve, each row one curve. Same fits as above (scipy's PCHIP
# derivatives, the least-squares cubic); rows that cannot give a value give NaN.


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivatives at the knots, as scipy.interpolate.PchipInterpolator computes them
    (Fritsch-Carlson weighted harmonic mean inside, the three-point end formula at the ends)."""
    h = np.diff(x, axis=1)
    m = np.diff(y, axis=1) / h
    n = x.shape[1]
    d = np.zeros_like(y)
    if n == 2:
        d[:, 0] = d[:, 1] = m[:, 0]
        return d
    w1 = 2 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2 * h[:, :-1]
    same = (np.sign(m[:, :-1]) == np.sign(m[:, 1:])) & (m[:, :-1] != 0) & (m[:, 1:] != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (w1 / m[:, :-1] + w2 / m[:, 1:]) / (w1 + w2)
        d[:, 1:-1] = np.where(same, 1.0 / inv, 0.0)

    def edge(h0, h1, m0, m1):
        e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        e = np.where(np.sign(e) != np.sign(m0), 0.0, e)
        return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(e) > 3 * np.abs(m0)), 3 * m0, e)

    d[:, 0] = edge(h[:, 0], h[:, 1], m[:, 0], m[:, 1])
    d[:, -1] = edge(h[:, -1], h[:, -2], m[:, -1], m[:, -2])
    return d


def _hermite_antiderivative(t, y0, y1, d0, d1, h):
    """∫_0^t of the cubic Hermite segment, in x units (t in [0, 1])."""
    t2, t3, t4 = t * t, t ** 3, t ** 4
    return h * (y0 * (t4 / 2 - t3 + t) + h * d0 * (t4 / 4 - 2 * t3 / 3 + t2 / 2)
                + y1 * (-t4 / 2 + t3) + h * d1 * (t4 / 4 - t3 / 3))


def _integral_batch(x, y, lo, hi, method: str) -> np.ndarray:
    """∫_lo^hi of each row's fit y(x) (x strictly increasing per row)."""
    if method == "pchip":
        d = _pchip_slopes(x, y)
        total = np.zeros(x.shape[0])
        for k in range(x.shape[1] - 1):
            x0, x1 = x[:, k], x[:, k + 1]
            h = x1 - x0
            a, b = np.maximum(lo, x0), np.minimum(hi, x1)
            seg = b > a
            ta = np.clip((a - x0) / h, 0, 1)
            tb = np.clip((b - x0) / h, 0, 1)
            args = (y[:, k], y[:, k + 1], d[:, k], d[:, k + 1], h)
            part = _hermite_antiderivative(tb, *args) - _hermite_antiderivative(ta, *args)
            total += np.where(seg, part, 0.0)
        return total
    if method == "cubic":
        deg = min(3, x.shape[1] - 1)
        V = x[:, :, None] ** np.arange(deg, -1, -1)
        coef = np.einsum("bij,bj->bi", np.linalg.pinv(V), y)  # least squares per row
        powers = np.arange(deg + 1, 0, -1)
        integ = coef / powers  # antiderivative coefficients (constant term dropped)
        F = lambda v: np.sum(integ * v[:, None] ** powers, axis=1)  # noqa: E731
        return F(hi) - F(lo)
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def _oriented(rate, quality, higher_is_better: bool):
    r = np.asarray(rate, float)
    q = np.asarray(quality, float) * (1 if higher_is_better else -1)
    order = np.argsort(r, axis=1, kind="stable")
    return np.take_along_axis(r, order, 1), np.take_along_axis(q, order, 1)


def bd_rate_batch(rate_a, quality_a, rate_b, quality_b, *, higher_is_better: bool = True,
                  method: str = "pchip") -> np.ndarray:
    """BD-rate (percent) of each row's curve B against its curve A; NaN where ``bd_rate``
    would give None (fewer than two points, quality not rising with rate, no overlap)."""
    ra, qa = _oriented(rate_a, quality_a, higher_is_better)
    rb, qb = _oriented(rate_b, quality_b, higher_is_better)
    out = np.full(ra.shape[0], np.nan)
    if ra.shape[1] < 2 or rb.shape[1] < 2:
        return out
    ok = (np.all(np.diff(qa, axis=1) > 0, axis=1) & np.all(np.diff(qb, axis=1) > 0, axis=1)
          & np.all(ra > 0, axis=1) & np.all(rb > 0, axis=1)
          & np.all(np.isfinite(qa), axis=1) & np.all(np.isfinite(qb), axis=1))
    lo = np.maximum(qa[:, 0], qb[:, 0])
    hi = np.minimum(qa[:, -1], qb[:, -1])
    ok &= hi > lo
    if not ok.any():
        return out
    s = ok
    ia = _integral_batch(qa[s], np.log10(ra[s]), lo[s], hi[s], method)
    ib = _integral_batch(qb[s], np.log10(rb[s]), lo[s], hi[s], method)
    out[s] = (10 ** ((ib - ia) / (hi[s] - lo[s])) - 1) * 100
    return out


def rate_to_match_batch(rate, quality, target, *, higher_is_better: bool = True) -> np.ndarray:
    """Per row, ``rate_to_match`` (PCHIP in log-rate) of ``target[row]``; -inf where the curve is
    already better than the target at its lowest rate, +inf where it never reaches it within
    its measured range (both: beyond what was measured, never extrapolated)."""
    r, q = _oriented(rate, quality, higher_is_better)
    t = np.asarray(target, float) * (1 if higher_is_better else -1)
    n_rows, n = q.shape
    out = np.full(n_rows, np.inf)
    out[q[:, 0] > t] = -np.inf
    out[q[:, 0] == t] = r[q[:, 0] == t, 0]
    x = np.log10(r)
    d = _pchip_slopes(x, q) if n >= 2 else None
    todo = q[:, 0] < t
    for k in range(n - 1):
        hit = todo & (q[:, k] < t) & (t <= q[:, k + 1])
        if not hit.any():
            continue
        todo &= ~hit
        idx = np.flatnonzero(hit)
        x0, h = x[idx, k], x[idx, k + 1] - x[idx, k]
        y0, y1, d0, d1 = q[idx, k], q[idx, k + 1], d[idx, k], d[idx, k + 1]
        tt = t[idx]
        lo_t, hi_t = np.zeros(len(idx)), np.ones(len(idx))
        # PCHIP is monotone on a monotone segment: bisection on the Hermite cubic in t
        for _ in range(60):
            mid = (lo_t + hi_t) / 2
            m2, m3 = mid * mid, mid ** 3
            val = (y0 * (2 * m3 - 3 * m2 + 1) + h * d0 * (m3 - 2 * m2 + mid) + y1 * (-2 * m3 + 3 * m2)
                   + h * d1 * (m3 - m2))
            below = val < tt
            lo_t = np.where(below, mid, lo_t)
            hi_t = np.where(below, hi_t, mid)
        out[idx] = 10 ** (x0 + hi_t * h)
    return out
