"""Codec 2 adapter (Debian c2enc/c2dec): real round trips on shared speech."""
import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from evalsuite.audio import find_lag, resample
from evalsuite.codecs import UnsupportedBitrate, get_codec
from evalsuite.codecs.transcode import transcode


def envelope_lag(ref, deg, rate, max_ms=50):
    """Codec 2 synthesises phase, so alignment is checked on the speech envelope."""
    sos = butter(4, 60, fs=rate, output="sos")

    def env(x):
        e = sosfiltfilt(sos, np.abs(hilbert(x)))
        return (e - e.mean()) / e.std()

    return find_lag(env(ref), env(deg), int(rate * max_ms / 1000))


@pytest.mark.parametrize("kbps, storage", [(3.2, 3.2), (2.4, 2.4), (1.3, 1.4), (0.7, 0.8)])
def test_round_trip(speech48, kbps, storage):
    c = get_codec("codec2")
    tr = transcode(c, speech48, 48000, kbps)
    # codec bits only (e.g. 52 bits per 40 ms for 1300); the file's byte padding is storage
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)
    assert tr.encoded.info["storage_kbps"] == pytest.approx(storage, abs=1e-9)
    assert len(tr.audio) == len(speech48)
    # envelope alignment within 1 ms at 48 kHz (waveform lag is meaningless for Codec 2)
    assert abs(envelope_lag(speech48, tr.audio, 48000)) <= 48


def test_no_header_in_bitstream(speech48):
    c = get_codec("codec2")
    enc = c.encode(resample(speech48, 48000, 8000), 3.2)
    assert len(enc.packets[0]) == 8 * enc.info["frames"]  # 64 bits/10 ms frame, no .c2 header
    assert enc.packets[0][:2] != b"\xc0\xde"


def test_decode_uses_the_bytes(speech48):
    c = get_codec("codec2")
    enc = c.encode(resample(speech48, 48000, 8000), 3.2)
    y = c.decode(enc)
    enc.packets[0] = bytes(b ^ 0x55 for b in enc.packets[0])
    assert not np.allclose(c.decode(enc), y)


def test_mode_mapping():
    c = get_codec("codec2")
    assert c.resolve_kbps(3.2) == (3.2, "")
    used, note = c.resolve_kbps(2.0)
    assert used in (1.6, 2.4) and "nearest Codec 2 mode" in note
    with pytest.raises(UnsupportedBitrate, match="above its highest mode"):
        c.resolve_kbps(6)
    with pytest.raises(UnsupportedBitrate, match="below its lowest mode"):
        c.resolve_kbps(0.2)
