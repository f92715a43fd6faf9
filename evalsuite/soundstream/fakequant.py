"""Emulation of TFLite int8 tensors inside a float model ("fake quantisation").

Lyra v2's middle layers run in int8: every such tensor holds ``q = clamp(round(x/s) + z, -128, 127)``
and the next op sees ``(q - z) * s``. Applying that map at the float->int8 boundaries of the TFLite
graph (its QUANTIZE ops) reproduces them; layers whose inputs and weights are both int8 use
``Int8Requant`` (and the LeakyReLU/add emulations in ``activation``/``residual``), which follow
the integer kernels exactly.
Disabled (identity) by default, so the paper configuration never pays for it.
"""
from __future__ import annotations

import numpy as np
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
        # copies: the parameters may come from read-only (memory-mapped) arrays
        s = torch.tensor(np.array(scale, dtype=np.float32)).reshape(-1)
        z = torch.tensor(np.array(zero_point, dtype=np.float32)).reshape(-1)
        self.scale = s.reshape(1, -1, 1) if s.numel() > 1 else s
        self.zero_point = z.reshape(1, -1, 1) if z.numel() > 1 else z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        # as XNNPACK's float->int8 convert: multiply by the float32 reciprocal, round half to even
        v = x * (1.0 / self.scale)
        q = torch.clamp(torch.round(v) + self.zero_point, -128.0, 127.0)
        return (q - self.zero_point) * self.scale

    def extra_repr(self) -> str:
        return "int8" if self.enabled else "off"


class Int8Requant(nn.Module):
    """Integer arithmetic of a TFLite int8 conv-like layer (as XNNPACK runs it).

    Holds int8 weights, int32 bias and the per-channel requantisation scale
    ``s_in * s_w / s_out`` (float32). ``prepare`` turns the float input (which holds
    ``(q - z_in) * s_in`` exactly) into integers; the layer convolves those with the integer
    weights in float64 (exact: every partial sum is an integer far below 2^53); ``finish``
    requantises like XNNPACK's fp32 path -- ``rint(float32(acc) * scale) + z_out``, clamped to
    int8 -- and returns the dequantised float.
    """

    def __init__(self) -> None:
        super().__init__()
        for name in ("s_in", "weight", "bias", "scale", "s_out", "z_out"):
            self.register_buffer(name, torch.zeros(0, dtype=torch.float64), persistent=False)

    @property
    def enabled(self) -> bool:
        return self.s_in.numel() > 0

    def set(self, s_in: float, weight_int, bias_int, w_scales, s_out, z_out) -> None:
        import numpy as np

        n = np.asarray(bias_int).shape[0]
        s_out = np.broadcast_to(np.asarray(s_out, np.float32).reshape(-1), (n,))
        sc = (np.float32(s_in) * np.broadcast_to(np.asarray(w_scales, np.float32).reshape(-1), (n,))) / s_out
        self.s_in = torch.tensor([s_in], dtype=torch.float64)
        self.weight = torch.from_numpy(np.array(weight_int, dtype=np.float64))
        self.bias = torch.from_numpy(np.array(bias_int, dtype=np.float64))
        self.scale = torch.from_numpy(np.ascontiguousarray(sc.astype(np.float32))).view(1, -1, 1)
        self.s_out = torch.from_numpy(s_out.copy()).view(1, -1, 1)
        self.z_out = torch.as_tensor(np.broadcast_to(np.asarray(z_out, np.float32).reshape(-1), (n,)).copy()).view(1, -1, 1)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x.double() / self.s_in)

    def finish(self, acc: torch.Tensor) -> torch.Tensor:
        q = torch.clamp(torch.round(acc.float() * self.scale) + self.z_out, -128, 127)
        return (q - self.z_out) * self.s_out
