"""SoundStream (Lyra v2 TFLite) adapter: real round trips on shared speech."""
import numpy as np
import pytest

from evalsuite.audio import read_audio, resample, to_mono
from evalsuite.codecs import UnsupportedBitrate, get_codec
from evalsuite.codecs.base import CodecUnavailable
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


def lyra_log_mel(samples, sample_rate=16000, hop=320, window=640, n_mel=64):
    """Lyra's LogMelSpectrogramExtractorImpl (google/lyra, audio_dsp Spectrogram + MelFilterbank):
    periodic Hann window of ``window`` samples ending at each hop (zeros before the start), FFT of
    the next power of two, magnitudes summed under HTK-style mel triangles from 0 Hz to
    0.495*rate (DC excluded), then log(max(x, 500)) / 10. Input in int16 units."""
    s = np.asarray(samples, dtype=np.float64)
    n_fft = 1 << (window - 1).bit_length()
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    n_hops = len(s) // hop
    buf = np.concatenate([np.zeros(window - hop), s[: n_hops * hop]])
    frames = np.stack([buf[k * hop:k * hop + window] for k in range(n_hops)])
    mag = np.abs(np.fft.rfft(frames * hann, n_fft))
    n_bins = n_fft // 2 + 1

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    upper = 0.495 * sample_rate
    spacing = mel(upper) / (n_mel + 1)
    hz_per_bin = sample_rate / (2.0 * (n_bins - 1))
    weights = np.zeros((n_bins, n_mel))
    for i in range(int(1.5), int(upper / hz_per_bin) + 1):
        pos = mel(i * hz_per_bin) / spacing - 1
        ch = int(np.ceil(pos)) - 1
        w = 1.0 - (pos - ch)
        if ch >= 0:
            weights[i, ch] += w
        if ch + 1 < n_mel:
            weights[i, ch + 1] += 1.0 - w
    return np.log(np.maximum(mag @ weights, 500.0)) / 10.0


def log_spectral_distance(a, b):
    """Lyra's dsp_utils LogSpectralDistance, per frame."""
    return 10.0 * np.sqrt(np.mean((a - b) ** 2, axis=-1))


def test_log_mel_matches_lyra_published_values():
    # lyra/log_mel_spectrogram_extractor_impl_test.cc: 16 kHz, 10 mel bins, hop 5, window 10
    wav = [7954, 10085, 8733, 10844, 29949, -549, 20833, 30345, 18086, 11375, -27309, 12323, -22891, -23360, 11958]
    expected = [
        [0.62146081, 0.62146081, 0.79771997, 1.00416802, 0.73013308, 0.96676503, 0.87643814, 0.89284485, 0.90586112, 0.8633126],
        [0.62146081, 0.62146081, 0.89000145, 1.09644949, 0.76740002, 1.00403196, 0.8919037, 0.99746922, 1.06052462, 1.08220812],
        [0.62146081, 0.62146081, 0.83526758, 1.04171563, 0.82093681, 1.05756876, 0.96348656, 1.01345318, 1.07686605, 1.12100911],
    ]
    np.testing.assert_allclose(lyra_log_mel(wav, 16000, 5, 10, 10), expected, atol=1e-6)


@pytest.fixture(scope="module")
def codec():
    return get_codec("soundstream")


@pytest.fixture(scope="module")
def lyra_sample16(data_dir):
    # Lyra's own integration-test item (sample1), first 3 s as in lyra_integration_test.cc
    x, r = read_audio(data_dir / "corpus/speech/lyra_sample1_48k.wav")
    return resample(to_mono(x), r, 16000)[: 3 * 16000]


# Lyra v2's own modes (lyra_config.cc GetSupportedQuantizedBits: 64/120/184 bits per 20 ms frame);
# a 3 kbps request is Lyra's 3.2 kbps mode: 8 bytes per frame carry 16 codes, not 15 plus padding
@pytest.mark.parametrize("kbps, measured, n_cb", [(3.0, 3.2, 16), (6.0, 6.0, 30), (9.2, 9.2, 46)])
def test_round_trip_lag_and_bitrate(codec, speech48, kbps, measured, n_cb):
    tr = transcode(codec, speech48, 48000, kbps)
    assert tr.encoded.info["quantizers"] == n_cb
    assert all(len(p) == n_cb * 4 // 8 for p in tr.encoded.packets)  # no padding bits
    # payload bits over the coded frames' duration: exactly the mode's rate
    assert tr.measured_kbps == pytest.approx(measured, abs=1e-9)
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)
    assert np.corrcoef(speech48, tr.audio)[0, 1] > 0.7


