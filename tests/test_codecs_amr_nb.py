"""AMR-NB adapter (opencore-amrnb): real round trips on corpus speech."""
import numpy as np
import pytest
from pesq import pesq

from evalsuite.audio import resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import residual_lag, transcode

MODES = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)
BITS = (95, 103, 118, 134, 148, 159, 204, 244)  # TS 26.101 Table 1a


def test_operating_points_and_version():
    c = get_codec("amr_nb")
    assert c.operating_points() == MODES and c.sample_rate == 8000
    assert "libopencore-amrnb0" in c.version()
    assert c.settings()["latency_ms"] == 25.0


@pytest.mark.parametrize("kbps", MODES)
def test_every_mode_exact_rate_and_lag(speech48, kbps):
    tr = transcode(get_codec("amr_nb"), speech48, 48000, kbps)
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
    x8 = resample(speech48, 48000, 8000)
    c = get_codec("amr_nb")
    scores = [pesq(8000, x8, transcode(c, x8, 8000, k).audio, "nb") for k in (4.75, 7.4, 12.2)]
    assert scores[0] > 3.0 and scores[0] < scores[1] < scores[2]


def test_dtx_counts_sid_frames(speech48):
    c = get_codec("amr_nb", dtx=True)
    x8 = resample(speech48, 48000, 8000)
    x = np.concatenate([x8, np.zeros(8000, np.float32)])  # 1 s of silence
    enc = c.encode(x, 12.2)
    i = enc.info
    assert i["sid_frames"] > 0 and i["no_data_frames"] > 20
    assert enc.payload_bits == 244 * i["speech_frames"] + 39 * i["sid_frames"]
    assert enc.measured_kbps < 12.2
    assert len(c.decode(enc)) > 0


def test_decode_uses_the_bytes(speech48):
    c = get_codec("amr_nb")
    enc = c.encode(resample(speech48, 48000, 8000), 12.2)
    y = c.decode(enc)
    enc.packets = [p[:1] + bytes(b ^ 0x5A for b in p[1:]) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_requests_map_down_or_raise():
    c = get_codec("amr_nb")
    assert c.resolve_kbps(12.2) == (12.2, "")
    used, note = c.resolve_kbps(9.6)
    assert used == 7.95 and "best mode that fits" in note
    for bad in (4, 14):
        with pytest.raises(UnsupportedBitrate, match="4.75-12.2"):
            c.resolve_kbps(bad)


def test_unavailable_names_the_package(tmp_path):
    missing = str(tmp_path / "libopencore-amrnb.so.0")
    ok, why = codec_class("amr_nb").availability(opts={"encoder_lib": missing})
    assert not ok and "apt-get install libopencore-amrnb0" in why
