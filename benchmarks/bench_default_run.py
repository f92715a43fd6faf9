"""The default run against the code issue 13 measured it on: wall and CPU of the same command,
cold, on this machine, in the same benchmark run.

Issue 13 timed `evalsuite run --codecs soundstream,opus --kbps 3,6,12` (31 items, every metric
of the time) at 237 s on its machine. This script checks that commit out beside the current code
(``git worktree``, from this clone's history), prepares the corpus for each (untimed), and then
runs the command with each, alternating, every run cold: a fresh output folder and a cache that
holds only the prepared corpus. Both compute the same metric set (the baseline's ten metric
families), so both do the same kind of work; the current code is also run once more into its
own folder (a repeat with nothing to do).

The values are compared and the agreement is printed per metric, but they are not expected to be
identical: between the two commits Opus moved to libopus 1.5, PESQ-NB scores 8 kHz input, the
mel distance works at DAC's level, SI-SDR is not applicable to codecs that rebuild the phase,
and the residual lag is measured in one band (docs/codecs.md, docs/metrics.md). That the speed
work itself changes no value is shown where it can be: bench_run.py (a plain script reproduces
every value), bench_reference_sharing.py and the test suite.

Usage (from the repository root of a git clone; about 10 minutes a pair on 2 cores):
    EVALSUITE_DATA=/path/to/shared python benchmarks/bench_default_run.py [--pairs 1] [--baseline ff2de9d]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timed import timed  # this folder's (the script's own path comes first)

REPO = Path(__file__).resolve().parents[1]
#: the last commit before the issue-13 work (its "237 s")
BASELINE = "ff2de9d"
#: the baseline's metric families (the current code has more; both compute these)
METRICS = "pesq_wb,pesq_nb,stoi,estoi,visqol_audio,visqol_speech,si_sdr,mel_distance,lsd,dnsmos"
COMMAND = ["--codecs", "soundstream,opus", "--kbps", "3,6,12", "--metrics", METRICS, "--jobs", "2", "--no-progress"]


def _evalsuite(code: Path, cache: Path, *args: str) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of one `python -m evalsuite ...` with ``code`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code), "EVALSUITE_CACHE": str(cache)}
    return timed([[sys.executable, "-m", "evalsuite", *args]], env, cwd=code)


def _cold_cache(template: Path, dest: Path) -> Path:
    """A cache holding only the prepared corpus (hard links: nothing is copied or recomputed)."""
    shutil.copytree(template, dest, copy_function=os.link)
    return dest


def _agreement(a: Path, b: Path) -> list[str]:
    import pandas as pd

    key = ["item", "codec", "requested_kbps", "metric"]
    x = pd.read_parquet(a / "results.parquet")
    y = pd.read_parquet(b / "results.parquet")
    for d in (x, y):
        d["requested_kbps"] = d["requested_kbps"].fillna(0.0)
    m = x.merge(y, on=key, suffixes=("_base", "_now"))
    out = [f"rows: baseline {len(x)}, now {len(y)}; matched {len(m)}"]
    for metric, g in m.groupby("metric"):
        ok = g[(g["status_base"] == "ok") & (g["status_now"] == "ok")]
        same = int((ok["value_base"] == ok["value_now"]).sum())
        out.append(f"  {metric:14s} ok in both {len(ok):4d}, identical {same:4d}, "
                   f"max |difference| {float((ok['value_base'] - ok['value_now']).abs().max()):.4g}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--baseline", default=BASELINE, help="the commit to compare with (default: issue 13's)")
    opt = ap.parse_args()
    if not os.environ.get("EVALSUITE_DATA"):
        sys.exit("set EVALSUITE_DATA to the shared data folder")
    with tempfile.TemporaryDirectory(prefix="bench-default-") as d:
        work = Path(d)
        base = work / "baseline"
        r = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), opt.baseline],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            sys.exit(f"cannot check out {opt.baseline} (a git clone with its history is needed): "
                     f"{r.stderr.strip().splitlines()[-1:]}")
        try:
            codes = {"baseline": base, "now": REPO}
            templates = {}
            for name, code in codes.items():  # the corpus, prepared by each code's own rules (untimed)
                templates[name] = work / f"template-{name}"
                _evalsuite(code, templates[name], "corpus")
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in codes}
            outs: dict[str, Path] = {}
            for i in range(opt.pairs):
                for name in (list(codes) if i % 2 == 0 else list(reversed(codes))):
                    cache = _cold_cache(templates[name], work / f"cache-{name}-{i}")
                    outs[name] = work / f"run-{name}-{i}"
                    res[name].append(_evalsuite(codes[name], cache, "run", *COMMAND, "--out", str(outs[name])))
                    print(f"pair {i + 1} {name:8s} wall {res[name][-1][0]:7.1f} s  cpu {res[name][-1][1]:7.1f} s",
                          file=sys.stderr)
            repeat = _evalsuite(REPO, work / f"cache-now-{opt.pairs - 1}", "run", *COMMAND, "--out", str(outs["now"]))
            print(f"command: evalsuite run {' '.join(COMMAND)}; baseline {opt.baseline}; {opt.pairs} pair(s), cold")
            for name in codes:
                print(f"{name:9s} wall {statistics.median(w for w, _ in res[name]):7.1f} s   "
                      f"cpu {statistics.median(c for _, c in res[name]):7.1f} s")
            ratio = statistics.median(b[0] / a[0] for a, b in zip(res["baseline"], res["now"]))
            cpu = statistics.median(b[1] / a[1] for a, b in zip(res["baseline"], res["now"]))
            print(f"now / baseline: wall {ratio:.3f} ({(1 - ratio) * 100:.1f}% faster), cpu {cpu:.3f}   "
                  "(goal: wall <= 0.85)")
            print(f"now, repeated with nothing to do: {repeat[0]:.2f} s")
            print("values (not expected identical; see the docstring):")
            print("\n".join(_agreement(outs["baseline"], outs["now"])))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                           capture_output=True, check=False)


if __name__ == "__main__":
    main()
