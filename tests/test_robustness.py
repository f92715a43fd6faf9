"""Robustness: a suite of bad inputs, injected faults, and kills at random moments.

Every bad input ends as a clear per-item status, the run always completes, and the rows of the
good items are exactly those of a run without the bad ones.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evalsuite.cli import main
from tests.support.bad_inputs import make_bad_inputs
from tests.support.runs import comparable

REPO = Path(__file__).resolve().parents[1]
# lsd, not si_sdr: Opus at 6 kbps codes SILK narrow-band, where waveform metrics do not apply
FAST = ["--metrics", "lsd,stoi", "--no-progress"]


def _good_corpus(data_dir: Path, d: Path) -> Path:
    (d / "clean_speech").mkdir(parents=True, exist_ok=True)
    for f in ("pesq_speech.wav", "arctic_aew_a0001.wav"):
        shutil.copy(data_dir / "corpus" / "speech" / f, d / "clean_speech" / f)
    return d


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("robust")
    corpus = _good_corpus(data_dir, root / "corpus")
    expect = make_bad_inputs(corpus / "general")
    out = root / "run"
    assert main(["run", "--corpus", str(corpus), "--codecs", "opus", "--kbps", "6,16", "--out", str(out),
                 "--jobs", "2", *FAST]) == 0
    good = root / "good_only"
    assert main(["run", "--corpus", str(_good_corpus(data_dir, root / "good")), "--codecs", "opus", "--kbps", "6,16",
                 "--out", str(good), "--jobs", "2", *FAST]) == 0
    return out, good, expect


def test_bad_input_suite_is_large_enough(bad_run):
    assert len(bad_run[2]) >= 30


def test_every_bad_input_has_a_clear_status(bad_run):
    out, _, expect = bad_run
    df = pd.read_parquet(out / "results.parquet")
    items = pd.read_csv(out / "items.csv", keep_default_na=False)
    by_source = {Path(p).name: row for p, row in zip(items.source_file, items.to_dict("records"))}
    for name, want in expect.items():
        it = by_source[name]
        rows = df[df.item == it["item"]]
        assert len(rows) > 0, name
        if want == "bad":
            assert it["error"], name
            assert (rows.status == "bad_input").all(), name
            assert rows.error.str.len().gt(0).all(), name
        else:
            assert not it["error"], (name, it["error"])
            # scored: a value, or an explained metric/codec status — never a silent gap
            assert ((rows.status == "ok") | (rows.error.str.len() > 0)).all(), name
            assert (rows.status == "ok").any(), name


def test_good_items_unaffected_by_bad_neighbours(bad_run):
    out, good, _ = bad_run
    a = pd.read_parquet(out / "results.parquet")
    b = pd.read_parquet(good / "results.parquet")
    a = comparable(a[a.category == "clean_speech"].reset_index(drop=True))
    b = comparable(b.reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)


@pytest.fixture()
def fault_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSUITE_FAULT_DIR", str(tmp_path))
    monkeypatch.setenv("EVALSUITE_FAULT_KBPS", "12")
    monkeypatch.syspath_prepend(str(REPO))
    return tmp_path


def _small(out, codecs, *extra):
    return main(["run", "--categories", "clean_speech", "--max-items", "2", "--codecs", codecs, "--kbps", "6,12",
                 "--no-anchors", "--out", str(out), *FAST, *extra])


def test_worker_killed_mid_task_is_retried(fault_env):
    out = fault_env / "run"
    assert _small(out, "tests.support.faulty:OpusKillsWorkerOnce", "--jobs", "2") == 0
    assert (fault_env / "killed-12").exists()  # the fault really happened
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 2 * 2 * 2 and (df.status == "ok").all()


def test_unit_that_always_kills_its_worker_is_marked_alone(fault_env):
    out = fault_env / "run"
    assert _small(out, "tests.support.faulty:OpusAlwaysKillsWorker", "--jobs", "2") == 0
    df = pd.read_parquet(out / "results.parquet")
    dead = df[df.requested_kbps == 12]
    assert (dead.status == "codec_error").all() and dead.error.str.contains("died").all()
    assert (df[df.requested_kbps == 6].status == "ok").all()


def test_codec_failures_and_metric_failures_are_rows_not_crashes(fault_env):
    out = fault_env / "run"
    assert main(["run", "--categories", "clean_speech", "--max-items", "1", "--kbps", "12", "--no-anchors",
                 "--codecs", "tests.support.faulty:OpusGarbage,tests.support.faulty:OpusDecodesNaN,opus",
                 "--metrics", "si_sdr,tests.support.faulty:RaisingMetric", "--out", str(out), "--jobs", "1",
                 "--no-progress"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    nan = df[df.codec == "opus_nan"]
    assert (nan.status == "codec_error").all() and nan.error.str.contains("NaN").all()
    raised = df[(df.metric == "raises") & (df.codec == "opus")]
    assert (raised.status == "metric_error").all() and raised.error.str.contains("injected metric failure").all()
    assert raised.value.isna().all()  # never 0
    ok = df[(df.codec == "opus") & (df.metric == "si_sdr")]
    assert (ok.status == "ok").all()
    garbage = df[df.codec == "opus_garbage"]
    assert ((garbage.status == "ok") | (garbage.error.str.len() > 0)).all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_at_random_moments_and_resumed(seed, tmp_path):
    args = [sys.executable, "-m", "evalsuite", "run", "--categories", "clean_speech,music", "--max-items", "4",
            "--codecs", "opus", "--kbps", "6,12,24", "--metrics", "si_sdr,lsd", "--no-progress", "--jobs", "2",
            "--no-reuse"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    subprocess.run([*args, "--out", str(full)], check=True, env=env, capture_output=True, cwd=REPO)
    killed = tmp_path / "killed"
    rng = random.Random(seed)
    for _ in range(3):
        p = subprocess.Popen([*args, "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
        time.sleep(rng.uniform(0.5, 6.0))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    subprocess.run([*args, "--out", str(killed)], check=True, env=env, capture_output=True, cwd=REPO)
    a = comparable(pd.read_parquet(full / "results.parquet"))
    b = comparable(pd.read_parquet(killed / "results.parquet"))
    pd.testing.assert_frame_equal(a, b)


FAKE_EVS = REPO / "tests" / "fake_evs"


@pytest.mark.parametrize("fault,expect", [
    ("EVS_cod:hang", "timed out"),
    ("EVS_cod:crash", "failed (exit"),
    ("EVS_dec:crash", "failed (exit"),
    ("EVS_cod:garbage", ""),  # a garbage bitstream: the adapter must refuse it or decode it, clearly
    ("EVS_dec:garbage", ""),
])
def test_codec_subprocess_faults_are_marked_rows(fault, expect, tmp_path, monkeypatch):
    """The EVS adapter's programs (test-only stand-in) hang, crash or write garbage; the run
    completes, the affected rows say what happened, and the other codec is unaffected."""
    monkeypatch.setenv("EVALSUITE_EVS_BIN", str(FAKE_EVS))
    monkeypatch.setenv("FAKE_EVS_FAULT", fault)
    out = tmp_path / "run"
    assert main(["run", "--categories", "clean_speech", "--max-items", "1", "--codecs", "evs,opus", "--kbps", "13.2",
                 "--no-anchors", "--codec-opt", "evs.timeout_s=3", "--out", str(out), "--jobs", "1", *FAST]) == 0
    df = pd.read_parquet(out / "results.parquet")
    evs = df[df.codec == "evs"]
    assert len(evs) > 0
    if expect:
        assert (evs.status == "codec_error").all() and evs.error.str.contains(expect, regex=False).all()
    else:
        assert ((evs.status == "ok") | ((evs.status == "codec_error") & (evs.error.str.len() > 0))).all()
    assert (df[df.codec == "opus"].status == "ok").all()
