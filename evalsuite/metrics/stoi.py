"""STOI and extended STOI via ``pystoi`` (a port of Taal's MATLAB reference, checked against it).

* STOI: C. H. Taal, R. C. Hendriks, R. Heusdens, J. Jensen, "An Algorithm for Intelligibility
  Prediction of Time-Frequency Weighted Noisy Speech", IEEE TASLP 19(7), 2011.
* ESTOI: J. Jensen, C. H. Taal, "An Algorithm for Predicting the Intelligibility of Speech Masked
  by Modulated Noise Maskers", IEEE/ACM TASLP 24(11), 2016.

We hand pystoi 16 kHz audio; it resamples to its internal 10 kHz with its MATLAB-style
``resample`` (as the reference code does), removes silent frames (40 dB range) and compares
384-ms one-third-octave envelopes.

No shared reference work: pystoi offers only the whole ``stoi(x, y, fs)`` call (its silent-frame
removal takes both signals at once), so the reference side could be split off only by
re-implementing pystoi's function; both metrics use the default (the whole pair per condition:
about 0.08 s for STOI, 0.15 s for ESTOI per 10-s clip).
"""
from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_pair, finite, package_version, requires

_RATE = 16000
#: STOI needs >= 30 frames of 25.6 ms (384 ms) of *active* speech; ask for a bit more in total.
_MIN_SECONDS = 0.5


#: seed of the dither pystoi draws in extended mode (any fixed value would do; it must not change)
_DITHER_SEED = 0


def _pystoi(r: np.ndarray, d: np.ndarray, extended: bool) -> float:
    """``pystoi.stoi`` at 16 kHz, reproducible: extended STOI adds EPS-scale dither drawn from
    NumPy's global RNG, unseeded (``pystoi.utils.row_col_normalize``), so one pair's value varied
    in its last bits from call to call. The dither is drawn from a fixed seed here and the
    caller's global RNG state is put back (a worker scores one pair at a time)."""
    from pystoi import stoi

    state = np.random.get_state()
    np.random.seed(_DITHER_SEED)
    try:
        return stoi(r, d, _RATE, extended=extended)
    finally:
        np.random.set_state(state)


class _Stoi(Metric):
    _extended: ClassVar[bool]

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return requires("STOI", "pystoi", pip="pystoi")

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        r, d = self.prepare(ref, rate), self.prepare(deg, rate)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = _pystoi(r.astype(np.float64), d.astype(np.float64), self._extended)
        # pystoi warns and returns 1e-5 when, after removing silent frames, fewer than 30 frames
        # remain: that number is a placeholder, not a score.
        for w in caught:
            if "Not enough STFT frames" in str(w.message):
                raise RuntimeError(
                    f"{self.info.name}: not enough active speech (STOI needs at least 384 ms of "
                    "non-silent reference after removing frames 40 dB below the loudest)")
        return {self.info.name: finite(value, self.info.name)}


class Stoi(_Stoi):
    """Short-Time Objective Intelligibility (Taal et al. 2011), ~[0, 1]."""

    _extended = False
    info = MetricInfo(
        name="stoi",
        needs_reference=True,
        sample_rate=_RATE,
        higher_is_better=True,
        version=f"pystoi {package_version('pystoi')} (Taal et al. 2011)",
        mode="classic (10 kHz internal)",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(0.0, 1.0),
        description="Short-Time Objective Intelligibility; speech only.",
        cost="0.08 s per 10-s clip (CPU, 1 thread)",
    )


class ExtendedStoi(_Stoi):
    """Extended STOI (Jensen & Taal 2016), for modulated maskers; ~[0, 1]."""

    _extended = True
    info = MetricInfo(
        name="estoi",
        needs_reference=True,
        sample_rate=_RATE,
        higher_is_better=True,
        version=f"pystoi {package_version('pystoi')} (Jensen & Taal 2016)",
        mode="extended (10 kHz internal)",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(0.0, 1.0),
        description="Extended Short-Time Objective Intelligibility; speech only.",
        cost="0.15 s per 10-s clip (CPU, 1 thread)",
    )
