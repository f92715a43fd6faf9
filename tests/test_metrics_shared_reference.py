"""Shared reference work: ``reference_features`` once per item, then ``score_features`` per
condition, must give exactly (==) the values of ``score(ref, deg, rate)`` -- on real corpus items
(prepared as a run prepares them: mono, 48 kHz, -26 LUFS) against real degradations: the two
BS.1534 anchors, a real Opus bitstream at 6 and 12 kbps, and the reference itself. The features
object is reused for every condition of an item, so it must come out of scoring unchanged.

For SI-SDR, the mel distance, LSD and ViSQOL, ``score`` and the shared path are separate code
(the two-signal functions / the library's own call vs the split), so equality is a real check.
The comparison needs one thread (conftest): visqol-python itself is not bit-reproducible with
several numba/BLAS threads.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evalsuite.audio import AudioError, normalize_loudness, read_audio, resample, to_mono
from evalsuite.metrics import get_metric

RATE = 48000

#: (metric, options, item): each metric on the item kind it applies to
CASES = [
    ("si_sdr", {}, "speech"),
    ("si_sdr", {}, "music"),
    ("mel_distance", {}, "speech"),
    ("mel_distance", {}, "music"),
    ("mel_distance", {"normalize": False}, "music"),
    ("lsd", {}, "speech"),
    ("lsd", {}, "music"),
    ("visqol_audio", {}, "music"),
    ("visqol_speech", {}, "speech"),
    ("visqol_speech", {"mapping": "exponential"}, "speech"),  # float64 output: no float32 rounding
    ("warpq", {}, "speech"),
]
SPLIT = ["si_sdr", "mel_distance", "lsd", "visqol_audio", "visqol_speech"]
ITEMS = {"speech": "corpus/speech/vctk_p286_011.wav", "music": "corpus/music/castanets48_stereo.wav"}


def _case_id(case) -> str:
    name, opts, item = case
    return "-".join([name, *(f"{k}={v}" for k, v in opts.items()), item])


@pytest.fixture(scope="module")
def items(data_dir):
    from evalsuite.anchors import get_anchor
    from evalsuite.codecs import get_codec
    from evalsuite.codecs.transcode import transcode

    opus = get_codec("opus")
    out = {}
    for kind, rel in ITEMS.items():
        x, rate = read_audio(data_dir / rel)
        ref = normalize_loudness(resample(to_mono(x), rate, RATE), RATE)
        conditions = {"reference": ref.copy()}
        for anchor in ("anchor_lp35", "anchor_lp70"):
            conditions[anchor] = get_anchor(anchor).process(ref, RATE)
        for kbps in (6, 12):
            conditions[f"opus@{kbps}"] = transcode(opus, ref, RATE, kbps).audio
        assert all(len(d) == len(ref) for d in conditions.values())
        out[kind] = (ref, conditions)
    return out


def _snapshot(obj):
    """A deep copy of a features object's content (arrays copied), for a later comparison."""
    if dataclasses.is_dataclass(obj):
        return (type(obj), {f.name: _snapshot(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
    if isinstance(obj, (tuple, list)):
        return (type(obj), [_snapshot(v) for v in obj])
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], type):
        return (isinstance(b, tuple) and len(b) == 2 and a[0] is b[0]
                and (a[1].keys() == b[1].keys() and all(_same(a[1][k], b[1][k]) for k in a[1])
                     if isinstance(a[1], dict) else
                     len(a[1]) == len(b[1]) and all(_same(x, y) for x, y in zip(a[1], b[1]))))
    return type(a) is type(b) and a == b


def _arrays(obj):
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name))
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            yield from _arrays(v)
    elif isinstance(obj, np.ndarray):
        yield obj


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_shared_reference_values_equal_score_exactly(case, items):
    name, opts, item = case
    ref, conditions = items[item]
    metric = get_metric(name, **opts)
    features = metric.reference_features(ref, RATE)
    # a real reference side, not the default (the signal kept for score())
    assert dataclasses.is_dataclass(features), type(features)
    before = _snapshot(features)

    direct = {c: metric.score(ref, deg, RATE) for c, deg in conditions.items()}
    shared = {c: metric.score_features(features, deg, RATE) for c, deg in conditions.items()}
    assert shared == direct  # ==, not approx
    values = [v for out in direct.values() for v in out.values()]
    assert len(set(values)) == len(values), direct  # five different conditions, five different values

    # reusable: again, in the opposite order, from the same object
    again = {c: metric.score_features(features, conditions[c], RATE) for c in reversed(list(conditions))}
    assert again == direct
    assert _same(before, _snapshot(features)), "scoring changed the reference features"


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in SPLIT or c[0] == "warpq"], ids=_case_id)
def test_reference_feature_arrays_are_read_only(case, items):
    name, opts, item = case
    ref, _ = items[item]
    features = get_metric(name, **opts).reference_features(ref, RATE)
    arrays = list(_arrays(features))
    assert arrays and not any(a.flags.writeable for a in arrays)
    assert not any(np.shares_memory(a, ref) for a in arrays)  # nor an alias of the caller's signal


