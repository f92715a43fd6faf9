"""Speaker preservation (resemblyzer GE2E cosine similarity).

Independent expectations: identity gives 1; the same speaker's coded speech is closer to the
reference than another speaker's speech is (two CMU ARCTIC speakers, aew and axb, plus VCTK
p286 and LJ Speech's reader)."""
from __future__ import annotations

import numpy as np
import pytest

from evalsuite.audio import normalize_loudness, read_audio, resample
from evalsuite.metrics.speaker import SpeakerSimilarity, cosine

RATE = 48000


@pytest.fixture(scope="module")
def metric():
    return SpeakerSimilarity()


def _item(data_dir, name, seconds):
    x, rate = read_audio(data_dir / "corpus/speech" / name)
    return normalize_loudness(resample(x, rate, RATE)[: int(seconds * RATE)], RATE, -26.0)


def test_identity_is_one(metric, data_dir):
    x = _item(data_dir, "arctic_aew_a0001.wav", 3.0)
    assert metric.score(x, x, RATE)["speaker_sim"] == pytest.approx(1.0, abs=1e-9)


def test_same_speaker_coded_closer_than_another_speaker(metric, data_dir):
    from evalsuite.anchors import get_anchor
    from evalsuite.codecs import get_codec
    from evalsuite.codecs.transcode import transcode

    opus = get_codec("opus")
    pairs = [("arctic_aew_a0001.wav", "arctic_axb_a0004.wav"), ("vctk_p286_011.wav", "lj001_0001.wav")]
    for a_name, b_name in pairs:
        a, b = _item(data_dir, a_name, 2.8), _item(data_dir, b_name, 2.8)
        ref = metric.reference_features(a, RATE)
        coded = metric.score_features(ref, transcode(opus, a, RATE, 6).audio, RATE)["speaker_sim"]
        lp35 = metric.score_features(ref, get_anchor("anchor_lp35").process(a, RATE), RATE)["speaker_sim"]
        other = metric.score_features(ref, b, RATE)["speaker_sim"]
        # measured (full items): coded 0.78-0.87, anchor 0.84-0.89, another speaker 0.45-0.57
        assert min(coded, lp35) > other + 0.15, (a_name, coded, lp35, other)
        assert coded < 1.0 and lp35 < 1.0


def test_cosine_and_recorded_embedder():
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert cosine(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(1.0)
    info = SpeakerSimilarity.info
    assert "resemblyzer" in info.version and "GE2E" in info.version
    assert "within one embedder" in info.description
    assert "without VAD trim" in SpeakerSimilarity(vad_trim="false").describe().mode


def test_webrtcvad_breakage_is_reported_with_the_fix(monkeypatch):
    # PyPI's webrtcvad 2.0.10 fails at import on setuptools >= 81 (no pkg_resources)
    import builtins

    from evalsuite.metrics import speaker
    from evalsuite.metrics.base import MetricUnavailable

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "webrtcvad":
            raise ModuleNotFoundError("No module named 'pkg_resources'", name="pkg_resources")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MetricUnavailable, match="pkg_resources.*webrtcvad-wheels"):
        speaker.SpeakerSimilarity().encoder()  # the run turns this into `unavailable` rows
