"""Opus adapter (libopus via opuslib): real round trips on shared speech."""
import numpy as np
import pytest

from evalsuite.audio import read_audio, resample, to_mono
from evalsuite.codecs import UnsupportedBitrate, get_codec
from evalsuite.codecs.opus import toc_bandwidth
from evalsuite.codecs.transcode import residual_lag, transcode


@pytest.fixture(scope="module")
def speech48(data_dir):
    x, r = read_audio(data_dir / "corpus/speech/pesq_speech.wav")
    return resample(to_mono(x), r, 48000)


def test_available_and_version():
    c = get_codec("opus")
    assert c.settings()["libopus"].startswith("libopus 1.")
    assert c.delay_samples == 312  # OPUS_GET_LOOKAHEAD at 48 kHz, voip: 2.5 ms + 4 ms


@pytest.mark.parametrize("application", ["voip", "audio"])
def test_round_trip_lag_zero_celt(speech48, application):
    # CELT (64 kbps): lookahead compensation leaves lag 0 (voip's high-pass may shift 1 sample)
    tr = transcode(get_codec("opus", application=application), speech48, 48000, 64)
    assert abs(residual_lag(speech48, tr.audio, 48000)) <= 1
    assert tr.encoded.info["bandwidth"] == "FB" and tr.encoded.info["mode"] == "CELT"
    assert tr.measured_kbps == pytest.approx(64, rel=0.1)
    assert np.corrcoef(speech48, tr.audio)[0, 1] > 0.9


@pytest.mark.parametrize("kbps, lo, hi, bw", [(6, 4.5, 6.5, "NB"), (12, 10, 13, "WB")])
def test_low_rates(speech48, kbps, lo, hi, bw):
    tr = transcode(get_codec("opus"), speech48, 48000, kbps)
    assert lo <= tr.measured_kbps <= hi
    assert tr.encoded.info["bandwidth"] == bw
    # SILK's resamplers keep a few samples (< 0.1 ms) of residual lag; see docs/codecs.md
    assert abs(residual_lag(speech48, tr.audio, 48000)) <= 4
    assert len(tr.audio) == len(speech48)


def test_measured_counts_all_packet_bytes(speech48):
    c = get_codec("opus", cbr=True)
    enc = c.encode(speech48, 16)
    assert enc.total_bits == 8 * sum(len(p) for p in enc.packets)
    assert {len(p) for p in enc.packets} == {40}  # CBR 16 kbps x 20 ms = 40 bytes incl. TOC
    assert enc.measured_kbps == pytest.approx(16.0)


def test_decode_uses_the_bytes(speech48):
    c = get_codec("opus")
    enc = c.encode(speech48, 24)
    y = c.decode(enc)
    mid = len(enc.packets) // 2
    enc.packets[mid] = enc.packets[mid][:1] + bytes(len(enc.packets[mid]) - 1)
    assert not np.allclose(c.decode(enc), y)


def test_toc_bandwidth():
    assert toc_bandwidth(bytes([0 << 3])) == "NB"
    assert toc_bandwidth(bytes([9 << 3])) == "WB"
    assert toc_bandwidth(bytes([13 << 3])) == "SWB"
    assert toc_bandwidth(bytes([31 << 3])) == "FB"


def test_bitrate_errors_and_options():
    c = get_codec("opus")
    with pytest.raises(UnsupportedBitrate, match="0.5-512"):
        c.resolve_kbps(0.3)
    with pytest.raises(UnsupportedBitrate):
        c.resolve_kbps(600)
    assert "below about 6 kbps" in c.resolve_kbps(3)[1]
    with pytest.raises(ValueError, match="application"):
        get_codec("opus", application="music")
    assert get_codec("opus", rate="16000").sample_rate == 16000
