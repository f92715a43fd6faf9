"""Residual VQ: EMA codebooks, k-means init, relative dead-code replacement, straight-through
gradient with per-layer detached residual, per-example quantiser dropout; bit packing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalsuite.soundstream.bitpack import pack, packet_bytes, unpack
from evalsuite.soundstream.rvq import ResidualVQ, VectorQuantizer, kmeans


def test_more_quantizers_reduce_error():
    torch.manual_seed(0)
    rvq = ResidualVQ(8, 6, 32).train()
    z = torch.randn(4, 8, 50)
    for _ in range(20):
        rvq(z)
    rvq.eval()
    errs = [float(((rvq.decode(rvq.encode(z, n)) - z) ** 2).mean()) for n in range(1, 7)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 0.5 * errs[0]


def test_per_example_dropout_codes():
    torch.manual_seed(1)
    rvq = ResidualVQ(4, 5, 16).train()
    z = torch.randn(3, 4, 10)
    _, codes, _ = rvq(z, torch.tensor([1, 3, 5]))
    assert (codes[0, 1:] == -1).all() and (codes[0, 0] >= 0).all()
    assert (codes[1, 3:] == -1).all() and (codes[1, :3] >= 0).all()
    assert (codes[2] >= 0).all()


def test_straight_through_gradient_reaches_encoder():
    rvq = ResidualVQ(4, 3, 8).train()
    z = torch.randn(2, 4, 6, requires_grad=True)
    zq, _, commit = rvq(z)
    (zq.sum() + commit).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_kmeans_init_and_ema_follow_data():
    torch.manual_seed(2)
    centers = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [0.0, -6.0]])
    x = centers[torch.randint(3, (300,))] + 0.1 * torch.randn(300, 2)
    vq = VectorQuantizer(2, 3)
    vq.update(x, vq.encode(x))  # first call: k-means initialisation
    found = vq.codebook[vq.codebook[:, 0].argsort()]
    assert torch.allclose(found, centers[centers[:, 0].argsort()], atol=0.3)
    km = kmeans(x, 3)
    assert torch.allclose(km[km[:, 0].argsort()], found, atol=0.3)


def test_dead_codes_replaced_relative_to_mean_usage():
    torch.manual_seed(3)
    vq = VectorQuantizer(2, 8, dead_ratio=0.1)
    x = torch.randn(64, 2)
    vq.update(x, vq.encode(x))
    vq.codebook[0] = torch.tensor([100.0, 100.0])  # a code nobody uses
    vq.embed_sum[0] = vq.codebook[0]
    for _ in range(300):
        vq.update(x, vq.encode(x))
    assert vq.codebook.abs().max() < 10  # it was replaced by a data vector
    # a small batch does not wipe the codebook (absolute threshold 2 would)
    before = vq.codebook.clone()
    small = x[:4]
    vq.update(small, vq.encode(small))
    assert (vq.codebook != before).any(dim=1).sum() < 8


@pytest.mark.parametrize("bits,n", [(4, 16), (4, 30), (4, 46), (10, 4), (10, 1), (10, 24)])
def test_bitpack_roundtrip(bits, n):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1 << bits, (7, n))
    packets = pack(codes, bits)
    assert all(len(p) == packet_bytes(n, bits) for p in packets)
    assert (unpack(packets, n, bits) == codes).all()


def test_bitpack_sizes_match_lyra_packets():
    assert [packet_bytes(n, 4) for n in (16, 30, 46)] == [8, 15, 23]
    assert packet_bytes(4, 10) == 5
    with pytest.raises(ValueError):
        pack(np.array([[16]]), 4)
