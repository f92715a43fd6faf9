"""Read a ``.tflite`` flatbuffer (with the ``tflite`` package): tensors with their data and int8
quantisation parameters, operators with their options, and who produces/consumes what.

Used by ``lyra_port`` to take Google's weights straight from the released model files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16, 9: np.int8}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None
    scales: np.ndarray  # empty when not quantised
    zero_points: np.ndarray
    qdim: int

    @property
    def quantized(self) -> bool:
        return self.scales.size > 0

    def dequantized(self) -> np.ndarray:
        """Constant data as float32 (int8/int32 data times its per-tensor or per-channel scale)."""
        if self.data is None:
            raise ValueError(f"tensor {self.name!r} has no constant data")
        if not self.quantized or self.dtype == np.float32:
            return self.data.astype(np.float32)
        shape = [1] * self.data.ndim
        shape[self.qdim] = -1
        s = self.scales.reshape(shape) if self.scales.size > 1 else self.scales
        z = self.zero_points.reshape(shape) if self.zero_points.size > 1 else self.zero_points
        return ((self.data.astype(np.float64) - z) * s).astype(np.float32)


@dataclass
class Op:
    index: int
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


class TfliteGraph:
    def __init__(self, path: str | Path, signature: str | None = None) -> None:
        import tflite  # the flatbuffer schema package

        self.path = Path(path)
        buf = self.path.read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        sub = 0
        if signature is not None:
            sigs = {model.SignatureDefs(i).SignatureKey().decode(): model.SignatureDefs(i).SubgraphIndex()
                    for i in range(model.SignatureDefsLength())}
            if signature not in sigs:
                raise KeyError(f"{self.path.name}: no signature {signature!r} (has {sorted(sigs)})")
            sub = sigs[signature]
        g = model.Subgraphs(sub)
        names = {getattr(tflite.BuiltinOperator, n): n for n in dir(tflite.BuiltinOperator) if not n.startswith("_")}
        self.tensors: list[Tensor] = []
        for i in range(g.TensorsLength()):
            t = g.Tensors(i)
            dtype = _DTYPES.get(t.Type(), np.uint8)
            shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            data = None
            b = model.Buffers(t.Buffer())
            if b is not None and b.DataLength() > 0:
                data = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape)
            elif b is not None and hasattr(b, "Offset") and b.Offset() > 1:
                data = np.frombuffer(buf[b.Offset(): b.Offset() + b.Size()], dtype=dtype).reshape(shape)
            q = t.Quantization()
            scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0)
            zps = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0)
            qdim = q.QuantizedDimension() if q is not None else 0
            self.tensors.append(Tensor(i, t.Name().decode(), shape, dtype, data,
                                       np.asarray(scales, np.float64), np.asarray(zps, np.int64), qdim))
        self.ops: list[Op] = []
        for i in range(g.OperatorsLength()):
            o = g.Operators(i)
            code = model.OperatorCodes(o.OpcodeIndex())
            kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
            self.ops.append(Op(i, kind, [int(v) for v in o.InputsAsNumpy()] if o.InputsLength() else [],
                               [int(v) for v in o.OutputsAsNumpy()] if o.OutputsLength() else [],
                               _options(tflite, kind, o)))
        self.producer = {t: op for op in self.ops for t in op.outputs}
        self.consumers: dict[int, list[Op]] = {}
        for op in self.ops:
            for t in op.inputs:
                self.consumers.setdefault(t, []).append(op)

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]

    def seen_quant(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Quantisation the next op sees on tensor ``i``: its own (int8) or that of a QUANTIZE
        op that consumes it; None when it stays float."""
        t = self.tensors[i]
        if t.dtype == np.int8 and t.quantized:
            return t.scales, t.zero_points
        for op in self.consumers.get(i, []):
            if op.kind == "QUANTIZE":
                o = self.tensors[op.outputs[0]]
                return o.scales, o.zero_points
        return None


def _options(tflite, kind: str, o) -> dict:
    table = o.BuiltinOptions()
    if table is None:
        return {}
    if kind == "CONV_2D":
        x = tflite.Conv2DOptions()
        x.Init(table.Bytes, table.Pos)
        return {"stride": x.StrideH(), "dilation": x.DilationHFactor(), "padding": x.Padding(), "act": x.FusedActivationFunction()}
    if kind == "DEPTHWISE_CONV_2D":
        x = tflite.DepthwiseConv2DOptions()
        x.Init(table.Bytes, table.Pos)
        return {"stride": x.StrideH(), "dilation": x.DilationHFactor(), "padding": x.Padding(), "act": x.FusedActivationFunction()}
    if kind == "TRANSPOSE_CONV":
        x = tflite.TransposeConvOptions()
        x.Init(table.Bytes, table.Pos)
        return {"stride": x.StrideH(), "padding": x.Padding(), "act": x.FusedActivationFunction()}
    if kind == "LEAKY_RELU":
        x = tflite.LeakyReluOptions()
        x.Init(table.Bytes, table.Pos)
        return {"alpha": x.Alpha()}
    if kind == "ADD":
        x = tflite.AddOptions()
        x.Init(table.Bytes, table.Pos)
        return {"act": x.FusedActivationFunction()}
    return {}
