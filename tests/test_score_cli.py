"""`evalsuite score REF DEG`: one existing pair, JSON on stdout."""
import json

import numpy as np
import pytest

from evalsuite.audio import read_audio, write_audio
from evalsuite.cli import main


def _score(capsys, *args) -> dict:
    assert main(["score", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


def test_published_pesq_values_through_the_cli(data_dir, capsys):
    ref = data_dir / "corpus/speech/pesq_speech.wav"
    deg = data_dir / "corpus/noisy/pesq_speech_bab_0dB.wav"
    out = _score(capsys, ref, deg, "--metrics", "pesq_wb,pesq_nb", "--no-align")
    assert out["scores"]["pesq_wb"] == pytest.approx(1.0832337141036987, abs=1e-6)
    # narrow-band is scored on 8 kHz input (P.862 as papers use it): 1.6654, where python-pesq's
    # published 1.6072 is its 16 kHz narrow-band path (tests/test_metrics_pesq.py)
    assert out["scores"]["pesq_nb"] == pytest.approx(1.6654, abs=0.002)
    assert out["metrics"]["pesq_wb"]["higher_is_better"] is True and not out["errors"]


def test_delay_is_found_and_compensated(data_dir, tmp_path, capsys):
    x, r = read_audio(data_dir / "corpus/speech/pesq_speech.wav")
    delayed = np.concatenate([np.zeros(160, np.float32), x])[: len(x)]
    write_audio(tmp_path / "late.wav", delayed, r)
    aligned = _score(capsys, data_dir / "corpus/speech/pesq_speech.wav", tmp_path / "late.wav", "--metrics", "si_sdr")
    raw = _score(capsys, data_dir / "corpus/speech/pesq_speech.wav", tmp_path / "late.wav", "--metrics", "si_sdr",
                 "--no-align")
    assert aligned["lag_samples"] == 160
    assert aligned["scores"]["si_sdr"] > 40 > raw["scores"]["si_sdr"]


def test_bad_files_are_clear_errors(tmp_path, data_dir, capsys):
    (tmp_path / "x.wav").write_bytes(b"not audio")
    assert main(["score", str(data_dir / "corpus/speech/pesq_speech.wav"), str(tmp_path / "x.wav")]) == 2
    assert "cannot be read as audio" in capsys.readouterr().err
