"""Residual unit: act -> dilated conv -> act -> 1x1 conv, plus the input.

Paper (Zeghidour et al. 2021, Fig. 2): dilated K=7 convolution then K=1 convolution with ELU.
Lyra v2 replaces the dilated convolution by a depthwise-separable one (depthwise K=3 then a
pointwise 1x1) and uses grouped 1x1 convolutions and LeakyReLU(0.3); ``separable`` and
``groups`` select that variant.

``set_int8_add`` reproduces TFLite/XNNPACK's int8 addition for ported layers: both inputs are
rescaled by 21-bit fixed-point multipliers ``lrint(s_i/s_out * 2^shift)`` and the sum is
shifted back with rounding.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .activation import Activation
from .conv import CausalConv1d
from .fakequant import FakeQuant


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, activation: str = "elu",
                 slope: float = 0.3, separable: bool = False, groups: int = 1) -> None:
        super().__init__()
        self.act_a = Activation(activation, slope)
        if separable:
            self.dw = CausalConv1d(channels, channels, kernel, dilation=dilation, groups=channels)
            self.pw = CausalConv1d(channels, channels, 1)
        else:
            self.dw = CausalConv1d(channels, channels, kernel, dilation=dilation)
            self.pw = None
        self.act_b = Activation(activation, slope)
        self.conv_b = CausalConv1d(channels, channels, 1, groups=groups)
        self.add_q = FakeQuant()
        self.register_buffer("add_int8", torch.zeros(0, dtype=torch.float64), persistent=False)

    def set_int8_add(self, s_branch: float, s_skip: float, s_out: float, z_out: int) -> None:
        ra = np.float32(s_branch) / np.float32(s_out)
        rb = np.float32(s_skip) / np.float32(s_out)
        exponent = int(np.float32(max(ra, rb)).view(np.uint32) >> 23) - 127
        shift = 20 - exponent
        ma = float(np.rint(ra * np.float32(2.0 ** shift)))
        mb = float(np.rint(rb * np.float32(2.0 ** shift)))
        self.add_int8 = torch.tensor([s_branch, s_skip, s_out, z_out, ma, mb, shift], dtype=torch.float64)

    def _add(self, skip: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        if not self.add_int8.numel():
            return self.add_q(skip + branch)
        sa, sb, so, zo, ma, mb, shift = self.add_int8.tolist()
        qa, qb = torch.round(branch.double() / sa), torch.round(skip.double() / sb)
        acc = ma * qa + mb * qb + 2.0 ** (shift - 1)
        q = torch.clamp(torch.floor(acc / 2.0 ** shift) + zo, -128, 127)
        return ((q - zo) * so).to(skip.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.act_a(x))
        if self.pw is not None:
            y = self.pw(y)
        return self._add(x, self.conv_b(self.act_b(y)))
