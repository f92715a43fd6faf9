"""SoundStream encoder: first conv -> blocks of (3 residual units, act, strided conv K=2S,
channels x2) -> act -> bottleneck conv to the embedding dimension D. Fully causal: one frame of
``hop`` samples in gives one embedding out (latency = one frame)."""
from __future__ import annotations

import torch
from torch import nn

from .activation import Activation
from .config import SoundStreamConfig
from .conv import CausalConv1d
from .residual import ResidualUnit


class EncoderBlock(nn.Module):
    def __init__(self, cfg: SoundStreamConfig, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(
            ResidualUnit(cin, cfg.unit_kernel, d, cfg.activation, cfg.slope, cfg.separable, cfg.groups(cin, cin))
            for d in cfg.dilations
        )
        self.act = Activation(cfg.activation, cfg.slope)
        self.down = CausalConv1d(cin, cout, 2 * stride, stride=stride, groups=cfg.groups(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for u in self.units:
            x = u(x)
        return self.down(self.act(x))


class Encoder(nn.Module):
    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.first = CausalConv1d(1, c, cfg.first_kernel, stride=cfg.first_stride)
        self.blocks = nn.ModuleList()
        for s in cfg.strides:
            self.blocks.append(EncoderBlock(cfg, c, 2 * c, s))
            c *= 2
        self.act = Activation(cfg.activation, cfg.slope)
        self.bottleneck = CausalConv1d(c, cfg.emb_dim, cfg.bottleneck_kernel, groups=cfg.enc_bottleneck_groups)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, 1, L] (L a multiple of the hop) -> [B, D, L / hop]."""
        x = self.first(audio)
        for b in self.blocks:
            x = b(x)
        return self.bottleneck(self.act(x))
