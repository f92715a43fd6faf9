"""Wall and CPU time of benchmark commands: the one measurement every benchmark script uses.

CPU is each command's whole process tree (``wait4``: the process and every descendant it
waited for, e.g. a fork server and its workers), user + system; wall runs from the start of the
first command to the end of the last.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def timed(cmds: list[list[str]], env: dict | None = None, cwd=None) -> tuple[float, float]:
    """(wall s, CPU s) of commands started together, CPU summed. A command that fails ends the
    benchmark with its last line of error output."""
    t = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:  # a file, not a pipe: a long run cannot block on it
        procs = [subprocess.Popen(c, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err) for c in cmds]
        cpu = 0.0
        for cmd, p in zip(cmds, procs):
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
            cpu += ru.ru_utime + ru.ru_stime
            if p.returncode != 0:
                err.seek(0)
                last = err.read().strip().splitlines()[-1:]
                sys.exit(f"benchmark command failed ({p.returncode}): {' '.join(cmd)}: {last}")
    return time.perf_counter() - t, cpu
