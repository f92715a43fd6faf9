"""Security of the MUSHRA test server.

(a) listener tokens: nobody reads or writes another listener's ratings; a wrong, empty or
    missing token fails exactly like an unknown ID; tokens are never stored in clear.
(b) the admin view (ratings, progress, export) needs $EVALSUITE_MUSHRA_ADMIN_TOKEN and is off
    without it.
(c) no path from a config (``..``, absolute, symlinks out) and no request path reaches a file
    outside the test folder.
(d) `mushra serve` binds to 127.0.0.1 unless told otherwise.
(e) weak admin tokens are refused; admin token guesses are limited (shared by all sessions).
(f) nothing served reveals the blinding: page contents and audio URLs name no condition.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest
from test_mushra_load import ROOT, open_session, served, server_processes, trial_order, trial_payload

from listening_test.config import CONFIG_NAME, DB_NAME, ConfigError, load_config, safe_path
from listening_test.storage import AuthError, RatingStore
from tests.support.mushra import enrol

APP = str(ROOT / "listening_test" / "app.py")
ADMIN = "Vx3-k9Qp7Lm2Zt8RwY4n"


def submit_all(store: RatingStore, cfg, lid: str, tok: str) -> None:
    for pos, tid in enumerate(trial_order(cfg, lid)):
        scores, labels = trial_payload(cfg, lid, tid)
        store.submit_trial(lid, tok, tid, scores, labels, position=pos, time_spent_s=3.0)


def table_counts(db: Path) -> tuple[int, int, int]:
    con = sqlite3.connect(db)
    try:
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("trial_results", "ratings", "listeners"))
    finally:
        con.close()


# -- (a) listener tokens --------------------------------------------------------------------------
def test_token_protects_each_listeners_ratings(fresh_test):
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    tok_a, tok_b = store.create_listener("alice"), store.create_listener("bob")
    submit_all(store, cfg, "bob", tok_b)  # bob has ratings alice must not reach
    before = store.ratings_frame()
    tid = cfg.trial_ids[0]
    scores, labels = trial_payload(cfg, "alice", tid)
    # alice's token on bob's ID: no read, no write; bob's token on alice's ID: no write for alice
    with pytest.raises(AuthError):
        store.state("bob", tok_a)
    for lid, tok in [("bob", tok_a), ("alice", tok_b)]:
        with pytest.raises(AuthError):
            store.submit_trial(lid, tok, tid, scores, labels, position=0, time_spent_s=1.0)
        with pytest.raises(AuthError):
            store.accept(lid, tok)
        with pytest.raises(AuthError):
            store.training_done(lid, tok)
    after = store.ratings_frame()
    assert after.equals(before) and set(after["listener_id"]) == {"bob"}
    st_a = store.state("alice", tok_a)
    assert not st_a.accepted and not st_a.training_done and not st_a.completed
    con = sqlite3.connect(fresh_test / DB_NAME)
    assert con.execute("SELECT accepted_at, training_done_at FROM listeners WHERE listener_id='bob'").fetchone() == (None, None)
    con.close()
    store.dispose()


def test_wrong_or_empty_token_fails_like_unknown_id(fresh_test):
    store = RatingStore.for_test(fresh_test)
    tok = store.create_listener("alice")
    counts = table_counts(fresh_test / DB_NAME)
    unknown = [("nobody", tok), ("nobody", ""), ("../../etc/passwd", tok), ("", "")]
    bad = [("alice", ""), ("alice", None), ("alice", tok + "x"), ("alice", tok[:-1]), ("alice", tok.upper()),
           ("ALICE", tok)]
    messages = set()
    for lid, t in unknown + bad:
        for call in (lambda: store.state(lid, t), lambda: store.accept(lid, t),
                     lambda: store.submit_trial(lid, t, "t01", {"reference": 100.0}, {"reference": "A"}, 0, 1.0)):
            with pytest.raises(AuthError) as e:
                call()
            assert type(e.value) is AuthError
            messages.add(str(e.value))
    assert len(messages) == 1, messages  # nothing tells a wrong token from an unknown ID
    assert table_counts(fresh_test / DB_NAME) == counts
    assert store.state("alice", tok).listener_id == "alice"
    store.dispose()
    # only the token's SHA-256 is kept: the secret is nowhere in the database files
    raw = b"".join(p.read_bytes() for p in fresh_test.glob(f"{DB_NAME}*") if p.is_file())
    assert tok.encode() not in raw


# -- (b) admin view -----------------------------------------------------------------------------------
def _admin_app(test_dir: Path, monkeypatch, token: str | None) -> AppTest:
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(test_dir))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    if token is None:
        monkeypatch.delenv("EVALSUITE_MUSHRA_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("EVALSUITE_MUSHRA_ADMIN_TOKEN", token)
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["admin"] = "1"
    return at.run()


def _shown(at: AppTest) -> str:
    """Everything the page shows, as text."""
    return repr(at.main) + "".join(str(d.value) for d in at.dataframe)


def _nothing_private(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.dataframe and not at.metric and not at.get("download_button")
    assert "dave" not in _shown(at)


@pytest.fixture
def rated_test(fresh_test):
    """A test where listener 'dave' completed every trial; returns (folder, dave's token)."""
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    tok = store.create_listener("dave")
    submit_all(store, cfg, "dave", tok)
    store.dispose()
    return fresh_test, tok


def test_admin_view_needs_the_admin_token(rated_test, monkeypatch):
    test_dir, dave_tok = rated_test
    at = _admin_app(test_dir, monkeypatch, ADMIN)
    _nothing_private(at)  # no token typed yet
    for wrong in ["wrong", ADMIN[:-1], ADMIN + " ", dave_tok]:  # 4 wrong: below the guess limit
        at.text_input(key="admin_token").input(wrong).run()
        assert any("Wrong admin token" in e.value for e in at.error), wrong
        _nothing_private(at)
    at.text_input(key="admin_token").input(ADMIN).run()
    assert not at.exception and not at.error
    assert at.metric and at.get("download_button")
    prog = at.dataframe[0].value
    assert prog.set_index("listener_id").loc["dave", "trials_done"] == 4
    # a fresh session does not inherit the unlocked view
    _nothing_private(_admin_app(test_dir, monkeypatch, ADMIN))


@pytest.mark.parametrize("configured", [None, ""])
def test_admin_view_disabled_without_configured_token(rated_test, monkeypatch, configured):
    test_dir, dave_tok = rated_test
    at = _admin_app(test_dir, monkeypatch, configured)
    assert any("disabled" in e.value for e in at.error)
    assert not [t for t in at.text_input if t.key == "admin_token"]  # nothing to type a token into
    _nothing_private(at)


def test_listener_link_never_opens_admin_or_other_listener(rated_test, monkeypatch):
    """A personal link with another listener's ID, or a path-like ID, shows no ratings."""
    test_dir, dave_tok = rated_test
    store = RatingStore.for_test(test_dir)
    eve_tok = store.create_listener("eve")
    store.dispose()
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(test_dir))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    for lid, tok in [("dave", eve_tok), ("../../etc/passwd", dave_tok), ("dave", "")]:
        at = AppTest.from_file(APP, default_timeout=30)
        at.query_params["listener"], at.query_params["token"] = lid, tok
        at.run()
        assert not at.exception
        assert not at.slider and not at.dataframe
        assert lid == "dave" and tok == "" or any("not valid" in e.value for e in at.error)


