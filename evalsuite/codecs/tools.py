"""Running a codec's command-line programs (Codec 2, the EVS reference programs)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .base import CodecUnavailable


def run_tool(codec: str, cmd: list[str], timeout_s: float, install_hint: str) -> None:
    """Run ``cmd``; a missing program is CodecUnavailable (with ``install_hint``), a hang is cut
    off after ``timeout_s``, and a failure carries the program's own error text."""
    name = Path(cmd[0]).name
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout_s)
    except OSError as e:
        raise CodecUnavailable(f"{codec}: cannot run {cmd[0]} ({e}); {install_hint}") from e
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{codec}: {name} timed out after {timeout_s:g} s: {' '.join(cmd)}") from e
    if p.returncode != 0:
        err = (p.stderr.decode(errors="replace") or p.stdout.decode(errors="replace")).strip()
        raise RuntimeError(f"{codec}: {name} failed (exit {p.returncode}) running {' '.join(cmd)}: {err[-800:]}")
