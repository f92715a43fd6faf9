"""Dask LocalCluster against local processes on the same grid: wall time and whole-process-tree
CPU of `evalsuite run` with ``--executor local --jobs 2`` and ``--executor dask-local --workers 2``.

Each run is a fresh `evalsuite run` process with a fresh output folder (cold: nothing to resume),
as a user runs one command; the corpus cache is warmed first. The two configurations alternate
(A B, B A, ...) so drift in the machine's load hits both alike. Prints the medians and the
ratio dask/local (median of the paired ratios); the goal is <= 1.05.

Usage (from the repository root):
    EVALSUITE_DATA=/path/to/shared python benchmarks/bench_dask_overhead.py [--items 8] [--reps 5] [--workers 2]
``--items 8`` is issue 13's small grid (8 clean-speech items x soundstream,opus @ 6 kbps x
pesq_wb, stoi, visqol_speech, si_sdr, no anchors); ``--items 16`` adds noisy speech.
``--workers 1`` compares one cluster worker with ``--jobs 1`` (the tasks in the command's own
process): on a 2-core machine the cluster's own work (scheduler, nanny, client) then has a core
to itself, which shows how much of the cost with two workers is that work competing with them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timed import timed  # this folder's (the script's own path comes first)

REPO = Path(__file__).resolve().parents[1]

CONFIGS = ("local", "dask")


def config(kind: str, workers: int) -> list[str]:
    if kind == "local":
        return ["--executor", "local", "--jobs", str(workers)]
    return ["--executor", "dask-local", "--workers", str(workers)]


def grid(items: int) -> list[str]:
    cats = "clean_speech" if items <= 12 else "clean_speech,noisy_speech"
    return ["--categories", cats, "--max-items", str(items), "--codecs", "soundstream,opus", "--kbps", "6",
            "--metrics", "pesq_wb,stoi,visqol_speech,si_sdr", "--no-anchors", "--no-progress", "--no-reuse"]


def one(kind: str, items: int, workers: int, out: Path) -> tuple[float, float]:
    """(wall s, CPU s of the whole process tree) of one fresh `evalsuite run`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return timed([[sys.executable, "-m", "evalsuite", "run", *grid(items), *config(kind, workers), "--out", str(out)]],
                 env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="--jobs / --workers of both commands (default 2)")
    args = ap.parse_args()
    n = args.workers
    if not os.environ.get("EVALSUITE_DATA"):
        sys.exit("set EVALSUITE_DATA to the shared data folder")
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as d:
        for k in CONFIGS:  # warm-up: corpus cache, page cache, JIT caches
            one(k, args.items, n, Path(d) / f"warm-{k}")
        for r in range(args.reps):
            order = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
            for k in order:
                res[k].append(one(k, args.items, n, Path(d) / f"{k}-{r}"))
                print(f"rep {r + 1} {k:5s} wall {res[k][-1][0]:6.2f} s  cpu {res[k][-1][1]:6.2f} s", file=sys.stderr)
    print(f"grid: {' '.join(grid(args.items))}; {args.reps} paired repetitions, fresh processes")
    print(f"{'executor':34s} {'wall s':>8s} {'cpu s':>8s}   (medians)")
    for k, label in (("local", f"local, --jobs {n}"), ("dask", f"dask-local, --workers {n}")):
        wall, cpu = statistics.median(w for w, _ in res[k]), statistics.median(c for _, c in res[k])
        print(f"{label:34s} {wall:8.2f} {cpu:8.2f}")
    wall = statistics.median(b[0] / a[0] for a, b in zip(res["local"], res["dask"]))
    cpu = statistics.median(b[1] / a[1] for a, b in zip(res["local"], res["dask"]))
    print(f"dask/local wall ratio (median of pairs): {wall:.3f}   cpu ratio: {cpu:.3f}   (goal: wall <= 1.05)")


if __name__ == "__main__":
    main()
