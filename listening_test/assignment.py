"""Who rates what, in which order, under which letters (the blinding of a MUSHRA test).

Each listener's assignment is drawn once, when they start, from the operating system's random
source (``random.SystemRandom``), and stored in the ratings database (never served, never in
the test folder). Nothing about it follows from public inputs (test name, listener ID, build
seed): two listeners, or the same listener ID in two builds of the same run, get independent
draws. A listener who comes back gets their stored assignment.

Balanced subsets: with K of N trials per listener, each new listener gets the K trials that the
fewest listeners have so far (ties broken at random), so as listeners arrive every trial has the
same number of listeners, within one. The store draws under its write lock, so concurrent
arrivals see each other's assignments.
"""
from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .config import TestConfig


@dataclass(frozen=True)
class Assignment:
    trials: tuple[str, ...]  # rated trial ids, in this listener's order
    training: tuple[str, ...]  # training trial ids, in order
    letters: Mapping[str, Mapping[str, str]]  # trial id (rated or training) -> letter -> condition id

    def labels(self, tid: str) -> dict[str, str]:
        """condition id -> letter in trial ``tid``."""
        return {c: L for L, c in self.letters[tid].items()}


def system_rng() -> random.Random:
    """The random source of every real draw: the OS CSPRNG, not seedable, not predictable."""
    return random.SystemRandom()


def draw_letters(condition_ids: Iterable[str], rng: random.Random) -> dict[str, str]:
    """Letter ('A', 'B', ...) -> condition id, in a random order."""
    ids = list(condition_ids)
    rng.shuffle(ids)
    return dict(zip(string.ascii_uppercase, ids))


def balanced_subset(counts: Mapping[str, int], k: int, rng: random.Random) -> list[str]:
    """The ``k`` trials with the fewest listeners so far (random among equal counts), in random
    order. Choosing the least-served trials keeps every count within one of the others."""
    if not 0 < k <= len(counts):
        raise ValueError(f"cannot choose {k} of {len(counts)} trials")
    ids = list(counts)
    rng.shuffle(ids)
    ids.sort(key=lambda t: counts[t])  # stable sort: the shuffle breaks ties
    chosen = ids[:k]
    rng.shuffle(chosen)
    return chosen


def draw_assignment(cfg: TestConfig, counts: Mapping[str, int], rng: random.Random) -> Assignment:
    """A new listener's assignment, given how many listeners each rated trial has so far."""
    full = {tid: int(counts.get(tid, 0)) for tid in cfg.trial_ids}
    trials = balanced_subset(full, cfg.k, rng)
    training = [t.id for t in cfg.training_trials]
    letters = {tid: draw_letters(cfg.trial(tid).condition_ids, rng) for tid in dict.fromkeys(trials + training)}
    if cfg.training_trial and not cfg.training:  # legacy: a rated trial replayed as training
        letters[f"training:{cfg.training_trial}"] = draw_letters(cfg.trial(cfg.training_trial).condition_ids, rng)
        training = [f"training:{cfg.training_trial}"]
    return Assignment(tuple(trials), tuple(training), letters)


def trial_of(cfg: TestConfig, tid: str):
    """The Trial behind an assignment's trial id (legacy training ids are 'training:<tid>')."""
    return cfg.trial(tid.split(":", 1)[1] if tid.startswith("training:") else tid)


def new_listener_draw(cfg: TestConfig):
    """What the store calls (under its write lock) to draw a new listener's assignment."""
    return lambda counts: draw_assignment(cfg, counts, system_rng())
