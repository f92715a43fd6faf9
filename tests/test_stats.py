"""evalsuite.stats against hand-computable cases, exact enumeration and simulation."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalsuite.bdrate import bd_rate, bd_rate_batch, quality_overlap, rate_to_match, rate_to_match_batch
from evalsuite.stats import (
    ClusterBootstrap,
    bd_rate_ci,
    category_weights,
    curve_replicates,
    holm,
    paired_difference,
    percentile_interval,
    rate_to_match_ci,
    t_interval,
)


def test_t_interval_by_hand():
    ci = t_interval([1.0, 2.0, 3.0, 4.0, np.nan])
    # mean 2.5, s = 1.2909944, t(0.975, 3) = 3.1824463 -> half width 3.1824463 * 1.2909944 / 2 = 2.0542603
    assert ci.mean == 2.5 and ci.n == 4 and ci.sd == pytest.approx(1.2909944487)
    assert ci.high - ci.mean == pytest.approx(2.0542603, abs=1e-6)
    assert math.isnan(t_interval([1.0]).low) and t_interval([]).n == 0


def test_holm_by_hand():
    assert np.allclose(holm([0.01, 0.04, 0.03, 0.20]), [0.04, 0.09, 0.09, 0.20])


def test_two_unequal_clusters_give_the_exact_bootstrap_distribution():
    # cluster a: three items scored 1; cluster b: one item scored 0. Drawing 2 clusters with
    # replacement: (a,a) -> 1, (b,b) -> 0, (a,b)/(b,a) -> 3/4, with probabilities 1/4, 1/4, 1/2.
    # An item-level bootstrap would instead centre on 3/4 with a binomial spread.
    boot = ClusterBootstrap(["a", "a", "a", "b"], B=8000, seed=3)
    reps = boot.means(np.array([1.0, 1.0, 1.0, 0.0]))
    vals, counts = np.unique(np.round(reps, 12), return_counts=True)
    assert list(vals) == [0.0, 0.75, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    assert percentile_interval(reps) == (0.0, 1.0)


def test_bootstrap_variance_matches_exact_enumeration():
    # three clusters of sizes 1, 2, 3; every one of the 3^3 ordered draws is equally likely
    clusters = ["x", "y", "y", "z", "z", "z"]
    values = np.array([0.0, 1.0, 3.0, 2.0, 6.0, 4.0])
    groups = {"x": [0], "y": [1, 2], "z": [3, 4, 5]}
    exact = []
    for draw in itertools.product("xyz", repeat=3):
        idx = [i for c in draw for i in groups[c]]
        exact.append(values[idx].mean())
    boot = ClusterBootstrap(clusters, B=40000, seed=11)
    reps = boot.means(values)
    assert reps.mean() == pytest.approx(np.mean(exact), abs=0.02)
    assert reps.var() == pytest.approx(np.var(exact), rel=0.03)


def test_same_resamples_for_every_condition_and_reproducible():
    rng = np.random.default_rng(0)
    clusters = [f"c{i // 3}" for i in range(30)]
    a = rng.normal(size=30)
    boot = ClusterBootstrap(clusters, B=500, seed=5)
    both = boot.means(np.stack([a, a + 0.25], 1))
    assert np.allclose(both[:, 1] - both[:, 0], 0.25)  # paired: a constant offset has no spread
    d = paired_difference(a, a + 0.25, clusters, B=500, seed=5)
    assert (d.mean, d.low, d.high) == pytest.approx((0.25, 0.25, 0.25))
    assert d.significant and d.n_clusters == 10 and d.n_items == 30
    again = ClusterBootstrap(list(reversed(clusters)), B=500, seed=5)  # label order does not matter
    assert np.array_equal(again.counts, boot.counts)
    other = ClusterBootstrap(clusters, B=500, seed=6)
    assert not np.array_equal(other.counts, boot.counts)
    assert ClusterBootstrap(clusters, B=123, seed=5).counts.shape == (123, 10)
    assert (boot.counts.sum(1) == 10).all()


def test_category_weights_average_the_category_means():
    cats = ["clean", "clean", "clean", "noisy"]
    w = category_weights(cats)
    v = np.array([1.0, 2.0, 3.0, 10.0])
    assert np.sum(w * v) / np.sum(w) == pytest.approx((2.0 + 10.0) / 2)


def _coverage(n_clusters=20, per=4, sims=300, B=1000):
    """Clustered data: cluster effect sd 1, item noise sd 0.5 (intra-cluster correlation 0.8)."""
    rng = np.random.default_rng(2021)
    hit_boot = hit_t = 0
    clusters = np.repeat(np.arange(n_clusters), per)
    for s in range(sims):
        y = 3.0 + rng.normal(0, 1, n_clusters)[clusters] + rng.normal(0, 0.5, len(clusters))
        _, lo, hi = ClusterBootstrap(clusters, B=B, seed=s).interval(y)
        hit_boot += lo <= 3.0 <= hi
        ci = t_interval(y)
        hit_t += ci.low <= 3.0 <= ci.high
    return hit_boot / sims, hit_t / sims


def test_cluster_bootstrap_covers_near_nominal_where_the_t_interval_does_not():
    boot, naive = _coverage()
    # measured: cluster bootstrap 0.940, item-level t-interval 0.677 (of 300 simulations)
    assert 0.88 <= boot <= 0.99
    assert naive < 0.80


def test_quality_overlap_by_hand():
    assert quality_overlap([1, 2, 3], [2, 4, 6]) == pytest.approx(1 / 5)
    assert quality_overlap([1, 2], [3, 4]) == 0.0
    assert quality_overlap([1, 4], [2, 3]) == pytest.approx(1 / 3)


# x265 rate-PSNR points used as the example of the FAU-LMS bjontegaard package (anchor and test)
RATE_A = np.array([9487.76, 4593.60, 2486.44, 1358.24])
PSNR_A = np.array([40.037, 38.615, 36.845, 34.851])
RATE_B = np.array([9787.80, 4469.00, 2451.52, 1356.24])
PSNR_B = np.array([40.121, 38.651, 36.970, 34.987])


def _numeric_bd_rate(fit_a, fit_b, lo, hi):
    """BD-rate by dense trapezoid integration of two fitted log10-rate(quality) functions."""
    q = np.linspace(lo, hi, 200001)
    avg = np.trapezoid(fit_b(q) - fit_a(q), q) / (hi - lo)
    return (10 ** avg - 1) * 100


def test_bd_rate_against_independent_numerical_integration():
    from scipy.interpolate import PchipInterpolator

    lo, hi = max(PSNR_A.min(), PSNR_B.min()), min(PSNR_A.max(), PSNR_B.max())
    oa, ob = np.argsort(PSNR_A), np.argsort(PSNR_B)
    pa = PchipInterpolator(PSNR_A[oa], np.log10(RATE_A[oa]))
    pb = PchipInterpolator(PSNR_B[ob], np.log10(RATE_B[ob]))
    want = _numeric_bd_rate(pa, pb, lo, hi)
    assert bd_rate(RATE_A, PSNR_A, RATE_B, PSNR_B, method="pchip").value == pytest.approx(want, abs=1e-4)
    ca = np.poly1d(np.polyfit(PSNR_A, np.log10(RATE_A), 3))
    cb = np.poly1d(np.polyfit(PSNR_B, np.log10(RATE_B), 3))
    want_c = _numeric_bd_rate(ca, cb, lo, hi)
    assert bd_rate(RATE_A, PSNR_A, RATE_B, PSNR_B, method="cubic").value == pytest.approx(want_c, abs=1e-4)
    # measured: pchip -4.4175 %, cubic -4.4205 % (the test encoder needs about 4.4 % less rate)
    assert want == pytest.approx(-4.4175, abs=1e-3) and want_c == pytest.approx(-4.4205, abs=1e-3)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("hib", [True, False])
def test_batched_bd_rate_and_rate_to_match_equal_the_scalar_ones(method, hib):
    rng = np.random.default_rng(4)
    n = 200
    sign = 1 if hib else -1
    ra = np.array([3.2, 6.0, 9.2]) * np.exp(rng.normal(0, 0.03, (n, 3)))
    qa = sign * (np.array([2.4, 3.0, 3.3]) + rng.normal(0, 0.15, (n, 3)))
    rb = np.array([6.0, 9.0, 12.0, 16.0]) * np.exp(rng.normal(0, 0.03, (n, 4)))
    qb = sign * (np.array([2.2, 2.8, 3.4, 3.6]) + rng.normal(0, 0.15, (n, 4)))
    got = bd_rate_batch(ra, qa, rb, qb, higher_is_better=hib, method=method)
    want = np.array([np.nan if (r := bd_rate(ra[i], qa[i], rb[i], qb[i], higher_is_better=hib, method=method)).value
                     is None else r.value for i in range(n)])
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(want).sum() > 0  # some rows not monotone
    assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-9, atol=1e-9)
    need = rate_to_match_batch(rb, qb, qa[:, 1], higher_is_better=hib)
    scal = [rate_to_match(rb[i], qb[i], qa[i, 1], higher_is_better=hib) for i in range(n)]
    fin = np.isfinite(need)
    assert all((s is None) != f for s, f in zip(scal, fin))
    assert np.allclose(need[fin], [s for s in scal if s is not None], rtol=1e-9)


def _curves(shift_b=2.0, noise=0.1, n=24, seed=0):
    """Item-level curves: B needs ``shift_b`` times A's rate for the same quality on every item."""
    rng = np.random.default_rng(seed)
    clusters = [f"c{i // 2}" for i in range(n)]
    ra = np.tile([2.0, 4.0, 8.0, 16.0], (n, 1))
    qa = np.log2(ra) + rng.normal(0, noise, (n, 1))  # item difficulty: one offset per item
    rb = ra * shift_b
    qb = qa.copy()
    boot = ClusterBootstrap(clusters, B=1000, seed=1)
    return boot, curve_replicates(boot, ra, qa), curve_replicates(boot, rb, qb)


