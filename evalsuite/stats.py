"""The one statistics module: every confidence interval evalsuite prints comes from here.

- ``t_interval``: mean with a Student-t interval (independent observations; BS.1534-3 §9.2.1).
- ``ClusterBootstrap``: resamples *clusters* (source recordings: a clean utterance and its noisy
  mixes share one) with replacement, seeded, and gives the same resampled clusters to every
  condition, so differences between codecs are paired. Percentile intervals.
- ``paired_difference``: mean difference of two conditions on the same items, with its
  cluster-bootstrap interval.
- ``bd_rate_ci`` / ``rate_to_match_ci``: Bjøntegaard delta rate and "bitrate needed to match"
  with bootstrap intervals, and the rules that decide whether they may be stated at all
  (quality overlap, failed resamples, interval containing "no difference").
- ``holm``: Holm-Bonferroni adjusted p-values.

docs/statistics.md explains the methods, the thresholds and why.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .bdrate import bd_rate, bd_rate_batch, quality_overlap, rate_to_match, rate_to_match_batch

#: default number of bootstrap resamples and seed (reports and curves.csv use these)
from .stats_defaults import DEFAULT_B, DEFAULT_SEED  # noqa: E402  (one definition)

LEVEL = 0.95
#: fewer source recordings than this give no interval (and no statement that needs one): with K
#: clusters a bootstrap has only C(2K-1, K) distinct resamples (K = 2: three), whose extremes are
#: the cluster means themselves
MIN_CLUSTERS = 3
#: a BD-rate is stated only when both curves cover at least this share of their joint quality
#: range (overlap / union); below it the number describes a corner of the comparison, set by the
#: fits' ends
MIN_BD_OVERLAP = 0.5
#: a BD-rate or needed rate is stated only when at most this share of resamples failed to give
#: one (a curve stopped rising with rate, or the curves stopped overlapping)
MAX_FAILED_SHARE = 0.05


# ---------------------------------------------------------------------------------------------
# independent observations


@dataclass(frozen=True)
class MeanCI:
    mean: float
    sd: float
    low: float
    high: float
    n: int


def t_interval(values, level: float = LEVEL) -> MeanCI:
    """Mean and a two-sided Student-t interval, mean ± t(1-α/2, n-1)·s/√n; NaNs are dropped;
    n < 2 gives a NaN interval. Valid for independent observations only."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0)
    m = float(v.mean())
    if n < 2:
        return MeanCI(m, math.nan, math.nan, math.nan, n)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))
    return MeanCI(m, sd, m - half, m + half, n)


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (Holm 1979): sorted ascending,
    p_adj(i) = max_{j<=i} min(1, (m - j + 1) p(j)). NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    adj = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    running = 0.0
    for rank, idx in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adj[idx] = running
    return adj


