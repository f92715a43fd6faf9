"""The soundstream codec's torch backend: the Lyra v2 port and paper-config checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalsuite.audio import read_audio
from evalsuite.codecs.base import UnsupportedBitrate
from evalsuite.codecs.soundstream import SoundStreamCodec
from evalsuite.codecs.transcode import transcode
from evalsuite.soundstream import SoundStream, paper_config
from evalsuite.soundstream.checkpoint import load_model, save_model
from tests.support.lag import lag_estimate


@pytest.fixture(scope="module")
def lyra(data_dir):
    return SoundStreamCodec(model_dir=str(data_dir / "models" / "lyra-v2"), backend="torch", checkpoint="")


def test_lyra_bitrates_and_resolution(lyra):
    assert lyra.sample_rate == 16000
    b = lyra.bitrates()
    assert (b.min_kbps, b.max_kbps, b.step_kbps) == pytest.approx((0.4, 9.2, 0.4))
    assert lyra.resolve_kbps(6.0) == (6.0, "")
    used, note = lyra.resolve_kbps(3.3)
    assert used == pytest.approx(3.2) and "16 quantizers" in note
    for bad in (0.01, 9.4, 24):
        with pytest.raises(UnsupportedBitrate):
            lyra.resolve_kbps(bad)


def test_lyra_real_bytes_and_alignment(lyra, data_dir):
    x, sr = read_audio(data_dir / "corpus" / "speech" / "lyra_sample1_48k.wav")
    t = transcode(lyra, x, sr, 6.0)
    assert all(isinstance(p, bytes) and len(p) == 15 for p in t.encoded.packets)  # 30 codes x 4 bits
    assert t.measured_kbps == pytest.approx(6.0, rel=0.02)
    assert abs(lag_estimate(x, t.audio, sr)) <= 1
    assert len(t.audio) == len(x)
    # the decoded audio resembles the input (codec, not noise)
    c = np.corrcoef(x[: len(t.audio)], t.audio)[0, 1]
    assert c > 0.5


def test_decode_uses_only_the_bytes(lyra):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    enc = lyra.encode(x, 3.2)
    flipped = bytes([enc.packets[3][0] ^ 0xFF]) + enc.packets[3][1:]
    enc2 = type(enc)(**{**enc.__dict__, "packets": enc.packets[:3] + [flipped] + enc.packets[4:]})
    assert not np.array_equal(lyra.decode(enc), lyra.decode(enc2))


def test_options_are_checked(data_dir):
    with pytest.raises(ValueError):
        SoundStreamCodec(backend="onnx")
    with pytest.raises(ValueError):
        SoundStreamCodec(checkpoint="x.safetensors")  # needs backend=torch
    with pytest.raises(ValueError):
        SoundStreamCodec(colour="blue")


@pytest.fixture(scope="module")
def paper_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = SoundStream(paper_config(channels=2, emb_dim=8, num_quantizers=8))
    for layer in m.quantizer.layers:  # give the codebooks data-like content
        layer.codebook.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_model(m, path)
    return path, m.eval()


def test_checkpoint_roundtrip(paper_ckpt):
    path, m = paper_ckpt
    assert path.with_suffix(".json").is_file()
    m2 = load_model(path)
    x = torch.randn(1, 320 * 4)
    assert torch.equal(m.decode(m.encode(x, 8)), m2.decode(m2.encode(x, 8)))


def test_paper_checkpoint_codec_packs_10_bit_codes(paper_ckpt):
    path, m = paper_ckpt
    c = SoundStreamCodec(backend="torch", checkpoint=str(path))
    assert c.sample_rate == 24000
    assert c.resolve_kbps(6.0) == (6.0, "")
    assert c.operating_points() == (3.0, 6.0)  # the paper's points up to 8 quantizers
    x = (0.1 * np.random.default_rng(1).standard_normal(24000)).astype(np.float32)
    enc = c.encode(x, 3.0)
    assert enc.info["quantizers"] == 4
    assert all(len(p) == 5 for p in enc.packets)  # 4 codes x 10 bits
    assert enc.measured_kbps == pytest.approx(3.0, abs=1e-9)
    y = c.decode(enc)
    n = len(enc.packets) * 320
    direct = m.decode(m.encode(torch.from_numpy(np.pad(x, (0, n - len(x))))[None], 4))[0].numpy()
    assert np.array_equal(y, np.clip(direct, -1, 1))  # both backends clip to full scale


def test_registry_backend_torch_matches_tflite_backend(data_dir):
    """`soundstream` with backend=torch (delegating here) against the TFLite reference backend."""
    from evalsuite.codecs import get_codec

    x, sr = read_audio(data_dir / "corpus" / "speech" / "arctic_aew_a0001.wav")
    x = x[: sr * 2]
    out = {}
    for backend in ("torch", "tflite"):
        c = get_codec("soundstream", backend=backend)
        t = transcode(c, x, sr, 6.0)
        assert abs(lag_estimate(x, t.audio, sr)) <= 1
        out[backend] = t
    assert out["torch"].measured_kbps == pytest.approx(out["tflite"].measured_kbps, rel=0.01)
    a, b = out["torch"].audio, out["tflite"].audio
    snr = 10 * np.log10(np.sum(b ** 2) / max(np.sum((a - b) ** 2), 1e-20))
    assert snr > 30
