"""Hidden reference and BS.1534-3 low-pass anchors."""
import math

import numpy as np
import pytest
from scipy.signal import welch

from evalsuite.audio import read_audio, resample, to_mono
from evalsuite.codecs import get_codec
from evalsuite.codecs.transcode import residual_lag, transcode


@pytest.fixture(scope="module")
def speech48(data_dir):
    x, r = read_audio(data_dir / "corpus/speech/lj001_0001.wav")
    return resample(to_mono(x), r, 48000)


def test_reference_is_identity(speech48):
    c = get_codec("reference")
    assert c.is_anchor and c.bitrates().describe() == "n/a"
    tr = transcode(c, speech48, 48000, math.nan)
    assert np.array_equal(tr.audio, speech48)
    assert math.isnan(tr.measured_kbps) and tr.encoded.packets == []


@pytest.mark.parametrize("name, cutoff", [("anchor_lp35", 3500), ("anchor_lp70", 7000)])
def test_lowpass_anchor(speech48, name, cutoff):
    c = get_codec(name)
    tr = transcode(c, speech48, 48000, math.nan)
    assert residual_lag(speech48, tr.audio, 48000) == 0
    assert math.isnan(tr.measured_kbps)
    f, p_in = welch(speech48, 48000, nperseg=4096)
    _, p_out = welch(tr.audio, 48000, nperseg=4096)
    stop = (f > cutoff * 1.3) & (f < 11000)  # LJ Speech content stops near 11 kHz
    passband = (f > 200) & (f < cutoff * 0.7)
    assert 10 * np.log10(p_out[stop].sum() / p_in[stop].sum()) < -30
    assert abs(10 * np.log10(p_out[passband].sum() / p_in[passband].sum())) < 0.5
    assert c.settings()["cutoff_hz"] == cutoff


def test_anchor_at_other_rate():
    c = get_codec("anchor_lp70", sample_rate=16000)
    assert c.sample_rate == 16000
    with pytest.raises(ValueError, match="too low"):
        get_codec("anchor_lp70", sample_rate=12000)
