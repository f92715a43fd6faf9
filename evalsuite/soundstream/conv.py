"""Causal 1-D convolutions that stream.

``CausalConv1d`` pads ``(K-1)*d + 1 - S`` zeros on the left, so ``n*S`` input samples give exactly
``n`` outputs and no output looks ahead. While streaming it keeps the last ``(K-1)*d + 1 - S``
inputs instead of padding, so feeding a signal in chunks (whole multiples of the stride) gives the
same numbers as feeding it at once.

``CausalConvTranspose1d`` upsamples by S with kernel K and keeps only the first ``T*S`` outputs
(the rest would need future frames). It works on groups of ``frames_per_call`` input steps, one
model frame each: every group is transposed-convolved on its own (bias added, optional int8
emulation, as a TFLite call on one packet does), then groups are overlap-added. Offline and
streaming run the same arithmetic, and with ``K - S <= frames_per_call * S`` each output sums at
most two terms, so chunked results equal offline results bit for bit.

Bit-exactness on CPU needs one more thing: PyTorch picks different convolution kernels by batch
size (``thnn`` im2col+GEMM for batch 1, oneDNN otherwise), and their sums round differently. In
inference (no autograd) on CPU we therefore always call oneDNN's direct convolution, whose
per-output summation order does not depend on the signal length or batch; transposed
convolutions run as their polyphase equivalent (S ordinary convolutions with K/S taps) through
the same kernel. Training uses the ordinary autograd ops.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fakequant import FakeQuant, Int8Requant
from .streaming import StreamingLayer


def _use_direct(x: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and torch.backends.mkldnn.is_available())


def conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride: int = 1, dilation: int = 1,
           groups: int = 1) -> torch.Tensor:
    """``F.conv1d`` (no padding) with a length- and batch-invariant summation order in CPU inference."""
    if _use_direct(x):
        return torch.ops.aten.mkldnn_convolution(x.unsqueeze(2).contiguous(), w.unsqueeze(2), b,
                                                 [0, 0], [1, stride], [1, dilation], groups).squeeze(2)
    return F.conv1d(x, w, b, stride, 0, dilation, groups)


def polyphase_weight(w: torch.Tensor, stride: int, groups: int) -> torch.Tensor:
    """Transposed-conv weight [C, O/g, K] -> ordinary conv weight [O*S, C/g, K/S]: phase j,
    tap i of output channel o is w[c, o, (K/S-1-i)*S + j]."""
    cin, og, k = w.shape
    m, s, g = k // stride, stride, groups
    return w.reshape(g, cin // g, og, m, s).flip(3).permute(0, 2, 4, 1, 3).reshape(g * og * s, cin // g, m).contiguous()


def conv_transpose1d(x: torch.Tensor, w: torch.Tensor, stride: int, groups: int = 1,
                     cache: dict | None = None) -> torch.Tensor:
    """``F.conv_transpose1d`` without bias or padding; output length ``(T-1)*S + K``. In CPU
    inference (and K a multiple of S) computed as S polyphase convolutions via ``conv1d``;
    ``cache`` (a dict owned by the layer) keeps the rearranged weight between calls."""
    cin, og, k = w.shape
    if not _use_direct(x) or k % stride:
        return F.conv_transpose1d(x, w, None, stride, 0, 0, groups)
    m, s, g = k // stride, stride, groups
    key = (w.data_ptr(), w._version, stride, groups)
    if cache is not None and cache.get("key") == key:
        wp = cache["w"]
    else:
        wp = polyphase_weight(w, stride, groups)
        if cache is not None:
            cache.update(key=key, w=wp)
    y = conv1d(F.pad(x, (m - 1, m - 1)), wp, None, 1, 1, g)  # [N, O*S, T+m-1]
    n, _, t = y.shape
    return y.reshape(n, g * og, s, t).transpose(2, 3).reshape(n, g * og, t * s)


class CausalConv1d(StreamingLayer):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups, bias=bias)
        self.stride = stride
        self.pad = (kernel - 1) * dilation + 1 - stride
        if self.pad < 0:
            raise ValueError(f"kernel {kernel} (dilation {dilation}) shorter than stride {stride}")
        self.out_q = FakeQuant()
        self.int8 = Int8Requant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.stride:
            raise ValueError(f"input length {x.shape[-1]} is not a multiple of the stride {self.stride}")
        if self._streaming:
            if self._state is None:
                self._state = x.new_zeros(x.shape[0], x.shape[1], self.pad)
            x = torch.cat([self._state, x], dim=-1)
            self._state = x[..., x.shape[-1] - self.pad:]
        elif self.pad:
            x = F.pad(x, (self.pad, 0))
        if self.int8.enabled:
            c = self.conv
            acc = F.conv1d(self.int8.prepare(x), self.int8.weight, self.int8.bias, c.stride, 0, c.dilation, c.groups)
            return self.int8.finish(acc)
        c = self.conv
        return self.out_q(conv1d(x, c.weight, c.bias, c.stride[0], c.dilation[0], c.groups))


class CausalConvTranspose1d(StreamingLayer):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int = 1,
                 frames_per_call: int = 1) -> None:
        super().__init__()
        if kernel < stride:
            raise ValueError(f"kernel {kernel} shorter than stride {stride}")
        if kernel - stride > frames_per_call * stride:
            raise ValueError("kernel - stride must not exceed one frame of output (frames_per_call * stride)")
        self.convt = nn.ConvTranspose1d(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.kernel, self.stride, self.r = kernel, stride, frames_per_call
        self.out_q = FakeQuant()
        self.int8 = Int8Requant()
        # what TFLite subtracts from the carried tail (its float bias; the int8 op adds the
        # dequantised int32 one); empty = ``bias``
        self.register_buffer("tail_bias", torch.zeros(0), persistent=False)
        self._wcache: dict = {}  # polyphase weight for CPU inference

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        if t % self.r:
            raise ValueError(f"input length {t} is not a multiple of {self.r} steps per frame")
        g = t // self.r
        hop = self.r * self.stride
        lg = (self.r - 1) * self.stride + self.kernel
        xg = x.reshape(b, c, g, self.r).permute(0, 2, 1, 3).reshape(b * g, c, self.r)
        bias = self.bias.view(1, -1, 1)
        if self.int8.enabled:
            ct = self.convt
            acc = F.conv_transpose1d(self.int8.prepare(xg), self.int8.weight, self.int8.bias, ct.stride, 0, 0, ct.groups)
            z = self.int8.finish(acc)
        else:
            z = conv_transpose1d(xg, self.convt.weight, self.stride, self.convt.groups, self._wcache)  # [b*g, O, lg]
        o = z.shape[1]
        quantised = self.out_q.enabled or self.int8.enabled
        if self.int8.enabled:
            tail_bias = self.tail_bias.view(1, -1, 1) if self.tail_bias.numel() else bias
            z = torch.cat([z[..., :hop], z[..., hop:] - tail_bias], dim=-1)
        elif self.out_q.enabled:
            # TFLite: q(tconv + b) per call; the carried tail has b removed (it is re-added next call)
            z = self.out_q(z + bias)
            tail_bias = self.tail_bias.view(1, -1, 1) if self.tail_bias.numel() else bias
            z = torch.cat([z[..., :hop], z[..., hop:] - tail_bias], dim=-1)
        z = z.reshape(b, g, o * lg).transpose(1, 2)
        y = F.fold(z, output_size=(1, (g - 1) * hop + lg), kernel_size=(1, lg), stride=(1, hop)).reshape(b, o, -1)
        if self._streaming and self._state is not None:
            y = torch.cat([y[..., : self._state.shape[-1]] + self._state, y[..., self._state.shape[-1]:]], dim=-1)
        if self._streaming:
            self._state = y[..., g * hop:]
        y = y[..., : g * hop]
        return y if quantised else y + bias
