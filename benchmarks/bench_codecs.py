"""Codec speed: encode and decode real-time factors on one thread over ~10 s of real speech.

    EVALSUITE_DATA=/path/to/shared python benchmarks/bench_codecs.py [--seconds 10] [--repeats 3]

RTF = processing time / audio duration (lower is faster; 0.01 = 100x faster than real time).
Resampling to the codec's rate is done before timing. Best of ``--repeats`` runs. Codecs that
are unavailable here (e.g. EVS without the 3GPP programs) are listed with the reason.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their thread pools

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from evalsuite.audio import read_audio, resample, to_mono  # noqa: E402
from evalsuite.codecs import codec_class, get_codec  # noqa: E402
from evalsuite.data import data_root, read_sources  # noqa: E402

CASES = [("soundstream", (3.2, 6.0, 9.2)), ("opus", (6.0, 12.0, 24.0, 64.0)), ("codec2", (3.2, 1.3, 0.7)),
         ("evs", (7.2, 13.2, 24.4)), ("anchor_lp35", (float("nan"),))]


def speech(seconds: float, rate: int = 48000) -> np.ndarray:
    root = data_root()
    parts, total = [], 0
    for e in read_sources(root / "corpus" / "SOURCES.csv"):
        if e.category != "clean_speech":
            continue
        x, r = read_audio(root / "corpus" / e.file)
        parts.append(resample(to_mono(x), r, rate))
        total += len(parts[-1])
        if total >= seconds * rate:
            break
    return np.concatenate(parts)[: int(seconds * rate)]


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    x48 = speech(args.seconds)
    dur = len(x48) / 48000
    print(f"{dur:.1f} s of corpus speech, 1 thread, best of {args.repeats}\n")
    print(f"{'codec':<12} {'kbps':>6} {'measured':>9} {'enc RTF':>9} {'dec RTF':>9}  note")
    for name, rates in CASES:
        ok, why = codec_class(name).availability()
        if not ok:
            print(f"{name:<12} {'-':>6} {'-':>9} {'-':>9} {'-':>9}  unavailable: {why[:90]}")
            continue
        c = get_codec(name)
        x = resample(x48, 48000, c.sample_rate)
        for kbps in rates:
            used, _ = c.resolve_kbps(kbps)
            enc = c.encode(x, used)
            t_enc = best_of(lambda: c.encode(x, used), args.repeats)
            t_dec = best_of(lambda: c.decode(enc), args.repeats)
            print(f"{name:<12} {used:>6g} {enc.measured_kbps:>9.2f} {t_enc / dur:>9.4f} {t_dec / dur:>9.4f}  "
                  f"{'' if not enc.info else ', '.join(f'{k}={v}' for k, v in enc.info.items() if k in ('bandwidth', 'mode', 'n_codebooks'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
