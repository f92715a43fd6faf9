"""SoundStream's discriminators (Sec. 3.4).

``WaveDiscriminator``: MelGAN-style multi-resolution waveform discriminator, applied to the
signal at 3 scales (original, 2x and 4x down-sampled). ``STFTDiscriminator``: 2-D residual
network on the complex STFT (window 1024, hop 256; real and imaginary parts as two channels),
down-sampling alternately time and frequency, giving one logit per time step. Both return, per
sub-discriminator, the list of intermediate feature maps whose last entry is the logits (used by
the feature-matching loss).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _WaveScale(nn.Module):
    def __init__(self, channels: int = 16, max_channels: int = 1024, groups: int = 4, n_down: int = 4) -> None:
        super().__init__()
        layers = [nn.Conv1d(1, channels, 15, padding=7)]
        c = channels
        for _ in range(n_down):
            nc = min(c * 4, max_channels)
            layers.append(nn.Conv1d(c, nc, 41, stride=4, padding=20, groups=min(groups * c // channels, c)))
            c = nc
        layers.append(nn.Conv1d(c, c, 5, padding=2))
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv1d(c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            feats.append(x)
        feats.append(self.out(x))
        return feats


class WaveDiscriminator(nn.Module):
    def __init__(self, scales: int = 3, channels: int = 16, max_channels: int = 1024) -> None:
        super().__init__()
        self.discs = nn.ModuleList(_WaveScale(channels, max_channels) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.discs):
            if i:
                x = F.avg_pool1d(x, 4, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


class _ResBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: tuple[int, int]) -> None:
        super().__init__()
        st, sf = stride
        self.conv1 = nn.Conv2d(cin, cin, 3, padding=1)
        self.conv2 = nn.Conv2d(cin, cout, (st + 2, sf + 2), stride=stride, padding=(1, 1))
        self.skip = nn.Conv2d(cin, cout, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.elu(self.conv1(x)))
        s = self.skip(x)
        t, f = min(y.shape[2], s.shape[2]), min(y.shape[3], s.shape[3])
        return F.elu(y[:, :, :t, :f] + s[:, :, :t, :f])


class STFTDiscriminator(nn.Module):
    def __init__(self, channels: int = 32, window: int = 1024, hop: int = 256) -> None:
        super().__init__()
        self.window, self.hop = window, hop
        self.register_buffer("win", torch.hann_window(window), persistent=False)
        c = channels
        self.first = nn.Conv2d(2, c, 7, padding=3)
        plan = [(c, 2 * c, (1, 2)), (2 * c, 2 * c, (2, 2)), (2 * c, 4 * c, (1, 2)),
                (4 * c, 4 * c, (2, 2)), (4 * c, 8 * c, (1, 2)), (8 * c, 8 * c, (2, 2))]
        self.blocks = nn.ModuleList(_ResBlock2d(a, b, s) for a, b, s in plan)
        self.out = nn.Conv2d(8 * c, 1, 1)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        spec = torch.stft(x.squeeze(1), self.window, self.hop, window=self.win, return_complex=True)
        h = torch.stack([spec.real, spec.imag], 1).transpose(2, 3)  # [B, 2, T, F]
        feats = [self.first(h)]
        h = feats[0]
        for b in self.blocks:
            h = b(h)
            feats.append(h)
        logits = self.out(h).mean(-1)  # one logit per time step (frequency pooled)
        feats.append(logits)
        return [feats]
