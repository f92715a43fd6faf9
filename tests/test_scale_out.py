"""Scale-out, each compared row by row with a local run of the same grid (issue 13, "Scale beyond
one machine"): a real multi-process Dask cluster on loopback (scheduler and workers as separate
OS processes, one worker SIGKILLed mid-run), and shards run as separate processes, then merged."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evalsuite.cli import main
from tests.support.runs import comparable, store_counts, stored_units

REPO = Path(__file__).resolve().parents[1]
GRID = ["--categories", "clean_speech,music", "--max-items", "4", "--codecs", "opus", "--kbps", "6,12",
        "--metrics", "si_sdr,lsd", "--no-progress"]


def _env(**kw) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kw}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(v, "1")
    return env


def _evalsuite(*args) -> list[str]:
    return [sys.executable, "-m", "evalsuite", *args]


class Processes:
    """OS processes started by a test, each in its own process group; all of them (and whatever
    they started) are killed when the test ends, however it ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log: Path, **kw) -> subprocess.Popen:
        f = open(log, "w")
        p = subprocess.Popen(cmd, env=_env(), cwd=REPO, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                             **kw)
        f.close()
        self.procs.append(p)
        return p

    def kill(self, p: subprocess.Popen) -> None:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the group: a dask worker's nanny and its worker process
        except ProcessLookupError:
            pass
        p.wait(timeout=30)

    def close(self) -> None:
        for p in self.procs:
            self.kill(p)


@pytest.fixture
def processes():
    ps = Processes()
    try:
        yield ps
    finally:
        ps.close()


