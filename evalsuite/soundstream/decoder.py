"""SoundStream decoder, the encoder's mirror: bottleneck conv (D -> 16C) -> blocks of (act,
transposed conv K=2S upsampling, channels /2, 3 residual units) -> act -> last layer to one
channel (a K=7 conv in the paper; Lyra v2's is a K=64, S=16 transposed conv)."""
from __future__ import annotations

import torch
from torch import nn

from .activation import Activation
from .config import SoundStreamConfig
from .conv import CausalConv1d, CausalConvTranspose1d
from .residual import ResidualUnit


class DecoderBlock(nn.Module):
    def __init__(self, cfg: SoundStreamConfig, cin: int, cout: int, stride: int, steps_per_frame: int) -> None:
        super().__init__()
        self.act = Activation(cfg.activation, cfg.slope)
        self.up = CausalConvTranspose1d(cin, cout, 2 * stride, stride, groups=cfg.groups(cin, cout),
                                        frames_per_call=steps_per_frame)
        self.units = nn.ModuleList(
            ResidualUnit(cout, cfg.unit_kernel, d, cfg.activation, cfg.slope, cfg.separable, cfg.groups(cout, cout))
            for d in cfg.dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up(self.act(x))
        for u in self.units:
            x = u(x)
        return x


class Decoder(nn.Module):
    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        c = cfg.channels * 2 ** len(cfg.strides)
        self.bottleneck = CausalConv1d(cfg.emb_dim, c, cfg.bottleneck_kernel, groups=cfg.dec_bottleneck_groups)
        self.blocks = nn.ModuleList()
        steps = 1
        for s in reversed(cfg.strides):
            self.blocks.append(DecoderBlock(cfg, c, c // 2, s, steps))
            c //= 2
            steps *= s
        self.act = Activation(cfg.activation, cfg.slope)
        if cfg.last_stride > 1:
            self.last = CausalConvTranspose1d(c, 1, cfg.last_kernel, cfg.last_stride, frames_per_call=steps)
        else:
            self.last = CausalConv1d(c, 1, cfg.last_kernel)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> [B, 1, T * hop]."""
        x = self.bottleneck(emb)
        for b in self.blocks:
            x = b(x)
        return self.last(self.act(x))
