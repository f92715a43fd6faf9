"""Content preservation (WER/CER with faster-whisper tiny.en from the data location).

Independent expectations: a signal against itself has WER 0; coding that loses content raises it
(Codec 2 at 1.2 kbps, Opus at 6 kbps, the 3.5 kHz anchor); and tiny.en's transcript of corpus
speech whose text is published (LJ Speech LJ001-0001, CMU ARCTIC a0004) is close to that text.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from evalsuite.audio import normalize_loudness, read_audio, resample
from evalsuite.context import RunContext
from evalsuite.metrics.asr import AsrErrorRate, error_rates

RATE = 48000
#: LJ Speech 1.1 metadata.csv, LJ001-0001 (normalised column)
LJ001_0001 = ("Printing, in the only sense with which we are at present concerned, differs from most "
              "if not from all the arts and crafts represented in the Exhibition")
#: CMU ARCTIC prompts (cmuarctic.data), arctic_a0004
ARCTIC_A0004 = "Lord, but I'm glad to see you again, Phil."
ITEMS = ("arctic_axb_a0004.wav", "arctic_aew_a0001.wav", "pesq_speech.wav")


@pytest.fixture(scope="module")
def metric(data_dir):
    return AsrErrorRate(RunContext(data=data_dir))


def _item(data_dir, name):
    x, rate = read_audio(data_dir / "corpus/speech" / name)
    return normalize_loudness(resample(x, rate, RATE), RATE, -26.0)


def test_default_model_comes_from_the_data_location(metric, data_dir):
    assert metric.model_path == data_dir / "models" / "whisper-tiny.en"
    info = metric.describe()
    assert info.outputs == ("wer", "cer") and not info.higher_is_better
    # the model is recorded by name and the sha256 of its weights (SOURCE.md: 1a5afae06a4d...)
    assert "whisper-tiny.en (model.bin sha256 1a5afae06a4d)" in info.mode
    assert "beam 5" in info.mode and "int8" in info.mode


def test_known_transcripts(metric, data_dir):
    # tiny.en on LJ001-0001 hears "at percent" for "at present": 1 of 25 words
    lj = metric.normalize(metric.transcribe(metric.prepare(_item(data_dir, "lj001_0001.wav"), RATE)))
    wer, cer = error_rates(metric.normalize(LJ001_0001), lj)
    assert wer <= 0.08 and cer <= 0.05, lj
    a4 = metric.normalize(metric.transcribe(metric.prepare(_item(data_dir, "arctic_axb_a0004.wav"), RATE)))
    assert error_rates(metric.normalize(ARCTIC_A0004), a4)[0] <= 0.12, a4


def test_identity_zero_and_rising_with_lost_content(metric, data_dir):
    from evalsuite.anchors import get_anchor
    from evalsuite.codecs import get_codec
    from evalsuite.codecs.transcode import transcode

    codec2, opus = get_codec("codec2"), get_codec("opus")
    rows = {}
    for name in ITEMS:
        x = _item(data_dir, name)
        ref = metric.reference_features(x, RATE)  # once per item, as the runner does
        rows[name] = {
            "reference": metric.score_features(ref, x, RATE),
            "anchor_lp35": metric.score_features(ref, get_anchor("anchor_lp35").process(x, RATE), RATE),
            "opus@6": metric.score_features(ref, transcode(opus, x, RATE, 6).audio, RATE),
            "codec2@1.2": metric.score_features(ref, transcode(codec2, x, RATE, 1.2).audio, RATE),
        }
    mean = {c: np.mean([rows[i][c]["wer"] for i in ITEMS]) for c in rows[ITEMS[0]]}
    assert all(rows[i]["reference"] == {"wer": 0.0, "cer": 0.0} for i in ITEMS)
    # measured: anchor 0.033 (one word on a0004), Opus 6 kbps 0.075, Codec 2 1.2 kbps 0.27
    assert mean["anchor_lp35"] > 0
    assert mean["opus@6"] > 0
    assert mean["codec2@1.2"] > max(mean["anchor_lp35"], mean["opus@6"]) and mean["codec2@1.2"] > 0.15
    assert all(rows[i]["codec2@1.2"]["wer"] > 0 and rows[i]["codec2@1.2"]["cer"] > 0 for i in ITEMS)


def test_error_rates_are_jiwers():
    assert error_rates("the cat sat on the mat", "the cat sat on the mat") == (0.0, 0.0)
    wer, cer = error_rates("the cat sat on the mat", "the cat sit on mat")
    assert wer == pytest.approx(2 / 6)
    assert cer == pytest.approx(5 / 22)  # one substitution + four deletions ("the "), of 22 chars
    with pytest.raises(ValueError, match="empty reference"):
        error_rates("", "anything")


def test_no_words_in_reference_is_a_clear_error(metric, data_dir):
    hum = (0.05 * np.sin(2 * np.pi * 120 * np.arange(2 * RATE) / RATE)).astype(np.float32)
    with pytest.raises(RuntimeError, match="heard no words"):
        metric.score(hum, hum, RATE)


def test_missing_model_is_unavailable_with_how_to(tmp_path, data_dir, monkeypatch):
    ok, why = AsrErrorRate.availability(RunContext(data=data_dir), {"model": str(tmp_path / "nope")})
    assert not ok and "does not exist" in why and "asr.model" in why
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.bin").write_bytes(b"")
    ok, why = AsrErrorRate.availability(RunContext(data=data_dir), {"model": str(tmp_path / "m")})
    assert not ok and "tokenizer.json" in why
    ok, why = AsrErrorRate.availability(RunContext(data=tmp_path))
    assert not ok and "whisper-tiny.en" in why
    monkeypatch.delenv("EVALSUITE_DATA", raising=False)
    ok, why = AsrErrorRate.availability(RunContext(data=None))  # no data location at all
    assert not ok and "data location" in why


def test_options_validated_and_recorded(data_dir):
    ctx = RunContext(data=data_dir)
    greedy = AsrErrorRate(ctx, beam_size="1", normalizer="basic", compute_type="float32")
    mode = greedy.describe().mode
    assert "beam 1" in mode and "float32" in mode and "basic" in mode
    with pytest.raises(ValueError, match="beam_size"):
        AsrErrorRate(ctx, beam_size=0)
    with pytest.raises(ValueError, match="normalizer"):
        AsrErrorRate(ctx, normalizer="none")
    # a copy for a worker reloads its model lazily
    assert pickle.loads(pickle.dumps(greedy))._model is None
    assert Path(greedy.model_path).name == "whisper-tiny.en"
