"""Port check: the PyTorch Lyra v2 port against Google's TFLite models on real speech.

For each item and bitrate: fraction of identical codes, SNR of the PyTorch output against the
TFLite output (each decoding its own codes), and PESQ-WB (ITU-T P.862.2, ``pesq`` package) of
both against the 16 kHz input.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import read_audio, resample, to_mono
from .lyra_port import load_lyra_v2
from .lyra_reference import LyraTflite

RATES_KBPS = (3.2, 6.0, 9.2)


@dataclass
class PortRow:
    item: str
    kbps: float
    identical_codes: float
    snr_db: float
    pesq_torch: float
    pesq_tflite: float


def load_16k(path: str | Path) -> np.ndarray:
    x, sr = read_audio(path)
    if x.ndim > 1:
        x = to_mono(x)
    x = resample(x, sr, 16000).astype(np.float32)
    return x[: len(x) // 320 * 320]


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref.astype(np.float64) - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / err)


def compare_item(model, ref: LyraTflite, x: np.ndarray, kbps: float, name: str = "") -> PortRow:
    from pesq import pesq

    n = int(round(kbps / 0.2))
    c_ref = ref.codes(x, n)  # [T, 46]
    c = model.encode(torch.from_numpy(x)[None], n)[0].T.numpy()
    y_ref = ref.decode(c_ref)
    y = model.decode(torch.from_numpy(c.T.copy())[None])[0].numpy()
    same = float(np.mean(c[:, :n] == c_ref[:, :n]))
    return PortRow(name, kbps, same, snr_db(y_ref, y), float(pesq(16000, x, y, "wb")), float(pesq(16000, x, y_ref, "wb")))


def compare(model_dir: str | Path, items: list[Path], rates=RATES_KBPS) -> list[PortRow]:
    model = load_lyra_v2(model_dir)
    ref = LyraTflite(model_dir)
    rows = []
    for p in items:
        x = load_16k(p)
        for k in rates:
            rows.append(compare_item(model, ref, x, k, Path(p).name))
    return rows


def summary(rows: list[PortRow]) -> str:
    lines = [f"{'item':34s} {'kbps':>5s} {'same codes':>10s} {'SNR dB':>8s} {'PESQ torch':>10s} {'PESQ tflite':>11s}"]
    for r in rows:
        lines.append(f"{r.item:34s} {r.kbps:5.1f} {r.identical_codes:10.4f} {r.snr_db:8.1f} {r.pesq_torch:10.3f} {r.pesq_tflite:11.3f}")
    for k in sorted({r.kbps for r in rows}):
        rs = [r for r in rows if r.kbps == k]
        lines.append(f"{'MEAN':34s} {k:5.1f} {np.mean([r.identical_codes for r in rs]):10.4f} "
                     f"{np.mean([min(r.snr_db, 200) for r in rs]):8.1f} {np.mean([r.pesq_torch for r in rs]):10.3f} "
                     f"{np.mean([r.pesq_tflite for r in rs]):11.3f}")
    return "\n".join(lines)


def rows_as_dicts(rows: list[PortRow]) -> list[dict]:
    return [asdict(r) for r in rows]
