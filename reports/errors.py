"""Report errors a user sees as one line (kept import-light: the command line imports it)."""


class ReportError(ValueError):
    """A report cannot be made from what was given (missing folder or table); one-line message."""
