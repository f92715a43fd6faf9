"""The ratings store: tokens, one transaction per trial, no overwrite, concurrent listeners."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from listening_test.storage import AlreadySubmitted, AuthError, ListenerExists, RatingStore

CONDS = ["reference", "anchor_lp35", "anchor_lp70", "opus@6", "opus@12"]
LABELS = dict(zip(CONDS, "ABCDE"))


def scores(base: float) -> dict[str, float]:
    return {c: min(100.0, base + 10 * i) for i, c in enumerate(CONDS)}


def test_wal_and_roundtrip(tmp_path):
    store = RatingStore.for_test(tmp_path)
    tok = store.create_listener("alice")
    store.accept("alice", tok)
    store.training_done("alice", tok)
    store.submit_trial("alice", tok, "t01", scores(50), LABELS, position=0, time_spent_s=12.5)
    st = store.state("alice", tok)
    assert st.accepted and st.training_done and st.completed == {"t01"}
    df = store.ratings_frame()
    assert len(df) == 5 and set(df["condition"]) == set(CONDS)
    assert df.loc[df["condition"] == "opus@6", "score"].item() == 80.0
    store.dispose()
    con = sqlite3.connect(tmp_path / "ratings.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_token_required(tmp_path):
    store = RatingStore.for_test(tmp_path)
    tok_a = store.create_listener("alice")
    store.create_listener("bob")
    with pytest.raises(ListenerExists):
        store.create_listener("alice")
    with pytest.raises(AuthError):  # bob's ID with alice's token
        store.submit_trial("bob", tok_a, "t01", scores(50), LABELS, 0, 1.0)
    with pytest.raises(AuthError):
        store.state("mallory", tok_a)
    with pytest.raises(ValueError):
        store.create_listener("../evil")
    assert store.ratings_frame().empty


def test_no_overwrite_and_atomic(tmp_path):
    store = RatingStore.for_test(tmp_path)
    tok = store.create_listener("alice")
    store.submit_trial("alice", tok, "t01", scores(50), LABELS, 0, 1.0)
    with pytest.raises(AlreadySubmitted):
        store.submit_trial("alice", tok, "t01", scores(0), LABELS, 0, 1.0)
    with pytest.raises(ValueError):  # a bad score: nothing of the trial is written
        store.submit_trial("alice", tok, "t02", {**scores(50), "opus@6": 101}, LABELS, 1, 1.0)
    df = store.ratings_frame()
    assert len(df) == 5 and df["score"].min() == 50 and set(df["trial_id"]) == {"t01"}


@pytest.mark.parametrize("n_listeners", [24])
def test_concurrent_listeners_lose_nothing(tmp_path, n_listeners):
    """24 listeners, each with its own engine (like separate server processes), submit 4 trials
    each at the same moment; plus one listener double-submitting the same trial from 6 threads."""
    RatingStore.for_test(tmp_path).dispose()  # create the schema once
    barrier = threading.Barrier(n_listeners + 6)
    errors: list[BaseException] = []
    outcomes: list[str] = []
    setup = RatingStore.for_test(tmp_path)
    tokens = {f"L{i:02d}": setup.create_listener(f"L{i:02d}") for i in range(n_listeners)}
    dup_tok = setup.create_listener("dup")
    setup.dispose()

    def listener(lid: str) -> None:
        store = RatingStore.for_test(tmp_path)
        try:
            barrier.wait()
            for k in range(4):
                store.submit_trial(lid, tokens[lid], f"t{k:02d}", scores(int(lid[1:]) + k), LABELS, k, 3.0)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
        finally:
            store.dispose()

    def duplicate() -> None:
        store = RatingStore.for_test(tmp_path)
        try:
            barrier.wait()
            store.submit_trial("dup", dup_tok, "t00", scores(40), LABELS, 0, 1.0)
            outcomes.append("ok")
        except AlreadySubmitted:
            outcomes.append("refused")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            store.dispose()

    threads = [threading.Thread(target=listener, args=(lid,)) for lid in tokens]
    threads += [threading.Thread(target=duplicate) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    df = RatingStore.for_test(tmp_path).ratings_frame()
    assert len(df) == (n_listeners * 4 + 1) * len(CONDS)
    for lid in tokens:
        mine = df[df["listener_id"] == lid]
        assert len(mine) == 4 * len(CONDS)
        for k in range(4):
            got = mine[mine["trial_id"] == f"t{k:02d}"].set_index("condition")["score"].to_dict()
            assert got == scores(int(lid[1:]) + k)


def test_other_database_url(tmp_path):
    """Any SQLAlchemy URL: here a second SQLite file; an unknown driver is a clear error."""
    from listening_test.storage import StorageError

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    store = RatingStore(url)
    tok = store.create_listener("x")
    store.submit_trial("x", tok, "t01", scores(50), LABELS, 0, 1.0)
    store.dispose()
    assert len(RatingStore(url).ratings_frame()) == 5 and not (tmp_path / "ratings.sqlite").exists()
    with pytest.raises(StorageError, match="psycopg"):
        RatingStore("postgresql+nosuchdriver://u:p@127.0.0.1/db")


def _process_worker(args) -> int:
    """One 'server process': 5 listeners submitting 4 trials each from threads."""
    db_dir, listeners = args
    store = RatingStore.for_test(db_dir)
    errors = []

    def go(lid, tok):
        try:
            for k in range(4):
                store.submit_trial(lid, tok, f"t{k:02d}", scores(int(lid[1:]) + k), LABELS, k, 2.0)
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=go, args=lt) for lt in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.dispose()
    if errors:
        raise RuntimeError("; ".join(errors))
    return len(listeners)


def test_concurrent_processes_lose_nothing(tmp_path):
    """20 listeners spread over 4 separate Python processes (own SQLite connections and file
    locks), started together."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    setup = RatingStore.for_test(tmp_path)
    tokens = [(f"P{i:02d}", setup.create_listener(f"P{i:02d}")) for i in range(20)]
    setup.dispose()
    here, root = Path(__file__).parent, Path(__file__).parents[1]
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
            "from test_mushra_storage import _process_worker; "
            "_process_worker((sys.argv[3], [tuple(x) for x in json.loads(sys.argv[4])]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(here), str(root), str(tmp_path),
                               json.dumps(tokens[i::4])], stderr=subprocess.PIPE) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    df = RatingStore.for_test(tmp_path).ratings_frame()
    assert len(df) == 20 * 4 * len(CONDS)
    for lid, _ in tokens:
        got = df[(df["listener_id"] == lid) & (df["trial_id"] == "t03")].set_index("condition")["score"].to_dict()
        assert got == scores(int(lid[1:]) + 3)


