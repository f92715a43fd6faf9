"""ViSQOL v3: Google's published conformance scores (visqol-conformance/EXPECTED.csv) within
+-0.01, scored on the files as given (channels averaged, as ViSQOL's own reader does)."""
from __future__ import annotations

import csv

import pytest

from evalsuite.audio import lowpass, read_audio, to_mono
from evalsuite.metrics.visqol import VisqolAudio, VisqolSpeech, visqol_moslqo

TOLERANCE = 0.01


def _rows(data_dir):
    with open(data_dir / "visqol-conformance/EXPECTED.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def metrics():
    return {"audio": VisqolAudio(), "speech-exponential": VisqolSpeech(mapping="exponential")}


def test_conformance(data_dir, metrics):
    results = []
    for row in _rows(data_dir):
        ref, r1 = read_audio(data_dir / row["reference"])
        deg, r2 = read_audio(data_dir / row["degraded"])
        assert r1 == r2
        got = visqol_moslqo(metrics[row["mode"]].api(), to_mono(ref), to_mono(deg), r1)
        results.append((row["degraded"], row["mode"], got, float(row["expected_moslqo"])))
    bad = [r for r in results if abs(r[2] - r[3]) > TOLERANCE]
    assert not bad, "\n".join(f"{d} ({m}): got {g:.4f}, expected {e:.4f}" for d, m, g, e in bad)
    assert {r[1] for r in results} == {"audio", "speech-exponential"}


def test_audio_score_path_matches_core(data_dir, metrics):
    # the pair with equal lengths goes through score() unchanged at 48 kHz
    row = next(r for r in _rows(data_dir) if "castanets" in r["degraded"])
    ref, rate = read_audio(data_dir / row["reference"])
    deg, _ = read_audio(data_dir / row["degraded"])
    got = metrics["audio"].score(to_mono(ref), to_mono(deg), rate)["visqol_audio"]
    assert got == pytest.approx(float(row["expected_moslqo"]), abs=TOLERANCE)


def test_speech_modes_on_16k_resampled_pair(data_dir):
    ref, rate = read_audio(data_dir / "corpus/speech/visqol_CA01_01.wav")
    deg, _ = read_audio(data_dir / "visqol-conformance/transcoded_CA01_01.wav")
    lattice = VisqolSpeech()
    assert lattice.describe().mode == "speech (16 kHz, lattice)"
    exp = VisqolSpeech(mapping="exponential")
    assert "exponential" in exp.describe().mode and "exponential" in exp.describe().version
    v_exp = exp.score(ref, deg, rate)["visqol_speech"]
    v_lat = lattice.score(ref, deg, rate)["visqol_speech"]
    # resampling 48k -> 16k first moves the exponential score only slightly off the published value
    assert v_exp == pytest.approx(3.374505555111911, abs=0.02)
    assert 1.0 <= v_lat <= 5.0
    assert lattice.score(ref, ref, rate)["visqol_speech"] > v_lat


def test_audio_mode_orders_degradations(data_dir):
    x, rate = read_audio(data_dir / "corpus/music/castanets48_stereo.wav")
    x = to_mono(x)[: 4 * rate]
    m = VisqolAudio()
    values = [m.score(x, lowpass(x, rate, fc), rate)["visqol_audio"] for fc in (15000, 10000, 5000)]
    assert values[0] > values[1] > values[2], values


def test_unknown_speech_mapping_rejected():
    with pytest.raises(ValueError, match="mapping"):
        VisqolSpeech(mapping="polynomial-ish")


def test_api_is_created_once():
    m = VisqolAudio()
    assert m.api() is m.api()
