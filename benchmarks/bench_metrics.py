"""Seconds per 10-s clip for each metric, on one thread.

Usage (from the repository root):
    EVALSUITE_DATA=/path/to/shared python benchmarks/bench_metrics.py [--repeats 3] [--metrics a,b]

Material: a real speech item (LibriSpeech, 16 kHz) and a real music item (SQAM guitar, 48 kHz
stereo -> mono), each cut to 10 s and brought to 48 kHz (the run's rate), degraded by a 7 kHz
low-pass plus noise at 30 dB SNR so no metric sees a trivial identical pair. Prints, per metric
and item: the first call (model load / JIT, once per worker) and the median of the repeats.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# first: it sets one thread everywhere before numpy/torch/numba/onnxruntime are imported
from metric_material import ITEMS, RATE, SECONDS  # noqa: E402

# isort: split
import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from evalsuite.audio import lowpass, read_audio, resample, to_mono  # noqa: E402
from evalsuite.data import data_root  # noqa: E402
from evalsuite.metrics import get_metric, metric_names  # noqa: E402


def load_item(root, rel: str) -> np.ndarray:
    x, rate = read_audio(root / rel)
    x = resample(to_mono(x), rate, RATE)[: int(SECONDS * RATE)]
    if len(x) < SECONDS * RATE:
        raise SystemExit(f"{rel} is shorter than {SECONDS} s")
    return x


def degrade(x: np.ndarray) -> np.ndarray:
    y = lowpass(x, RATE, 7000)
    noise = np.random.default_rng(0).standard_normal(y.size)
    noise *= np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(noise**2) / 10 ** (30 / 10))
    return (y + noise).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per metric and item (default 3)")
    ap.add_argument("--metrics", default=",".join(metric_names()), help="comma-separated metric names")
    ap.add_argument("--data", default=None, help="data location (default: $EVALSUITE_DATA)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    root = data_root(args.data)
    pairs = {name: (ref, degrade(ref)) for name, ref in ((n, load_item(root, p)) for n, p in ITEMS.items())}

    print(f"seconds per {SECONDS:.0f}-s clip at {RATE} Hz input, 1 thread, median of {args.repeats}")
    print(f"{'metric':<14}{'item':<8}{'first call':>12}{'per clip':>10}  values")
    for name in args.metrics.split(","):
        metric = get_metric(name)
        for item, (ref, deg) in pairs.items():
            r = ref if metric.info.needs_reference else None
            t0 = time.perf_counter()
            values = metric.score(r, deg, RATE)
            first = time.perf_counter() - t0
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                metric.score(r, deg, RATE)
                times.append(time.perf_counter() - t0)
            shown = ", ".join(f"{k}={v:.3f}" for k, v in values.items())
            print(f"{name:<14}{item:<8}{first:>12.2f}{statistics.median(times):>10.3f}  {shown}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
