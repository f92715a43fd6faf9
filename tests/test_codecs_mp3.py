"""MP3 (LAME via PyAV) and AAC-LC (FFmpeg's encoder via PyAV): real round trips on corpus music
and speech, with the coded sample rate and bandwidth recorded."""
import numpy as np
import pytest

from evalsuite.audio import read_audio, resample, to_mono
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


@pytest.fixture(scope="module")
def music48(data_dir):
    x, r = read_audio(data_dir / "corpus/music/guitar48_stereo.wav")
    return resample(to_mono(x), r, 48000)[: 4 * 48000]


def snr(ref, deg):
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - deg) ** 2))


@pytest.mark.parametrize("name, tol", [("mp3", 0.002), ("aac", 0.10)])
@pytest.mark.parametrize("kbps, rate", [(16, 16000), (32, 22050), (48, 32000), (64, 48000)])
def test_rate_lag_and_coded_rate(music48, speech48, name, tol, kbps, rate):
    c = get_codec(name)
    tr = transcode(c, music48, 48000, kbps)
    info = tr.encoded.info
    assert info["coded_rate"] == rate and tr.encoded.sample_rate == rate
    assert abs(tr.measured_kbps - kbps) <= tol * kbps  # MP3 CBR exact; AAC's ABR within 10%
    assert 0.2 * rate < info["bandwidth_hz"] <= 0.5 * rate  # AAC at 16 kbps keeps 3.9 kHz of 8
    assert f"coded at {rate} Hz" in c.resolve_kbps(kbps)[1] or rate == 48000
    assert len(tr.audio) == len(music48)
    assert abs(lag_estimate(music48, tr.audio, 48000)) <= 1
    assert abs(lag_estimate(speech48, transcode(c, speech48, 48000, kbps).audio, 48000)) <= 1


@pytest.mark.parametrize("name", ["mp3", "aac"])
def test_quality_and_bandwidth_rise_with_rate(music48, name):
    c = get_codec(name)
    out = [transcode(c, music48, 48000, k) for k in (16, 32, 64)]
    bw = [t.encoded.info["bandwidth_hz"] for t in out]
    s = [snr(music48, t.audio) for t in out]
    assert bw[0] < bw[1] < bw[2]
    assert s[0] < s[1] < s[2] and s[2] > 10


def test_fixed_rate_is_never_silently_changed(music48):
    c = get_codec("mp3", rate=48000)
    with pytest.raises(UnsupportedBitrate, match="at 48000 Hz"):
        c.resolve_kbps(16)  # MPEG-1 Layer III starts at 32 kbps
    tr = transcode(c, music48, 48000, 32)
    assert tr.encoded.info["coded_rate"] == 48000
    assert get_codec("mp3").resolve_kbps(20)[0] == 16


@pytest.mark.parametrize("name", ["mp3", "aac"])
def test_decode_uses_the_bytes(music48, name):
    c = get_codec(name)
    enc = c.encode(music48, 64)
    y = c.decode(enc)
    mid = len(enc.packets) // 2
    enc.packets[mid] = enc.packets[mid][:8] + bytes(len(enc.packets[mid]) - 8)
    try:
        assert not np.allclose(c.decode(enc)[: len(y)], y)
    except RuntimeError as e:  # the decoder may refuse the damaged access unit instead
        assert f"rejected packet {mid}" in str(e)


@pytest.mark.parametrize("name", ["mp3", "aac"])
def test_unavailable_without_pyav(name):
    ok, why = codec_class(name).availability(opts={"module": "av_not_installed"})
    assert not ok and "pip install av" in why
    assert "PyAV" in get_codec(name).version()
