"""Activations used by the two configurations: ELU (paper) and LeakyReLU (Lyra v2, slope 0.3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fakequant import FakeQuant


class Activation(nn.Module):
    def __init__(self, kind: str = "elu", slope: float = 0.3) -> None:
        super().__init__()
        if kind not in ("elu", "leaky_relu"):
            raise ValueError(f"unknown activation {kind!r} (elu or leaky_relu)")
        self.kind, self.slope = kind, slope
        self.out_q = FakeQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.elu(x) if self.kind == "elu" else F.leaky_relu(x, self.slope)
        return self.out_q(y)

    def extra_repr(self) -> str:
        return self.kind if self.kind == "elu" else f"{self.kind}({self.slope:g})"
