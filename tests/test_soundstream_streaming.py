"""Streaming == offline, bit for bit on CPU, for both configurations built from the same modules."""
from __future__ import annotations

import pytest
import torch

from evalsuite.soundstream import SoundStream, lyra_v2_config, paper_config, tiny_config
from evalsuite.soundstream.conv import CausalConv1d, CausalConvTranspose1d
from evalsuite.soundstream.residual import ResidualUnit


def _random_model(cfg, seed=0):
    torch.manual_seed(seed)
    m = SoundStream(cfg).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.15)
    return m


def _stream(m, x, frames_per_chunk):
    hop = m.hop
    with m.streaming():
        codes, audio = [], []
        for i in range(0, x.shape[-1], frames_per_chunk * hop):
            c = m.encode(x[:, i: i + frames_per_chunk * hop])
            codes.append(c)
            audio.append(m.decode(c))
    return torch.cat(codes, -1), torch.cat(audio, -1)


CONFIGS = {
    "paper_c8": lambda: paper_config(channels=8, emb_dim=32, num_quantizers=8),
    "tiny": tiny_config,
    "lyra_v2_layout": lyra_v2_config,
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def model(request):
    return _random_model(CONFIGS[request.param]())


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_streaming_equals_offline(model, chunk):
    torch.manual_seed(1)
    x = torch.randn(2, model.hop * 23) * 0.3
    codes = model.encode(x)
    audio = model.decode(codes)
    s_codes, s_audio = _stream(model, x, chunk)
    assert torch.equal(s_codes, codes)
    assert torch.equal(s_audio, audio)  # bit-exact
    # the test could fail: the decoder output is not trivially constant
    assert audio.std() > 0


def test_state_resets_between_files(model):
    torch.manual_seed(2)
    a, b = torch.randn(1, model.hop * 5), torch.randn(1, model.hop * 5)
    _stream(model, a, 2)
    _, sb = _stream(model, b, 2)  # a fresh `with` block: nothing of `a` may leak into `b`
    assert torch.equal(sb, model.decode(model.encode(b)))


def test_encoder_latency_is_one_frame(model):
    """One frame of input yields one code frame, and codes never depend on later samples."""
    hop = model.hop
    torch.manual_seed(3)
    x = torch.randn(1, hop * 6)
    with model.streaming():
        c = model.encode(x[:, :hop])
    assert c.shape[-1] == 1
    y = x.clone()
    y[:, 3 * hop:] = torch.randn(1, 3 * hop)
    assert torch.equal(model.encode(x)[..., :3], model.encode(y)[..., :3])


def test_streaming_rejects_partial_frames():
    m = _random_model(tiny_config())
    with m.streaming(), pytest.raises(ValueError):
        m.encode(torch.zeros(1, m.hop + 5))


def test_both_configs_share_building_blocks():
    kinds = []
    for cfg in (paper_config(channels=4), lyra_v2_config()):
        m = SoundStream(cfg)
        kinds.append({type(x).__name__ for x in m.modules()})
    for needed in (CausalConv1d, CausalConvTranspose1d, ResidualUnit):
        assert all(needed.__name__ in k for k in kinds)


def test_paper_config_facts():
    cfg = paper_config()
    assert cfg.hop == 320 and cfg.frame_rate == 75
    assert cfg.kbps_per_quantizer == pytest.approx(0.75)
    assert [cfg.kbps_per_quantizer * n for n in (4, 8, 16, 24)] == pytest.approx([3, 6, 12, 18])
    m = SoundStream(cfg)
    assert m.encoder.blocks[-1].down.conv.out_channels == 16 * cfg.channels
    assert m.encoder.first.conv.kernel_size == (7,)
    assert [b.down.conv.kernel_size[0] for b in m.encoder.blocks] == [4, 8, 10, 16]  # K = 2S
