"""The MUSHRA ratings store under load and under kills: nothing acknowledged is ever lost.

* 50 simulated listeners (5 OS processes x 10 threads, each process with one RatingStore as a
  server process holds it) register, accept, finish training and submit the built test's trials
  in their own random order for a bounded time ($EVALSUITE_LOAD_SECONDS, default 120 s). A
  trial counts as acknowledged only once ``submit_trial`` has returned; the database must then
  hold exactly the acknowledged trials, each with all its condition ratings and the scores that
  were sent, while deliberate double submits are refused and change nothing.
* A writer process is SIGKILLed in the middle of its submit loop: every trial it acknowledged is
  in the database complete, and no half trial exists.
* A real `evalsuite mushra serve` (Streamlit) process that has the database open is SIGKILLed
  while trials are submitted through the store: the database opens (WAL recovered) with every
  acknowledged rating.

Everything runs on loopback and in temporary folders.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from listening_test.config import DB_NAME, load_config
from listening_test.storage import AlreadySubmitted, RatingStore

HERE, ROOT = Path(__file__).resolve().parent, Path(__file__).resolve().parents[1]
LOAD_SECONDS = float(os.environ.get("EVALSUITE_LOAD_SECONDS", "120"))
MAX_ROUNDS = 100_000  # the loops are bounded by time first; this only guards against a stuck clock


# -- what a simulated listener sends ------------------------------------------------------------------
def expected_score(lid: str, tid: str, cond: str) -> float:
    """The score listener ``lid`` gives ``cond`` in trial ``tid``: the hidden reference 100 (as the
    app requires one 100), the others a reproducible value, so the stored scores can be checked."""
    if cond == "reference":
        return 100.0
    return float(int.from_bytes(hashlib.sha256(f"{lid}|{tid}|{cond}".encode()).digest()[:4], "little") % 100)


def trial_order(cfg, lid: str) -> list[str]:
    """The simulated listener's trial order (the app draws its own; any order will do here)."""
    return random.Random(lid).sample(cfg.trial_ids, len(cfg.trial_ids))


def trial_payload(cfg, lid: str, tid: str) -> tuple[dict[str, float], dict[str, str]]:
    """(scores, letters) a simulated listener sends for ``tid``; the letters are a fixed
    reproducible mapping so the stored rows can be checked (the store keeps whatever it is sent)."""
    conds = random.Random(f"{lid}|{tid}").sample(cfg.trial(tid).condition_ids, len(cfg.trial(tid).conditions))
    return {c: expected_score(lid, tid, c) for c in conds}, {c: chr(65 + i) for i, c in enumerate(conds)}


class AckLog:
    """Append-only log of one process. A line is written only after the store call returned, and
    flushed to the kernel at once, so it survives a SIGKILL of the writer."""

    def __init__(self, path: Path):
        self._f = open(path, "a", buffering=1)
        self._lock = threading.Lock()

    def write(self, *fields: str) -> None:
        with self._lock:
            self._f.write("\t".join(fields) + "\n")
            self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_log(paths) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            kind, *rest = line.split("\t")
            out.setdefault(kind, []).append(tuple(rest))
    return out


# -- the worker processes (run in separate interpreters) ------------------------------------------
def listener_session(store: RatingStore, cfg, log: AckLog, lid: str, deadline: float) -> tuple[str, str, str] | None:
    """One listener from registration to their last trial before ``deadline``. Returns
    (listener, token, first trial) for a later deliberate double submit, or None."""
    tok = store.create_listener(lid)
    store.accept(lid, tok)
    store.training_done(lid, tok)
    first = None
    for pos, tid in enumerate(trial_order(cfg, lid)):
        if time.monotonic() >= deadline:
            break
        scores, labels = trial_payload(cfg, lid, tid)
        store.submit_trial(lid, tok, tid, scores, labels, position=pos, time_spent_s=1.0 + pos)
        log.write("ack", lid, tid)
        if pos == 0:
            first = (lid, tok, tid)
            double_submit(store, cfg, log, lid, tok, tid)
    return first


