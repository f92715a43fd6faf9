"""``--executor slurm`` (dask-jobqueue). Slurm itself is not installed here: what is tested is the
job script evalsuite generates, its one-line errors, and — with a stand-in ``sbatch`` that runs the
submitted script as a local process group (and ``scancel`` that kills it) — that the script's
workers start with evalsuite's settings and compute the same table as a local run. Untested:
a real Slurm scheduler (queueing, node allocation, --mem/--time enforcement, multi-node networks)."""
from __future__ import annotations

import os
import signal
import stat
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evalsuite.cli import main
from tests.support.runs import comparable

REPO = Path(__file__).resolve().parents[1]
GRID = ["--categories", "clean_speech", "--max-items", "2", "--codecs", "opus", "--kbps", "6",
        "--metrics", "lsd", "--no-anchors", "--no-progress"]

FAKE_SBATCH = r'''#!{python}
"""Stand-in for Slurm's sbatch: --test-only accepts; otherwise the job script runs as a local
process group whose pid is the job id."""
import os, shutil, subprocess, sys
jobs = os.environ["FAKE_SLURM_DIR"]
if sys.argv[1] == "--test-only":
    if os.environ.get("FAKE_SLURM_REFUSE"):
        sys.exit("sbatch: error: " + os.environ["FAKE_SLURM_REFUSE"])
    print("sbatch: Job 1 to start at now using 1 processors", file=sys.stderr)
    sys.exit(0)
script = sys.argv[1]
out = open(os.path.join(jobs, "job.log"), "a")
p = subprocess.Popen(["bash", script], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                     start_new_session=True)
shutil.copy(script, os.path.join(jobs, f"{{p.pid}}.sh"))
print(f"Submitted batch job {{p.pid}}")
'''

FAKE_SCANCEL = r'''#!/bin/sh
kill -KILL -- "-$1" 2>/dev/null
exit 0
'''


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """A bin folder with stand-in sbatch/scancel first on PATH; every job it started is killed at
    the end, however the test ends."""
    bin_dir, jobs = tmp_path / "bin", tmp_path / "jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH.format(python=sys.executable)), ("scancel", FAKE_SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(jobs))
    # the job scripts' workers import this checkout
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    try:
        yield jobs
    finally:
        for script in jobs.glob("*.sh"):
            try:
                os.killpg(int(script.stem), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_job_script_carries_the_options_and_evalsuites_worker_settings(tmp_path):
    import dask

    from evalsuite.slurm import SlurmConfig, make_cluster

    cfg = SlurmConfig(partition="short", account="acme", jobs=3, cores=8, memory="32GB", walltime="02:30:00",
                      extra=("--qos=low",), prologue=("module load python/3.11",), log_dir=str(tmp_path))
    cluster = make_cluster(cfg)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for want in ("#SBATCH -p short", "#SBATCH -A acme", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=30G",
                 "#SBATCH -t 02:30:00", "#SBATCH --qos=low", "#SBATCH -J evalsuite",
                 f"#SBATCH -o {tmp_path}/evalsuite-%J.out", "export OMP_NUM_THREADS=1",
                 "export OPENBLAS_NUM_THREADS=1", "module load python/3.11"):
        assert want in lines, want
    worker = next(x for x in lines if "distributed.cli.dask_worker" in x)
    assert worker.startswith(sys.executable) and "--nthreads 1" in worker and "--nworkers 8" in worker
    inherited = next(x for x in lines if x.startswith("export DASK_INTERNAL_INHERIT_CONFIG="))
    settings = dask.config.deserialize(inherited.split("=", 1)[1])["distributed"]
    assert settings["worker"]["profile"]["enabled"] is False
    assert settings["nanny"]["pre-spawn-environ"]["MALLOC_TRIM_THRESHOLD_"] is None
    assert settings["nanny"]["pre-spawn-environ"]["OMP_NUM_THREADS"] == "1"


def test_without_sbatch_or_dask_jobqueue_the_error_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no sbatch
    cmd = ["run", *GRID, "--out", str(tmp_path / "r"), "--executor", "slurm"]
    assert main(cmd) == 2
    assert capsys.readouterr().err.strip().splitlines() == [(
        "evalsuite: error: --executor slurm needs Slurm's sbatch on PATH: run evalsuite on a login node of the "
        "cluster (or use --shard I/N, see docs/runner.md)")]
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # how Python marks a module that cannot be imported
    assert main(cmd) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "evalsuite: error: --executor slurm needs dask-jobqueue: pip install 'evalsuite[slurm]'"]
    assert not (tmp_path / "r").exists()  # refused before any work


def test_a_job_slurm_refuses_is_a_one_line_error(tmp_path, fake_slurm, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SLURM_REFUSE", "invalid partition specified: nope")
    assert main(["run", *GRID, "--out", str(tmp_path / "r"), "--executor", "slurm", "--slurm-partition", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("evalsuite: error: Slurm refuses the worker job (sbatch: error: invalid partition specified: "
                    "nope); check --slurm-partition, --slurm-account, --slurm-memory, --slurm-walltime and "
                    "--slurm-extra")]
    assert not list(fake_slurm.glob("*.sh"))  # nothing was submitted


def test_slurm_job_workers_compute_the_local_table(tmp_path, fake_slurm, data_dir):
    from evalsuite.slurm import SlurmConfig, slurm_client

    cfg = SlurmConfig(jobs=1, cores=2, interface="lo", log_dir=str(tmp_path / "logs"))
    with slurm_client(cfg) as (client, n):
        assert n == 2
        client.wait_for_workers(2, timeout=120)
        env = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")})
        profile = client.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    assert len(env) == 2 and all(e == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"} for e in env.values())
    assert set(profile.values()) == {False}
    job = int(next(fake_slurm.glob("*.sh")).stem)
    deadline = time.monotonic() + 30
    while _job_processes(job) and time.monotonic() < deadline:  # scancel'ed when the cluster closed
        time.sleep(0.2)
    assert not _job_processes(job)

    assert main(["run", *GRID, "--out", str(tmp_path / "slurm"), "--executor", "slurm", "--slurm-jobs", "1",
                 "--slurm-cores", "1", "--slurm-interface", "lo"]) == 0
    assert main(["run", *GRID, "--out", str(tmp_path / "local"), "--jobs", "1"]) == 0
    a, b = (pd.read_parquet(tmp_path / r / "results.parquet") for r in ("local", "slurm"))
    assert len(a) == 2 and (a.status == "ok").all()
    pd.testing.assert_frame_equal(comparable(a), comparable(b))


def _job_processes(pgid: int) -> list:
    import psutil

    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.Error):
            pass
    return out
