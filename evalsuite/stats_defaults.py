"""Bootstrap defaults (import-light: the command line shows them in its help)."""

DEFAULT_B = 2000  # resamples for every interval
DEFAULT_SEED = 20211007  # the same seed gives the same intervals
