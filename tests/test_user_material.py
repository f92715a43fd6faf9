"""Users' own material and plugins (issue 9, "Users' own material and plugins"): categories of
flat folders and CSVs, files that are not audio files, truncated and very long files, plugins
found from the current folder by the console script, metric options."""
import os
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from evalsuite.cli import main
from evalsuite.corpus import CorpusConfig, prepare
from evalsuite.sources import user_sources

REPO = Path(__file__).resolve().parents[1]
FAST = ["--codecs", "opus", "--kbps", "12", "--no-progress", "--jobs", "1"]


def _speech_folder(data_dir, d: Path, flat=True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for f in ("pesq_speech.wav", "arctic_aew_a0001.wav"):
        shutil.copy(data_dir / "corpus" / "speech" / f, d / f)
    return d


def test_a_flat_folder_of_speech_needs_its_category(data_dir, tmp_path, capsys):
    corpus = _speech_folder(data_dir, tmp_path / "speech_files")
    out = tmp_path / "run"
    # before: category 'general', PESQ applies to no item: 0 rows and exit 0
    assert main(["run", "--corpus", str(corpus), "--metrics", "pesq_wb", "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "--category clean_speech" in err and "pesq_wb applies to clean_speech, noisy_speech" in err
    assert not out.exists()  # stopped before any work
    assert main(["run", "--corpus", str(corpus), "--category", "clean_speech", "--metrics", "pesq_wb",
                 "--out", str(out), *FAST]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 2 * 4 and (df.status == "ok").all() and set(df.category) == {"clean_speech"}


def test_corpus_csv_categories_are_validated_and_normalised(data_dir, tmp_path, capsys):
    speech = data_dir / "corpus" / "speech"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,category\n{speech}/pesq_speech.wav,musik\n")
    assert main(["run", "--corpus", str(bad), "--out", str(tmp_path / "r0"), *FAST]) == 2
    assert "bad.csv row 2: unknown category 'musik'" in capsys.readouterr().err
    # as a spreadsheet writes it: UTF-8 with a BOM, spaces and capitals around the category
    good = tmp_path / "good.csv"
    good.write_bytes("\ufeffpath,category,cluster\n".encode("utf-8") + (
        f"{speech}/pesq_speech.wav, Clean_Speech ,utt1\n{speech}/arctic_aew_a0001.wav,clean speech,\n").encode())
    src = user_sources(good)
    assert [s.category for s in src] == ["clean_speech", "clean_speech"] and src[0].cluster == "utt1"
    assert main(["run", "--corpus", str(good), "--metrics", "pesq_wb", "--out", str(tmp_path / "r1"), *FAST]) == 0
    df = pd.read_parquet(tmp_path / "r1" / "results.parquet")
    assert (df.metric == "pesq_wb").sum() == 8 and (df.status == "ok").all()
    assert set(df.loc[df.item == "pesq_speech", "cluster"]) == {"utt1"}


def test_entries_that_are_not_audio_files_are_reported(data_dir, tmp_path):
    d = _speech_folder(data_dir, tmp_path / "c" / "clean_speech")
    (d / "folder.wav").mkdir()
    os.mkfifo(d / "pipe.wav")
    (d / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(d.parent), "--metrics", "si_sdr", "--out", str(out), *FAST]) == 0
    items = pd.read_csv(out / "items.csv", keep_default_na=False).set_index("item")
    assert "a folder, not an audio file" in items.loc["folder", "error"]
    assert "not a regular file (FIFO)" in items.loc["pipe", "error"]
    assert "broken symbolic link" in items.loc["dangling", "error"]
    df = pd.read_parquet(out / "results.parquet")
    for item in ("folder", "pipe", "dangling"):
        rows = df[df.item == item]
        assert len(rows) > 0 and (rows.status == "bad_input").all() and (rows.error.str.len() > 0).all()


def test_a_truncated_wav_is_used_with_a_note(data_dir, tmp_path):
    d = tmp_path / "c" / "clean_speech"
    d.mkdir(parents=True)
    data = (data_dir / "corpus" / "speech" / "pesq_speech.wav").read_bytes()
    (d / "cut.wav").write_bytes(data[: len(data) * 2 // 3])  # header announces more than is there
    items = prepare(user_sources(d.parent), CorpusConfig(), tmp_path / "cache").items
    assert not items[0].error and "truncated file" in items[0].note and "66." in items[0].note


def test_a_long_file_is_prepared_in_constant_memory(tmp_path):
    """A 10-minute 48 kHz stereo file: the active segment is found by streaming through the file
    and only it is read (before: the whole file was read and processed as float, ~0.5 GB here)."""
    d = tmp_path / "c" / "music"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(d / "long.wav"), "w", 48000, 2, "PCM_16") as f:
        for minute in range(10):
            block = 1e-4 * rng.standard_normal((48000 * 60, 2))  # near silence (-60 dB)
            if minute == 7:  # the only active part: 20 s from 7:00
                block[: 48000 * 20] *= 2000
            f.write(block.astype(np.float32))
    tracemalloc.start()
    items = prepare(user_sources(d.parent), CorpusConfig(), tmp_path / "cache").items
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not items[0].error and 7 * 60 - 1 <= items[0].segment_start_s <= 7 * 60 + 11
    assert peak < 120e6, f"peak {peak / 1e6:.0f} MB"


def test_plugins_from_the_current_folder_with_the_console_script(data_dir, tmp_path):
    exe = shutil.which("evalsuite")
    if exe is None:
        pytest.fail("the evalsuite console script is not installed (pip install -e .)")
    corpus = _speech_folder(data_dir, tmp_path / "speech")
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "plugins", work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO),) if p)}
    p = subprocess.run([exe, "run", "--corpus", str(corpus), "--category", "clean_speech",
                        "--codecs", "my_codec:MuLaw,opus", "--kbps", "64", "--metrics", "my_metric:SegmentalSnr,pesq_nb",
                        "--codec-opt", "mulaw.mu=255", "--metric-opt", "segsnr.frame_ms=30", "--no-anchors",
                        "--out", str(tmp_path / "run"), "--jobs", "2", "--no-progress"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    mu = df[df.codec == "mulaw"]
    assert set(mu.condition) == {"mulaw@64"} and (mu.status == "ok").all()
    assert (tmp_path / "run" / "audio" / "mulaw" / "64").is_dir()  # the class's name, never the spec
    assert mu.measured_kbps.iloc[0] == pytest.approx(64.0)
    seg = df[(df.metric == "segsnr") & (df.codec == "mulaw")]
    assert (seg.value > 15).all() and (seg.metric_mode.str.len() > 0).all()
    # a typo in a spec is found before any work, with what to do
    p = subprocess.run([exe, "run", "--corpus", str(corpus), "--codecs", "my_codecc:MuLaw", "--kbps", "64",
                        "--out", str(tmp_path / "run2"), "--no-progress"], cwd=work, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "cannot import module 'my_codecc'" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "run2").exists()


def test_metric_options_from_the_command_line(data_dir, tmp_path):
    corpus = _speech_folder(data_dir, tmp_path / "speech")
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus), "--category", "clean_speech", "--metrics", "visqol_speech",
                 "--metric-opt", "visqol_speech.mapping=exponential", "--out", str(out), *FAST]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert (df.status == "ok").all() and df.metric_mode.str.contains("exponential").all()
    assert "exponential" in df.metric_version.iloc[0]