def percentile_interval(replicates, level: float = LEVEL, censored: bool = False) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates dropped). ``censored``: the
    replicates may hold ±inf (a value known only to lie beyond a measured range); the interval
    then uses order statistics (no interpolation), so an end can be ±inf."""
    r = np.asarray(replicates, dtype=float)
    r = r[~np.isnan(r)]
    if len(r) == 0:
        return (math.nan, math.nan)
    q = [(1 - level) / 2, (1 + level) / 2]
    if censored:
        lo, hi = np.quantile(r, q, method="inverted_cdf")
    else:
        r = r[np.isfinite(r)]
        if len(r) == 0:
            return (math.nan, math.nan)
        lo, hi = np.quantile(r, q)
    return (float(lo), float(hi))


# ---------------------------------------------------------------------------------------------
# cluster bootstrap


class ClusterBootstrap:
    """B resamples of the clusters of a set of items, drawn once and reused for every condition.

    ``clusters``: one label per item (items of one source recording share a label; use the item
    id when nothing is shared). Resample b draws K clusters with replacement from the K present;
    an item's weight in resample b is how often its cluster was drawn. Labels are sorted before
    drawing, so the same items, seed and B give the same resamples in every process.
    """

    def __init__(self, clusters: Sequence[Hashable], B: int = DEFAULT_B, seed: int = DEFAULT_SEED):
        if B < 1:
            raise ValueError(f"the bootstrap needs at least one resample, got B={B}")
        labels = [str(c) for c in clusters]
        self.labels = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.labels)}
        self.member = np.array([index[c] for c in labels], dtype=np.int64)
        self.B, self.seed = int(B), int(seed)
        k = len(self.labels)
        rng = np.random.default_rng(self.seed)
        draws = rng.integers(0, max(k, 1), size=(self.B, k))
        flat = (draws + np.arange(self.B)[:, None] * k).ravel()
        self.counts = np.bincount(flat, minlength=self.B * k).reshape(self.B, k).astype(np.float64)

    @property
    def n_clusters(self) -> int:
        return len(self.labels)

    @property
    def n_items(self) -> int:
        return len(self.member)

    def item_weights(self) -> np.ndarray:
        """B x n_items: how often each item is drawn in each resample."""
        return self.counts[:, self.member]

    def means(self, values, weights=None) -> np.ndarray:
        """Replicate weighted means: ``values`` is (n_items,) or (n_items, m) without NaN;
        ``weights`` (n_items,) are fixed item weights (default equal). Returns (B,) or (B, m);
        a resample in which every drawn item has zero weight gives NaN."""
        v = np.asarray(values, dtype=np.float64)
        one = v.ndim == 1
        v2 = v[:, None] if one else v
        if v2.shape[0] != self.n_items:
            raise ValueError(f"{v2.shape[0]} values for {self.n_items} items")
        if np.isnan(v2).any():
            raise ValueError("values hold NaN: compare conditions on the items they have in common")
        w = np.ones(self.n_items) if weights is None else np.asarray(weights, dtype=np.float64)
        k = self.n_clusters
        # aggregate per cluster first: B x K @ K x m instead of B x n_items
        sw = np.bincount(self.member, weights=w, minlength=k)
        swv = np.stack([np.bincount(self.member, weights=w * v2[:, j], minlength=k) for j in range(v2.shape[1])], 1)
        num = self.counts @ swv
        den = self.counts @ sw
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den[:, None]
        return out[:, 0] if one else out

    def interval(self, values, weights=None, level: float = LEVEL) -> tuple[float, float, float]:
        """(weighted mean, low, high): the point estimate and its percentile interval."""
        v = np.asarray(values, dtype=np.float64)
        w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
        est = float(np.sum(w * v) / np.sum(w))
        if self.n_clusters < MIN_CLUSTERS:
            return (est, math.nan, math.nan)
        lo, hi = percentile_interval(self.means(v, w), level)
        return (est, lo, hi)


def category_weights(categories: Sequence[str]) -> np.ndarray:
    """Item weights that give every category the same total weight (a pooled mean is then the
    mean of the category means, so a pool is not dominated by its largest category)."""
    cats = np.asarray([str(c) for c in categories])
    _, inv, counts = np.unique(cats, return_inverse=True, return_counts=True)
    return 1.0 / (len(counts) * counts[inv])


@dataclass(frozen=True)
class Difference:
    """Mean of B − A over paired items with a cluster-bootstrap interval."""

    mean: float
    low: float
    high: float
    n_items: int
    n_clusters: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def paired_difference(a, b, clusters: Sequence[Hashable], weights=None, B: int = DEFAULT_B,
                      seed: int = DEFAULT_SEED, level: float = LEVEL) -> Difference:
    """B − A on items scored by both (NaN pairs dropped), clusters resampled."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a) & np.isfinite(b)
    cl = [c for c, k in zip(clusters, keep) if k]
    w = None if weights is None else np.asarray(weights, float)[keep]
    d = (b - a)[keep]
    if len(d) == 0:
        return Difference(math.nan, math.nan, math.nan, 0, 0)
    boot = ClusterBootstrap(cl, B, seed)
    m, lo, hi = boot.interval(d, w, level)
    return Difference(m, lo, hi, len(d), boot.n_clusters)


# ---------------------------------------------------------------------------------------------
# curve comparisons with intervals


@dataclass(frozen=True)
class CurveReplicates:
    """A codec's rate-quality points (one per operating point) and their bootstrap replicates,
    all computed on the same items with the same resamples as the curve it is compared with."""

    rate: np.ndarray  # (P,) mean measured kbps
    quality: np.ndarray  # (P,)
    rate_reps: np.ndarray  # (B, P)
    quality_reps: np.ndarray  # (B, P)
    n_clusters: int = 0


def curve_replicates(boot: ClusterBootstrap, rate, quality, weights=None) -> CurveReplicates:
    """``rate`` and ``quality``: (n_items, P) item values at P operating points."""
    r, q = np.asarray(rate, float), np.asarray(quality, float)
    w = np.ones(r.shape[0]) if weights is None else np.asarray(weights, float)
    return CurveReplicates((w @ r) / w.sum(), (w @ q) / w.sum(), boot.means(r, w), boot.means(q, w), boot.n_clusters)


