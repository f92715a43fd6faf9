"""SoundStream's training losses (Sec. 3.5).

- ``hinge_d`` / ``hinge_g``: hinge adversarial losses, averaged over time and discriminators.
- ``feature_matching``: mean L1 distance between the discriminators' feature maps for the real
  and the decoded signal (weight 100 in the paper).
- ``MultiScaleMel``: multi-scale spectral reconstruction loss: for windows s = 2^6 ... 2^11 (hop
  s/4, 64 mel bands) the L1 distance of mel spectrograms plus alpha_s = sqrt(s/2) times the L2
  distance of their logarithms (per frame).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def hinge_d(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    loss = 0.0
    for r, f in zip(real, fake):
        loss = loss + F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean()
    return loss / len(real)


def hinge_g(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(F.relu(1 - f[-1]).mean() for f in fake) / len(fake)


def feature_matching(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    terms = [F.l1_loss(f, r.detach()) for rs, fs in zip(real, fake) for r, f in zip(rs[:-1], fs[:-1])]
    return sum(terms) / len(terms)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters (HTK mel scale), [n_mels, n_fft // 2 + 1]."""
    fmax = fmax or sample_rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    imel = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    pts = imel(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.maximum(0, np.minimum((freqs - lo) / max(c - lo, 1e-9), (hi - freqs) / max(hi - c, 1e-9)))
    return fb.astype(np.float32)


class MultiScaleMel(nn.Module):
    def __init__(self, sample_rate: int, scales: tuple[int, ...] = tuple(2 ** i for i in range(6, 12)),
                 n_mels: int = 64, eps: float = 1e-5) -> None:
        super().__init__()
        self.scales, self.eps = scales, eps
        for s in scales:
            self.register_buffer(f"fb{s}", torch.from_numpy(mel_filterbank(sample_rate, s, min(n_mels, s // 2))),
                                 persistent=False)
            self.register_buffer(f"win{s}", torch.hann_window(s), persistent=False)

    def mel(self, x: torch.Tensor, s: int) -> torch.Tensor:
        spec = torch.stft(x, s, s // 4, window=getattr(self, f"win{s}"), return_complex=True).abs()
        return getattr(self, f"fb{s}") @ spec  # [B, mels, T]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
        loss = 0.0
        for s in self.scales:
            mx, my = self.mel(x, s), self.mel(y, s)
            l1 = (mx - my).abs().sum(1).mean()
            l2 = ((torch.log(mx + self.eps) - torch.log(my + self.eps)) ** 2).sum(1).clamp(min=1e-12).sqrt().mean()
            loss = loss + l1 + math.sqrt(s / 2) * l2
        return loss / len(self.scales)
