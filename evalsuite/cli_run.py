"""Subcommands of the objective evaluation: run, score, codecs, metrics, corpus."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codecs", help="list codecs: availability (and why), sample rate, bitrates")
    p.set_defaults(func=_codecs)
    p = sub.add_parser("metrics", help="list metrics: reference needed, rate, higher-is-better, version")
    p.set_defaults(func=_metrics)


def _codecs(args) -> int:
    from .codecs import list_codecs

    for c in list_codecs():
        state = "available" if c.available else "UNAVAILABLE"
        rate = f"{c.sample_rate} Hz" if c.sample_rate else "-"
        print(f"{c.name:13s} {state:11s} {rate:9s} {c.bitrates:28s} {c.description if c.available else c.reason}")
    return 0


def _metrics(args) -> int:
    from .metrics import metric_class, metric_names

    for n in metric_names():
        try:
            cls = metric_class(n)
            i = cls.info
            ok, why = cls.availability()
            ref = "full-reference" if i.needs_reference else "no-reference"
            hib = "higher=better" if i.higher_is_better else "lower=better"
            print(f"{n:13s} {'available' if ok else 'UNAVAILABLE':11s} {ref:14s} {i.sample_rate:6d} Hz  {hib:13s} {i.version} {i.mode}"
                  + ("" if ok else f"  ({why})"))
        except Exception as e:
            print(f"{n:13s} UNAVAILABLE  {type(e).__name__}: {e}")
    return 0
