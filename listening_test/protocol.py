"""The rules of a MUSHRA session, free of any UI: where a listener is in their assignment and
the conditions for leaving a trial (ITU-R BS.1534-3 §5.3-5.4 and webMUSHRA practice). The
blinding itself (subset, order, letters) is drawn in :mod:`listening_test.assignment`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def next_trial(order, completed) -> tuple[int, str] | None:
    """(position, trial id) of the first trial in ``order`` not yet completed, or None."""
    for i, tid in enumerate(order):
        if tid not in completed:
            return i, tid
    return None


def submit_problems(ratings: Mapping[str, float | None], letters: Iterable[str],
                    played: Mapping[str, bool] | None = None, require_play: bool = False) -> list[str]:
    """Why a trial cannot be submitted yet (empty list: it can). Keys are the letters the
    listener sees (never condition ids). Every signal must be rated (a rating is a decision: a
    slider never touched is 'not yet rated', whatever its position), within 0..100, at least one
    at 100 (the hidden reference is among them, BS.1534-3 §5.3), and with ``require_play`` every
    signal must have been played."""
    letters = list(letters)
    problems = []
    unrated = [L for L in letters if ratings.get(L) is None or not math.isfinite(float(ratings[L]))]
    if unrated:
        problems.append("rate every signal: " + ", ".join(sorted(unrated)))
    bad = [L for L in letters if L not in unrated and not 0.0 <= float(ratings[L]) <= 100.0]
    if bad:
        problems.append("ratings must lie between 0 and 100: " + ", ".join(sorted(bad)))
    if not unrated and not any(float(ratings[L]) >= 100.0 for L in letters):
        problems.append("rate at least one signal 100 (the hidden reference is among them)")
    if require_play:
        unplayed = [L for L in letters if not (played or {}).get(L, False)]
        if unplayed:
            problems.append("listen to every signal before rating it: " + ", ".join(sorted(unplayed)))
    return problems

