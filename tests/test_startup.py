"""What `evalsuite run` loads before it starts the server its worker processes fork from.

The workers' first task waits for that server, which loads numpy and scipy.signal (about 1 s);
everything the command imports before starting it delays the whole run. Parsing the command
line must not load the numeric libraries (it did: the MUSHRA subcommand's settings and the grid
module pulled in numpy through the anchors, about 0.1 s). Checked in a fresh interpreter, at the
moment the real command calls ``prestart``.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_fork_server_starts_before_numeric_libraries_load(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        import evalsuite.executors as X

        def prestart(cfg):
            heavy = sorted(m for m in ("numpy", "scipy", "pandas", "torch", "matplotlib") if m in sys.modules)
            print("kind", cfg.kind, cfg.jobs, "loaded", ",".join(heavy) or "-", flush=True)
            os._exit(0)

        X.prestart = prestart
        from evalsuite.cli import main
        main(["run", "--codecs", "soundstream,opus", "--kbps", "3,6,12", "--jobs", "2", "--out", {str(tmp_path / "run")!r}])
        print("prestart was not called", flush=True)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert p.stdout.strip() == "kind local 2 loaded -", (p.stdout, p.stderr[-2000:])
