"""The run context: what codecs, metrics and workers need to know about where they run.

It is passed explicitly (to codec and metric constructors, and with every task to a worker),
never set in ``os.environ`` of the caller: library code has no process-global state.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    #: the data location (corpus, models, conformance files); None: not configured
    data: Path | None = None
    #: compute threads a codec or metric may use inside one worker
    threads: int = 1
    #: where tracebacks of codec/metric failures are appended (None: nowhere)
    log_path: Path | None = None
    #: content-addressed cache of prepared items and reusable results
    cache: Path | None = None

    def data_root(self) -> Path:
        """The data location, or a DataError saying how to set it."""
        from .data import data_root

        return data_root(self.data)

    def cache_root(self) -> Path:
        if self.cache is not None:
            return Path(self.cache)
        from .cache import default_cache_dir

        return default_cache_dir()


def context_from_env(data: str | os.PathLike | None = None, **kw) -> RunContext:
    """A context from explicit values, falling back to ``$EVALSUITE_DATA`` / ``$EVALSUITE_CACHE``
    (read once, here, at the edge: the command line and tests)."""
    d = data if data is not None else os.environ.get("EVALSUITE_DATA")
    c = kw.pop("cache", None) or os.environ.get("EVALSUITE_CACHE")
    return RunContext(data=Path(d).expanduser().resolve() if d else None,
                      cache=Path(c).expanduser() if c else None, **kw)
