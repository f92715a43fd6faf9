"""PESQ: Perceptual Evaluation of Speech Quality (ITU-T P.862, wide-band P.862.2), via the
``pesq`` package (ludlows/python-pesq), a wrapper of the ITU reference C code.

* ``pesq_wb``: ``pesq(16000, ref, deg, 'wb')`` -> P.862.2 wide-band MOS-LQO, on 16 kHz input.
* ``pesq_nb``: ``pesq(8000, ref, deg, 'nb')`` -> P.862 narrow-band MOS-LQO (P.862.1 mapping), on
  8 kHz input: narrow-band PESQ as telephony papers report it (P.862 is an 8 kHz model; its
  16 kHz narrow-band path reads 0.04-0.14 lower on coded speech, e.g. 1.607 instead of 1.665 on
  python-pesq's example pair). Both signals are resampled to 8 kHz with libsoxr first.

No shared reference work: the ITU C code takes the pair in one call (its level alignment, time
alignment and auditory transform of the reference happen inside it), so nothing of the reference
side can be computed once per item without changing that code.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Metric, MetricInfo
from .checks import check_pair, finite, package_version, requires

_WB_RATE = 16000
_NB_RATE = 8000
#: P.862 works on utterances; shorter signals make its VAD/alignment fail or meaningless.
_MIN_SECONDS = 1.0


def _availability() -> tuple[bool, str]:
    return requires("PESQ", "pesq", pip="pesq")


class _Pesq(Metric):
    _mode: ClassVar[str]

    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        return _availability()

    def score(self, ref: np.ndarray | None, deg: np.ndarray, rate: int) -> dict[str, float]:
        from pesq import NoUtterancesError, PesqError, pesq

        ref, deg = check_pair(ref, deg, rate, min_seconds=_MIN_SECONDS)
        r, d = self.prepare(ref, rate), self.prepare(deg, rate)
        try:
            value = pesq(self.info.sample_rate, r, d, self._mode)
        except NoUtterancesError as e:
            raise RuntimeError(
                f"PESQ ({self._mode}) found no speech utterances in the reference: the signal is "
                "too quiet or not speech (PESQ is defined for speech only)") from e
        except PesqError as e:
            # BufferTooShortError, OutOfMemoryError, InvalidSampleRateError, ...
            raise RuntimeError(f"PESQ ({self._mode}) failed: {type(e).__name__}: {e}") from e
        return {self.info.name: finite(value, f"PESQ ({self._mode})")}


class PesqWideband(_Pesq):
    """Wide-band PESQ (ITU-T P.862.2), MOS-LQO in about [1.04, 4.64]."""

    _mode = "wb"
    info = MetricInfo(
        name="pesq_wb",
        needs_reference=True,
        sample_rate=_WB_RATE,
        higher_is_better=True,
        version=f"pesq {package_version('pesq')} (ITU-T P.862.2 wide-band reference code)",
        mode="wb",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(1.0, 4.64),
        description="Wide-band PESQ MOS-LQO (ITU-T P.862.2) at 16 kHz; speech only.",
        cost="0.16 s per 10-s clip (CPU, 1 thread)",
    )


class PesqNarrowband(_Pesq):
    """Narrow-band PESQ (ITU-T P.862 with the P.862.1 MOS-LQO mapping), scored on 8 kHz input."""

    _mode = "nb"
    info = MetricInfo(
        name="pesq_nb",
        needs_reference=True,
        sample_rate=_NB_RATE,
        higher_is_better=True,
        version=f"pesq {package_version('pesq')} (ITU-T P.862 narrow-band reference code, P.862.1 mapping)",
        mode="nb (8 kHz input)",
        applies_to=("clean_speech", "noisy_speech"),
        value_range=(1.0, 4.55),
        description="Narrow-band PESQ MOS-LQO (ITU-T P.862/P.862.1) on 8 kHz input; speech only.",
        cost="0.08 s per 10-s clip (CPU, 1 thread)",
    )
