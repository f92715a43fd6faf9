"""G.722 adapter (libg722 via the g722 package): real round trips on corpus speech."""
import numpy as np
import pytest

from evalsuite.audio import lowpass, resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


def snr(ref, deg):
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - deg) ** 2))


@pytest.mark.parametrize("kbps, bits", [(48, 6), (56, 7), (64, 8)])
def test_modes_exact_rate_and_lag(speech48, kbps, bits):
    tr = transcode(get_codec("g722"), speech48, 48000, kbps)
    enc = tr.encoded
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)
    assert enc.payload_bits == bits * enc.info["codewords"]
    assert max(max(p) for p in enc.packets) < 2 ** bits  # the low-band bits really are dropped
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)


def test_quality_rises_with_mode(speech48):
    # a waveform coder: SNR against the 7 kHz band it codes must rise with every mode
    ref = lowpass(speech48, 48000, 7000)
    c = get_codec("g722")
    s = [snr(ref, lowpass(transcode(c, speech48, 48000, k).audio, 48000, 7000)) for k in (48, 56, 64)]
    assert s[0] > 8 and s[0] < s[1] < s[2]


def test_modes_map_down_or_raise():
    c = get_codec("g722")
    assert c.operating_points() == (48.0, 56.0, 64.0)
    used, note = c.resolve_kbps(60)
    assert used == 56 and "best mode that fits" in note
    for bad in (32, 80):
        with pytest.raises(UnsupportedBitrate, match="48-64"):
            c.resolve_kbps(bad)
    assert c.settings()["latency_ms"] == pytest.approx(1.375)


def test_decode_uses_the_bytes(speech48):
    c = get_codec("g722")
    enc = c.encode(resample(speech48, 48000, 16000), 64)
    y = c.decode(enc)
    enc.packets = [bytes(b ^ 0x21 for b in p) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_unavailable_without_module():
    ok, why = codec_class("g722").availability(opts={"module": "G722_not_installed"})
    assert not ok and "pip install g722" in why
