"""Faults and interruptions: a full disk, two runs on one folder, the main process killed or
terminated (also during corpus preparation), bugs in codecs and metrics, a task that keeps
killing its worker (issue 9, "Nothing stale or lost under faults")."""
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from evalsuite.cli import main
from tests.support.runs import comparable, stored_units

REPO = Path(__file__).resolve().parents[1]


def _corpus(data_dir: Path, d: Path, files=("pesq_speech.wav", "arctic_aew_a0001.wav")) -> Path:
    (d / "clean_speech").mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(data_dir / "corpus" / "speech" / f, d / "clean_speech" / f)
    return d


def _cmd(corpus, out, *extra):
    return [sys.executable, "-m", "evalsuite", "run", "--corpus", str(corpus), "--out", str(out), "--no-progress",
            "--no-reuse", *extra]  # interruptions must meet real work, not scores taken from the cache


def _env(**kw):
    return {**os.environ, "PYTHONUNBUFFERED": "1", **kw}


# ---------------------------------------------------------------------------------------------
# full disk


def _limit_file_size(limit: int):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_storage_failure_while_writing_audio_stops_cleanly_and_resumes(tmp_path, data_dir):
    """Storage that refuses a write (here: a file-size limit, EFBIG, like a full disk) is not a
    codec error: the run stops with one line, keeps what is finished, and resumes cleanly."""
    corpus = _corpus(data_dir, tmp_path / "c")
    out = tmp_path / "run"
    grid = ["--codecs", "opus", "--metrics", "si_sdr,lsd", "--jobs", "1"]
    subprocess.run(_cmd(corpus, out, *grid, "--kbps", "12"), check=True, env=_env(), capture_output=True)
    p = subprocess.run(_cmd(corpus, out, *grid, "--kbps", "12,24"), env=_env(), capture_output=True, text=True,
                       preexec_fn=_limit_file_size(400_000))
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("evalsuite")]
    assert len(lines) == 1 and "cannot write decoded audio" in lines[0] and "run the same command again" in lines[0]
    import sqlite3

    con = sqlite3.connect(str(out / "results.sqlite"))
    assert con.execute("SELECT COUNT(*) FROM transcodes WHERE status != 'ok'").fetchone()[0] == 0  # nothing blamed
    con.close()
    subprocess.run(_cmd(corpus, out, *grid, "--kbps", "12,24"), check=True, env=_env(), capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(_cmd(corpus, clean, *grid, "--kbps", "12,24"), check=True, env=_env(), capture_output=True)
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "results.parquet")),
                                  comparable(pd.read_parquet(clean / "results.parquet")))