def double_submit(store: RatingStore, cfg, log: AckLog, lid: str, tok: str, tid: str) -> None:
    """Submit ``tid`` again with other scores: must be refused (AlreadySubmitted)."""
    scores, labels = trial_payload(cfg, lid, tid)
    try:
        store.submit_trial(lid, tok, tid, {c: 0.0 for c in scores}, labels, position=0, time_spent_s=0.5)
    except AlreadySubmitted:
        log.write("refused", lid, tid)
    else:
        log.write("double_accepted", lid, tid)


def load_worker(test_dir: str, proc: int, n_threads: int, seconds: float, log_path: str) -> None:
    """One 'server process': ``n_threads`` listener slots; each slot runs listener after
    listener (a new ID per round) until the time is up, and at the start of each round re-submits
    the previous round's first trial under the previous ID (refused)."""
    cfg = load_config(Path(test_dir))
    store = RatingStore.for_test(Path(test_dir))
    log = AckLog(Path(log_path))
    deadline = time.monotonic() + seconds

    def slot(k: int) -> None:
        prev = None
        try:
            for rnd in range(MAX_ROUNDS):
                if time.monotonic() >= deadline:
                    break
                if prev is not None:
                    double_submit(store, cfg, log, *prev)
                prev = listener_session(store, cfg, log, f"p{proc}s{k:02d}r{rnd}", deadline) or prev
        except BaseException as e:  # noqa: BLE001 - reported through the log and asserted
            log.write("error", repr(e))

    threads = [threading.Thread(target=slot, args=(k,)) for k in range(n_threads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.write("elapsed", f"{time.monotonic() - t0:.3f}")
    log.close()
    store.dispose()


def kill_writer(test_dir: str, n_threads: int, log_path: str) -> None:
    """A writer that never stops by itself: listeners submit every trial, then the next listener."""
    cfg = load_config(Path(test_dir))
    store = RatingStore.for_test(Path(test_dir))
    log = AckLog(Path(log_path))

    def slot(k: int) -> None:
        for rnd in range(MAX_ROUNDS):
            listener_session(store, cfg, log, f"k{os.getpid()}s{k}r{rnd}", float("inf"))

    threads = [threading.Thread(target=slot, args=(k,), daemon=True) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def spawn(func: str, *args) -> subprocess.Popen:
    """Run ``func(*args)`` of this module in a fresh interpreter (own SQLite connections, locks)."""
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import test_mushra_load as m; "
            f"m.{func}(*json.loads(sys.argv[3]))")
    return subprocess.Popen([sys.executable, "-c", code, str(HERE), str(ROOT), json.dumps([str(a) if isinstance(a, Path)
                             else a for a in args])], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# -- checks straight on the SQLite file (independent of the store's code) -------------------------
def db_contents(db: Path) -> tuple[dict[tuple[str, str], dict[str, tuple[str, float]]], list, list]:
    """({(listener, trial): {condition: (label, score)}}, trials without ratings, ratings without trial)."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        trials = {(l, t): {} for l, t in con.execute("SELECT listener_id, trial_id FROM trial_results")}
        orphans = []
        for l, t, c, lab, s in con.execute("SELECT listener_id, trial_id, condition, label, score FROM ratings"):
            if (l, t) not in trials:
                orphans.append((l, t, c))
                continue
            assert c not in trials[(l, t)], f"duplicate rating {(l, t, c)}"
            trials[(l, t)][c] = (lab, s)
        empty = [k for k, v in trials.items() if not v]
        return trials, empty, orphans
    finally:
        con.close()


def assert_trials_complete(cfg, trials: dict, keys) -> None:
    """Each trial of ``keys`` holds every condition, with the labels and scores that were sent."""
    for lid, tid in keys:
        assert (lid, tid) in trials, f"acknowledged trial {lid}/{tid} lost"
        scores, labels = trial_payload(cfg, lid, tid)
        assert trials[(lid, tid)] == {c: (labels[c], scores[c]) for c in scores}, (lid, tid)


# -- 1. load ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fifty_listeners_under_load_lose_nothing(fresh_test):
    n_procs, n_threads = 5, 10
    cfg = load_config(fresh_test)
    RatingStore.for_test(fresh_test).dispose()  # the schema, once, before the crowd arrives
    logs = [fresh_test.parent / f"ack{p}.log" for p in range(n_procs)]
    t0 = time.monotonic()
    procs = [spawn("load_worker", fresh_test, p, n_threads, LOAD_SECONDS, logs[p]) for p in range(n_procs)]
    for p in procs:
        _, err = p.communicate(timeout=LOAD_SECONDS + 300)
        assert p.returncode == 0, err.decode()
    wall = time.monotonic() - t0
    log = read_log(logs)
    assert not log.get("error"), log["error"][:5]
    assert not log.get("double_accepted"), log["double_accepted"][:5]
    acked = log.get("ack", [])
    assert len(acked) == len(set(acked)), "a trial was acknowledged twice"
    trials, empty, orphans = db_contents(fresh_test / DB_NAME)
    assert not empty and not orphans
    lost = set(acked) - set(trials)
    extra = set(trials) - set(acked)
    assert not lost and not extra, (len(lost), len(extra))
    assert_trials_complete(cfg, trials, acked)  # also proves refused double submits changed nothing
    refused = log.get("refused", [])
    listeners = {lid for lid, _ in acked}
    # every listener's first trial is re-submitted once in its round and once by the next round
    assert len(listeners) >= n_procs * n_threads and len(refused) >= len(listeners)
    n_ratings = sum(len(v) for v in trials.values())
    assert n_ratings == sum(len(cfg.trial(t).conditions) for _, t in acked)
    busy = max(float(e[0]) for e in log["elapsed"])
    print(f"\nMUSHRA load: {n_procs} processes x {n_threads} threads = {n_procs * n_threads} concurrent listener "
          f"slots, {len(listeners)} listener IDs submitting over {busy:.1f} s; trials acknowledged {len(acked)}, "
          f"ratings stored {n_ratings}, lost 0, duplicated 0, double submits refused {len(refused)}; "
          f"{len(acked) / busy:.1f} submits/s ({(len(acked) + len(refused)) / busy:.1f} submit calls/s), "
          f"wall {wall:.1f} s")


# -- 2. kills -----------------------------------------------------------------------------------------
def test_sigkilled_writer_loses_no_acknowledged_trial(fresh_test):
    """Three writer processes in turn (4 threads each, like a server's sessions) are SIGKILLed at a
    random moment of their submit loop; after each kill the file is checked as found."""
    cfg = load_config(fresh_test)
    RatingStore.for_test(fresh_test).dispose()
    rng = random.Random(1534)
    all_logs = []
    for k in range(3):
        log_path = fresh_test.parent / f"kill{k}.log"
        all_logs.append(log_path)
        before = len(read_log([p for p in all_logs if p.exists()]).get("ack", []))
        proc = spawn("kill_writer", fresh_test, 4, log_path)
        try:
            t_end = time.monotonic() + 60
            while time.monotonic() < t_end:
                n = len(log_path.read_text().splitlines()) if log_path.exists() else 0
                if n >= 30:
                    break
                assert proc.poll() is None, proc.communicate()[1].decode()
                time.sleep(0.05)
            else:
                pytest.fail("the writer acknowledged fewer than 30 trials in 60 s")
            time.sleep(rng.uniform(0.0, 0.3))  # land anywhere in a transaction
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert (fresh_test / f"{DB_NAME}-wal").stat().st_size > 0  # the data lie in an unrecovered WAL
        acked = read_log(all_logs).get("ack", [])
        assert len(acked) > before
        trials, empty, orphans = db_contents(fresh_test / DB_NAME)
        assert not empty, f"trial rows without ratings: {empty}"
        assert not orphans, f"ratings without their trial row: {orphans}"
        assert_trials_complete(cfg, trials, acked)
        # at most one unacknowledged trial per thread (committed, killed before its log line), and
        # that one is complete too
        extra = set(trials) - set(acked)
        assert len(extra) <= 4 * (k + 1)
        assert_trials_complete(cfg, trials, extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(test_dir: Path, env_extra: dict | None = None, args: tuple = ()):
    """`python -m evalsuite mushra serve test_dir --port P` (no --host) in its own process group;
    yields (Popen, port) once the HTTP port answers on 127.0.0.1; kills the group afterwards."""
    port = free_port()
    env = dict(os.environ, **(env_extra or {}))
    for k in ("EVALSUITE_MUSHRA_TEST", "EVALSUITE_MUSHRA_DB"):
        env.pop(k, None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.Popen([sys.executable, "-m", "evalsuite", "mushra", "serve", str(test_dir), "--port", str(port),
                             *args], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        t_end = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > t_end:
                raise RuntimeError("mushra serve did not start: " + proc.stdout.read().decode(errors="replace"))
            time.sleep(0.2)
        yield proc, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()


def server_processes(proc: subprocess.Popen):
    """The `mushra serve` process (which execs Streamlit) and any children it started."""
    import psutil

    root = psutil.Process(proc.pid)
    return [root] + root.children(recursive=True)


def assert_gone(pids: list[int], timeout: float = 10.0) -> None:
    import psutil

    t_end = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive or time.monotonic() > t_end:
            break
        time.sleep(0.1)
    assert not alive, f"still running after SIGKILL: {alive}"


def open_session(port: int, query: str) -> list[str]:
    """Open one browser-like Streamlit session (websocket, as the frontend does) with ``query`` as
    the page's query string, run the app once, and return the text of the elements it drew."""
    import asyncio

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from tornado.websocket import websocket_connect

    async def go() -> list[str]:
        ws = await websocket_connect(f"ws://127.0.0.1:{port}/_stcore/stream")
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_script_hash = ""
        await ws.write_message(msg.SerializeToString(), binary=True)
        texts = []
        for _ in range(500):
            raw = await asyncio.wait_for(ws.read_message(), 30)
            if raw is None:
                break
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "delta":
                texts.append(str(fm.delta.new_element))
            if kind == "script_finished":
                break
        ws.close()
        return texts

    return asyncio.run(go())


def test_sigkilled_server_keeps_acknowledged_ratings(fresh_test):
    """A live server with the database open (a listener's session has read it) is SIGKILLed while
    ratings are submitted through the store; the database then opens and holds them all."""
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    tok = store.create_listener("srv_listener")
    acked = []
    with served(fresh_test) as (proc, port):
        page = " ".join(open_session(port, f"listener=srv_listener&token={tok}"))
        assert "Before you start" in page  # the server read the listener from this database
        db = str((fresh_test / DB_NAME).resolve())
        assert any(f.path == db for p in server_processes(proc) for f in p.open_files()), "server has no DB open"
        for i in range(3):
            lid = f"srv{i}"
            t = store.create_listener(lid)
            store.accept(lid, t)
            store.training_done(lid, t)
            for pos, tid in enumerate(trial_order(cfg, lid)):
                scores, labels = trial_payload(cfg, lid, tid)
                store.submit_trial(lid, t, tid, scores, labels, position=pos, time_spent_s=2.0)
                acked.append((lid, tid))
        store.dispose()  # the server is now the only one with the file open
        pids = [p.pid for p in server_processes(proc)]
        assert len(pids) >= 1  # `mushra serve` execs Streamlit: the server is the process we started
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert_gone(pids)
    assert (fresh_test / f"{DB_NAME}-wal").stat().st_size > 0  # left unrecovered by the kill
    trials, empty, orphans = db_contents(fresh_test / DB_NAME)
    assert not empty and not orphans
    assert set(trials) == set(acked)
    assert_trials_complete(cfg, trials, acked)
    fresh = RatingStore.for_test(fresh_test)  # and the store itself reads it back
    assert len(fresh.ratings_frame()) == sum(len(cfg.trial(t).conditions) for _, t in acked)
    assert fresh.state("srv_listener", tok).completed == frozenset()
    fresh.dispose()
