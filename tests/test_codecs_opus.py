"""Opus adapter (libopus through ctypes: Debian's, the private 1.5 copy, PyAV's): real round
trips on shared speech."""
import numpy as np
import pytest
from pesq import pesq

from evalsuite.audio import resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.opus import toc_bandwidth
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


def test_available_and_version():
    c = get_codec("opus")
    assert c.settings()["libopus"].startswith("libopus 1.")
    assert c.delay_samples == 312  # OPUS_GET_LOOKAHEAD at 48 kHz, voip: 2.5 ms + 4 ms


@pytest.mark.parametrize("application", ["voip", "audio"])
def test_round_trip_lag_zero_celt(speech48, application):
    # CELT (64 kbps): lookahead compensation leaves lag 0 (voip's high-pass may shift 1 sample)
    tr = transcode(get_codec("opus", application=application), speech48, 48000, 64)
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert tr.encoded.info["bandwidth"] == "FB" and tr.encoded.info["mode"] == "CELT"
    assert tr.measured_kbps == pytest.approx(64, rel=0.1)
    assert np.corrcoef(speech48, tr.audio)[0, 1] > 0.9


@pytest.mark.parametrize("kbps, lo, hi, bw", [(6, 4.5, 6.5, "NB"), (12, 10, 13, "WB")])
def test_low_rates(speech48, kbps, lo, hi, bw):
    tr = transcode(get_codec("opus"), speech48, 48000, kbps)
    assert lo <= tr.measured_kbps <= hi
    assert tr.encoded.info["bandwidth"] == bw
    assert len(tr.audio) == len(speech48)


@pytest.mark.parametrize("name", ["opus", "opus_ml"])
@pytest.mark.parametrize("application", ["voip", "audio"])
@pytest.mark.parametrize("kbps", [6, 12, 16, 24, 64])
def test_residual_lag_every_mode(speech48, name, application, kbps):
    # SILK-WB at 12 kbps was -3 samples with only the lookahead removed (issue 10 section 2)
    tr = transcode(get_codec(name, application=application), speech48, 48000, kbps)
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1, tr.encoded.info


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


def test_library_choice_and_recorded_features():
    system = get_codec("opus").settings()
    assert system["libopus"].startswith("libopus 1.3") and "no decoder complexity" in system["decoder_features"]
    ml = get_codec("opus_ml").settings()
    assert ml["libopus"].startswith("libopus 1.5") and ml["dec_complexity"] == 7
    assert "OSCE" in ml["decoder_features"] and ml["decoder_enhancement"] == "NoLACE" and ml["deep_plc_available"]
    pyav = get_codec("opus", lib="pyav").settings()
    assert pyav["libopus"].startswith("libopus 1.6") and "no OSCE" in pyav["decoder_features"]
    assert get_codec("opus").settings()["latency_ms"] == 26.5  # 20 ms frame + 6.5 ms lookahead


def test_ml_decoder_needs_libopus_15(tmp_path):
    ok, why = codec_class("opus").availability(opts={"dec_complexity": 7})
    assert not ok and "libopus >= 1.5" in why and "opus.lib=1.5" in why
    ok, why = codec_class("opus").availability(opts={"lib": str(tmp_path / "libopus.so.0")})
    assert not ok and "does not exist" in why


def test_private_15_missing_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSUITE_LIBS", str(tmp_path))
    ok, why = codec_class("opus_ml").availability()
    assert not ok and "python3 -m evalsuite.codecs.private_libs opus-1.5" in why


def test_nolace_improves_low_rate_wideband_speech(speech48):
    # the same libopus 1.5 bitstream decoded at complexity 0 and 7: NoLACE must change and
    # improve SILK-WB speech at 9 kbps (PESQ-WB, an independent measure)
    x16 = resample(speech48, 48000, 16000)
    plain = get_codec("opus", lib="1.5")
    ml = get_codec("opus_ml")
    enc = plain.encode(resample(x16, 16000, 48000), 9)
    assert enc.info["bandwidth"] == "WB" and enc.info["mode"] == "SILK"
    y0, y7 = plain.decode(enc), ml.decode(enc)
    assert not np.allclose(y0, y7)
    d = plain.delay_samples
    s0, s7 = (pesq(16000, x16, resample(y[d:d + len(speech48)], 48000, 16000)[:len(x16)], "wb") for y in (y0, y7))
    assert s7 > s0 + 0.1
