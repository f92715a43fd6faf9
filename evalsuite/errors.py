"""Which exceptions are user errors (printed as one line) rather than bugs (traceback)."""
from __future__ import annotations


def is_user_error(e: BaseException) -> bool:
    from .audio import AudioError
    from .codecs.base import CodecUnavailable, UnsupportedBitrate
    from .data import DataError
    from .metrics.base import MetricUnavailable

    return isinstance(e, (DataError, AudioError, CodecUnavailable, UnsupportedBitrate, MetricUnavailable,
                          KeyError, ValueError, FileNotFoundError, FileExistsError))
