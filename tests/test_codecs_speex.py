"""Speex adapters (libspeex via ctypes): NB/WB/UWB round trips on corpus speech."""
import numpy as np
import pytest
from pesq import pesq

from evalsuite.audio import resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate

NB = (2.15, 3.95, 5.95, 8.0, 11.0, 15.0, 18.2, 24.6)  # the Speex manual's narrowband rates
WB = (3.95, 5.75, 7.75, 9.8, 12.8, 16.8, 20.6, 23.8, 27.8, 34.2, 42.2)
UWB = (4.15, 7.55, 9.55, 11.6, 14.6, 18.6, 22.4, 25.6, 29.6, 36.0, 44.0)


def test_modes_from_the_library():
    assert get_codec("speex_nb").operating_points() == NB
    assert get_codec("speex_wb").operating_points() == WB
    assert get_codec("speex_uwb").operating_points() == UWB
    c = get_codec("speex_nb")
    assert c.version().startswith("libspeex 1.2")
    assert c.settings()["latency_ms"] == 30 and get_codec("speex_wb").settings()["latency_ms"] == 34


CASES = [("speex_nb", k) for k in NB] + [("speex_wb", k) for k in WB[::2]] + [("speex_uwb", k) for k in UWB[1::3]]


@pytest.mark.parametrize("name, kbps", CASES)
def test_exact_rate_and_lag(speech48, name, kbps):
    tr = transcode(get_codec(name), speech48, 48000, kbps)
    enc = tr.encoded
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)  # coded bits, not the byte padding
    assert enc.payload_bits == int(round(kbps * 20)) * enc.info["frames"]
    assert enc.info["storage_kbps"] >= kbps
    assert len(tr.audio) == len(speech48)
    if enc.info["quality"] > 0:  # quality 0 is a vocoder: no waveform lag to speak of
        assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1


def test_quality_rises_with_mode(speech48):
    x16 = resample(speech48, 48000, 16000)
    c = get_codec("speex_wb")
    s = [pesq(16000, x16, transcode(c, x16, 16000, k).audio, "wb") for k in (5.75, 12.8, 27.8)]
    assert s[0] > 1.3 and s[0] < s[1] < s[2]


def test_requests_map_down_or_raise():
    c = get_codec("speex_nb")
    used, note = c.resolve_kbps(13.2)
    assert used == 11.0 and "best mode that fits" in note
    for bad in (2, 30):
        with pytest.raises(UnsupportedBitrate, match="2.15-24.6"):
            c.resolve_kbps(bad)


def test_decode_uses_the_bytes(speech48):
    c = get_codec("speex_wb")
    enc = c.encode(resample(speech48, 48000, 16000), 27.8)
    y = c.decode(enc)
    enc.packets = [p[:2] + bytes(b ^ 0x0F for b in p[2:]) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_unavailable_names_the_package(tmp_path):
    ok, why = codec_class("speex_wb").availability(opts={"lib": str(tmp_path / "libspeex.so.1")})
    assert not ok and "apt-get install libspeex1" in why
