"""Misuse gives one line that says what is wrong, never a traceback, and starts no work
(issue 9, "Nothing aborts a run or prints a traceback to a user")."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--categories", "clean_speech", "--max-items", "1", "--codecs", "opus", "--kbps", "12", "--metrics",
         "si_sdr", "--no-progress", "--jobs", "1"]


def evalsuite(*args, cwd=None, env=None, timeout=120):
    """Run the product as a user does, in a fresh process; (exit code, stdout, stderr)."""
    e = {**os.environ, **(env or {})}
    p = subprocess.run([sys.executable, "-m", "evalsuite", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or REPO, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture()
def cli(capsys, monkeypatch):
    """The command line in this process (faster than a fresh interpreter per case)."""
    from evalsuite.cli import main

    def run(*args, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:  # argparse's usage errors exit
            rc = e.code
        out = capsys.readouterr()
        return rc, out.out, out.err
    return run


def assert_one_line_error(rc, err, *expect):
    assert rc not in (0, None), err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("evalsuite: error:"), err
    for e in expect:
        assert e in lines[0], (e, lines[0])


@pytest.mark.parametrize("args, expect", [
    (["--kbps", "nan"], "positive finite"),
    (["--kbps", "-3"], "positive finite"),
    (["--kbps", "six"], "--kbps expects numbers"),
    (["--rate", "0"], "--rate"),
    (["--segment-s", "0"], "--segment-s"),
    (["--segment-s", "0.3"], "--segment-s"),
    (["--lufs", "nan"], "--lufs"),
    (["--max-items", "-1"], "--max-items"),
    (["--jobs", "0"], "--jobs"),
    (["--executor", "dask-local", "--workers", "0"], "--workers"),
    (["--codecs", "nosuchcodec"], "unknown codec 'nosuchcodec'"),
    (["--codecs", "nosuchmodule:Codec"], "cannot import module 'nosuchmodule'"),
    (["--codecs", "tests.support.faulty:NoSuchClass"], "has no class 'NoSuchClass'"),
    (["--codecs", "tests.support.faulty:"], "package.module:Class"),
    (["--metrics", "nosuchmetric"], "unknown metric 'nosuchmetric'"),
    (["--codec-opt", "opus.nosuch=1"], "unknown option"),
    (["--codec-opt", "opus.cbr=maybe"], "boolean"),
    (["--metrics", "visqol_speech", "--metric-opt", "visqol_speech.mapping=cubic"], "mapping"),
    (["--metric-opt", "visqol_speech.mapping=exponential"], "not among the metrics run"),
    (["--codec-opt", "bad"], "NAME.KEY=VALUE"),
])
def test_bad_arguments_are_one_line_and_start_no_work(tmp_path, cli, args, expect):
    out = tmp_path / "run"
    base = [a for a in SMALL]
    for flag in ("--codecs", "--kbps", "--metrics", "--jobs"):  # the case's value replaces the default
        if flag in args and flag in base:
            i = base.index(flag)
            del base[i:i + 2]
    rc, _, err = cli("run", *base, *args, "--out", out)
    assert_one_line_error(rc, err, expect)
    assert not out.exists()  # nothing was prepared or written


def test_corpus_csv_rows_with_missing_fields(tmp_path, data_dir, cli):
    csv = tmp_path / "c.csv"
    csv.write_text(f"path,category\n{data_dir}/corpus/speech/pesq_speech.wav,clean_speech\n,music\n")
    rc, _, err = cli("run", "--corpus", csv, *SMALL[4:], "--out", tmp_path / "r")
    assert_one_line_error(rc, err, "c.csv row 3", "empty 'path'")
    csv.write_text(f"path,category\n{data_dir}/corpus/speech/pesq_speech.wav\n")
    rc, _, err = cli("run", "--corpus", csv, *SMALL[4:], "--out", tmp_path / "r")
    assert_one_line_error(rc, err, "row 2", "empty 'category'")


def test_out_below_a_file(tmp_path, cli):
    f = tmp_path / "afile"
    f.write_text("x")
    rc, _, err = cli("run", *SMALL, "--out", f / "run")
    assert_one_line_error(rc, err, "is a file")
    rc, _, err = cli("run", *SMALL, "--out", f)
    assert_one_line_error(rc, err, "file")


def test_read_only_out(tmp_path, cli):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: use a read-only file system
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]).returncode:
            pytest.skip("cannot mount a read-only file system here")
    else:
        ro.chmod(0o555)
    try:
        rc, _, err = cli("run", *SMALL, "--out", ro / "run")
        assert_one_line_error(rc, err, "cannot write")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)])
        ro.chmod(0o755)


def test_corrupt_results_store(tmp_path, cli):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.sqlite").write_bytes(b"garbage" * 1000)
    rc, _, err = cli("run", *SMALL, "--out", out)
    assert_one_line_error(rc, err, "results.sqlite", "not a usable evalsuite results store")


def test_unusable_cache(tmp_path, cli):
    f = tmp_path / "cachefile"
    f.write_text("x")
    rc, _, err = cli("run", *SMALL, "--out", tmp_path / "run", env={"EVALSUITE_CACHE": str(f)})
    assert_one_line_error(rc, err, "cache", "EVALSUITE_CACHE")


def test_unreachable_dask_scheduler(tmp_path, cli):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    rc, _, err = cli("run", *SMALL, "--out", tmp_path / "run", "--executor", "dask", "--scheduler",
                           f"tcp://127.0.0.1:{port}")
    assert_one_line_error(rc, err, "cannot reach the Dask scheduler")


def test_missing_data_location(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EVALSUITE_DATA"}
    p = subprocess.run([sys.executable, "-m", "evalsuite", "run", *SMALL, "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, cwd=REPO, env=env)
    assert_one_line_error(p.returncode, p.stderr, "EVALSUITE_DATA")


def test_score_prints_valid_json_and_says_what_it_did(tmp_path, data_dir):
    ref, r = sf.read(str(data_dir / "corpus" / "speech" / "pesq_speech.wav"), dtype="float32")
    deg = np.concatenate([np.zeros(80, np.float32), ref[:-300]])  # 5 ms late, 300 samples short of it
    sf.write(str(tmp_path / "deg.wav"), deg, r)
    rc, out, err = evalsuite("score", data_dir / "corpus" / "speech" / "pesq_speech.wav", tmp_path / "deg.wav",
                             "--metrics", "si_sdr,tests.support.faulty:NaNMetric")
    assert rc == 0, err

    def no_nan(v):
        raise ValueError(f"invalid JSON constant {v}")

    doc = json.loads(out, parse_constant=no_nan)  # strict JSON: NaN would be rejected
    assert doc["lag_samples"] == 80
    assert any("shifted DEG earlier by 80 samples" in a for a in doc["actions"])
    assert any("padded DEG with" in a for a in doc["actions"])
    assert doc["scores"]["nan_metric"] is None and doc["scores"]["si_sdr"] > 20