# -- (c) paths ------------------------------------------------------------------------------------------
def _edit_config(test_dir: Path, edit) -> None:
    p = test_dir / CONFIG_NAME
    d = yaml.safe_load(p.read_text())
    edit(d)
    p.write_text(yaml.safe_dump(d, sort_keys=False))


def _outside_wav(test_dir: Path) -> Path:
    """A real audio file just outside the test folder (so only the location makes it wrong)."""
    out = test_dir.parent / "outside.flac"
    shutil.copy(test_dir / "audio" / "t01" / "opus_6.flac", out)
    return out


@pytest.mark.parametrize("where", ["condition", "reference"])
@pytest.mark.parametrize("kind", ["dotdot", "nested_dotdot", "absolute"])
def test_config_paths_cannot_leave_the_test_folder(fresh_test, where, kind):
    outside = _outside_wav(fresh_test)
    rel = {"dotdot": "../outside.flac", "nested_dotdot": "audio/t01/../../../outside.flac",
           "absolute": str(outside)}[kind]

    def edit(d):
        if where == "reference":
            d["trials"][1]["reference"] = rel
        else:
            d["trials"][1]["conditions"][1]["path"] = rel

    _edit_config(fresh_test, edit)
    with pytest.raises(ConfigError) as e:
        load_config(fresh_test)
    msg = str(e.value)
    assert rel in msg and "t02" in msg
    assert ("must be relative" if kind == "absolute" else "escapes the test folder") in msg


@pytest.mark.parametrize("what", ["file", "folder"])
def test_symlinks_out_of_the_test_folder_are_refused(fresh_test, what):
    outside = _outside_wav(fresh_test)
    if what == "file":
        link = fresh_test / "audio" / "t01" / "opus_6.flac"
        link.unlink()
        link.symlink_to(outside)
    else:
        ext = fresh_test.parent / "outside_dir"
        shutil.move(str(fresh_test / "audio" / "t01"), ext)
        (fresh_test / "audio" / "t01").symlink_to(ext, target_is_directory=True)
    with pytest.raises(ConfigError, match="escapes the test folder"):
        load_config(fresh_test)


