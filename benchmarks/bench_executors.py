"""Wall time of one fixed grid with 1 and 2 local processes and a 2-worker Dask LocalCluster.

Prints parallel efficiency and Dask's overhead per task (measured with a no-op task).
Usage: EVALSUITE_DATA=../shared python benchmarks/bench_executors.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalsuite.corpus import CorpusConfig
from evalsuite.executors import ExecutorConfig, executor_factory
from evalsuite.runner import RunConfig, run

# large enough that worker start-up (imports, model loading) is a small share of the wall time
GRID = RunConfig(codecs=("opus", "soundstream"), kbps=(3.0, 6.0, 9.0),
                 metrics=("si_sdr", "stoi", "pesq_wb", "visqol_speech", "mel_distance"),
                 corpus=CorpusConfig(categories=("clean_speech", "noisy_speech"), max_items=16))


def timed(ex: ExecutorConfig, repeats: int = 1) -> tuple[list[float], int]:
    """Wall time of the grid, ``repeats`` times on the same executor (the first run pays the
    workers' start-up: imports, model loading, JIT caches)."""
    times, n = [], 0
    with tempfile.TemporaryDirectory() as d, executor_factory(ex) as factory:
        for k in range(repeats):
            t = time.perf_counter()
            s = run(GRID, Path(d) / f"run{k}", progress=False, make_executor=factory)
            times.append(time.perf_counter() - t)
            n = s.units_computed
    return times, n


def _noop(x):
    return x


def dask_overhead(n: int = 500) -> float:
    with executor_factory(ExecutorConfig(kind="dask-local", workers=2)) as factory:
        ex = factory()
        list(ex.map(_noop, range(20)))  # warm up
        t = time.perf_counter()
        list(ex.map(_noop, range(n)))
        return (time.perf_counter() - t) / n


def _in_fresh_process(kind: str) -> tuple[list[float], int]:
    """Each configuration in its own interpreter, as a user runs one command: state left in a
    process by an earlier in-process run (the serial case) must not bias the next measurement."""
    out = subprocess.run([sys.executable, __file__, "--one", kind], check=True, capture_output=True, text=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res["times"], res["units"]


CONFIGS = {
    "local1": (ExecutorConfig(kind="local", jobs=1), 1),
    "local2": (ExecutorConfig(kind="local", jobs=2), 1),
    "dask2": (ExecutorConfig(kind="dask-local", workers=2), 2),
}


def main() -> None:
    (t1,), n = _in_fresh_process("local1")
    (t2,), _ = _in_fresh_process("local2")
    (td_cold, td_warm), _ = _in_fresh_process("dask2")
    print(f"grid: {n} units (items x codecs x kbps, {len(GRID.metrics)} metrics each)")
    print(f"{'executor':34s} {'wall s':>8s} {'speed-up':>9s} {'efficiency':>10s}")
    rows = (("local, 1 process", t1, 1), ("local, 2 processes", t2, 2),
            ("dask LocalCluster, 2, first run", td_cold, 2), ("dask LocalCluster, 2, warm workers", td_warm, 2))
    for name, t, w in rows:
        print(f"{name:34s} {t:8.1f} {t1 / t:9.2f} {t1 / t / w:10.0%}")
    print(f"dask overhead per task (no-op round trip, 2 workers): {1000 * dask_overhead():.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        cfg, repeats = CONFIGS[sys.argv[2]]
        times, units = timed(cfg, repeats)
        print(json.dumps({"times": times, "units": units}))
    else:
        main()
