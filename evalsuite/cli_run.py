"""Subcommands of the objective evaluation: run, score, codecs, metrics, corpus."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .runner import DEFAULT_CODECS, DEFAULT_KBPS


def _csv_list(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def _kbps_list(s: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in _csv_list(s))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--kbps expects numbers like 3,6,12; got {s!r}")
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError("--kbps values must be positive")
    return vals


def parse_codec_opts(pairs: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for p in pairs or []:
        if "=" not in p or "." not in p.split("=", 1)[0]:
            raise ValueError(f"--codec-opt expects codec.key=value (e.g. opus.cbr=true); got {p!r}")
        k, v = p.split("=", 1)
        codec, key = k.split(".", 1)
        out.setdefault(codec, {})[key] = v
    return out


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="data location (corpus, models, conformance files); "
                   "default: $EVALSUITE_DATA")


def _add_corpus_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", metavar="DIR_OR_CSV",
                   help="your own material: a folder of audio files (sub-folders clean_speech/, noisy_speech/, "
                        "music/, general/, noise/ set the category) or a CSV with path,category columns. "
                        "Default: the shared corpus in the data location")
    p.add_argument("--categories", type=_csv_list, help="only these categories (clean_speech,noisy_speech,music,general)")
    p.add_argument("--max-items", type=int, help="at most N items, balanced across categories")
    p.add_argument("--rate", type=int, default=48000, help="item sample rate in Hz (default 48000)")
    p.add_argument("--lufs", type=float, default=-26.0, help="loudness target of items (default -26 LUFS)")
    p.add_argument("--segment-s", type=float, default=10.0, help="longest item in seconds (default 10)")
    p.add_argument("--segments-per-file", type=int, default=1, help="segments cut from each long file (default 1)")


def _corpus_config(args):
    from .corpus import CorpusConfig

    return CorpusConfig(rate=args.rate, target_lufs=args.lufs, max_segment_s=args.segment_s,
                        segments_per_file=args.segments_per_file, categories=args.categories,
                        max_items=args.max_items)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="encode/decode a corpus with codecs at bitrates and score it",
        description="Encode and decode every corpus item with every codec at every bitrate, score each "
                    "decoded item with every objective metric, and write results.parquet/.csv, curves.csv, "
                    "plots/ and run.json under runs/<name>/ (or --out). Re-running the same command "
                    "resumes: finished rows are kept and skipped.",
    )
    p.add_argument("--codecs", type=_csv_list, default=",".join(DEFAULT_CODECS),
                   help="comma-separated codec names (see `evalsuite codecs`; default %(default)s); the hidden "
                        "reference and the 3.5/7 kHz low-pass anchors are always added unless --no-anchors")
    p.add_argument("--kbps", type=_kbps_list, default=",".join(f"{k:g}" for k in DEFAULT_KBPS),
                   help="requested bitrates in kbps (default %(default)s)")
    p.add_argument("--metrics", type=_csv_list, default=None,
                   help="comma-separated metric names (see `evalsuite metrics`); default: all available")
    p.add_argument("--codec-opt", action="append", default=[], metavar="CODEC.KEY=VALUE",
                   help="codec option, repeatable (e.g. opus.cbr=true, soundstream.backend=torch)")
    p.add_argument("--no-anchors", action="store_true", help="do not add reference and low-pass anchors")
    p.add_argument("--name", help="run name (default: derived from codecs and bitrates)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores, %(default)s)")
    p.add_argument("--executor", choices=("local", "dask", "dask-local"), default="local",
                   help="local processes (--jobs), a Dask scheduler (--scheduler), or a Dask LocalCluster (--workers)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address for --executor dask")
    p.add_argument("--workers", type=int, default=2, help="worker processes for --executor dask-local (default %(default)s)")
    p.add_argument("--ship-audio", action="store_true",
                   help="send audio to workers by value (Dask workers without a shared filesystem)")
    p.add_argument("--retry-errors", action="store_true", help="recompute units that ended with an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    _add_data(p)
    _add_corpus_opts(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("score", help="score one existing reference/degraded pair (JSON on stdout)",
                       description="Score DEG against REF with objective metrics and print JSON. Both are "
                                   "downmixed to mono; DEG is resampled to REF's rate and, unless --no-align, "
                                   "delay-compensated by cross-correlation.")
    p.add_argument("ref", type=Path)
    p.add_argument("deg", type=Path)
    p.add_argument("--metrics", type=_csv_list, default=None, help="default: all available")
    p.add_argument("--no-align", action="store_true", help="do not compensate a delay between the files")
    p.add_argument("--debug", action="store_true")
    _add_data(p)
    p.set_defaults(func=_score)

    p = sub.add_parser("corpus", help="prepare the corpus and list its items",
                       description="Prepare (mono, resample, segment, loudness-normalise, mix noisy speech) and "
                                   "list the items a run would use. Prepared audio is cached under "
                                   "$EVALSUITE_CACHE (default ~/.cache/evalsuite).")
    _add_data(p)
    _add_corpus_opts(p)
    p.add_argument("--csv", action="store_true", help="print items as CSV")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=_corpus)

    p = sub.add_parser("codecs", help="list codecs: availability (and why), sample rate, bitrates")
    p.set_defaults(func=_codecs)
    p = sub.add_parser("metrics", help="list metrics: reference needed, rate, higher-is-better, version")
    p.set_defaults(func=_metrics)


def default_run_name(codecs, kbps) -> str:
    return "+".join(codecs) + "@" + "-".join(f"{k:g}" for k in kbps)


def _run(args) -> int:
    from .runner import RunConfig, run

    if args.data:
        from .data import data_root

        data_root(args.data)  # fail early and clearly
    cfg = RunConfig(codecs=args.codecs, kbps=args.kbps, metrics=args.metrics,
                    codec_opts=parse_codec_opts(args.codec_opt), anchors=not args.no_anchors,
                    corpus=_corpus_config(args), corpus_spec=args.corpus, data=args.data,
                    jobs=max(1, args.jobs), retry_errors=args.retry_errors)
    out = Path(args.out) if args.out else Path("runs") / (args.name or default_run_name(args.codecs, args.kbps))
    from .executors import ExecutorConfig, executor_factory

    ex_cfg = ExecutorConfig(kind=args.executor, jobs=max(1, args.jobs), scheduler=args.scheduler, workers=args.workers)
    with executor_factory(ex_cfg) as factory:
        s = run(cfg, out, progress=not args.no_progress, make_executor=factory, ship_audio=args.ship_audio)
    print(f"{s.out_dir}: {s.rows} rows ({', '.join(f'{k} {v}' for k, v in sorted(s.status_counts.items()))}); "
          f"{s.units_computed} of {s.units_total} units computed in {s.seconds:.0f} s", file=sys.stderr)
    print(s.out_dir)
    return 0


def _score(args) -> int:
    import numpy as np

    from .audio import check_audio, find_lag, match_length, read_audio, resample, to_mono
    from .runner import resolve_metrics

    if args.data:
        os.environ["EVALSUITE_DATA"] = args.data
    ref, rr = read_audio(args.ref)
    deg, dr = read_audio(args.deg)
    ref, deg = to_mono(ref), resample(to_mono(deg), dr, rr)
    check_audio(ref, rr, name=str(args.ref))
    check_audio(deg, rr, name=str(args.deg))
    lag = find_lag(ref, deg, int(0.5 * rr))
    if not args.no_align and lag:
        deg = deg[lag:] if lag > 0 else np.concatenate([np.zeros(-lag, np.float32), deg])
    deg = match_length(deg, len(ref))
    metrics, skipped = resolve_metrics(args.metrics)
    from .metrics import get_metric

    out = {"ref": str(args.ref), "deg": str(args.deg), "sample_rate": rr,
           "lag_samples": lag, "aligned": not args.no_align, "scores": {}, "errors": {}, "metrics": {}}
    for n in metrics:
        m = get_metric(n)
        out["metrics"][n] = {"version": m.info.version, "mode": m.info.mode,
                             "higher_is_better": m.info.higher_is_better}
        try:
            out["scores"].update({k: float(v) for k, v in m.score(ref if m.info.needs_reference else None, deg, rr).items()})
        except Exception as e:
            out["errors"][n] = f"{type(e).__name__}: {e}"
    if skipped:
        out["unavailable"] = skipped
    json.dump(out, sys.stdout, indent=2, default=lambda v: None if isinstance(v, float) and not np.isfinite(v) else v)
    print()
    return 0


def _corpus(args) -> int:
    import pandas as pd

    from .corpus import default_sources, prepare_cached, user_sources

    sources = user_sources(args.corpus) if args.corpus else default_sources(args.data)
    d, items = prepare_cached(sources, _corpus_config(args), progress=True)
    df = pd.DataFrame([i.__dict__ for i in items])
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 48):
            print(df[["item", "category", "duration_s", "loudness_lufs", "license", "error"]].to_string(index=False))
        print(f"\n{len(items)} items ({', '.join(f'{k} {v}' for k, v in df['category'].value_counts().items())}); "
              f"prepared audio in {d}")
    return 0


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
            cats = ",".join(i.applies_to) if i.applies_to else "all"
            print(f"{n:13s} {'available' if ok else 'UNAVAILABLE':11s} {ref:14s} {i.sample_rate:6d} Hz  {hib:13s} "
                  f"{cats:25s} {i.version} {i.mode}" + ("" if ok else f"  ({why})"))
        except Exception as e:
            print(f"{n:13s} UNAVAILABLE  {type(e).__name__}: {e}")
    return 0
