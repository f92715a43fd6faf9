"""EVS adapter. The 3GPP programs are not shipped, so these tests run the adapter against
tests/fake_evs/ (a test-only stand-in that honours EVS_cod/EVS_dec's command lines and writes
genuine G.192 files), and check the unavailable status when no programs are found."""
from pathlib import Path

import numpy as np
import pytest

from evalsuite.audio import resample
from evalsuite.codecs import CodecUnavailable, UnsupportedBitrate, codec_class, get_codec, list_codecs
from evalsuite.codecs.packing import g192_read
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate

FAKE = Path(__file__).parent / "fake_evs"


@pytest.fixture
def fake_evs(monkeypatch):
    for p in ("EVS_cod", "EVS_dec"):
        assert (FAKE / p).stat().st_mode & 0o111, f"{FAKE / p} must be executable"
    monkeypatch.setenv("EVALSUITE_EVS_BIN", str(FAKE))


def test_unavailable_without_programs(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALSUITE_EVS_BIN", str(tmp_path))
    ok, why = codec_class("evs").availability()
    assert not ok and "EVS_cod" in why and "3gpp.org" in why and "EVALSUITE_EVS_BIN" in why
    with pytest.raises(CodecUnavailable, match="26.443"):
        get_codec("evs")
    row = next(r for r in list_codecs() if r.name == "evs")
    assert not row.available
    monkeypatch.delenv("EVALSUITE_EVS_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, why = codec_class("evs").availability()
    assert not ok and "PATH" in why


def test_rate_mapping(fake_evs):
    c = get_codec("evs")
    assert c.resolve_kbps(13.2) == (13.2, "")
    used, note = c.resolve_kbps(12)  # the best rate that fits, never one above the request
    assert used == 9.6 and "best mode that fits" in note
    used, note = c.resolve_kbps(6)
    assert used == 5.9 and "DTX" in note
    for bad in (3, 200):
        with pytest.raises(UnsupportedBitrate, match="5.9-128 kbps"):
            c.resolve_kbps(bad)
    assert c.coding_rate(8.0) == 16000 and c.coding_rate(9.6) == 32000
    assert c.operating_points() == (5.9, 7.2, 8.0, 9.6, 13.2, 16.4, 24.4, 32.0, 48.0, 64.0, 96.0, 128.0)
    assert c.settings()["latency_ms"] == 32.0


def test_max_band_nb_limits_the_rates(fake_evs, speech48):
    # EVS_cod refuses NB above 24.4 kbps (TS 26.445): that request is unsupported, not a codec error
    c = get_codec("evs", max_band="NB")
    assert c.operating_points()[-1] == 24.4
    assert c.resolve_kbps(24.4) == (24.4, "")
    for bad in (32, 64):
        with pytest.raises(UnsupportedBitrate, match="max_band=NB is coded only up to 24.4 kbps"):
            c.resolve_kbps(bad)
    with pytest.raises(UnsupportedBitrate):
        c.encode(resample(speech48, 48000, 32000), 32)
    assert get_codec("evs", max_band="WB").resolve_kbps(32) == (32.0, "")
    assert "coded WB" in get_codec("evs", max_band="SWB").resolve_kbps(8)[1]


def test_build_hint_names_the_release_build(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALSUITE_EVS_BIN", str(tmp_path))
    ok, why = codec_class("evs").availability()
    assert "make RELEASE=1 DEBUG=0" in why


@pytest.mark.parametrize("kbps, coding_rate", [(7.2, 16000), (13.2, 32000), (24.4, 32000)])
def test_round_trip_through_fake(fake_evs, speech48, kbps, coding_rate):
    c = get_codec("evs")
    tr = transcode(c, speech48, 48000, kbps)
    enc = tr.encoded
    assert enc.info["coding_rate"] == coding_rate
    frames = g192_read(enc.packets[0])
    assert len(frames) == enc.info["frames"]
    assert {len(f.bits) for f in frames} == {int(round(kbps * 20))}
    assert enc.payload_bits == sum(len(f.bits) for f in frames)
    assert tr.measured_kbps == pytest.approx(kbps)  # coded bits, not the 16-bit G.192 words
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)


def test_vbr_dtx_counts_no_data_frames(fake_evs, speech48):
    c = get_codec("evs")
    x = resample(speech48, 48000, 32000)
    x = np.concatenate([x, np.zeros(32000, np.float32)])  # 1 s of silence: DTX frames
    enc = c.encode(x, 5.9)
    assert enc.info["dtx"] and enc.info["no_data_frames"] > 30
    assert enc.measured_kbps < 5.9 * 0.8
    sizes = [len(f.bits) for f in g192_read(enc.packets[0])]
    assert enc.payload_bits == sum(sizes) and 0 in sizes


def test_decode_uses_the_bytes(fake_evs, speech48):
    c = get_codec("evs")
    enc = c.encode(resample(speech48, 48000, 32000), 13.2)
    y = c.decode(enc)
    words = np.frombuffer(enc.packets[0], "<u2").copy()
    flip = (words == 0x0081) | (words == 0x007F)
    idx = np.flatnonzero(flip)[len(np.flatnonzero(flip)) // 2:][:2000]
    words[idx] = np.where(words[idx] == 0x0081, 0x007F, 0x0081)
    enc.packets[0] = words.tobytes()
    assert not np.allclose(c.decode(enc), y)


def test_program_errors_are_clear(fake_evs):
    c = get_codec("evs")
    enc = c.encode(np.zeros(32000, np.float32) + 0.01, 13.2)
    enc.packets[0] = b"\x00\x00" + enc.packets[0]
    with pytest.raises(RuntimeError, match="EVS_dec failed"):
        c.decode(enc)
