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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished results are saved, re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:  # user-facing errors: one clear line, no traceback unless asked
        from .errors import is_user_error

        if is_user_error(e) and not getattr(args, "debug", False):
            print(f"evalsuite: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
