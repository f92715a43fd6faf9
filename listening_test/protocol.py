"""The rules of a MUSHRA session, free of any UI: per-listener randomisation and the
conditions for leaving a trial (ITU-R BS.1534-3 §5.3-5.4 and webMUSHRA practice).

Randomisation is reproducible: seeded from the test's seed and the listener ID, so a listener who
comes back sees the same trial order and the same letters for the same signals.
"""
from __future__ import annotations

import hashlib
import string

import numpy as np

from .config import TestConfig, Trial


def listener_seed(test_seed: int, listener_id: str, purpose: str = "") -> int:
    h = hashlib.sha256(f"{int(test_seed)}|{listener_id}|{purpose}".encode()).digest()
    return int.from_bytes(h[:8], "little")


def trial_order(cfg: TestConfig, listener_id: str) -> list[str]:
    """All trial ids in this listener's random order."""
    rng = np.random.default_rng(listener_seed(cfg.seed, listener_id, "trials"))
    ids = cfg.trial_ids
    return [ids[i] for i in rng.permutation(len(ids))]


def condition_letters(trial: Trial, test_seed: int, listener_id: str) -> dict[str, str]:
    """Letter ('A', 'B', ...) -> condition id, in this listener's random order for the trial."""
    rng = np.random.default_rng(listener_seed(test_seed, listener_id, f"conditions|{trial.id}"))
    conds = [c.id for c in trial.conditions]
    shuffled = [conds[i] for i in rng.permutation(len(conds))]
    return dict(zip(string.ascii_uppercase, shuffled))


def next_trial(order: list[str], completed: set[str] | frozenset[str]) -> tuple[int, str] | None:
    """(position, trial id) of the first trial in ``order`` not yet completed, or None."""
    for i, tid in enumerate(order):
        if tid not in completed:
            return i, tid
    return None


def submit_problems(scores: dict[str, float], moved: dict[str, bool], labels: dict[str, str] | None = None) -> list[str]:
    """Why 'Next' is not allowed yet (empty list: allowed). Every slider must have been moved
    (a rating is a decision, not the default), and at least one signal rated 100: the hidden
    reference is among them and should be found (BS.1534-3 §5.3). Signals are named by
    ``labels[key]`` (the letters the listener sees: never reveal condition ids)."""
    problems = []
    name = (lambda k: labels[k]) if labels is not None else (lambda k: k)
    untouched = sorted(name(k) for k in scores if not moved.get(k, False))
    if untouched:
        problems.append("rate every signal (move each slider): " + ", ".join(untouched))
    if not any(float(s) >= 100.0 for s in scores.values()):
        problems.append("rate at least one signal 100 (the hidden reference is among them)")
    return problems
