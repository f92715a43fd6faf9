"""The rating panel the app uses: ``listening_test.player.rating_panel`` (signals, sliders and the
submit button in one component), and the URLs of a trial to prefetch while the listener rates
the one before it.

It returns a Submission once per press of the submit button (ratings keyed by the signal keys,
i.e. the letters), otherwise None; the app ignores a nonce it has already handled.
"""
from __future__ import annotations

from .player import PanelOptions, Signal, Submission, rating_panel, signal_urls

__all__ = ["PanelOptions", "Signal", "Submission", "prefetch_urls", "rating_panel"]


def prefetch_urls(reference: Signal, signals: list[Signal], key: str) -> list[str]:
    """The URLs the panel will request for a trial shown under ``key`` (to fetch them early)."""
    return signal_urls(reference, list(signals), key)