@pytest.mark.parametrize("n_codebooks", [16, 30, 46])  # Lyra's supported 64/120/184 bits
def test_lyra_integration_log_mel_distance(codec, lyra_sample16, n_codebooks):
    y = codec.decode(codec.encode(lyra_sample16, n_codebooks * 0.2))[: len(lyra_sample16)]
    ref = lyra_log_mel(np.round(lyra_sample16 * 32768))
    dist = log_spectral_distance(ref, lyra_log_mel(np.round(np.clip(y, -1, 1) * 32767)))
    assert dist.max() < 2.0, f"frame {dist.argmax()}: {dist.max():.2f}"
    # the measure can fail: unrelated audio (the same speech a second later) is far off
    other = lyra_log_mel(np.round(np.roll(lyra_sample16, 16000) * 32768))
    assert log_spectral_distance(ref, other).max() > 2.0


def test_decode_uses_the_bytes(codec, speech48):
    x = resample(speech48, 48000, 16000)
    enc = codec.encode(x, 6.0)
    y = codec.decode(enc)
    assert np.array_equal(codec.decode(enc), y)  # fresh state per file: deterministic
    enc.packets[len(enc.packets) // 2] = bytes(b ^ 0xFF for b in enc.packets[len(enc.packets) // 2])
    assert not np.allclose(codec.decode(enc), y)


def test_bitrate_mapping_and_errors(codec):
    used, note = codec.resolve_kbps(3.0)
    assert used == pytest.approx(3.2) and "16 quantizers" in note and "64 of 64 bits" in note
    assert codec.resolve_kbps(3.2) == (3.2, "")
    used, note = codec.resolve_kbps(6.15)  # the nearest whole-byte frame: 15 bytes = 30 codes
    assert used == pytest.approx(6.0) and "30 quantizers" in note
    with pytest.raises(UnsupportedBitrate, match="above the highest mode .9.2 kbps"):
        codec.resolve_kbps(12)
    with pytest.raises(UnsupportedBitrate, match="below the lowest mode"):
        codec.resolve_kbps(0.05)
    assert codec.bitrates().describe() == "0.4-9.2 kbps in 0.4 kbps steps"
    assert codec.operating_points() == (3.2, 6.0, 9.2)


@pytest.mark.parametrize("kbps", [0.4, 2.9, 3.0, 3.1, 5.9, 6.0, 6.15, 7.7, 9.2])
def test_both_backends_share_one_mapping(codec, kbps):
    """One kbps -> quantizers function and one measured-kbps rule for both backends (before,
    TFLite rounded and torch floored: 5.9 kbps gave 30 vs 29 codebooks)."""
    torch_codec = get_codec("soundstream", backend="torch")
    assert torch_codec.resolve_kbps(kbps) == codec.resolve_kbps(kbps)
    x = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    a, b = codec.encode(x, kbps), torch_codec.encode(x, kbps)
    assert a.info["quantizers"] == b.info["quantizers"] and [len(p) for p in a.packets] == [len(p) for p in b.packets]
    assert a.total_bits == b.total_bits


def test_availability_is_per_backend(tmp_path):
    from evalsuite.codecs.soundstream import SoundStreamCodec

    ok, why = SoundStreamCodec.availability(None, {"backend": "tflite", "model_dir": str(tmp_path)})
    assert not ok and "model files missing" in why
    ok, why = SoundStreamCodec.availability(None, {"backend": "torch", "checkpoint": str(tmp_path / "x.safetensors")})
    assert not ok and "checkpoint" in why and "not found" in why
    assert SoundStreamCodec.availability(None, {"backend": "torch"}) == (True, "ok")


def test_unknown_option_and_bad_model_dir(tmp_path):
    with pytest.raises(ValueError, match="unknown option"):
        get_codec("soundstream", bitrate=3)
    with pytest.raises(CodecUnavailable, match="model files missing"):
        get_codec("soundstream", model_dir=str(tmp_path))