def test_a_really_full_disk(tmp_path, data_dir):
    """The same on a small file system that fills up (ENOSPC), where one can be mounted."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip("no small file system can be mounted here (needs root)")
    try:
        corpus = _corpus(data_dir, tmp_path / "c")
        p = subprocess.run(_cmd(corpus, mnt / "run", "--codecs", "opus", "--kbps", "12,24", "--metrics", "si_sdr",
                                "--jobs", "1"), env=_env(), capture_output=True, text=True)
        assert p.returncode == 1 and "Traceback" not in p.stderr
        assert "the disk is full" in p.stderr
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        subprocess.run(_cmd(corpus, mnt / "run", "--codecs", "opus", "--kbps", "12,24", "--metrics", "si_sdr",
                            "--jobs", "1"), check=True, env=_env(), capture_output=True)
        df = pd.read_parquet(mnt / "run" / "results.parquet")
        assert (df.status == "ok").all() and len(df) == 2 * 5
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


# ---------------------------------------------------------------------------------------------
# concurrency and interruptions


def _wait_for(pred, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_two_runs_on_one_folder(tmp_path, data_dir):
    corpus = _corpus(data_dir, tmp_path / "c")
    out = tmp_path / "run"
    cmd = _cmd(corpus, out, "--codecs", "opus", "--kbps", "12,16,24", "--metrics",
               "tests.support.faulty:SlowSiSdr", "--jobs", "1")
    first = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert _wait_for(lambda: (out / ".lock").is_file() and str(first.pid) in (out / ".lock").read_text())
        p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, cwd=REPO, timeout=120)
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert f"in use by pid {first.pid}" in p.stderr
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read()


def _workers(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_only_the_main_process_ends_its_workers(tmp_path, data_dir, sig):
    corpus = _corpus(data_dir, tmp_path / "c")
    out = tmp_path / "run"
    cmd = _cmd(corpus, out, "--codecs", "opus,soundstream", "--kbps", "6,12", "--metrics",
               "tests.support.faulty:SlowSiSdr,lsd", "--jobs", "2")
    p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert _wait_for(lambda: len(_workers(p.pid)) >= 2 and stored_units(out / "results.sqlite") > 0)
    kids = _workers(p.pid)
    os.kill(p.pid, sig)  # the main process only, as a user's kill does
    p.wait(timeout=60)
    gone, alive = psutil.wait_procs(kids, timeout=15)
    assert not alive, f"workers still running after {sig!r}: {[k.pid for k in alive]}"
    if sig == signal.SIGTERM:
        err = p.stderr.read()
        assert p.returncode == 143 and "terminated" in err and "Traceback" not in err
    # and the run resumes to the rows of an uninterrupted run
    subprocess.run(cmd, check=True, env=_env(), capture_output=True, cwd=REPO)
    full = tmp_path / "full"
    subprocess.run(_cmd(corpus, full, *cmd[cmd.index("--codecs"):]), check=True, env=_env(), capture_output=True,
                   cwd=REPO)
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "results.parquet")),
                                  comparable(pd.read_parquet(full / "results.parquet")))


def test_killed_during_corpus_preparation_and_resumed(tmp_path, data_dir):
    corpus = _corpus(data_dir, tmp_path / "c", files=[p.name for p in (data_dir / "corpus" / "speech").iterdir()])
    grid = ["--codecs", "opus", "--kbps", "12", "--metrics", "si_sdr", "--jobs", "1", "--max-items", "2"]
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    p = subprocess.Popen(_cmd(corpus, out, *grid), env=_env(EVALSUITE_CACHE=str(cache)), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    assert _wait_for(lambda: any((cache / "prepared").rglob("meta.json")) if (cache / "prepared").exists() else False)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "results.parquet").exists()  # it really stopped before the end
    subprocess.run(_cmd(corpus, out, *grid), check=True, env=_env(EVALSUITE_CACHE=str(cache)), capture_output=True)
    full = tmp_path / "full"
    subprocess.run(_cmd(corpus, full, *grid), check=True, env=_env(EVALSUITE_CACHE=str(tmp_path / "cache2")),
                   capture_output=True)
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "results.parquet")),
                                  comparable(pd.read_parquet(full / "results.parquet")))
    assert pd.read_csv(out / "items.csv").equals(pd.read_csv(full / "items.csv"))


# ---------------------------------------------------------------------------------------------
# bugs are not hidden; exact blame


def test_bugs_in_codecs_and_metrics_are_errors_with_tracebacks_in_the_log(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO))
    corpus = _corpus(data_dir, tmp_path / "c", files=("pesq_speech.wav",))
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus), "--codecs", "tests.support.faulty:OpusKeyError,opus", "--kbps", "12",
                 "--metrics", "si_sdr,tests.support.faulty:ValueErrorMetric", "--no-anchors", "--out", str(out),
                 "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    bug = df[df.codec == "opus_keyerror"]
    assert (bug.status == "codec_error").all() and bug.error.str.startswith("KeyError").all()
    verr = df[(df.codec == "opus") & (df.metric == "value_error")]
    assert (verr.status == "metric_error").all() and verr.error.str.contains("a bug in the metric").all()
    log = (out / "run.log").read_text()
    assert "Traceback" in log and "KeyError" in log and "ValueError: a bug in the metric" in log
    # a constructor bug stops the run before any work: it is not "unavailable"
    rc = main(["run", "--corpus", str(corpus), "--codecs", "tests.support.faulty:BrokenInitCodec", "--kbps", "12",
               "--metrics", "si_sdr", "--out", str(tmp_path / "r2"), "--jobs", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "failed to initialise" in err and "bug in the plugin's constructor" in err


def test_a_task_that_kills_its_worker_is_blamed_alone(tmp_path, data_dir, monkeypatch, capsys):
    """Only tasks in flight when a worker dies are suspects: the rest of the grid keeps running in
    shared workers (before: every pending unit became a suspect and ran alone, ~10 s each)."""
    monkeypatch.setenv("EVALSUITE_FAULT_DIR", str(tmp_path))
    monkeypatch.setenv("EVALSUITE_FAULT_KBPS", "12")
    monkeypatch.syspath_prepend(str(REPO))
    corpus = _corpus(data_dir, tmp_path / "c", files=[p.name for p in sorted((data_dir / "corpus" / "speech").iterdir())][:6])
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus), "--codecs", "tests.support.faulty:OpusKillsAndCounts",
                 "--kbps", "6,12,16,24", "--metrics", "lsd", "--no-anchors", "--out", str(out), "--jobs", "2",
                 "--no-progress"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    dead = df[df.requested_kbps == 12]
    assert len(dead) == 6 and (dead.status == "codec_error").all() and dead.error.str.contains("died").all()
    assert (df[df.requested_kbps != 12].status == "ok").all()
    # only tasks in flight at a pool break are suspects; a task is run alone after its second
    # break: the 6 killers, and at most the few good tasks that happened to run beside a killer twice
    err = capsys.readouterr().err
    note = next(ln for ln in err.splitlines() if "were run alone" in ln)
    alone = int(note.split(" task(s) that were running")[0].rsplit(";", 1)[1])
    assert 6 <= alone <= 8, note
