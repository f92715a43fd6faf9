"""The rating panel the app uses: ``listening_test.player.rating_panel`` (signals, sliders and
the submit button in one component) when the player provides it; until then an interim panel
made of the Web Audio ``player()`` and Streamlit sliders with the same interface.

Interface (the app depends on nothing else):

    rating_panel(reference: Signal, signals: list[Signal], key: str, options: PanelOptions,
                 prefetch: list[str] = (), initial: dict[str, float] | None = None) -> Submission | None

It returns a Submission once per press of the submit button (ratings keyed by the signal keys,
i.e. the letters), otherwise None; the app ignores a nonce it has already handled.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import streamlit as st

from . import player as _player
from .config import BANDS
from .player import Signal

__all__ = ["PanelOptions", "Signal", "Submission", "prefetch_urls", "rating_panel", "INTERIM"]

INTERIM = not hasattr(_player, "rating_panel")

if not INTERIM:
    from .player import PanelOptions, Submission, rating_panel  # noqa: F401
else:
    @dataclass(frozen=True)
    class PanelOptions:  # type: ignore[no-redef]
        require_play: bool = False
        lock_to_playing: bool = False
        min_loop_s: float = 0.5
        fade_ms: float = 5.0
        submit_label: str = "Submit and continue"

    @dataclass(frozen=True)
    class Submission:  # type: ignore[no-redef]
        ratings: dict[str, float]
        played: dict[str, bool] = field(default_factory=dict)
        seconds_listened: dict[str, float] = field(default_factory=dict)
        nonce: str = ""

    def _moved(key: str, letter: str) -> None:
        st.session_state.setdefault("panel_moved", {})[f"{key}.{letter}"] = True

    def _band(score: float) -> str:
        return next((name for lo, hi, name in BANDS if score < hi or hi == 100), "")

    def _scale_header() -> None:
        cells = "".join(
            f'<div style="flex:1;text-align:center;border-left:1px solid #ccc;padding:2px 0">{name}<br>'
            f'<span style="color:#999;font-size:11px">{lo}–{hi}</span></div>' for lo, hi, name in BANDS)
        st.markdown(f'<div style="display:flex;font-size:13px;color:#555;border-right:1px solid #ccc">{cells}</div>',
                    unsafe_allow_html=True)

    def rating_panel(reference, signals, key, options=PanelOptions(), prefetch=(), initial=None):  # type: ignore[no-redef]
        """Interim panel: the player, one slider per signal, a submit button. A slider counts as
        rated once moved (a slider left at its start is reported unrated)."""
        _player.player([reference] + list(signals), key=key)
        st.caption("Click a button to listen; switching keeps the position. Set a loop region to compare details.")
        head = st.columns([1, 8, 2])
        with head[1]:
            _scale_header()
        moved = st.session_state.get("panel_moved", {})
        ratings: dict[str, float | None] = {}
        for s in signals:
            c1, c2, c3 = st.columns([1, 8, 2], vertical_alignment="center")
            c1.markdown(f"**{s.label}**")
            v = c2.slider(f"Score {s.label}", 0, 100, 0, key=f"score.{key}.{s.key}", label_visibility="collapsed",
                          on_change=_moved, args=(key, s.key))
            rated = moved.get(f"{key}.{s.key}", False)
            c3.markdown(f"{v} · {_band(v)}" if rated else "not rated")
            ratings[s.key] = float(v) if rated else None
        if st.button(options.submit_label, type="primary", key=f"submit.{key}"):
            return Submission(ratings=ratings, played={}, seconds_listened={}, nonce=uuid.uuid4().hex)
        return None


def prefetch_urls(reference: Signal, signals: list[Signal], key: str) -> list[str]:
    """The URLs the panel will request for a trial shown under ``key`` (to fetch them early)."""
    if hasattr(_player, "signal_urls"):
        return _player.signal_urls(reference, list(signals), key)
    return [_player.audio_url(s.path, f"{key}.{s.key}") for s in [reference] + list(signals)]
