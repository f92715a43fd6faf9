"""Activations used by the two configurations: ELU (paper) and LeakyReLU (Lyra v2, slope 0.3).

For ported int8 LeakyReLU layers ``set_int8`` reproduces how TFLite's XNNPACK kernel computes
them: the two slopes become 8-bit fixed-point multipliers ``m = lrint(256 * slope * s_in/s_out)``
and ``q_out = floor(((q_in - z_in) * m + 128) / 256) + z_out``. That coarse multiplier differs
from exact float rounding on about 3% of values, so it matters for matching codes.
"""
from __future__ import annotations

import numpy as np
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
        self.register_buffer("int8", torch.zeros(0), persistent=False)  # s_in, z_in, s_out, z_out, m_pos, m_neg

    def set_int8(self, s_in: float, z_in: int, s_out: float, z_out: int) -> None:
        if self.kind != "leaky_relu":
            raise ValueError("int8 emulation exists for LeakyReLU only")
        ratio = np.float32(s_in) / np.float32(s_out)
        m_pos = np.rint(np.float32(256.0) * ratio)
        m_neg = np.rint(np.float32(256.0) * np.float32(self.slope) * ratio)
        self.int8 = torch.tensor([s_in, z_in, s_out, z_out, m_pos, m_neg], dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.int8.numel():
            s_in, z_in, s_out, z_out, m_pos, m_neg = self.int8.tolist()
            d = torch.round(x.double() / s_in)  # x holds (q - z_in) * s_in exactly
            acc = d * torch.where(d >= 0, m_pos, m_neg)
            q = torch.clamp(torch.floor((acc + 128) / 256) + z_out, -128, 127)
            return ((q - z_out) * s_out).to(x.dtype)
        y = F.elu(x) if self.kind == "elu" else F.leaky_relu(x, self.slope)
        return self.out_q(y)

    def extra_repr(self) -> str:
        return self.kind if self.kind == "elu" else f"{self.kind}({self.slope:g})"
