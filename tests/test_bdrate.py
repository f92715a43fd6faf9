"""Bjøntegaard deltas and rate-to-match on curves with analytic answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evalsuite.bdrate import bd_quality, bd_rate, below_range, quality_at_rate, rate_to_match

RATES = np.array([1.5, 3.0, 6.0, 12.0, 24.0])


def concave(r):
    """A plausible saturating quality curve (MOS-like), strictly increasing in rate."""
    return 4.5 - 3.0 * np.exp(-np.asarray(r) / 6.0)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_double_rate_is_plus_100_percent(method):
    q = concave(RATES)
    r = bd_rate(RATES, q, 2 * RATES, q, method=method)
    assert r.value == pytest.approx(100.0, abs=1e-9)
    back = bd_rate(2 * RATES, q, RATES, q, method=method)
    assert back.value == pytest.approx(-50.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_constant_quality_offset(method):
    q = concave(RATES)
    r = bd_quality(RATES, q, RATES, q + 0.37, method=method)
    assert r.value == pytest.approx(0.37, abs=1e-12)
    assert (r.low, r.high) == pytest.approx((1.5, 24.0))


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_log_linear_curves_sampled_at_different_rates(method):
    # q = 2*log2(r) for A; B needs 3x the rate for the same quality: q = 2*log2(r/3).
    # Both fits are exact on log-linear data, so BD-rate is +200% and BD-quality is -2*log2(3)
    ra = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    rb = np.array([5.0, 7.0, 11.0, 20.0, 40.0])
    qa, qb = 2 * np.log2(ra), 2 * np.log2(rb / 3)
    assert bd_rate(ra, qa, rb, qb, method=method).value == pytest.approx(200.0, rel=1e-9)
    dq = bd_quality(ra, qa, rb, qb, method=method)
    assert dq.value == pytest.approx(-2 * math.log2(3), rel=1e-9)
    assert (dq.low, dq.high) == pytest.approx((5.0, 16.0))  # rate overlap only


def test_partial_overlap_integrates_only_the_overlap():
    # A covers q in [0, 8]; B covers q in [4, 12]; the BD interval is [4, 8]
    ra = 2.0 ** np.arange(0, 5)
    rb = 2.0 ** np.arange(2, 7) * 1.5
    r = bd_rate(ra, 2 * np.log2(ra), rb, 2 * np.log2(ra * 4), method="pchip")
    assert (r.low, r.high) == pytest.approx((4.0, 8.0))
    assert r.value == pytest.approx(50.0)


def test_no_overlap_is_reported_not_extrapolated():
    r = bd_rate([1, 2, 4], [1.0, 1.5, 2.0], [8, 16, 32], [3.0, 3.5, 4.0])
    assert r.value is None and "overlap" in r.reason
    q = bd_quality([1, 2, 4], [1.0, 1.5, 2.0], [8, 16, 32], [3.0, 3.5, 4.0])
    assert q.value is None and "overlap" in q.reason


def test_non_monotone_curve_has_no_bd_rate_but_has_bd_quality():
    r = bd_rate([1, 2, 4], [1.0, 2.0, 1.5], [1, 2, 4], [1.0, 2.0, 3.0])
    assert r.value is None and "strictly" in r.reason
    assert bd_quality([1, 2, 4], [1.0, 2.0, 1.5], [1, 2, 4], [1.0, 2.0, 3.0]).value is not None


def test_lower_is_better_metric():
    # a distance halves when B is used: B is better; BD-quality is in the metric's units, + = B better
    d = np.array([4.0, 3.0, 2.0, 1.0])
    r = np.array([2.0, 4.0, 8.0, 16.0])
    bq = bd_quality(r, d, r, d - 0.5, higher_is_better=False)
    assert bq.value == pytest.approx(0.5)
    br = bd_rate(r, d, r / 2, d, higher_is_better=False)
    assert br.value == pytest.approx(-50.0)
    assert (br.low, br.high) == pytest.approx((1.0, 4.0))


def test_cubic_matches_the_classic_vceg_m33_polynomial_computation():
    # independent recomputation of the original Bjøntegaard formula with numpy polyfit
    ra, qa = np.array([100, 200, 400, 800.0]), np.array([30.0, 33.1, 35.6, 37.4])
    rb, qb = np.array([90, 170, 350, 700.0]), np.array([30.2, 33.5, 36.0, 37.9])
    pa, pb = np.polyfit(qa, np.log10(ra), 3), np.polyfit(qb, np.log10(rb), 3)
    lo, hi = max(qa.min(), qb.min()), min(qa.max(), qb.max())
    ia = np.polyval(np.polyint(pa), hi) - np.polyval(np.polyint(pa), lo)
    ib = np.polyval(np.polyint(pb), hi) - np.polyval(np.polyint(pb), lo)
    expected = (10 ** ((ib - ia) / (hi - lo)) - 1) * 100
    assert bd_rate(ra, qa, rb, qb, method="cubic").value == pytest.approx(expected)
    assert expected < 0  # B is more efficient here
    # PCHIP gives a close but not identical answer on smooth data
    assert bd_rate(ra, qa, rb, qb, method="pchip").value == pytest.approx(expected, abs=3.0)


def test_rate_to_match_inverts_an_exact_curve():
    # q = log2(r): reaching q=2.5 needs r = 2**2.5 exactly (PCHIP reproduces linear data)
    r = np.array([1.0, 2.0, 4.0, 8.0])
    q = np.log2(r)
    assert rate_to_match(r, q, 2.5) == pytest.approx(2 ** 2.5, rel=1e-9)
    assert rate_to_match(r, q, 3.0) == pytest.approx(8.0)
    assert rate_to_match(r, q, 3.01) is None  # never reaches it: no extrapolation
    assert rate_to_match(r, q, -1.0) is None  # already better at its lowest rate
    assert below_range(r, q, -1.0) and not below_range(r, q, 3.5)
    assert quality_at_rate(r, q, 2 ** 1.5) == pytest.approx(1.5)
    assert quality_at_rate(r, q, 9.0) is None


def test_rate_to_match_takes_the_first_crossing_on_a_non_monotone_curve():
    r = np.array([1.0, 2.0, 4.0, 8.0])
    q = np.array([1.0, 3.0, 2.0, 4.0])
    got = rate_to_match(r, q, 2.5)
    assert 1.0 < got < 2.0


def test_rate_to_match_lower_is_better():
    r = np.array([1.0, 2.0, 4.0, 8.0])
    d = -np.log2(r)  # a distance that falls with rate
    assert rate_to_match(r, d, -2.5, higher_is_better=False) == pytest.approx(2 ** 2.5)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        bd_rate([0, 1], [1, 2], [1, 2], [1, 2])
    with pytest.raises(ValueError):
        bd_rate([1, 2], [1, 2], [1, 2], [1, 2], method="spline")
    assert bd_rate([1], [1], [1, 2], [1, 2]).value is None
