"""SI-SDR, multi-resolution mel distance, LSD: analytic values and orderings."""
from __future__ import annotations

import numpy as np
import pytest

from evalsuite.audio import lowpass, read_audio
from evalsuite.metrics.spectral import (
    LogSpectralDistance,
    MultiResolutionMelDistance,
    SiSdr,
    log_spectral_distance,
    mel_distance,
    si_sdr,
)

RATE = 48000


@pytest.fixture(scope="module")
def speech(data_dir):
    x, rate = read_audio(data_dir / "corpus/speech/vctk_p286_011.wav")
    assert rate == RATE
    return x[: 3 * RATE]


def _white(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_si_sdr_equals_snr_for_independent_noise(snr):
    # target and noise orthogonal by construction -> SI-SDR is exactly the SNR
    s = _white(RATE, 1)
    s -= s.mean()
    n = _white(RATE, 2)
    n -= n.mean()
    n -= np.dot(n, s) / np.dot(s, s) * s
    n *= np.sqrt(np.dot(s, s) / np.dot(n, n) / 10 ** (snr / 10))
    assert si_sdr(s, s + n) == pytest.approx(snr, abs=1e-6)


def test_si_sdr_scale_and_offset_invariant(speech):
    rng = np.random.default_rng(3)
    deg = speech + 0.01 * rng.standard_normal(speech.size).astype(np.float32)
    base = si_sdr(speech, deg)
    assert si_sdr(speech, 0.25 * deg) == pytest.approx(base, abs=1e-6)
    assert si_sdr(speech, deg + 0.1) == pytest.approx(base, abs=1e-6)  # zero-mean
    assert si_sdr(speech, -deg) == pytest.approx(base, abs=1e-6)  # alpha may be negative


def test_si_sdr_metric_identity_finite_and_large(speech):
    v = SiSdr().score(speech, speech, RATE)["si_sdr"]
    assert np.isfinite(v) and v > 100


def test_mel_distance_identity_zero_and_monotonic(speech):
    m = MultiResolutionMelDistance()
    assert m.score(speech, speech, RATE)["mel_distance"] == 0.0
    values = [m.score(speech, lowpass(speech, RATE, fc), RATE)["mel_distance"] for fc in (12000, 6000, 3000, 1500)]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_mel_distance_matches_hand_computation():
    # one resolution, computed directly: log10 of clamped mel magnitudes, mean absolute difference
    import librosa
    import torch

    x = _white(8000, 4) * 0.1
    y = x * 0.5
    w, n_mels = 256, 40
    basis = librosa.filters.mel(sr=16000, n_fft=w, n_mels=n_mels)
    spec = lambda s: torch.stft(torch.from_numpy(s), w, w // 4, window=torch.hann_window(w, dtype=torch.float64),
                                center=True, pad_mode="reflect", return_complex=True).abs().numpy()
    mx, my = basis @ spec(x), basis @ spec(y)
    expected = np.mean(np.abs(np.log10(np.maximum(mx, 1e-5)) - np.log10(np.maximum(my, 1e-5))))
    assert mel_distance(x, y, 16000, windows=(w,), n_mels=(n_mels,)) == pytest.approx(expected, rel=1e-6)
    # a pure gain of 1/2 is log10(2) per bin wherever nothing is clamped
    assert expected == pytest.approx(np.log10(2), abs=0.01)


def test_lsd_identity_zero_and_gain(speech):
    assert LogSpectralDistance().score(speech, speech, RATE)["lsd"] == 0.0
    # a broadband white signal at half amplitude: 6.02 dB in every bin and frame
    x = _white(RATE, 5) * 0.1
    assert log_spectral_distance(x, 0.5 * x) == pytest.approx(20 * np.log10(2), abs=1e-6)


def test_lsd_grows_with_lost_bandwidth(speech):
    m = LogSpectralDistance()
    values = [m.score(speech, lowpass(speech, RATE, fc), RATE)["lsd"] for fc in (16000, 8000, 4000)]
    assert all(a < b for a, b in zip(values, values[1:])), values


@pytest.fixture(scope="module")
def speech_at_26(speech):
    from evalsuite.anchors import get_anchor
    from evalsuite.audio import normalize_loudness

    x = normalize_loudness(speech, RATE, -26.0)
    return x, get_anchor("anchor_lp35").process(x, RATE)


def test_mel_distance_does_not_depend_on_the_level_of_the_pair(speech_at_26):
    # the log10 clamp made the old value move by ~30% for a 10 dB level change (2.00 at -26 LUFS,
    # 2.89 at -16 LUFS on this pair); on DAC's level it is one number
    ref, deg = speech_at_26
    m = MultiResolutionMelDistance()
    g = 10 ** (10 / 20)
    at26 = m.score(ref, deg, RATE)["mel_distance"]
    at16 = m.score(ref * g, deg * g, RATE)["mel_distance"]
    at46 = m.score(ref * 0.1, deg * 0.1, RATE)["mel_distance"]
    assert at26 == pytest.approx(at16, rel=1e-5) and at26 == pytest.approx(at46, rel=1e-5)
    assert 2.8 < at26 < 3.0  # measured 2.893


def test_mel_distance_level_is_dacs_minus_16_lufs(speech_at_26):
    # independent of the metric's code path: pyloudnorm's BS.1770 meter on the 44.1 kHz reference
    import pyloudnorm

    from evalsuite.audio import resample

    ref, deg = (resample(x, RATE, 44100).astype(np.float64) for x in speech_at_26)
    g = 10 ** ((-16.0 - pyloudnorm.Meter(44100).integrated_loudness(ref)) / 20)
    assert np.max(np.abs(ref * g)) < 1.0  # no peak rescale on this item
    expected = mel_distance(ref * g, deg * g, 44100)
    assert MultiResolutionMelDistance().score(*speech_at_26, RATE)["mel_distance"] == pytest.approx(expected, rel=1e-6)


def test_mel_distance_as_given_on_request(speech_at_26):
    ref, deg = speech_at_26
    m = MultiResolutionMelDistance(normalize=False)
    assert "level-dependent" in m.describe().mode and "level-dependent" in m.describe().version
    assert MultiResolutionMelDistance().describe() == MultiResolutionMelDistance.info
    assert "-20 LUFS" in MultiResolutionMelDistance(target_lufs="-20").describe().mode
    from evalsuite.audio import resample

    r, d = (resample(x, RATE, 44100) for x in (ref, deg))
    assert m.score(ref, deg, RATE)["mel_distance"] == pytest.approx(mel_distance(r, d, 44100), rel=1e-6)
    with pytest.raises(ValueError, match="target_lufs"):
        MultiResolutionMelDistance(target_lufs=5.0)


def test_si_sdr_is_declared_phase_sensitive():
    from evalsuite.metrics.base import not_applicable_reason

    assert SiSdr.info.waveform and not MultiResolutionMelDistance.info.waveform
    note = "opus does not preserve the waveform's phase in this mode"  # what a codec declares
    assert not_applicable_reason(SiSdr.info, "clean_speech") is None
    assert not_applicable_reason(SiSdr.info, "music", waveform_note=note) == f"si_sdr compares waveforms; {note}"
    assert not_applicable_reason(MultiResolutionMelDistance.info, "music", waveform_note=note) is None
