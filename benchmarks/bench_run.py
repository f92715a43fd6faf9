"""What the run engine costs beyond the work, as ratios against baselines measured in the same run.

Grid (issue 13's): 8 clean speech items x soundstream,opus @ 6 kbps x pesq_wb, stoi,
visqol_speech, si_sdr, no anchors. Every command runs as a fresh process; CPU is the process's
user+system time (children included), wall its elapsed time; pairs run alternately (A B A B ...)
so a drifting machine affects both; the median of the pair ratios is quoted.

1. engine vs plain script, one worker: `evalsuite run --jobs 1` / benchmarks/plain_script.py
   (same codec classes and metric packages, same prepared items; values checked equal first).
2. second worker: wall of `--jobs 1` / `--jobs 2`, beside the plain script as 1 vs 2 processes.
3. no-op resume: the same command on a finished folder, wall (and as a share of the cold run).
4. cross-run reuse: a run with one more codec (amr_nb, at the grid's 6 kbps: its 5.9 mode) after the
   grid ran, into the same folder and into a new one, CPU against the same command cold
   (--no-reuse), and the new codec's own work alone (the plain script on amr_nb@6).

    EVALSUITE_DATA=../shared python benchmarks/bench_run.py [--pairs 5] [--json out.json] [--sections 1,2,3,4]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timed import timed  # this folder's (the script's own path comes first)

HERE = Path(__file__).resolve().parent
GRID = ["--categories", "clean_speech", "--max-items", "8", "--codecs", "soundstream,opus", "--kbps", "6",
        "--metrics", "pesq_wb,stoi,visqol_speech,si_sdr", "--no-anchors", "--no-progress"]
CONDS, METRICS = "soundstream@6,opus@6", "pesq_wb,stoi,visqol_speech,si_sdr"
NEW_CODEC = "amr_nb"  # the codec added in figure 4 (6 kbps request: its 5.9 mode)


def evalsuite(*args: str) -> list[str]:
    return [sys.executable, "-m", "evalsuite", "run", *args]


def plain(run_dir: Path, workers: int = 1, k: int = 0, conds: str = CONDS) -> list[str]:
    return [sys.executable, str(HERE / "plain_script.py"), str(run_dir), conds, METRICS, "--workers", str(workers),
            "--worker", str(k)]


def pairs(a, b, n: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return [(a(i), b(i)) for i in range(n)]


def med(xs) -> float:
    return statistics.median(xs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sections", default="1,2,3,4", help="which figures to measure (default: all)")
    opt = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_run_"))
    env = {**os.environ, "EVALSUITE_CACHE": str(work / "cache")}
    res: dict = {}
    try:
        # the corpus prepared once (every command below finds it in the cache), values checked
        ref = work / "ref"
        timed([evalsuite(*GRID, "--jobs", "1", "--no-reuse", "--out", str(ref))], env)
        import pandas as pd

        out = subprocess.run(plain(ref), env=env, capture_output=True, text=True, check=True).stdout
        vals = json.loads(out)
        df = pd.read_parquet(ref / "results.parquet")
        ok = df[df.status == "ok"]
        table = {f"{r.item}|{r.condition}|{r.metric}": r.value for r in ok.itertuples()}
        same = set(vals) == set(table) and all(vals[k] == table[k] for k in vals)
        res["values_identical"] = bool(same)
        res["values_compared"] = len(vals)
        print(f"plain script reproduces the run's values exactly: {same} ({len(vals)} values)")

        n = opt.pairs
        sections = set(opt.sections.split(","))
        runs = iter(range(10**6))
        # 1. one worker
        if "1" in sections or "3" in sections:
            p1 = pairs(lambda i: timed([evalsuite(*GRID, "--jobs", "1", "--no-reuse", "--out",
                                                  str(work / f"j1_{next(runs)}"))], env),
                       lambda i: timed([plain(ref)], env), n)
            res["engine_vs_plain_cpu"] = med([a[1] / b[1] for a, b in p1])
            res["engine_vs_plain_wall"] = med([a[0] / b[0] for a, b in p1])
            res["engine_cpu_s"], res["plain_cpu_s"] = med([a[1] for a, _ in p1]), med([b[1] for _, b in p1])
        # 2. a second worker, beside the plain script as two processes
        if "2" in sections:
            p2 = pairs(lambda i: timed([evalsuite(*GRID, "--jobs", "1", "--no-reuse", "--out",
                                                  str(work / f"s1_{next(runs)}"))], env),
                       lambda i: timed([evalsuite(*GRID, "--jobs", "2", "--no-reuse", "--out",
                                                  str(work / f"s2_{next(runs)}"))], env), n)
            res["speedup_jobs2"] = med([a[0] / b[0] for a, b in p2])
            p3 = pairs(lambda i: timed([plain(ref)], env),
                       lambda i: timed([plain(ref, 2, 0), plain(ref, 2, 1)], env), n)
            res["speedup_plain_2_processes"] = med([a[0] / b[0] for a, b in p3])
        # 3. no-op resume
        if "3" in sections:
            noop = [timed([evalsuite(*GRID, "--jobs", "1", "--out", str(ref))], env) for _ in range(n)]
            res["noop_resume_wall_s"] = med([w for w, _ in noop])
            res["noop_resume_share_of_cold"] = res["noop_resume_wall_s"] / med([a[0] for a, _ in p1])
        # 4. one more codec after the grid: only the new codec is paid for
        if "4" in sections:
            more = list(GRID)
            more[more.index("--codecs") + 1] = "soundstream,opus," + NEW_CODEC

            def first(i, cache):
                shutil.copytree(work / "cache" / "prepared", cache / "prepared")
                e = {**env, "EVALSUITE_CACHE": str(cache)}
                timed([evalsuite(*GRID, "--jobs", "1", "--out", str(work / f"r_first_{i}"))], e)
                return e

            def into_new_folder(i):
                e = first(i, work / f"cache_r{i}")
                return timed([evalsuite(*more, "--jobs", "1", "--out", str(work / f"r_more_{i}"))], e)

            def into_same_folder(i):
                e = first(i + 1000, work / f"cache_s{i}")
                return timed([evalsuite(*more, "--jobs", "1", "--out", str(work / f"r_first_{i + 1000}"))], e)

            cold = lambda i: timed([evalsuite(*more, "--jobs", "1", "--no-reuse", "--out",  # noqa: E731
                                              str(work / f"r_cold_{next(runs)}"))], env)  # a new folder each time
            p4 = pairs(into_new_folder, cold, n)
            p5 = pairs(into_same_folder, cold, n)
            new_only = [timed([plain(ref, conds=f"{NEW_CODEC}@6")], env) for _ in range(n)]
            res["one_more_codec_new_folder_vs_cold_cpu"] = med([a[1] / b[1] for a, b in p4])
            res["one_more_codec_same_folder_vs_cold_cpu"] = med([a[1] / b[1] for a, b in p5])
            res["one_more_codec_new_folder_cpu_s"] = med([a[1] for a, _ in p4])
            res["one_more_codec_same_folder_cpu_s"] = med([a[1] for a, _ in p5])
            res["new_codec_alone_plain_cpu_s"] = med([w[1] for w in new_only])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'figure':45s} {'value':>8s}   goal")
    for k, goal in [("engine_vs_plain_cpu", "<= 1.10"), ("engine_vs_plain_wall", ""), ("speedup_jobs2", ">= 1.7"),
                    ("speedup_plain_2_processes", "(baseline)"), ("noop_resume_wall_s", "<= 2 s"),
                    ("noop_resume_share_of_cold", ""), ("one_more_codec_new_folder_vs_cold_cpu", ""),
                    ("one_more_codec_same_folder_vs_cold_cpu", ""), ("one_more_codec_new_folder_cpu_s", ""),
                    ("one_more_codec_same_folder_cpu_s", ""), ("new_codec_alone_plain_cpu_s", "(baseline)"),
                    ("engine_cpu_s", ""), ("plain_cpu_s", "")]:
        if k in res:
            print(f"{k:45s} {res[k]:8.3f}   {goal}")
    if opt.json:
        opt.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
