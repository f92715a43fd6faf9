"""What the local worker processes' fork server imports once (``--jobs N``, N > 1).

Each worker is forked from that server with these libraries already loaded, instead of importing
them itself (about 2.5 s of CPU per worker: scipy.signal alone is 1.2 s). Only libraries that
start no threads at import are preloaded: ViSQOL's numba, LiteRT and torch load in the workers
(their thread pools do not survive a fork). Thread limits are set first: this is the server's own
environment, and the workers inherit it.
"""
import os

from .worker import thread_env

for _k, _v in thread_env(1).items():
    os.environ.setdefault(_k, _v)

try:
    import numpy  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401
except ImportError:  # a missing library is reported by the task that needs it
    pass
