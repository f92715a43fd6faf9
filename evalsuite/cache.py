"""The content-addressed cache shared by runs: prepared items (keyed on source content and
preparation settings) and reusable results. Everything in it is keyed on content hashes and
versions, so a stale entry can never be served: a changed input has another key."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .fsutil import atomic_write_bytes, is_resource_error, resource_message


class CacheError(OSError):
    """The cache folder cannot be used (message says which and how to choose another)."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "evalsuite"


def ensure_usable(root: Path) -> Path:
    """Create the cache folder and check it is writable; one clear error otherwise."""
    root = Path(root).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        why = resource_message(e, f"the cache folder {root}") if is_resource_error(e) else f"{root}: {e}"
        raise CacheError(f"{why}; set EVALSUITE_CACHE to a writable folder") from e
    return root


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode(), f"cache entry {path}")
