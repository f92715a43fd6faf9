"""One process writes a run folder at a time. The lock is an ``fcntl.flock`` on ``.lock`` (the
kernel releases it when the holder dies, even by SIGKILL, so a stale lock cannot block a
resume); the file names the holder so the refusal says who it is.

Shards of one run (evalsuite/shards.py) hold the run folder's lock *shared* (many shards at once,
but no unsharded run or merge meanwhile) and each its own shard lock exclusively. A shared
holder does not write its name: the shard lock names it."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path


class RunLocked(RuntimeError):
    """Another process is writing this run folder."""


class RunLock:
    def __init__(self, path: Path, shared: bool = False) -> None:
        self.path = Path(path)
        self.shared = shared
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(self.path)
            os.close(fd)
            raise RunLocked(f"{self.path.parent} is in use by {holder}; wait for it to finish or choose another --out") from None
        if self.shared:
            self._fd = fd
            return self
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(["evalsuite"] + sys.argv[1:])[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                if not self.shared:
                    os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holder(path: Path) -> str | None:
    """Who holds the lock at ``path`` (None: nobody); takes nothing."""
    try:
        fd = os.open(path, os.O_RDWR)  # write access: NFS emulates flock with fcntl locks
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return _describe(path)
    finally:
        os.close(fd)


def _describe(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:  # shared holders do not write their names
        return "another evalsuite process (running shards of this run hold it shared: see shards/*/.lock)"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} ({info.get('command')})"
