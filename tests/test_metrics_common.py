"""Contract tests over every metric in the registry: metadata, availability, clear errors."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from evalsuite.audio import AudioError
from evalsuite.metrics import get_metric, metric_class, metric_names

RATE = 48000
NAMES = metric_names()


def _speechlike(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    env = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    return (0.1 * env * (np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(t.size))).astype(np.float32)


def test_registry_names():
    assert set(NAMES) >= {"pesq_wb", "pesq_nb", "stoi", "estoi", "visqol_audio", "visqol_speech",
                          "si_sdr", "mel_distance", "lsd", "dnsmos", "asr", "speaker_sim", "warpq"}


@pytest.mark.parametrize("name", NAMES)
def test_info_is_consistent(name):
    cls = metric_class(name)
    info = cls.info
    assert info.name == name
    assert info.sample_rate in (8000, 16000, 44100, 48000)
    assert info.version and "not installed" not in info.version
    assert info.output_names and all(isinstance(o, str) for o in info.output_names)
    assert info.cost and "s per" in info.cost  # measured, printed by `evalsuite metrics`
    ok, why = cls.availability()
    assert ok, why


@pytest.mark.parametrize("name", NAMES)
def test_features_path_equals_score(name, real_speech):
    # the runner computes reference_features once per item and reuses it for every condition
    metric = get_metric(name)
    if not metric.info.needs_reference:
        return
    deg = (real_speech + 0.003 * np.random.default_rng(2).standard_normal(real_speech.size)).astype(np.float32)
    direct = metric.score(real_speech, deg, RATE)
    via = metric.score_features(metric.reference_features(real_speech, RATE), deg, RATE)
    assert via == direct  # identical values, not close ones (tests/test_metrics_shared_reference.py)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("problem", ["silent", "nan", "short", "stereo"])
def test_bad_degraded_audio_raises_clearly(name, problem):
    metric = get_metric(name)
    ref = _speechlike()
    deg = ref.copy()
    if problem == "silent":
        deg[:] = 0
        match = "silent"
    elif problem == "nan":
        deg[100] = np.nan
        match = "NaN"
    elif problem == "short":
        ref, deg = ref[: RATE // 10], deg[: RATE // 10]
        match = "too short"
    else:
        deg = np.stack([deg, deg], axis=1)
        match = "mono"
    with pytest.raises(AudioError, match=match):
        metric.score(ref if metric.info.needs_reference else None, deg, RATE)


@pytest.mark.parametrize("name", [n for n in NAMES if metric_class(n).info.needs_reference])
def test_bad_reference_raises_clearly(name):
    metric = get_metric(name)
    deg = _speechlike()
    with pytest.raises(AudioError, match="reference: silent"):
        metric.score(np.zeros_like(deg), deg, RATE)
    with pytest.raises(AudioError, match="reference"):
        metric.score(None, deg, RATE)
    with pytest.raises(AudioError, match="differ in length"):
        metric.score(deg[:-10], deg, RATE)


@pytest.fixture(scope="module")
def real_speech(data_dir):
    # real words: the ASR metric has nothing to compare on a synthetic signal
    from evalsuite.audio import read_audio, resample

    x, rate = read_audio(data_dir / "corpus/speech/arctic_axb_a0004.wav")
    return resample(x, rate, RATE)[: int(2.8 * RATE)]


@pytest.mark.parametrize("name", NAMES)
def test_pickles_after_use_and_scores_the_same(name, real_speech):
    # the runner may ship metric instances to spawn workers
    metric = get_metric(name)
    ref = real_speech
    deg = (ref + 0.01 * np.random.default_rng(1).standard_normal(ref.size)).astype(np.float32)
    r = ref if metric.info.needs_reference else None
    first = metric.score(r, deg, RATE)
    copy = pickle.loads(pickle.dumps(metric))
    again = copy.score(r, deg, RATE)
    assert again == first  # the same computation gives the same bits
