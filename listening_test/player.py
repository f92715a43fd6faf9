"""The MUSHRA rating panel: one Streamlit component (static HTML/JS in ``player_web/``, no build
step) that renders a whole trial as webMUSHRA does: a *Reference* play button, one column per
signal (play button, vertical 0-100 slider with the five BS.1534 bands, value), a shared
transport (play/pause, stop, position bar with a loop region) and the submit button.

Playback (``player_web/engine.js``) keeps every signal sample-synchronous and lets exactly one be
heard: a switch fades the current signal out and the new one in (raised cosine, ``fade_ms``
each) at the same position; play, pause, stop, seek and every loop wrap are faded the same way.
See docs/mushra_player.md.

Audio reaches the browser through Streamlit's media file manager (the mechanism of ``st.audio``):
each file gets a URL under ``/media/`` whose name is a keyed hash (a per-server secret), so the URL
reveals neither the condition nor that the hidden reference is the reference's file.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

_COMPONENT = components.declare_component("mushra_player", path=str(Path(__file__).with_name("player_web")))

#: file suffix -> MIME type the media endpoint serves it with
AUDIO_MIME = {".wav": "audio/wav", ".flac": "audio/flac"}


@dataclass(frozen=True)
class Signal:
    key: str  # 'ref' for the open reference, else the letter shown ('A', 'B', ...)
    label: str  # text on the button
    path: Path  # WAV or FLAC file on the server


@dataclass(frozen=True)
class PanelOptions:
    require_play: bool = False  # a signal must have been heard before its slider can be used
    lock_to_playing: bool = False  # only the slider of the signal selected in the player can be used
    min_loop_s: float = 0.5  # shortest loop region the listener can set
    fade_ms: float = 5.0  # each raised-cosine fade (a switch is a fade-out then a fade-in)
    submit_label: str = "Submit and continue"


@dataclass(frozen=True)
class Submission:
    ratings: dict[str, float]  # letter -> 0..100 (every rated signal)
    played: dict[str, bool]  # letter -> played at least once
    seconds_listened: dict[str, float]  # letter -> total seconds heard (useful for screening)
    nonce: str  # unique per submit click, so the app can ignore a replayed value


@st.cache_resource(show_spinner=False)
def _url_key() -> bytes:
    return secrets.token_bytes(16)  # per server process: URLs cannot be predicted from outside


@st.cache_data(show_spinner=False, max_entries=256)
def _read(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


@st.cache_data(show_spinner=False, max_entries=1024)
def _sample_rate(path: str, mtime: float) -> int:
    import soundfile

    return int(soundfile.info(path).samplerate)


def audio_mime(path: Path) -> str:
    """MIME type of a playable file; a clear error for anything but .wav/.flac."""
    mime = AUDIO_MIME.get(Path(path).suffix.lower())
    if mime is None:
        raise ValueError(f"{Path(path).name}: the MUSHRA player serves .wav or .flac files only")
    return mime


def audio_url(path: Path, salt: str) -> str:
    """URL of a WAV/FLAC file for this session (a data: URI when no Streamlit server runs).
    The media file name is HMAC(server secret, salt|path): opaque and unpredictable."""
    path = Path(path)
    mime = audio_mime(path)
    data = _read(str(path), path.stat().st_mtime)
    from streamlit import runtime

    if not runtime.exists():
        return f"data:{mime};base64," + base64.b64encode(data).decode()
    name = hmac.new(_url_key(), f"{salt}|{path}".encode(), hashlib.sha256).hexdigest()[:20] + path.suffix.lower()
    return runtime.get_instance().media_file_mgr.add(data, mime, f"mushra.{salt}", file_name=name)


def signal_urls(reference: Signal, signals: list[Signal], key: str) -> list[str]:
    """The URLs ``rating_panel(reference, signals, key)`` will fetch: pass a coming trial's as
    ``prefetch`` so its audio is already in the browser when that trial opens."""
    return [audio_url(s.path, f"{key}.{s.key}") for s in [reference, *signals]]


def _component_args(signals: list[Signal], key: str) -> tuple[list[dict], int]:
    urls = signal_urls(signals[0], signals[1:], key)
    rate = _sample_rate(str(signals[0].path), Path(signals[0].path).stat().st_mtime)
    return [dict(key=s.key, label=s.label, url=u) for s, u in zip(signals, urls)], rate


def parse_submission(value: Any, trial_key: str, letters: Iterable[str]) -> Submission | None:
    """The component's value as a Submission, or None when it is absent, belongs to another trial
    or is malformed (the browser is not trusted: types and ranges are checked here)."""
    if not isinstance(value, dict) or value.get("trial_key") != trial_key:
        return None
    nonce, ratings, played, seconds = (value.get(k) for k in ("nonce", "ratings", "played", "seconds_listened"))
    if not (isinstance(nonce, str) and 8 <= len(nonce) <= 128 and isinstance(ratings, dict)):
        return None
    played = played if isinstance(played, dict) else {}
    seconds = seconds if isinstance(seconds, dict) else {}
    out_r, out_p, out_s = {}, {}, {}
    for L in letters:
        v = ratings.get(L)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v <= 100):
                return None
            out_r[L] = float(v)
        out_p[L] = played.get(L) is True
        sec = seconds.get(L, 0.0)
        number = isinstance(sec, (int, float)) and not isinstance(sec, bool)
        out_s[L] = float(sec) if number and math.isfinite(sec) and sec >= 0 else 0.0
    return Submission(ratings=out_r, played=out_p, seconds_listened=out_s, nonce=nonce)


def rating_panel(reference: Signal, signals: list[Signal], key: str, options: PanelOptions = PanelOptions(),
                 prefetch: list[str] = (), initial: dict[str, float] | None = None) -> Submission | None:
    """Render the panel for one trial (``key`` identifies it); returns a Submission once, on the
    rerun caused by the listener's submit click, else None."""
    args, rate = _component_args([reference, *signals], key)
    value = _COMPONENT(mode="rate", trial_key=key, signals=args, rate=rate, prefetch=list(prefetch),
                       options=dict(require_play=options.require_play, lock_to_playing=options.lock_to_playing,
                                    min_loop_s=options.min_loop_s, fade_ms=options.fade_ms,
                                    submit_label=options.submit_label),
                       initial={k: float(v) for k, v in (initial or {}).items()},
                       key=f"mushra_panel.{key}", default=None)
    sub = parse_submission(value, key, [s.key for s in signals])
    if sub is None:
        return None
    seen = st.session_state.setdefault("_mushra_panel_nonces", set())
    if sub.nonce in seen:  # the component keeps its last value on every later rerun
        return None
    seen.add(sub.nonce)
    return sub


def player(signals: list[Signal], key: str, options: PanelOptions = PanelOptions()) -> None:
    """Play-only panel (no sliders, no submit), e.g. for the volume check: the first signal is
    the one the transport starts with. Same engine, fades and keys as ``rating_panel``."""
    args, rate = _component_args(list(signals), key)
    _COMPONENT(mode="play", trial_key=key, signals=args, rate=rate, prefetch=[],
               options=dict(min_loop_s=options.min_loop_s, fade_ms=options.fade_ms), initial={},
               key=f"player_{key}", default=None)
