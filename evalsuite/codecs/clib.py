"""Loading a codec's C library with ctypes (AMR, Speex, a private libopus), and its version.

A library is named either by soname (``libspeex.so.1``, found by the dynamic loader) or by a
path; a missing one is :class:`CodecUnavailable` with the install hint. The version of a
library without a version function is the Debian package that owns the file (``dpkg-query``).
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
from pathlib import Path

from .base import CodecUnavailable


def load_library(codec: str, name: str, install_hint: str) -> ctypes.CDLL:
    """Load ``name`` (soname or path); CodecUnavailable saying what to install when it fails."""
    if os.sep in name and not Path(name).expanduser().is_file():
        raise CodecUnavailable(f"{codec}: library {name} does not exist; {install_hint}")
    try:
        return ctypes.CDLL(str(Path(name).expanduser()) if os.sep in name else name)
    except OSError as e:
        raise CodecUnavailable(f"{codec}: cannot load {name} ({e}); {install_hint}") from e


def library_available(codec: str, name: str, install_hint: str, symbols: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(available, reason) for ``availability()``: the library loads and has ``symbols``."""
    try:
        lib = load_library(codec, name, install_hint)
    except CodecUnavailable as e:
        return False, str(e)
    missing = [s for s in symbols if not hasattr(lib, s)]
    if missing:
        return False, f"{codec}: {name} lacks {', '.join(missing)}; {install_hint}"
    return True, "ok"


def library_path(lib: ctypes.CDLL) -> str:
    """The file the loader actually mapped for ``lib`` (resolves a soname through /proc)."""
    return _mapped_path(lib._name)


# Both lookups below are asked for every transcode (a codec's settings and version are recorded
# with each row) and cost a /proc scan or two dpkg-query processes (about 0.1 s); their answer
# cannot change for a library this process has loaded, so each is found once per process.
@functools.cache
def _mapped_path(soname: str) -> str:
    name = Path(soname).name
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            p = line.split(maxsplit=5)[-1] if len(line.split(maxsplit=5)) == 6 else ""
            if p and Path(p).name.startswith(name):
                return p
    except OSError:
        pass
    return soname


@functools.cache
def debian_version(path: str) -> str:
    """``package version`` of the Debian package owning ``path``, or '' if none does."""
    try:
        real = str(Path(path).resolve())
        owner = subprocess.run(["dpkg-query", "-S", real], capture_output=True, text=True, timeout=10)
        if owner.returncode != 0:
            # usrmerge: /lib/x86_64-linux-gnu vs /usr/lib/x86_64-linux-gnu
            alt = real[4:] if real.startswith("/usr/") else "/usr" + real
            owner = subprocess.run(["dpkg-query", "-S", alt], capture_output=True, text=True, timeout=10)
        if owner.returncode != 0:
            return ""
        pkg = owner.stdout.split(":", 2)
        pkg = ":".join(pkg[:2]) if len(pkg) > 2 and not pkg[1].startswith(" ") else pkg[0]
        ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, timeout=10)
        return f"{pkg.split(':')[0]} {ver.stdout.strip()}" if ver.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""
