"""A fingerprint of the code that produces a result: part of every result key, so a changed
codec or metric implementation never serves values computed by the old one, whether or not its
version string was bumped."""
from __future__ import annotations

import hashlib
import inspect
import sys
from functools import lru_cache
from pathlib import Path


def _file_digest(path: str) -> str:
    try:
        st = Path(path).stat()
    except OSError:
        return "unreadable"
    return _digest(path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=512)
def _digest(path: str, size: int, mtime_ns: int) -> str:  # size and time: an edited file is read again
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def code_fingerprint(cls: type, *modules: str) -> str:
    """sha256 over the source files of ``cls``, its base classes, and ``modules``."""
    files = set()
    for c in inspect.getmro(cls):
        mod = sys.modules.get(c.__module__)
        f = getattr(mod, "__file__", None)
        if f and not c.__module__.startswith("builtins") and c is not object:
            files.add(f)
    for m in modules:
        f = getattr(sys.modules.get(m) or __import__(m, fromlist=["_"]), "__file__", None)
        if f:
            files.add(f)
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f"{Path(f).name}:{_file_digest(f)}\n".encode())
    return h.hexdigest()[:16]