@pytest.mark.parametrize("name", SPLIT)
def test_shared_path_rejects_what_score_rejects(name, items):
    ref, conditions = items["speech"]
    metric = get_metric(name)
    features = metric.reference_features(ref, RATE)
    deg = conditions["opus@12"]
    with pytest.raises(AudioError, match="differ in length"):
        metric.score(ref, deg[:-480], RATE)
    with pytest.raises(AudioError, match="differ in length"):
        metric.score_features(features, deg[:-480], RATE)
    with pytest.raises(AudioError, match="degraded: silent"):
        metric.score_features(features, np.zeros_like(deg), RATE)
    with pytest.raises(AudioError, match="reference features were computed at 48000 Hz"):
        metric.score_features(features, resample(deg, RATE, 16000), 16000)


def test_visqol_other_library_version_scores_pairs_whole(items, monkeypatch):
    # the split is a port of visqol-python 3.8.0; with another release the metric must not use it
    import evalsuite.metrics.visqol as visqol_metric
    from evalsuite.metrics.visqol_reference import SPLIT_VERSION, split_supported

    assert split_supported(), f"installed visqol-python is not {SPLIT_VERSION}: pyproject pins it"
    monkeypatch.setattr(visqol_metric, "split_supported", lambda: False)
    ref, conditions = items["speech"]
    metric = get_metric("visqol_speech", mapping="exponential")
    features = metric.reference_features(ref, RATE)
    assert isinstance(features, np.ndarray)
    deg = conditions["opus@6"]
    assert metric.score_features(features, deg, RATE) == metric.score(ref, deg, RATE)


@pytest.mark.parametrize("name", ["visqol_audio", "visqol_speech"])
def test_visqol_realigned_reference_spectrogram_is_the_librarys(name, items):
    # The fine realignment's reference spectrogram is taken as a column range of the patch
    # slice's spectrogram when the realigned reference starts a whole number of hops in: check
    # that against the library's own builder, at offsets real pairs rarely produce (a lag that is
    # a multiple of the hop) as well as at 0 and between hops (built directly).
    from visqol.audio_utils import AudioSignal

    from evalsuite.metrics.visqol_reference import _aligned_ref_spectrogram, _hop, _window

    ref, _ = items["music" if name == "visqol_audio" else "speech"]
    metric = get_metric(name)
    features = metric.reference_features(ref, RATE)
    builder = metric.api()._manager.spect_builder
    window = _window(features.sample_rate)
    hop = _hop(window)
    checked = 0
    for patch in features.patches[:4]:
        n = len(patch.signal)
        for offset in (0, hop, 3 * hop, hop // 3):
            for length in (n - offset, n - offset - hop // 2, window.size + 2 * hop):
                data = patch.signal[offset:offset + length]
                got = _aligned_ref_spectrogram(patch, offset, data, features.sample_rate, builder, window)
                want = builder.build(AudioSignal(np.array(data), features.sample_rate), window).data
                assert got.shape == want.shape and np.array_equal(got, want), (offset, length)
                checked += 1
    assert checked == 4 * 4 * 3
