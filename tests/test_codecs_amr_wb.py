"""AMR-WB adapter (vo-amrwbenc + opencore-amrwb): real round trips on corpus speech."""
import numpy as np
import pytest
from pesq import pesq

from evalsuite.audio import resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import residual_lag, transcode

MODES = (6.6, 8.85, 12.65, 14.25, 15.85, 18.25, 19.85, 23.05, 23.85)
BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477)  # TS 26.201 Table 2


def test_operating_points_and_version():
    c = get_codec("amr_wb")
    assert c.operating_points() == MODES and c.sample_rate == 16000
    assert "libvo-amrwbenc0" in c.version() and "libopencore-amrwb0" in c.version()
    assert c.settings()["latency_ms"] == 25.9375


@pytest.mark.parametrize("kbps", MODES)
def test_every_mode_exact_rate_and_lag(speech48, kbps):
    tr = transcode(get_codec("amr_wb"), speech48, 48000, kbps)
    enc = tr.encoded
    mode = MODES.index(kbps)
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)  # codec bits only
    assert enc.payload_bits == BITS[mode] * enc.info["frames"]
    # RFC 4867 storage frames: 1 header byte (FT = mode) + the bits padded to bytes
    assert {len(p) for p in enc.packets} == {1 + (BITS[mode] + 7) // 8}
    assert {(p[0] >> 3) & 15 for p in enc.packets} == {mode}
    assert enc.info["storage_kbps"] > kbps
    assert abs(residual_lag(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)


def test_quality_rises_with_mode(speech48):
    x16 = resample(speech48, 48000, 16000)
    c = get_codec("amr_wb")
    scores = [pesq(16000, x16, transcode(c, x16, 16000, k).audio, "wb") for k in (6.6, 12.65, 23.85)]
    assert scores[0] > 1.5 and scores[0] < scores[1] < scores[2]


def test_dtx_counts_sid_frames(speech48):
    c = get_codec("amr_wb", dtx=True)
    x16 = resample(speech48, 48000, 16000)
    x = np.concatenate([x16, np.zeros(16000, np.float32)])  # 1 s of silence
    enc = c.encode(x, 23.85)
    i = enc.info
    assert i["sid_frames"] > 0 and i["no_data_frames"] > 20
    assert enc.payload_bits == 477 * i["speech_frames"] + 40 * i["sid_frames"]
    assert enc.measured_kbps < 23.85
    assert len(c.decode(enc)) > 0


def test_decode_uses_the_bytes(speech48):
    c = get_codec("amr_wb")
    enc = c.encode(resample(speech48, 48000, 16000), 23.85)
    y = c.decode(enc)
    enc.packets = [p[:1] + bytes(b ^ 0x5A for b in p[1:]) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_requests_map_down_or_raise():
    c = get_codec("amr_wb")
    assert c.resolve_kbps(12.65) == (12.65, "")
    used, note = c.resolve_kbps(13.2)
    assert used == 12.65 and "best mode that fits" in note
    assert c.resolve_kbps(24)[0] == 23.85
    for bad in (6, 32):
        with pytest.raises(UnsupportedBitrate, match="6.6-23.85"):
            c.resolve_kbps(bad)


def test_unavailable_names_the_package(tmp_path):
    missing = str(tmp_path / "libvo-amrwbenc.so.0")
    ok, why = codec_class("amr_wb").availability(opts={"encoder_lib": missing})
    assert not ok and "apt-get install libvo-amrwbenc0" in why
    ok, why = codec_class("amr_wb").availability(opts={"decoder_lib": missing})
    assert not ok and "apt-get install libopencore-amrwb0" in why
