"""LC3 adapter (liblc3 bundled in lc3py): real round trips on corpus speech."""
import numpy as np
import pytest

from evalsuite.audio import lowpass, resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


def snr(ref, deg):
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - deg) ** 2))


@pytest.mark.parametrize("rate, kbps", [(16000, 16), (16000, 24), (16000, 32), (48000, 64), (48000, 124), (8000, 24)])
def test_round_trip_exact_rate_and_lag(speech48, rate, kbps):
    c = get_codec("lc3", rate=rate)
    assert kbps in c.operating_points()
    tr = transcode(c, speech48, 48000, kbps)
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)
    assert {len(p) for p in tr.encoded.packets} == {kbps * 10 // 8}  # bytes per 10 ms frame, no header
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)


def test_quality_rises_with_rate(speech48):
    ref = lowpass(speech48, 48000, 7500)  # LC3 at 16 kHz codes up to 8 kHz
    c = get_codec("lc3")
    s = [snr(ref, lowpass(transcode(c, speech48, 48000, k).audio, 48000, 7500)) for k in (16, 24, 32)]
    assert s[0] > 3 and s[0] < s[1] < s[2]


def test_delay_and_latency():
    c = get_codec("lc3")
    assert c.delay_samples == 40  # 2.5 ms lookahead at 16 kHz
    assert c.settings()["latency_ms"] == 12.5
    assert get_codec("lc3", frame_ms=7.5).settings()["latency_ms"] == 11.5
    assert "lc3py" in c.version()


def test_whole_byte_frames_map_down_or_raise():
    c = get_codec("lc3")
    used, note = c.resolve_kbps(13.2 * 2)
    assert used == 26.4 and note == ""  # 33 bytes
    used, note = c.resolve_kbps(26.5)
    assert used == 26.4 and "whole bytes" in note
    for bad in (12, 400):
        with pytest.raises(UnsupportedBitrate, match="16-320 kbps"):
            c.resolve_kbps(bad)
    assert get_codec("lc3", frame_ms=7.5).operating_points() == (23.466666666666665, 32.0)


def test_decode_uses_the_bytes(speech48):
    c = get_codec("lc3")
    enc = c.encode(resample(speech48, 48000, 16000), 32)
    y = c.decode(enc)
    enc.packets = [bytes(b ^ 0x33 for b in p) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_unavailable_with_missing_library(tmp_path):
    ok, why = codec_class("lc3").availability(opts={"libpath": str(tmp_path / "liblc3.so.1")})
    assert not ok and "pip install lc3py" in why
