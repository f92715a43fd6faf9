"""Errors a user sees: one line, never a traceback. User errors (bad input, misuse, a missing
asset, a full disk) name what is wrong and how to fix it; anything else is a bug, reported in
one line with the path of a log that keeps its traceback."""
from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path


def user_error_types() -> tuple[type[BaseException], ...]:
    from .audio import AudioError
    from .bitstream import BitstreamError
    from .cache import CacheError
    from .codecs.base import CodecUnavailable, UnsupportedBitrate
    from .data import DataError
    from .executors import ExecutorError
    from .fsutil import ResourceError
    from .grid import GridError
    from .lock import RunLocked
    from .metrics.base import MetricUnavailable
    from .run_audio import RunAudioError
    from .runner import RunError
    from .sources import CorpusError
    from .store import StoreError

    types: list[type[BaseException]] = [AudioError, BitstreamError, CacheError, CodecUnavailable, UnsupportedBitrate,
                                        DataError, ExecutorError, ResourceError, GridError, RunLocked, MetricUnavailable,
                                        RunError, CorpusError, StoreError, RunAudioError]
    try:
        from listening_test.config import ConfigError

        types.append(ConfigError)
    except ImportError:
        pass
    try:
        from reports.errors import ReportError

        types.append(ReportError)
    except (ImportError, AttributeError):
        pass
    return tuple(types)


def is_user_error(e: BaseException) -> bool:
    return isinstance(e, user_error_types())


def log_internal_error(e: BaseException) -> Path | None:
    """Append the traceback to the error log; return its path (None if nothing is writable)."""
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    from .cache import default_cache_dir

    base = os.environ.get("EVALSUITE_CACHE")
    for d in ([Path(base)] if base else []) + [default_cache_dir(), Path(tempfile.gettempdir())]:
        try:
            d.mkdir(parents=True, exist_ok=True)
            p = d / "evalsuite-errors.log"
            with open(p, "a") as f:
                import datetime as dt

                f.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')} pid {os.getpid()}\n{text}\n")
            return p
        except OSError:
            continue
    return None
