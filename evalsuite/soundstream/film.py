"""FiLM conditioning (Perez et al. 2018), used by SoundStream to switch denoising on or off at the
encoder or decoder bottleneck: ``y = gamma(c) * x + beta(c)`` with ``c`` in {0, 1} per example."""
from __future__ import annotations

import torch
from torch import nn


class FiLM(nn.Module):
    def __init__(self, channels: int, num_conditions: int = 2) -> None:
        super().__init__()
        self.gamma = nn.Embedding(num_conditions, channels)
        self.beta = nn.Embedding(num_conditions, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        if condition is None:
            condition = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return self.gamma(condition).unsqueeze(-1) * x + self.beta(condition).unsqueeze(-1)
