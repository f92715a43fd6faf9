"""Residual unit: act -> dilated conv -> act -> 1x1 conv, plus the input.

Paper (Zeghidour et al. 2021, Fig. 2): dilated K=7 convolution then K=1 convolution with ELU.
Lyra v2 replaces the dilated convolution by a depthwise-separable one (depthwise K=3 then a
pointwise 1x1) and uses grouped 1x1 convolutions and LeakyReLU(0.3); ``separable`` and
``groups`` select that variant.
"""
from __future__ import annotations

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.act_a(x))
        if self.pw is not None:
            y = self.pw(y)
        return self.add_q(x + self.conv_b(self.act_b(y)))