def _too_few(c: CurveReplicates) -> str:
    return (f"not stated: only {c.n_clusters} source recording(s), an interval needs at least {MIN_CLUSTERS}"
            if c.n_clusters < MIN_CLUSTERS else "")


@dataclass(frozen=True)
class Statement:
    """A number a report may print, with its interval and whether (and why not) it is stated."""

    value: float | None
    low: float = math.nan
    high: float = math.nan
    stated: bool = False
    reason: str = ""  # why not stated, or the caveat that goes with it
    overlap: float = math.nan  # quality overlap share (BD-rate)
    failed_share: float = math.nan  # share of resamples that gave no value
    significant: bool = False  # the interval excludes "no difference"


def bd_rate_ci(a: CurveReplicates, b: CurveReplicates, *, higher_is_better: bool = True, method: str = "pchip",
               level: float = LEVEL, min_overlap: float = MIN_BD_OVERLAP,
               max_failed: float = MAX_FAILED_SHARE) -> Statement:
    """BD-rate of B against A (percent) with a percentile interval over the paired resamples.

    Not stated when the point estimate cannot be computed, when the curves' quality overlap
    (overlap / union) is below ``min_overlap``, or when more than ``max_failed`` of the
    resamples give no BD-rate. ``significant``: the interval excludes 0."""
    est = bd_rate(a.rate, a.quality, b.rate, b.quality, higher_is_better=higher_is_better, method=method)
    ov = quality_overlap(a.quality, b.quality)
    if est.value is None:
        return Statement(None, stated=False, reason=est.reason, overlap=ov)
    if few := _too_few(a):
        return Statement(est.value, stated=False, reason=few, overlap=ov)
    reps = bd_rate_batch(a.rate_reps, a.quality_reps, b.rate_reps, b.quality_reps,
                         higher_is_better=higher_is_better, method=method)
    failed = float(np.mean(np.isnan(reps)))
    lo, hi = percentile_interval(reps, level)
    sig = bool(np.isfinite(lo) and (lo > 0 or hi < 0))
    base = dict(low=lo, high=hi, overlap=ov, failed_share=failed, significant=sig)
    if ov < min_overlap:
        return Statement(est.value, stated=False, reason=(
            f"not stated: the curves share only {ov:.0%} of their joint quality range "
            f"(minimum {min_overlap:.0%})"), **base)
    if failed > max_failed:
        return Statement(est.value, stated=False, reason=(
            f"not stated: {failed:.0%} of the bootstrap resamples give no BD-rate (a curve stops rising "
            f"with rate or the curves stop overlapping; maximum {max_failed:.0%})"), **base)
    reason = "" if sig else "the interval includes 0: no significant rate difference"
    return Statement(est.value, stated=True, reason=reason, **base)


def rate_to_match_ci(target: CurveReplicates, index: int, other: CurveReplicates, *, higher_is_better: bool = True,
                     level: float = LEVEL) -> Statement:
    """The rate ``other`` needs to reach the quality of ``target``'s point ``index``, with a
    percentile interval over the paired resamples.

    A resample in which the target lies beyond ``other``'s measured range counts as +inf (not
    reached) or -inf (already better at its lowest rate), so the interval is honest about it.
    Stated only when the interval is finite (at most (1 - level)/2 of the resamples on either side
    fall outside the range); ``significant``: the interval excludes ``target``'s own rate."""
    tq = float(target.quality[index])
    need = rate_to_match(other.rate, other.quality, tq, higher_is_better=higher_is_better)
    reps = rate_to_match_batch(other.rate_reps, other.quality_reps, target.quality_reps[:, index],
                               higher_is_better=higher_is_better)
    failed = float(np.mean(~np.isfinite(reps)))
    lo, hi = percentile_interval(reps, level, censored=True)
    own = float(target.rate[index])
    sig = bool(np.isfinite(lo) and np.isfinite(hi) and (lo > own or hi < own))
    base = dict(low=lo, high=hi, failed_share=failed, significant=sig)
    if need is None:
        return Statement(None, stated=False, reason="outside the other codec's measured range", **base)
    if few := _too_few(target):
        return Statement(need, stated=False, reason=few)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return Statement(need, stated=False, reason=(
            f"not stated: in {failed:.0%} of the bootstrap resamples the target lies outside the other codec's "
            f"measured range, so the {level:.0%} interval is unbounded"), **base)
    reason = "" if sig else "the interval includes the target's own rate: no significant saving"
    return Statement(need, stated=True, reason=reason, **base)
