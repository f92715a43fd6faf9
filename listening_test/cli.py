"""`evalsuite mushra build|serve|report`: MUSHRA listening tests (ITU-R BS.1534-3)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
ENV_TEST_DIR = "EVALSUITE_MUSHRA_TEST"
ENV_DB_URL = "EVALSUITE_MUSHRA_DB"
ENV_ADMIN_TOKEN = "EVALSUITE_MUSHRA_ADMIN_TOKEN"


def _floats(s: str) -> list[float]:
    try:
        return [float(v) for v in s.split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from e


def _names(s: str) -> list[str]:
    return [v.strip() for v in s.split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mushra", help="MUSHRA listening tests: build a test from a run, host it, report",
                       description="MUSHRA listening tests after ITU-R BS.1534-3.")
    msub = p.add_subparsers(dest="mushra_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    b = msub.add_parser("build", help="build a test folder (config + audio) from an `evalsuite run` folder",
                        description="One trial per item: open reference, hidden reference, 3.5 kHz and 7 kHz "
                                    "low-pass anchors and the chosen codec conditions, cut to the same <= 12 s "
                                    "and loudness-aligned, as 16-bit WAV.")
    b.add_argument("run_dir", type=Path, help="run folder written by `evalsuite run` (items.csv, audio/)")
    b.add_argument("--codecs", type=_names, required=True, help="comma-separated codec names, e.g. soundstream,opus")
    b.add_argument("--kbps", type=_floats, required=True, help="comma-separated bitrates, e.g. 3,6,12")
    b.add_argument("--items", type=int, default=12, help="number of items (trials), balanced across categories (default 12)")
    b.add_argument("--item-names", type=_names, default=None, help="explicit comma-separated items instead of the balanced choice")
    b.add_argument("--max-clip-s", type=float, default=12.0, help="clip length limit in seconds (default and maximum 12)")
    b.add_argument("--clip-start", type=float, default=0.0, help="where every clip starts, seconds into the item (default 0)")
    b.add_argument("--lufs", type=float, default=-26.0, help="loudness of every signal, LUFS (default -26)")
    b.add_argument("--seed", type=int, default=0, help="seed of item choice and per-listener randomisation")
    b.add_argument("--name", default="", help="test name shown to listeners (default: folder name)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing test in the output folder")
    b.add_argument("-o", "--out", type=Path, required=True, help="output test folder")
    b.set_defaults(func=_build)

    s = msub.add_parser("serve", help="host the test in a browser (Streamlit)",
                        description=f"Starts the Streamlit app. Listeners open http://HOST:PORT/. The admin view "
                                    f"(?admin=1) needs the token in ${ENV_ADMIN_TOKEN}.")
    s.add_argument("test_dir", type=Path)
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--db", default=None, help="SQLAlchemy URL of the ratings database (default: SQLite in the test folder)")
    s.set_defaults(func=_serve)

    r = msub.add_parser("report", help="analyse the ratings: screening, means with 95%% CI, box plots, paired tests")
    r.add_argument("test_dir", type=Path)
    r.add_argument("-o", "--out", type=Path, default=None, help="output folder (default <test>/report)")
    r.add_argument("--db", default=None, help="SQLAlchemy URL, if the test was served with --db")
    r.set_defaults(func=_report)


def _build(a) -> int:
    from .build import BuildOptions, build_test

    cfg = build_test(a.run_dir, a.out, BuildOptions(
        codecs=a.codecs, kbps=a.kbps, n_items=a.items, items=a.item_names, max_clip_s=a.max_clip_s,
        clip_start_s=a.clip_start, loudness_lufs=a.lufs, seed=a.seed, name=a.name, overwrite=a.overwrite))
    for note in cfg.notes:
        if note.startswith("left out"):
            print(f"note: {note}", file=sys.stderr)
    n_sig = len(cfg.trials[0].conditions)
    cats = sorted({t.category for t in cfg.trials})
    print(f"built {a.out}: {len(cfg.trials)} trials x {n_sig} signals ({', '.join(cats)}); "
          f"serve it with: evalsuite mushra serve {a.out}")
    return 0


def streamlit_command(test_dir: Path, port: int, host: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
            "--", "--test", str(Path(test_dir).resolve())]


def _serve(a) -> int:
    from .config import load_config

    cfg = load_config(a.test_dir)  # fail here, clearly, rather than in the browser
    env = dict(os.environ, **{ENV_TEST_DIR: str(Path(a.test_dir).resolve())})
    if a.db:
        env[ENV_DB_URL] = a.db
    if not env.get(ENV_ADMIN_TOKEN):
        print(f"note: ${ENV_ADMIN_TOKEN} is not set, the admin view is disabled", file=sys.stderr)
    print(f"serving {cfg.name!r} ({len(cfg.trials)} trials) at http://{a.host}:{a.port}/", file=sys.stderr)
    cmd = streamlit_command(a.test_dir, a.port, a.host)
    sys.stdout.flush()
    sys.stderr.flush()
    # replace this process: stopping `evalsuite mushra serve` then stops the server (no orphan)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def _report(a) -> int:
    from .analysis import write_report

    files = write_report(a.test_dir, a.out, a.db)
    out = next(iter(files.values())).parent
    import pandas as pd

    scr = pd.read_csv(files["screening"])
    ex = scr[scr["excluded"]]
    print(f"report in {out}: {len(scr)} listener(s), {len(ex)} excluded by post-screening")
    for _, row in ex.iterrows():
        print(f"  excluded {row['listener']}: {row['reason']}")
    print(pd.read_csv(files["summary"])[["condition", "mean", "ci95_low", "ci95_high", "n"]].to_string(index=False))
    return 0
