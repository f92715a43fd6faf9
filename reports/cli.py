"""`evalsuite report`: a run (and optionally a MUSHRA test and a second run) to a notebook + HTML."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalsuite.stats_defaults import DEFAULT_B, DEFAULT_SEED

from .errors import ReportError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="comparison report: executed Jupyter notebook + HTML",
        description="Generate a comparison report for a run folder (from `evalsuite run`) as a Jupyter notebook, "
                    "execute it so every table and figure is computed from the run's results, and export a "
                    "self-contained HTML file (code hidden until asked for): key findings with their intervals and "
                    "caveats, the lead metric's figures, complexity, listening examples for every category, corpus "
                    "notes, run summary, every metric's curves with cluster-bootstrap 95% intervals, bitrate savings "
                    "and BD-rate (stated only where the data support them), items; with --mushra the listening-test "
                    "analysis (mixed model) and the agreement of each metric with listeners; with --compare a second "
                    "run side by side with paired differences. Writes OUT/NAME.ipynb and OUT/NAME.html.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder (holds results.parquet)")
    p.add_argument("--mushra", type=Path, metavar="TEST_DIR", help="MUSHRA test folder with ratings to analyse")
    p.add_argument("--compare", type=Path, metavar="RUN_DIR2", help="a second run to compare with RUN_DIR")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument("--name", help="file name stem (default: the output folder's name)")
    p.add_argument("--no-execute", action="store_true", help="only write the notebook, do not execute or export it")
    p.add_argument("--players", type=int, default=1,
                   help="items per category with embedded audio players (default 1)")
    p.add_argument("--clip-seconds", type=float, default=4.0, help="seconds of each embedded audio clip (default 4)")
    p.add_argument("--bd-method", choices=("pchip", "cubic"), default="pchip",
                   help="BD-rate fit: piecewise cubic (VCEG-AL22/JVET) or the original cubic polynomial (VCEG-M33); default pchip")
    p.add_argument("--bootstrap", type=int, default=DEFAULT_B, metavar="B",
                   help=f"bootstrap resamples for every interval (default {DEFAULT_B})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"bootstrap seed: the same seed gives the same intervals (default {DEFAULT_SEED})")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per notebook cell (default 600)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=_report)


def _report(args) -> int:
    from .notebook import ReportExecutionError, ReportSpec, generate_report

    for label, d in (("RUN_DIR", args.run_dir), ("--compare", args.compare), ("--mushra", args.mushra)):
        if d is not None and not Path(d).is_dir():
            raise ReportError(f"{label} {d}: no such folder")
    spec = ReportSpec(run_dir=args.run_dir, mushra_dir=args.mushra, compare_dir=args.compare,
                      player_items=args.players, clip_seconds=args.clip_seconds, bd_method=args.bd_method,
                      bootstrap_b=args.bootstrap, seed=args.seed)
    try:
        files = generate_report(spec, args.out, name=args.name, execute=not args.no_execute, timeout_s=args.timeout)
    except ReportExecutionError as e:
        if args.debug:
            raise
        print(f"evalsuite: error: {e}", file=sys.stderr)
        return 1
    print(files.notebook)
    if files.html:
        print(files.html)
    else:
        print("not executed (--no-execute): open the notebook in Jupyter and run all cells", file=sys.stderr)
    return 0
