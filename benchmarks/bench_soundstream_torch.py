"""Real-time factor of SoundStream in PyTorch on one CPU thread (encode + decode).

RTF here = seconds of audio processed per second of compute (higher is faster; > 1 is faster
than real time; the paper reports 2.3-2.4x for C=32 on one Pixel 4 thread). Modes:
- offline: a whole 10 s signal in one call;
- streaming: one frame per call inside ``model.streaming()`` (what a live codec does).
Models: paper config at C=32/16/8 (D=128, 24 quantisers; random weights: speed does not depend
on training) at 6 kbps, the Lyra v2 port at 6 kbps, and Google's TFLite Lyra v2 (frame by frame,
one thread) as the reference. ``--no-tflite`` / ``--quick`` available.

Usage: EVALSUITE_DATA=../shared python benchmarks/bench_soundstream_torch.py
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def _rtf(fn, seconds: float, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return seconds / best


def bench_model(model, n_q: int, seconds: float, stream_seconds: float, repeats: int) -> tuple[float, float]:
    sr, hop = model.cfg.sample_rate, model.hop
    rng = np.random.default_rng(0)
    x = torch.from_numpy((0.1 * rng.standard_normal(int(seconds * sr) // hop * hop)).astype(np.float32))[None]
    xs = x[:, : int(stream_seconds * sr) // hop * hop]

    def offline():
        model.decode(model.encode(x, n_q))

    def streaming():
        with model.streaming():
            for i in range(0, xs.shape[-1], hop):
                model.decode(model.encode(xs[:, i: i + hop], n_q))

    return _rtf(offline, x.shape[-1] / sr, repeats), _rtf(streaming, xs.shape[-1] / sr, repeats)


def bench_tflite(model_dir, seconds: float, repeats: int) -> float:
    from evalsuite.soundstream.lyra_reference import LyraTflite

    ref = LyraTflite(model_dir, num_threads=1)
    x = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000) // 320 * 320)).astype(np.float32)
    return _rtf(lambda: ref.decode(ref.codes(x, 30)), len(x) / 16000, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--stream-seconds", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-tflite", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2 s signals, 1 repeat")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.stream_seconds, a.repeats = 2.0, 1.0, 1
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    from evalsuite.soundstream import SoundStream, paper_config

    print(f"one CPU thread; torch {torch.__version__}; RTF = audio seconds per compute second (higher is faster)")
    print(f"{'model':28s} {'kbps':>5s} {'offline RTF':>12s} {'streaming RTF (1 frame/call)':>30s}")
    for c in (32, 16, 8):
        torch.manual_seed(0)
        m = SoundStream(paper_config(channels=c)).eval()
        off, st = bench_model(m, 8, a.seconds, a.stream_seconds, a.repeats)
        print(f"{'paper C=%d (24 kHz)' % c:28s} {6.0:5.1f} {off:12.2f} {st:30.2f}", flush=True)
    data = os.environ.get("EVALSUITE_DATA")
    if data:
        from pathlib import Path

        from evalsuite.data import lyra_model_dir
        from evalsuite.soundstream.lyra_port import load_lyra_v2

        md = lyra_model_dir(Path(data))
        m = load_lyra_v2(md)
        off, st = bench_model(m, 30, a.seconds, a.stream_seconds, a.repeats)
        print(f"{'Lyra v2 port, int8 emul.':28s} {6.0:5.1f} {off:12.2f} {st:30.2f}", flush=True)
        m = load_lyra_v2(md, int8=False)
        off, st = bench_model(m, 30, a.seconds, a.stream_seconds, a.repeats)
        print(f"{'Lyra v2 port, float':28s} {6.0:5.1f} {off:12.2f} {st:30.2f}", flush=True)
        if not a.no_tflite:
            r = bench_tflite(md, a.stream_seconds, a.repeats)
            print(f"{'Lyra v2 TFLite (reference)':28s} {6.0:5.1f} {'-':>12s} {r:30.2f}")
    else:
        print("(set EVALSUITE_DATA to include the Lyra v2 port and the TFLite reference)")


if __name__ == "__main__":
    main()