@pytest.fixture(scope="module")
def local_table(tmp_path_factory, data_dir):
    """The grid run locally in one process: what every scale-out must reproduce."""
    out = tmp_path_factory.mktemp("local") / "run"
    assert main(["run", *GRID, "--out", str(out), "--jobs", "1"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 40 and set(df.status) == {"ok", "not_applicable"}  # 4 items x 5 conditions x 2 metrics
    return df


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(comparable(a), comparable(b))


def _wait(cond, timeout: float, what: str, poll: float = 0.05) -> None:
    t = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > t:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


# ---------------------------------------------------------------------------------------------
# a real Dask cluster on loopback


def test_dask_cluster_on_loopback_survives_killed_workers(tmp_path, local_table, processes):
    """Scheduler and two workers as separate OS processes; in each of two runs (audio by path on
    the shared folder, then --ship-audio) a worker process is SIGKILLed mid-run (its nanny starts
    a new one). Both tables equal the local one."""
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    processes.start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)], tmp_path / "scheduler.log")
    _wait(sched_file.is_file, 60, "the scheduler file")
    for k in (1, 2):
        processes.start([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                         "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                         "--local-directory", str(tmp_path / f"w{k}")], tmp_path / f"worker{k}.log")
    address = json.loads(sched_file.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    with Client(address, timeout=30) as client:
        for k, extra in enumerate(([], ["--ship-audio"])):
            client.wait_for_workers(2, timeout=90)
            victim = sorted(client.run(os.getpid).values())[k]
            out = tmp_path / f"dask{k}"
            run = processes.start(_evalsuite("run", *GRID, "--out", str(out), "--executor", "dask", "--scheduler",
                                             address, *extra), tmp_path / f"run{k}.log")
            _wait(lambda out=out, run=run: stored_units(out / "results.sqlite") >= 1 or run.poll() is not None, 120,
                  "the first stored result")
            assert run.poll() is None, "the run finished before a worker could be killed"
            os.kill(victim, signal.SIGKILL)  # mid-run
            killed_at = stored_units(out / "results.sqlite")
            assert run.wait(timeout=180) == 0, (tmp_path / f"run{k}.log").read_text()[-2000:]
            assert killed_at < stored_units(out / "results.sqlite")  # work remained when the worker died
            _same_rows(local_table, pd.read_parquet(out / "results.parquet"))
            assert not list(out.rglob(".tmp-*"))
            assert victim not in client.run(os.getpid).values()


# ---------------------------------------------------------------------------------------------
# shards as separate processes, then a merge


def test_shards_as_separate_processes_merge_to_the_local_table(tmp_path, local_table, processes):
    from evalsuite.lock import RunLock, RunLocked
    from evalsuite.merge import MergeError, check_complete

    out = tmp_path / "sharded"
    shard_procs = [processes.start(_evalsuite("run", *GRID, "--out", str(out), "--jobs", "1", "--shard", f"{i}/3"),
                                   tmp_path / f"shard{i}.log") for i in (1, 2, 3)]
    from evalsuite.lock import holder

    _wait(lambda: all(holder(out / "shards" / f"{i}-of-3" / ".lock") for i in (1, 2, 3))
          or any(p.poll() is not None for p in shard_procs), 120, "all three shards to run")
    if all(p.poll() is None for p in shard_procs):  # all running now: a merge or an unsharded run must wait
        with pytest.raises(MergeError, match=r"still running \(pid \d+"):
            check_complete(out)
        with pytest.raises(RunLocked, match="shards"):
            RunLock(out / ".lock").acquire()
    for i, p in enumerate(shard_procs, 1):
        assert p.wait(timeout=180) == 0, (tmp_path / f"shard{i}.log").read_text()[-2000:]
        assert f"shard {i}/3 finished" in (tmp_path / f"shard{i}.log").read_text()
    assert not (out / "results.parquet").exists()  # no table until the merge

    # each shard computed only its items, disjoint, together all of them
    items = [set(pd.read_csv(out / "shards" / f"{i}-of-3" / "items.csv")["item"]) for i in (1, 2, 3)]
    assert sorted(len(s) for s in items) == [1, 1, 2] and set.union(*items) == set(local_table["item"])

    assert main(["run", *GRID, "--out", str(out), "--jobs", "1", "--merge"]) == 0
    merged = pd.read_parquet(out / "results.parquet")
    _same_rows(local_table, merged)
    assert (merged["audio_path"] == local_table["audio_path"]).all()  # the layout of an unsharded run
    meta = json.loads((out / "run.json").read_text())
    assert [s["shard"] for s in meta["shards"]] == ["1/3", "2/3", "3/3"]
    assert meta["units"] == {"transcodes_computed": 0, "score_tasks_computed": 0, "transcodes_reused": 0,
                             "scores_reused": 0}  # computed nothing

    counts = store_counts(out)
    assert main(["run", *GRID, "--out", str(out), "--jobs", "1", "--merge"]) == 0  # idempotent
    assert store_counts(out) == counts
    pd.testing.assert_frame_equal(merged, pd.read_parquet(out / "results.parquet"))


SMALL = ["--categories", "clean_speech", "--max-items", "2", "--codecs", "opus", "--metrics", "lsd", "--no-anchors",
         "--no-progress", "--jobs", "1"]


def test_merge_names_missing_unfinished_and_foreign_shards(tmp_path, data_dir, capsys, processes):
    out = tmp_path / "run"
    merge = ["run", *SMALL, "--kbps", "6", "--out", str(out), "--merge"]

    assert main(merge) == 2
    assert "holds no shards" in capsys.readouterr().err

    assert main(["run", *SMALL, "--kbps", "6", "--out", str(out), "--shard", "1/2"]) == 0
    capsys.readouterr()
    assert main(merge) == 2
    err = capsys.readouterr().err
    assert "shard 2/2 has not run" in err and len(err.strip().splitlines()) == 1

    # shard 2/2 of another command (another bitrate): refused, naming the difference
    assert main(["run", *SMALL, "--kbps", "12", "--out", str(out), "--shard", "2/2"]) == 0
    capsys.readouterr()
    assert main(merge) == 2
    err = capsys.readouterr().err
    assert "shard 2/2" in err and "config.kbps.values is [12.0] there but [6.0] here" in err
    assert len(err.strip().splitlines()) == 1 and not (out / "results.parquet").exists()

    # shard 2/2 of this command, killed mid-run: named as unfinished; resuming it completes the merge
    import shutil

    shutil.rmtree(out / "shards" / "2-of-2")
    # --jobs 2 (how a shard runs is its own business): pool start-up leaves time to kill it mid-run
    p = processes.start(_evalsuite("run", *SMALL, "--kbps", "6", "--out", str(out), "--shard", "2/2", "--jobs", "2"),
                        tmp_path / "shard2.log")
    _wait(lambda: (out / "shards" / "2-of-2" / "run.json").is_file() or p.poll() is not None, 120,
          "shard 2/2 to start", poll=0.01)
    processes.kill(p)
    assert main(merge) == 2
    err = capsys.readouterr().err
    assert "shard 2/2 did not finish" in err, err

    assert main(["run", *SMALL, "--kbps", "6", "--out", str(out), "--shard", "2/2"]) == 0
    assert main(merge) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 2 and (df.status == "ok").all() and df.condition.eq("opus@6").all()

    # a different split in the same folder is refused, naming both
    assert main(["run", *SMALL, "--kbps", "6", "--out", str(out), "--shard", "1/3"]) == 0
    capsys.readouterr()
    assert main(merge) == 2
    assert "2-way and 3-way splits" in capsys.readouterr().err


def test_shard_assignment_is_a_stable_balanced_function_of_item_ids():
    from evalsuite.shards import assign, parse_shard

    ids = [f"item{k}" for k in range(31)]
    a = assign(ids, 4)
    assert a == assign(list(reversed(ids)), 4)  # the order items are listed in does not matter
    sizes = sorted(list(a.values()).count(s) for s in (1, 2, 3, 4))
    assert sizes == [7, 8, 8, 8]
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "x", "1/", "1-3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_dask_local_workers_run_with_evalsuites_settings():
    """The LocalCluster's workers: one thread each, glibc's malloc trimming (not the nanny's
    65536), no statistical profiler — what keeps dask-local within a few percent of local."""
    from distributed import default_client

    from evalsuite.context import RunContext
    from evalsuite.executors import ExecutorConfig, execution

    with execution(ExecutorConfig(kind="dask-local", workers=2), RunContext()) as ex:
        assert ex.capacity == 4  # two tasks per worker: the next one waits on the worker
        ex.make()  # the cluster starts in a thread; making the executor waits for it
        client = default_client()
        env = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS",
                                                                 "OPENBLAS_NUM_THREADS")})
        profile = client.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    assert len(env) == 2
    assert all(e == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
               for e in env.values())
    assert set(profile.values()) == {False}