def test_bd_rate_ci_on_a_known_shift_and_the_overlap_rule():
    boot, a, b = _curves()
    s = bd_rate_ci(a, b)
    # every resample has B at twice A's rate: +100 % with no spread
    assert s.stated and s.significant and (s.value, s.low, s.high) == pytest.approx((100.0, 100.0, 100.0))
    assert s.overlap == pytest.approx(1.0)  # the same qualities at other rates
    # quality 2.5 higher everywhere: A covers [1, 4] + offset, B [3.5, 6.5] + offset -> 0.5 / 5.5 = 9 %
    n = a.rate_reps.shape[1] and 24
    rng = np.random.default_rng(0)
    r = np.tile([2.0, 4.0, 8.0, 16.0], (n, 1))
    q = np.log2(r) + rng.normal(0, 0.1, (n, 1))
    a2, far = curve_replicates(boot, r, q), curve_replicates(boot, r, q + 2.5)
    s2 = bd_rate_ci(a2, far)
    assert not s2.stated and s2.value is not None and s2.overlap == pytest.approx(0.5 / 5.5)
    assert "share only 9% of their joint quality range (minimum 50%)" in s2.reason


def test_rate_to_match_ci_states_only_bounded_intervals():
    boot, a, b = _curves(shift_b=2.0, noise=0.3, seed=2)
    inner = rate_to_match_ci(a, 2, b)  # A's 8 kbps point: B needs 16 kbps, inside its 4-32 range
    assert inner.stated and inner.value == pytest.approx(16.0, rel=1e-6)
    assert inner.low == pytest.approx(16.0, rel=1e-6) and inner.significant  # identical shape on every item
    edge = rate_to_match_ci(a, 0, b)  # A's lowest point: B's lowest point matches it exactly
    assert edge.value == pytest.approx(4.0)
    better = curve_replicates(boot, np.tile([2.0, 4.0, 8.0, 16.0], (24, 1)),
                              np.tile(np.log2([2.0, 4.0, 8.0, 16.0]) + 0.5, (24, 1)))
    top = rate_to_match_ci(better, 3, a)  # 4.5 is above everything A reaches: not reached, +inf
    assert top.value is None and not top.stated and top.high == np.inf and top.failed_share == 1.0
    # a target at the edge of the other curve's range: some resamples fall outside -> unbounded
    close = curve_replicates(boot, np.tile([2.0, 4.0, 8.0, 16.0], (24, 1)),
                             np.tile(np.log2([2.0, 4.0, 8.0, 16.0]), (24, 1)) + a.quality[-1] - 4.0 - 0.01)
    c = rate_to_match_ci(close, 3, a)
    assert c.value is not None and not c.stated and c.high == np.inf and "unbounded" in c.reason
