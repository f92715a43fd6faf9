"""Hosting: the public base URL of links (behind an HTTPS proxy), the Streamlit base path it
implies, Prolific links and completion URLs."""
from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.cli import main as evalsuite_main
from listening_test.cli import streamlit_command
from listening_test.config import ProlificSettings
from listening_test.links import base_from_browser, is_loopback, normalize_public_url, personal_link
from listening_test.prolific import completion_link, visit_from_query


def test_public_url_normalised_and_checked():
    assert normalize_public_url("https://listen.example.org") == "https://listen.example.org/"
    assert normalize_public_url("https://h.org:8443/lab/mushra") == "https://h.org:8443/lab/mushra/"
    for bad in ("listen.example.org", "ftp://h.org/", "https://h.org/?a=1", "https:///x", ""):
        with pytest.raises(ValueError, match="public URL"):
            normalize_public_url(bad)
    assert base_from_browser("https://h.org/lab/?listener=a&token=b#x") == "https://h.org/lab/"
    assert base_from_browser("") is None
    assert is_loopback("http://127.0.0.1:8501/") and is_loopback("http://localhost/") and not is_loopback("https://h.org/")


def test_personal_link_escapes():
    assert personal_link("https://h.org/t/", "L1", "a-b_c") == "https://h.org/t/?listener=L1&token=a-b_c"
    assert personal_link("/", "x.y", "t&u=v") == "/?listener=x.y&token=t%26u%3Dv"


def test_public_url_path_becomes_the_base_path():
    cmd = streamlit_command(Path("t"), 8501, "127.0.0.1", "https://h.org/lab/mushra/")
    assert cmd[cmd.index("--server.baseUrlPath") + 1] == "lab/mushra"
    assert cmd.index("--server.baseUrlPath") < cmd.index("--")
    assert "--server.baseUrlPath" not in streamlit_command(Path("t"), 8501, "127.0.0.1", "https://h.org/")
    assert "--server.baseUrlPath" not in streamlit_command(Path("t"), 8501, "127.0.0.1")


def test_serve_refuses_a_bad_public_url(fresh_test, capsys):
    rc = evalsuite_main(["mushra", "serve", str(fresh_test), "--public-url", "listen.example.org"])
    assert rc == 2 and "give the full address listeners open" in capsys.readouterr().err


def test_prolific_visit():
    q = {"PROLIFIC_PID": "60a1b2c3d4e5f60718293a4b", "STUDY_ID": "5f0c0ffee0ddba11c0ffee00",
         "SESSION_ID": "5c9d8e7f6a5b4c3d2e1f0a9b"}
    v = visit_from_query(q)
    assert (v.pid, v.study_id, v.session_id) == tuple(q.values())
    assert visit_from_query({"listener": "a"}) is None
    for broken in ({**q, "SESSION_ID": ""}, {**q, "SESSION_ID": "short"}, {**q, "PROLIFIC_PID": "../x"},
                   {k: v for k, v in q.items() if k != "STUDY_ID"}):
        with pytest.raises(ValueError, match="malformed Prolific link"):
            visit_from_query(broken)


def test_completion_link():
    s = ProlificSettings(completion_code="C0DE 1&2")
    assert completion_link(s, s.completion_code) == "https://app.prolific.com/submissions/complete?cc=C0DE+1%262"