def _sizes(task) -> list[int]:
    return [len(task.ref_wav)] + [len(i.wav) for i in task.inputs]


def test_shipped_audio_travels_once_per_content():
    """--ship-audio: tasks sharing a reference send it once (one content-keyed piece on the
    cluster), no task carries audio through the scheduler (Dask warns about graphs over 10 MB:
    here an error), and each task still receives its bytes."""
    import warnings

    from distributed import default_client

    from evalsuite.context import RunContext
    from evalsuite.executors import ExecutorConfig, execution
    from evalsuite.worker import ScoreInput, ScoreTask

    ref, deg = b"r" * 12_000_000, b"d" * 3_000_000
    tasks = [ScoreTask("item", "sha-r", f"metric{k}", (), "key", "ref.wav", "sha-r",
                       (ScoreInput("opus@6", "deg.wav", "sha-d", wav=deg), ScoreInput("reference", "ref.wav", "sha-r",
                                                                                      wav=ref)), ref_wav=ref)
             for k in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with execution(ExecutorConfig(kind="dask-local", workers=1), RunContext()) as ex:
            executor = ex.make()
            results = [f.result(timeout=120) for f in [executor.submit(_sizes, t) for t in tasks]]
            pieces = [k for k in default_client().who_has() if str(k).startswith("evalsuite-audio-")]
            executor.shutdown()
    assert results == [[12_000_000, 3_000_000, 12_000_000]] * 5
    assert sorted(pieces) == ["evalsuite-audio-sha-d", "evalsuite-audio-sha-r"]
