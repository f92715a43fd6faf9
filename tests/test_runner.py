"""End-to-end runs of `evalsuite run` on a small real grid, resume, and kill -9 + resume."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from evalsuite.audio import read_audio
from evalsuite.cli import main
from tests.support.runs import comparable, stored_units

SMALL = ["--categories", "clean_speech", "--max-items", "2", "--no-progress"]


def _run(out, *extra):
    return main(["run", "--out", str(out), *SMALL, *extra])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "small"
    assert _run(out, "--codecs", "soundstream,opus,evs", "--kbps", "6,12", "--metrics", "si_sdr,lsd,pesq_wb",
                "--jobs", "1") == 0
    return out


def test_outputs_exist_and_are_tidy(small_run):
    df = pd.read_parquet(small_run / "results.parquet")
    csv = pd.read_csv(small_run / "results.csv")
    assert len(df) == len(csv)
    # 2 items x (soundstream 2 + opus 2 + evs 2 + reference + 2 anchors) x 3 metrics
    assert len(df) == 2 * 9 * 3
    assert not df.duplicated(["item", "condition", "metric"]).any()
    for col in ("item", "category", "codec", "requested_kbps", "measured_kbps", "metric", "value", "status",
                "error", "codec_settings", "metric_version"):
        assert col in df.columns
    run = json.loads((small_run / "run.json").read_text())
    assert run["finished"] and run["corpus_hash"] and "pesq" in run["versions"]
    curves = pd.read_csv(small_run / "curves.csv")
    assert {"codec", "requested_kbps", "category", "metric", "measured_kbps", "mean", "ci95_low", "ci95_high", "n"} <= set(curves.columns)
    for m in ("si_sdr", "lsd", "pesq_wb"):
        assert (small_run / "plots" / f"{m}.png").stat().st_size > 1000
        assert (small_run / "plots" / f"{m}.svg").is_file()


def test_every_row_is_a_value_or_an_explained_status(small_run):
    df = pd.read_parquet(small_run / "results.parquet")
    ok = df[df.status == "ok"]
    assert np.isfinite(ok["value"]).all()
    bad = df[df.status != "ok"]
    assert (bad["error"].str.len() > 0).all() and bad["value"].isna().all()
    ss12 = df[(df.codec == "soundstream") & (df.requested_kbps == 12)]
    assert (ss12.status == "unsupported").all() and ss12.error.str.contains("9.2").all()  # never clamped
    evs = df[df.codec == "evs"]
    if not evs.empty and (evs.status == "unavailable").all():
        assert evs.error.str.contains("EVALSUITE_EVS_BIN").all()


def test_measured_bitrates_and_decoded_audio(small_run):
    df = pd.read_parquet(small_run / "results.parquet")
    ok = df[df.status == "ok"]
    ss6 = ok[(ok.codec == "soundstream") & (ok.requested_kbps == 6)]["measured_kbps"]
    assert np.allclose(ss6, 6.0, atol=0.05)
    op = ok[(ok.codec == "opus")].groupby("requested_kbps")["measured_kbps"].mean()
    assert 4 < op[6.0] < 9 and 9 < op[12.0] < 15
    assert ok[ok.codec == "reference"]["measured_kbps"].isna().all()
    for p in ok["audio_path"].unique():
        deg, r = read_audio(small_run / p)
        item = ok[ok.audio_path == p]["item"].iloc[0]
        ref, r2 = read_audio(small_run / "audio" / "reference" / f"{item}.wav")
        assert r == r2 and len(deg) == len(ref)
    ref_rows = ok[(ok.codec == "reference") & (ok.metric == "lsd")]
    assert np.allclose(ref_rows["value"], 0, atol=1e-3)  # identity is perfect


def test_rerun_resumes_without_recomputing(small_run, capsys):
    before = comparable(pd.read_parquet(small_run / "results.parquet"))
    assert _run(small_run, "--codecs", "soundstream,opus,evs", "--kbps", "6,12", "--metrics", "si_sdr,lsd,pesq_wb") == 0
    assert "0 of" in capsys.readouterr().err
    after = comparable(pd.read_parquet(small_run / "results.parquet"))
    pd.testing.assert_frame_equal(before, after)


def _fork_server_pid():
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def test_bad_options_give_clear_errors(tmp_path, capsys):
    # --jobs 2: the workers' fork server starts with the command; a command that fails stops it
    assert main(["run", "--out", str(tmp_path / "x"), "--codecs", "nosuchcodec", "--jobs", "2", *SMALL]) == 2
    assert "unknown codec 'nosuchcodec'" in capsys.readouterr().err
    assert _fork_server_pid() is None
    assert main(["run", "--out", str(tmp_path / "y"), "--codecs", "opus", "--codec-opt", "opus.nosuch=1", *SMALL]) == 2
    assert "unknown option" in capsys.readouterr().err
    assert main(["run", "--out", str(tmp_path / "z"), "--codecs", "opus", "--codec-opt", "bad", "--jobs", "2",
                 *SMALL]) == 2
    assert "NAME.KEY=VALUE" in capsys.readouterr().err
    assert _fork_server_pid() is None


@pytest.mark.slow
def test_kill_9_and_resume_gives_exactly_the_uninterrupted_rows(tmp_path):
    # --no-reuse: the killed run must really compute, not take the full run's scores
    args = ["run", *SMALL, "--codecs", "opus,soundstream", "--kbps", "3,6,9", "--metrics", "si_sdr,lsd,stoi", "--no-reuse"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    subprocess.run([sys.executable, "-m", "evalsuite", *args, "--out", str(full), "--jobs", "2"], check=True, env=env,
                   capture_output=True)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "evalsuite", *args, "--out", str(killed), "--jobs", "2"]
    for target in (3, 8):  # kill twice, at different points
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        t0 = time.time()
        while stored_units(killed / "results.sqlite") < target and p.poll() is None and time.time() - t0 < 300:
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert stored_units(killed / "results.sqlite") < stored_units(full / "results.sqlite")  # really interrupted
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    a = comparable(pd.read_parquet(full / "results.parquet"))
    b = comparable(pd.read_parquet(killed / "results.parquet"))
    pd.testing.assert_frame_equal(a, b)


def test_missing_model_files_give_unavailable_rows_not_a_crash(tmp_path, monkeypatch, data_dir):
    # a user corpus and no data location: soundstream cannot find its models
    (tmp_path / "c" / "clean_speech").mkdir(parents=True)
    import shutil

    shutil.copy(data_dir / "corpus" / "speech" / "pesq_speech.wav", tmp_path / "c" / "clean_speech")
    monkeypatch.delenv("EVALSUITE_DATA", raising=False)
    assert main(["run", "--corpus", str(tmp_path / "c"), "--codecs", "soundstream,opus", "--kbps", "6,12",
                 "--metrics", "lsd", "--no-anchors", "--no-progress", "--jobs", "1", "--out", str(tmp_path / "r")]) == 0
    df = pd.read_parquet(tmp_path / "r" / "results.parquet")
    ss = df[df.codec == "soundstream"]
    assert (ss.status == "unavailable").all() and ss.error.str.contains("EVALSUITE_DATA").all()
    assert (df[df.codec == "opus"].status == "ok").all()
