"""Google's released Lyra v2 SoundStream, loaded into the shared PyTorch modules.

Weights, biases, LeakyReLU slopes, strides, dilations and every int8 scale/zero point come from
the three ``.tflite`` files (``soundstream_encoder``, ``quantizer``, ``lyragan``); nothing is
copied by hand. The mapping is structural: the graph's compute ops (conv, depthwise conv,
LeakyReLU, residual add, transposed conv -- split-into-groups transposed convs count as one
grouped layer) appear in the same order as the layers of ``Encoder``/``Decoder`` built from
``lyra_v2_config``, and each pair is checked for kind and shape before anything is copied.

Int8 layers are emulated with ``FakeQuant`` at every tensor the graph quantises (see
``fakequant``), weights dequantised with their per-channel scales, biases with theirs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .activation import Activation
from .config import lyra_v2_config
from .conv import CausalConv1d, CausalConvTranspose1d
from .model import SoundStream
from .residual import ResidualUnit
from .tflite_graph import Op, TfliteGraph

ENCODER_FILE, QUANTIZER_FILE, DECODER_FILE = "soundstream_encoder.tflite", "quantizer.tflite", "lyragan.tflite"


class PortError(RuntimeError):
    """The model files do not have the structure this port expects."""


# --- the model's layers in graph order -----------------------------------------------------

def _unit_slots(u: ResidualUnit) -> list[tuple[str, nn.Module]]:
    return [("lrelu", u.act_a), ("dw", u.dw), ("conv", u.pw), ("lrelu", u.act_b), ("conv", u.conv_b), ("add", u)]


def encoder_slots(model: SoundStream) -> list[tuple[str, nn.Module]]:
    e = model.encoder
    out: list[tuple[str, nn.Module]] = [("conv", e.first)]
    for b in e.blocks:
        for u in b.units:
            out += _unit_slots(u)
        out += [("lrelu", b.act), ("conv", b.down)]
    return out + [("lrelu", e.act), ("conv", e.bottleneck)]


def decoder_slots(model: SoundStream) -> list[tuple[str, nn.Module]]:
    d = model.decoder
    out: list[tuple[str, nn.Module]] = [("conv", d.bottleneck)]
    for b in d.blocks:
        out += [("lrelu", b.act), ("tconv", b.up)]
        for u in b.units:
            out += _unit_slots(u)
    return out + [("lrelu", d.act), ("tconv", d.last)]


# --- the graph's compute ops in order --------------------------------------------------------

def graph_items(g: TfliteGraph) -> list[tuple[str, list[Op]]]:
    """Compute ops as (kind, [ops]); grouped transposed convs (fed by one SPLIT) are one item."""
    items: list[tuple[str, list[Op]]] = []
    split_item: dict[int, list[Op]] = {}

    def from_tconv(t: int) -> bool:
        p = g.producer.get(t)
        if p is not None and p.kind == "DEQUANTIZE":
            p = g.producer.get(p.inputs[0])
        return p is not None and p.kind == "TRANSPOSE_CONV"

    for op in g.ops:
        if op.kind == "CONV_2D":
            items.append(("conv", [op]))
        elif op.kind == "DEPTHWISE_CONV_2D":
            items.append(("dw", [op]))
        elif op.kind == "LEAKY_RELU":
            items.append(("lrelu", [op]))
        elif op.kind == "ADD" and not any(from_tconv(t) for t in op.inputs):
            items.append(("add", [op]))
        elif op.kind == "TRANSPOSE_CONV":
            src = g.producer.get(op.inputs[2])
            if src is not None and src.kind == "SPLIT":
                if src.index not in split_item:
                    split_item[src.index] = []
                    items.append(("tconv", split_item[src.index]))
                split_item[src.index].append(op)
            else:
                items.append(("tconv", [op]))
    # order each group's ops by the split output they read
    for ops in split_item.values():
        order = {t: i for i, t in enumerate(g.producer[ops[0].inputs[2]].outputs)}
        ops.sort(key=lambda o: order[o.inputs[2]])
    return items


# --- copying ---------------------------------------------------------------------------------

def _set_quant(fq, g: TfliteGraph, tensor: int) -> None:
    q = g.seen_quant(tensor)
    if q is not None:
        fq.set(q[0], q[1])


def _bias(g: TfliteGraph, op: Op, idx: int) -> np.ndarray:
    return g.tensor(op.inputs[idx]).dequantized()


def _copy(param: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(param.shape) != value.shape:
        raise PortError(f"{what}: model expects shape {tuple(param.shape)}, file has {value.shape}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _load_conv(m: CausalConv1d, g: TfliteGraph, op: Op, depthwise: bool) -> None:
    w = g.tensor(op.inputs[1]).dequantized()
    conv = m.conv
    if op.options.get("stride", 1) != conv.stride[0] or op.options.get("dilation", 1) != conv.dilation[0]:
        raise PortError(f"op {op.index}: stride/dilation {op.options} differ from the model's {conv}")
    if depthwise:  # [1, K, 1, C] -> [C, 1, K]
        w = w[0, :, 0, :].T[:, None, :]
    else:  # [O, K, 1, I/g] -> [O, I/g, K]
        w = w[:, :, 0, :].transpose(0, 2, 1)
    _copy(conv.weight, w, f"op {op.index} weight")
    _copy(conv.bias, _bias(g, op, 2), f"op {op.index} bias")
    _set_quant(m.out_q, g, op.outputs[0])
    t_in, t_w, t_b, t_out = (g.tensor(i) for i in (op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]))
    if t_in.dtype == np.int8 and t_w.dtype == np.int8:
        wi = t_w.data.astype(np.float64)
        wi = wi[0, :, 0, :].T[:, None, :] if depthwise else wi[:, :, 0, :].transpose(0, 2, 1)
        m.int8.set(float(t_in.scales[0]), wi, t_b.data, t_w.scales, t_out.scales, t_out.zero_points)


def _load_tconv(m: CausalConvTranspose1d, g: TfliteGraph, ops: list[Op]) -> None:
    ws, bs, scales, zps, tails = [], [], [], [], []
    iw, ib, iws, s_in = [], [], [], set()
    for op in ops:
        tails.append(_tail_bias(g, op))
        t_in, t_w = g.tensor(op.inputs[2]), g.tensor(op.inputs[1])
        if t_in.dtype == np.int8 and t_w.dtype == np.int8:
            s_in.add(float(t_in.scales[0]))
            iw.append(t_w.data.astype(np.float64)[:, :, 0, :].transpose(2, 0, 1))
            ib.append(g.tensor(op.inputs[3]).data)
            iws.append(np.broadcast_to(t_w.scales, (t_w.shape[0],)))
        if op.options.get("stride") != m.stride:
            raise PortError(f"op {op.index}: stride {op.options.get('stride')} differs from the model's {m.stride}")
        w = g.tensor(op.inputs[1]).dequantized()  # [Og, K, 1, Ig] -> [Ig, Og, K]
        ws.append(w[:, :, 0, :].transpose(2, 0, 1))
        bs.append(_bias(g, op, 3) if len(op.inputs) > 3 and op.inputs[3] >= 0 else np.zeros(w.shape[0], np.float32))
        q = g.seen_quant(op.outputs[0])
        if q is not None:
            scales.append(np.broadcast_to(q[0], (w.shape[0],)))
            zps.append(np.broadcast_to(q[1], (w.shape[0],)))
    _copy(m.convt.weight, np.concatenate(ws, 0), f"op {ops[0].index} weight")
    _copy(m.bias, np.concatenate(bs, 0), f"op {ops[0].index} bias")
    if scales:
        if len(scales) != len(ops):
            raise PortError(f"op {ops[0].index}: only some groups are quantised")
        m.out_q.set(np.concatenate(scales), np.concatenate(zps))
        if iw:
            if len(iw) != len(ops) or len(s_in) != 1:
                raise PortError(f"op {ops[0].index}: mixed int8/float groups")
            m.int8.set(s_in.pop(), np.concatenate(iw, 0), np.concatenate(ib), np.concatenate(iws),
                       np.concatenate(scales), np.concatenate(zps))
        if all(t is not None for t in tails):
            m.tail_bias = torch.from_numpy(np.concatenate(tails)).float()


def _tail_bias(g: TfliteGraph, op: Op) -> np.ndarray | None:
    """The constant a streaming transposed conv subtracts from its carried tail (a SUB a few
    ops downstream of its output), or None."""
    frontier = [op.outputs[0]]
    for _ in range(4):
        nxt = []
        for t in frontier:
            for c in g.consumers.get(t, []):
                if c.kind == "SUB":
                    const = [g.tensor(i) for i in c.inputs if g.tensor(i).data is not None]
                    return const[0].dequantized() if const else None
                nxt += c.outputs
        frontier = nxt
    return None


def load_graph_into(slots: list[tuple[str, nn.Module]], g: TfliteGraph, slope: float) -> int:
    items = graph_items(g)
    kinds_m, kinds_g = [k for k, _ in slots], [k for k, _ in items]
    if kinds_m != kinds_g:
        first = next((i for i, (a, b) in enumerate(zip(kinds_m, kinds_g)) if a != b), min(len(kinds_m), len(kinds_g)))
        raise PortError(f"{g.path.name}: layer sequence differs at position {first}: model {kinds_m[first:first + 4]} "
                        f"vs file {kinds_g[first:first + 4]} ({len(kinds_m)} vs {len(kinds_g)} layers)")
    quantised = 0
    for (kind, mod), (_, ops) in zip(slots, items):
        if kind in ("conv", "dw"):
            _load_conv(mod, g, ops[0], depthwise=kind == "dw")
        elif kind == "tconv":
            _load_tconv(mod, g, ops)
        elif kind == "lrelu":
            alpha = ops[0].options.get("alpha")
            if alpha is None or abs(alpha - slope) > 1e-6:
                raise PortError(f"op {ops[0].index}: LeakyReLU slope {alpha} differs from config {slope}")
            t_in, t_out = g.tensor(ops[0].inputs[0]), g.tensor(ops[0].outputs[0])
            if t_in.dtype == np.int8 and t_out.dtype == np.int8:
                mod.set_int8(float(t_in.scales[0]), int(t_in.zero_points[0]),
                             float(t_out.scales[0]), int(t_out.zero_points[0]))
            else:
                _set_quant(mod.out_q, g, ops[0].outputs[0])
        elif kind == "add":
            _set_quant(mod.add_q, g, ops[0].outputs[0])
            ins = [g.tensor(i) for i in ops[0].inputs]
            out = g.tensor(ops[0].outputs[0])
            if all(t.dtype == np.int8 for t in ins + [out]):
                # which input is the branch (a conv output) and which the skip
                p0 = g.producer.get(ops[0].inputs[0])
                br, sk = (ins[0], ins[1]) if p0 is not None and p0.kind == "CONV_2D" else (ins[1], ins[0])
                mod.set_int8_add(float(br.scales[0]), float(sk.scales[0]), float(out.scales[0]), int(out.zero_points[0]))
        quantised += any(g.tensor(t).dtype == np.int8 for op in ops for t in op.outputs)
    return quantised


def read_codebooks(g: TfliteGraph) -> np.ndarray:
    """[N_q, K, D] codebooks from the quantizer's ``decode`` signature: each GATHER reads one
    codebook at the code position selected by its index slice."""
    books: dict[int, np.ndarray] = {}
    for op in g.ops:
        if op.kind != "GATHER":
            continue
        params = g.tensor(op.inputs[0])
        sl = g.producer.get(op.inputs[1])
        if params.data is None or sl is None or sl.kind != "STRIDED_SLICE":
            raise PortError(f"{g.path.name}: unexpected GATHER op {op.index}")
        begin = g.tensor(sl.inputs[1]).data
        books[int(begin[0])] = params.dequantized()
    n = len(books)
    if sorted(books) != list(range(n)):
        raise PortError(f"{g.path.name}: codebook positions {sorted(books)} are not 0..{n - 1}")
    return np.stack([books[i] for i in range(n)])


def load_lyra_v2(model_dir: str | Path, int8: bool = True) -> SoundStream:
    """Build ``lyra_v2_config`` and fill it from the model files in ``model_dir``.
    ``int8=False`` leaves the quantised layers in float (dequantised weights, no activation
    rounding) -- useful to see what the int8 emulation buys."""
    d = Path(model_dir)
    missing = [f for f in (ENCODER_FILE, QUANTIZER_FILE, DECODER_FILE) if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError(f"Lyra v2 model files missing in {d}: {', '.join(missing)} "
                                "(github.com/google/lyra, release v1.3.2, lyra/model_coeffs)")
    cfg = lyra_v2_config()
    model = SoundStream(cfg)
    load_graph_into(encoder_slots(model), TfliteGraph(d / ENCODER_FILE), cfg.slope)
    load_graph_into(decoder_slots(model), TfliteGraph(d / DECODER_FILE), cfg.slope)
    books = read_codebooks(TfliteGraph(d / QUANTIZER_FILE, signature="decode"))
    if books.shape != (cfg.num_quantizers, cfg.codebook_size, cfg.emb_dim):
        raise PortError(f"codebooks have shape {books.shape}, config expects "
                        f"{(cfg.num_quantizers, cfg.codebook_size, cfg.emb_dim)}")
    for layer, book in zip(model.quantizer.layers, books):
        layer.codebook.copy_(torch.from_numpy(book))
        layer.initted.fill_(True)
    if not int8:
        from .fakequant import FakeQuant, Int8Requant

        for m in model.modules():
            if isinstance(m, FakeQuant):
                m.scale, m.zero_point = torch.ones(0), torch.zeros(0)
            if isinstance(m, Activation):
                m.int8 = torch.zeros(0)
            if isinstance(m, ResidualUnit):
                m.add_int8 = torch.zeros(0, dtype=torch.float64)
            if isinstance(m, Int8Requant):
                m.s_in = torch.zeros(0, dtype=torch.float64)
    return model.eval()