def test_reissue_keeps_everything_but_the_old_token(tmp_path):
    from listening_test.storage import UnknownListener

    store = RatingStore.for_test(tmp_path)
    old = store.create_listener("alice")
    store.accept("alice", old)
    store.submit_trial("alice", old, "t01", scores(50), LABELS, 0, 1.0)
    before = store.ratings_frame()
    new = store.reissue_token("alice")
    with pytest.raises(AuthError):
        store.state("alice", old)
    st = store.state("alice", new)
    assert st.accepted and st.completed == {"t01"} and store.ratings_frame().equals(before)
    assert store.progress(4).set_index("listener_id").loc["alice", "links_reissued"] == 1
    with pytest.raises(UnknownListener):
        store.reissue_token("nobody")


def test_given_token_and_playback(tmp_path):
    """A Prolific listener's token is their SESSION_ID (stored hashed); playback is stored with
    the ratings of a trial."""
    store = RatingStore.for_test(tmp_path)
    session = "5c9d8e7f6a5b4c3d2e1f0a9b"
    assert store.create_listener("60a1b2c3d4e5f60718293a4b", token=session, source="prolific", study_id="s1") == session
    assert store.state("60a1b2c3d4e5f60718293a4b", session).source == "prolific"
    with pytest.raises(ValueError):
        store.create_listener("x", token="short")
    store.submit_trial("60a1b2c3d4e5f60718293a4b", session, "t01", scores(50), LABELS, 0, 1.0,
                       played={c: c != "opus@6" for c in CONDS}, seconds_listened={c: 1.5 for c in CONDS})
    pb = store.playback_frame().set_index("condition")
    assert not pb.loc["opus@6", "played"] and pb.loc["reference", "played"] and (pb["seconds_listened"] == 1.5).all()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ratings.sqlite*"))
    assert session.encode() not in raw