def test_symlink_inside_the_folder_is_fine(fresh_test):
    """Not over-strict: a link to another file of the same test folder is accepted."""
    link = fresh_test / "audio" / "t01" / "opus_6.flac"
    link.unlink()
    link.symlink_to(fresh_test / "audio" / "t01" / "opus_12.flac")
    cfg = load_config(fresh_test)
    assert safe_path(fresh_test, cfg.trial("t01").condition("opus@6").path) == (fresh_test / "audio/t01/opus_12.flac").resolve()


def test_serve_refuses_an_escaping_config_before_starting(fresh_test):
    _outside_wav(fresh_test)
    _edit_config(fresh_test, lambda d: d["trials"][0]["conditions"][0].update(path="../outside.flac"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "evalsuite", "mushra", "serve", str(fresh_test), "--port", "9"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert "evalsuite: error:" in r.stderr and "escapes the test folder" in r.stderr and "Traceback" not in r.stderr


def test_app_refuses_a_file_swapped_for_an_outside_link(fresh_test, monkeypatch):
    """After the server loaded the config, a WAV replaced by a link to an outside file is not served:
    every render resolves paths again."""
    outside = _outside_wav(fresh_test)
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(fresh_test))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    tok = store.create_listener("frank")
    store.accept("frank", tok)
    store.dispose()
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["listener"], at.query_params["token"] = "frank", tok
    at.run()
    assert not at.exception and at.title[0].value.startswith("Volume")
    ref = fresh_test / cfg.training[0].reference
    ref.unlink()
    ref.symlink_to(outside)
    at.run()
    assert at.exception and "escapes the test folder" in at.exception[0].message


def _get(port: int, path: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)  # the path goes out exactly as written
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_http_paths_reach_no_file_outside_the_served_ones(fresh_test):
    """Audio is served only by opaque media IDs and the player's static files by name; crafted
    request paths (``..``, encoded ``..``, absolute) reach neither the test folder's files nor the
    package's source nor /etc."""
    secrets_ = {
        "config": (fresh_test / CONFIG_NAME).read_bytes()[:200],
        "flac": (fresh_test / "audio" / "t01" / "reference.flac").read_bytes()[1000:1200],
        "source": (ROOT / "listening_test" / "config.py").read_bytes()[:200],
        "passwd": Path("/etc/passwd").read_bytes()[:32],
    }
    comp = "/component/listening_test.player.mushra_player"
    probes = [
        f"{comp}/../config.py", f"{comp}/..%2Fconfig.py", f"{comp}/%2e%2e/%2e%2e/listening_test/config.py",
        f"{comp}/..%2F..%2Flistening_test%2Fconfig.py", f"{comp}/%2Fetc%2Fpasswd", f"{comp}//etc/passwd",
        f"{comp}/../../../../../../../../etc/passwd", "/component/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/..%2F..%2Fmushra.yaml", "/media/../../etc/passwd", "/media/%2Fetc%2Fpasswd",
        f"/media/{fresh_test}/audio/t01/reference.flac", "/media/0123456789abcdef0123.wav",
        "/mushra.yaml", "/audio/t01/reference.flac", "/ratings.sqlite", "/app/static/mushra.yaml", "/app/static/../mushra.yaml", "/app/static/..%2F..%2Fmushra.yaml",
        "/static/../../mushra.yaml", "/..%2F..%2F..%2Fetc%2Fpasswd", "/?file=../../etc/passwd",
    ]
    store = RatingStore.for_test(fresh_test)
    tok = store.create_listener("gina")
    store.accept("gina", tok)
    store.dispose()
    with served(fresh_test) as (_, port):
        # a real session on the volume page: the player is registered and one WAV is served
        page = "".join(open_session(port, f"listener=gina&token={tok}"))
        media = re.findall(r'/media/[0-9a-f]+\.(?:wav|flac)', page.replace('\\"', '"'))
        assert len(media) == 1, page
        status, body = _get(port, media[0])
        cfg = load_config(fresh_test)
        ref = fresh_test / cfg.training[0].reference
        assert status == 200 and body == ref.read_bytes()
        status, body = _get(port, f"{comp}/index.html")
        assert status == 200 and b"<" in body  # the player's own file is served: the route is live
        probes += [f"{media[0]}/../../mushra.yaml", f"{media[0]}%2F..%2F..%2Fmushra.yaml",
                   media[0].rsplit(".", 1)[0] + "/../../../etc/passwd"]
        for path in probes:
            status, body = _get(port, path)
            leaked = [k for k, v in secrets_.items() if v in body]
            assert not leaked, (path, status, leaked)
            if path.startswith(("/media/", comp)):
                assert status in (400, 403, 404), (path, status)


# -- (d) loopback by default ------------------------------------------------------------------------------
def test_serve_defaults_to_loopback():
    from evalsuite.cli import build_parser
    from listening_test.cli import streamlit_command

    args = build_parser().parse_args(["mushra", "serve", "some_test"])
    assert args.host == "127.0.0.1"
    cmd = streamlit_command(Path("some_test"), 8501, args.host)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert "--server.address" in cmd[:cmd.index("--")]  # a server option, not an app argument


def test_live_server_listens_on_loopback_only(fresh_test):
    """Started without --host: answers on 127.0.0.1 (``served`` waited for that) and every
    listening socket of the server's processes is bound to loopback; none to 0.0.0.0 / ::."""
    import ipaddress

    with served(fresh_test) as (proc, port):
        socks = [c for p in server_processes(proc) for c in p.net_connections(kind="inet")
                 if c.status == "LISTEN"]
        assert any(c.laddr.port == port for c in socks), socks
        for c in socks:
            assert ipaddress.ip_address(c.laddr.ip).is_loopback, c
        if shutil.which("ss"):  # the kernel's own view of the port, as a cross-check
            out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
            local = [line.split()[3] for line in out.splitlines() if line.strip()]
            assert local and all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]") for a in local), out


