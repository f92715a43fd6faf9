"""A Streamlit page that renders only the MUSHRA rating panel, for the browser tests
(tests/test_mushra_player_audio.py). Query parameters: n (signals, 1-12), require_play=1,
lock=1, layout=wide|centered, initial=1 (A starts rated 42), mode=play (the play-only panel). Two trials; trial 1 prefetches trial 2's audio; a submission is
shown as JSON (a text line 'submissions: [...]') and, with advance=1, opens trial 2. Signals come from
$MUSHRA_PANEL_SIGNALS (tests/support/mushra_panel.py writes them)."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from listening_test.player import PanelOptions, Signal, player, rating_panel, signal_urls  # noqa: E402
from tests.support.mushra_panel import LETTERS, signal_path  # noqa: E402

qp = st.query_params
st.set_page_config(page_title="MUSHRA panel test", layout=qp.get("layout", "centered"))
folder = Path(os.environ["MUSHRA_PANEL_SIGNALS"])
n = int(qp.get("n", "3"))
options = PanelOptions(require_play=qp.get("require_play") == "1", lock_to_playing=qp.get("lock") == "1")
trial = st.session_state.setdefault("trial", 1)


def signals(t: int) -> tuple[Signal, list[Signal]]:
    ref = Signal("ref", "Reference", signal_path(folder, t, 0))
    return ref, [Signal(L, L, signal_path(folder, t, i + 1)) for i, L in enumerate(LETTERS[:n])]


if qp.get("mode") == "play":  # the play-only panel (e.g. a volume check)
    ref, sigs = signals(1)
    player([ref, *sigs], key="t1")
    st.stop()
st.progress(trial / 2, text=f"Trial {trial} of 2")
ref, sigs = signals(trial)
prefetch = signal_urls(*signals(2), key="t2") if trial == 1 else []
initial = {"A": 42.0} if qp.get("initial") == "1" else None
sub = rating_panel(ref, sigs, key=f"t{trial}", options=options, prefetch=prefetch, initial=initial)
subs = st.session_state.setdefault("subs", [])
if sub is not None:
    subs.append(dataclasses.asdict(sub))
    if qp.get("advance") == "1" and trial == 1:
        st.session_state["trial"] = 2
        st.rerun()
st.text("submissions: " + json.dumps(subs))
st.button("Rerun")
