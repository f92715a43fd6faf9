"""evalsuite command line.

Subcommands of other areas register themselves: a module listed in ``_EXTENSIONS`` exposes
``register(subparsers)`` that adds its parser and sets ``func`` on it.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

_EXTENSIONS = [
    "evalsuite.cli_run",  # run, score, codecs, metrics, corpus
    "listening_test.cli",  # mushra build/serve/report
    "reports.cli",  # report
    "evalsuite.soundstream.cli",  # soundstream train/...
]


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line, like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"evalsuite: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="evalsuite",
        description=(
            "Reproducible evaluation of neural audio codecs: encode/decode a corpus with every "
            "codec at every bitrate, score with objective metrics, build MUSHRA listening tests "
            "and reports. Assets (corpus, Lyra v2 models, conformance data) are found through "
            "--data or $EVALSUITE_DATA."
        ),
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"evalsuite {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _EXTENSIONS:
        if importlib.util.find_spec(mod.rsplit(".", 1)[0]) is None:
            continue
        try:
            spec = importlib.util.find_spec(mod)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        importlib.import_module(mod).register(sub)
    return p


#: commands whose computing happens in this process or its workers: one BLAS/OpenMP thread each
#: (the parallelism is the worker processes). Set before numeric libraries are imported, since
#: OpenBLAS reads them once; a user's own setting wins.
_COMPUTE_COMMANDS = {"run", "score", "corpus"}


class Terminated(BaseException):
    """SIGTERM: unwind like Ctrl-C so finished results are kept and workers are stopped."""


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import os
    import signal

    args_in = sys.argv[1:] if argv is None else argv
    command = next((a for a in args_in if not a.startswith("-")), "")
    if command in _COMPUTE_COMMANDS:
        from .worker import thread_env

        for k, v in thread_env(1).items():
            os.environ.setdefault(k, v)
    # `evalsuite` (console script) and `python -m evalsuite` find plugins the same way: in the
    # current folder, as `python -m` does
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if argv is None else None
    code = _command(args, previous)
    if argv is None and command in _COMPUTE_COMMANDS:
        _exit_now(code)
    return code


def _command(args, previous) -> int:
    import signal

    try:
        return int(args.func(args) or 0)
    except (KeyboardInterrupt, Terminated) as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        print(f"evalsuite: {what}; finished results are saved, re-run the same command to resume", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except Exception as e:  # noqa: BLE001 - the one place every error becomes one line
        from .errors import is_user_error, log_internal_error

        if getattr(args, "debug", False):
            raise
        if is_user_error(e):
            print(f"evalsuite: error: {_one_line(e)}", file=sys.stderr)
            return 2 if not isinstance(e, OSError) else 1
        log = log_internal_error(e)
        print(f"evalsuite: internal error: {type(e).__name__}: {_one_line(e)}"
              + (f" (traceback in {log}; please report it)" if log else ""), file=sys.stderr)
        return 70
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_now(code: int) -> None:
    """End a finished compute command without the interpreter's teardown: with numpy, scipy,
    pandas, matplotlib (and Dask) loaded, freeing every module's objects takes 0.2-0.4 s after
    everything is written and closed. Exit handlers run and the streams are flushed first. A
    command that left a non-daemon thread running exits normally, which waits for that thread."""
    import atexit
    import os
    import threading

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if run_exit_handlers is None or any(t.is_alive() and not t.daemon for t in others):
        return
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