# -- (e) admin token strength and guess limit --------------------------------------------------------------
@pytest.mark.parametrize("weak", ["adm1n-s3cret", "passwordpassword", "abcdefghijklmnopqrstuvwxyz"])
def test_weak_admin_token_disables_the_admin_view(rated_test, monkeypatch, weak):
    test_dir, _ = rated_test
    at = _admin_app(test_dir, monkeypatch, weak)
    assert any("too weak" in e.value and "token_urlsafe" in e.value for e in at.error)
    assert not [t for t in at.text_input if t.key == "admin_token"]
    _nothing_private(at)


def test_serve_refuses_a_weak_admin_token(fresh_test):
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVALSUITE_MUSHRA_ADMIN_TOKEN="s3cret-admin")
    r = subprocess.run([sys.executable, "-m", "evalsuite", "mushra", "serve", str(fresh_test), "--port", "9"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "too weak" in r.stderr and "Traceback" not in r.stderr


def test_admin_token_guesses_are_limited(rated_test, monkeypatch):
    """Five wrong tokens lock the login for every session, the right token included; the lock
    ends when the failures leave the 15-minute window."""
    from listening_test.admin_auth import WINDOW_S, check_login

    test_dir, _ = rated_test
    at = _admin_app(test_dir, monkeypatch, ADMIN)
    for k in range(5):
        at.text_input(key="admin_token").input(f"guess-{k}").run()
        assert any("Wrong admin token" in e.value for e in at.error)
    at.text_input(key="admin_token").input(ADMIN).run()
    assert any("locked" in e.value for e in at.error)
    _nothing_private(at)
    fresh = _admin_app(test_dir, monkeypatch, ADMIN)  # another session (or server process): locked too
    fresh.text_input(key="admin_token").input(ADMIN).run()
    assert any("locked" in e.value for e in fresh.error)
    _nothing_private(fresh)
    # the stored clock: once the window has passed, the right token works again
    store = RatingStore.for_test(test_dir)
    import time

    assert not check_login(store, ADMIN, ADMIN, time.time()).ok
    assert check_login(store, ADMIN, ADMIN, time.time() + WINDOW_S + 1).ok


# -- (f) nothing served reveals the blinding -----------------------------------------------------------------
def test_served_trial_page_reveals_no_condition(fresh_test):
    """A listener's trial page as the server sends it (every element of the run): no condition
    id, no file name, no letters-to-condition mapping; the audio URLs are opaque names that
    differ from the file names, and each serves one of the trial's files."""
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    tok, a = enrol(store, cfg, "ivy")
    store.accept("ivy", tok)
    store.training_done("ivy", tok)
    store.dispose()
    tid = a.trials[0]
    t = cfg.trial(tid)
    files = {(fresh_test / t.reference).read_bytes()} | {(fresh_test / c.path).read_bytes() for c in t.conditions}
    with served(fresh_test) as (_, port):
        page = "".join(open_session(port, f"listener=ivy&token={tok}")).replace('\\"', '"')
        assert "Trial 1 of 4" in page
        # (a URL may end in .flac: every signal is FLAC, the format tells nothing)
        for secret in ["opus", "anchor", "lp35", "lp70", "reference.flac", "opus_6", "audio/", "@6", "@12",
                       str(fresh_test), json.dumps(dict(a.letters[tid]))]:
            assert secret not in page, secret
        media = sorted(set(re.findall(r"/media/[0-9a-f]+\.[a-z0-9]+", page)))
        assert len(media) >= 6  # this trial's six signals (and the next trial's, when the panel prefetches)
        bodies = []
        for m in media:
            status, body = _get(port, m)
            assert status == 200
            bodies.append(body)
        assert files <= set(bodies)
