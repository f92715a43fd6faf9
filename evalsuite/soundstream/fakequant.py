"""Emulation of TFLite int8 tensors inside a float model ("fake quantisation").

Lyra v2's middle layers run in int8: every such tensor holds ``q = clamp(round(x/s) + z, -128, 127)``
and the next op sees ``(q - z) * s``. Applying that map at exactly the tensors the TFLite graph
quantises makes the float model follow the integer one to within rare 1-LSB rounding differences
(integer kernels requantise with fixed-point multipliers; we use float64-free float32 maths).
Disabled (identity) by default, so the paper configuration never pays for it.
"""
from __future__ import annotations

import torch
from torch import nn


class FakeQuant(nn.Module):
    """Per-tensor or per-channel (dim 1) affine int8 quantise-dequantise; identity until set."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(0), persistent=False)
        self.register_buffer("zero_point", torch.zeros(0), persistent=False)

    @property
    def enabled(self) -> bool:
        return self.scale.numel() > 0

    def set(self, scale, zero_point) -> None:
        s = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
        z = torch.as_tensor(zero_point, dtype=torch.float32).reshape(-1)
        self.scale = s.reshape(1, -1, 1) if s.numel() > 1 else s
        self.zero_point = z.reshape(1, -1, 1) if z.numel() > 1 else z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        v = x / self.scale
        # TFLite rounds half away from zero
        q = torch.clamp(torch.sign(v) * torch.floor(v.abs() + 0.5) + self.zero_point, -128.0, 127.0)
        return (q - self.zero_point) * self.scale

    def extra_repr(self) -> str:
        return "int8" if self.enabled else "off"
