"""The Web Audio player component (static HTML/JS in ``player_web/``, no build step).

Audio reaches the browser through Streamlit's media file manager (the same mechanism as
``st.audio``): each WAV gets a URL under ``/media/``. The file name given to the manager is an
opaque keyed hash, so the URL reveals neither the condition nor that the hidden reference is the
reference's file.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

_COMPONENT = components.declare_component("mushra_player", path=str(Path(__file__).with_name("player_web")))


@dataclass(frozen=True)
class Signal:
    key: str  # 'ref' or the letter
    label: str  # button text
    path: Path


@st.cache_resource(show_spinner=False)
def _url_key() -> bytes:
    import secrets

    return secrets.token_bytes(16)  # per server process: URLs cannot be predicted from outside


@st.cache_data(show_spinner=False, max_entries=256)
def _read(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


def audio_url(path: Path, salt: str) -> str:
    """URL of a WAV for this session (a data: URI when no Streamlit server runs, e.g. bare mode)."""
    data = _read(str(path), path.stat().st_mtime)
    from streamlit import runtime

    if not runtime.exists():
        return "data:audio/wav;base64," + base64.b64encode(data).decode()
    name = hmac.new(_url_key(), f"{salt}|{path}".encode(), hashlib.sha256).hexdigest()[:20] + ".wav"
    return runtime.get_instance().media_file_mgr.add(data, "audio/wav", f"mushra.{salt}", file_name=name)


def player(signals: list[Signal], key: str, crossfade_ms: float = 8.0) -> None:
    """Render the player for ``signals`` (all the same length); ``key`` identifies the trial so
    the browser decodes the audio once per trial."""
    args = [dict(key=s.key, label=s.label, url=audio_url(s.path, f"{key}.{s.key}")) for s in signals]
    _COMPONENT(signals=args, trial_key=key, crossfade_ms=crossfade_ms, key=f"player_{key}", default=None)
