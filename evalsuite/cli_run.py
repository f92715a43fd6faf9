"""Subcommands of the objective evaluation: run, score, codecs, metrics, corpus."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

DEFAULT_CODECS = "soundstream,opus,codec2,evs"
DEFAULT_KBPS = "3,6,12"


def _csv_list(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def _kbps(s: str):
    from .grid import GridError, KbpsRequest

    try:
        return KbpsRequest.parse(s)
    except GridError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(what: str):
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expects a whole number, got {s!r}") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{what} must be at least 1, got {v}")
        return v
    return parse


def _finite(what: str, lo: float, hi: float):
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expects a number, got {s!r}") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be a finite number in [{lo:g}, {hi:g}], got {s!r}")
        return v
    return parse


def _rate(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate expects a whole number of Hz, got {s!r}") from None
    if not 8000 <= v <= 384000:
        raise argparse.ArgumentTypeError(f"--rate must be between 8000 and 384000 Hz, got {v}")
    return v


def parse_opts(pairs: list[str], flag: str) -> dict[str, dict[str, str]]:
    """``name.key=value`` pairs -> {name: {key: value}}."""
    from .grid import GridError

    out: dict[str, dict[str, str]] = {}
    for p in pairs or []:
        if "=" not in p or "." not in p.split("=", 1)[0]:
            raise GridError(f"{flag} expects NAME.KEY=VALUE (e.g. opus.cbr=true); got {p!r}")
        k, v = p.split("=", 1)
        name, key = k.rsplit(".", 1) if ":" in k else k.split(".", 1)
        out.setdefault(name, {})[key] = v
    return out


def parse_codec_opts(pairs: list[str]) -> dict[str, dict[str, str]]:
    return parse_opts(pairs, "--codec-opt")


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="data location (corpus, models, conformance files); "
                   "default: $EVALSUITE_DATA")


def _add_corpus_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", metavar="DIR_OR_CSV",
                   help="your own material: a folder of audio files (sub-folders clean_speech/, noisy_speech/, "
                        "music/, general/, noise/ set the category) or a CSV with path,category columns "
                        "(optional license, source, note, cluster). Default: the shared corpus in the data location")
    p.add_argument("--category", metavar="CATEGORY",
                   help="category of the files of a --corpus folder that are not in a category sub-folder "
                        "(clean_speech, noisy_speech, music, general; default general)")
    p.add_argument("--categories", type=_csv_list, help="only these categories (clean_speech,noisy_speech,music,general)")
    p.add_argument("--max-items", type=_positive_int("--max-items"), help="at most N items, balanced across categories")
    p.add_argument("--rate", type=_rate, default=48000, help="item sample rate in Hz (default 48000)")
    p.add_argument("--lufs", type=_finite("--lufs", -70, -5), default=-26.0,
                   help="loudness target of items (default -26 LUFS)")
    p.add_argument("--segment-s", type=_finite("--segment-s", 1.0, 3600.0), default=10.0,
                   help="longest item in seconds, at least 1 (default 10)")
    p.add_argument("--segments-per-file", type=_positive_int("--segments-per-file"), default=1,
                   help="segments cut from each long file (default 1)")


def _corpus_config(args):
    from .corpus import CorpusConfig

    return CorpusConfig(rate=args.rate, target_lufs=args.lufs, max_segment_s=args.segment_s,
                        segments_per_file=args.segments_per_file, categories=args.categories,
                        max_items=args.max_items)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="encode/decode a corpus with codecs at bitrates and score it",
        description="Encode and decode every corpus item with every codec at every bitrate (transcode stage), "
                    "score each output with every objective metric (score stage), and write "
                    "results.parquet/.csv, curves.csv, plots/ and run.json under runs/<name>/ (or --out). "
                    "Re-running resumes and computes exactly what is missing: more codecs, bitrates or metrics, "
                    "and anything whose source audio, codec settings or metric version changed. The table "
                    "always holds this command's grid.",
    )
    p.add_argument("--codecs", type=_csv_list, default=_csv_list(DEFAULT_CODECS),
                   help="comma-separated codec names (see `evalsuite codecs`) or package.module:Class plugins "
                        f"(default {DEFAULT_CODECS}); the hidden reference and the BS.1534 anchors (3.5/7 kHz) "
                        "are added unless --no-anchors")
    p.add_argument("--kbps", type=_kbps, default=_kbps(DEFAULT_KBPS),
                   help="requested bitrates (e.g. 3,6,12: each codec maps a request to its best mode that fits, "
                        "with a note), or 'native' for every codec's own operating points, or 'native:3-12' for "
                        f"those within a range (default {DEFAULT_KBPS})")
    p.add_argument("--metrics", type=_csv_list, default=None,
                   help="comma-separated metric names (see `evalsuite metrics`) or plugins; default: all available")
    p.add_argument("--codec-opt", action="append", default=[], metavar="CODEC.KEY=VALUE",
                   help="codec option, repeatable (e.g. opus.cbr=true, soundstream.backend=torch)")
    p.add_argument("--metric-opt", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="metric option, repeatable (e.g. visqol_speech.mapping=exponential, dnsmos.threads=2)")
    p.add_argument("--no-anchors", action="store_true", help="do not add the hidden reference and the anchors")
    p.add_argument("--name", help="run name (default: derived from codecs and bitrates)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>)")
    p.add_argument("--jobs", "-j", type=_positive_int("--jobs"), default=os.cpu_count() or 1,
                   help="worker processes (default: all cores, %(default)s)")
    p.add_argument("--executor", choices=("local", "dask", "dask-local", "slurm"), default="local",
                   help="local processes (--jobs), a Dask scheduler (--scheduler), a Dask LocalCluster (--workers), "
                        "or Dask workers as Slurm jobs (--slurm-*)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address for --executor dask")
    p.add_argument("--workers", type=_positive_int("--workers"), default=2,
                   help="worker processes for --executor dask-local (default %(default)s)")
    p.add_argument("--ship-audio", action="store_true",
                   help="send audio to workers by value (Dask workers without a shared filesystem)")
    p.add_argument("--retry-errors", action="store_true", help="compute again what ended as codec_error/metric_error")
    p.add_argument("--no-reuse", action="store_true",
                   help="compute every score in this run, even work another run already scored (the cache's "
                        "content-keyed score store)")
    # scale-out without a scheduler (evalsuite/shards.py, evalsuite/merge.py; docs/runner.md "Scale-out")
    p.add_argument("--shard", metavar="I/N", help="compute only shard I of N of the items (its own store under "
                   "<out>/shards/I-of-N/; shards may run at once, on machines sharing the folder)")
    p.add_argument("--merge", action="store_true", help="combine the folder's N finished shards of this same command "
                   "into the run and export its table (equal to an unsharded run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    _add_data(p)
    _add_corpus_opts(p)
    from .slurm import add_arguments as add_slurm_arguments

    add_slurm_arguments(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("score", help="score one existing reference/degraded pair (JSON on stdout)",
                       description="Score DEG against REF with objective metrics and print JSON. Both are "
                                   "downmixed to mono; DEG is resampled to REF's rate, delay-compensated by "
                                   "cross-correlation (unless --no-align) and brought to REF's length; the "
                                   "output says what was done.")
    p.add_argument("ref", type=Path)
    p.add_argument("deg", type=Path)
    p.add_argument("--metrics", type=_csv_list, default=None, help="default: all available")
    p.add_argument("--metric-opt", action="append", default=[], metavar="METRIC.KEY=VALUE")
    p.add_argument("--no-align", action="store_true", help="do not compensate a delay between the files")
    p.add_argument("--debug", action="store_true")
    _add_data(p)
    p.set_defaults(func=_score)

    p = sub.add_parser("corpus", help="prepare the corpus and list its items",
                       description="Prepare (mono, segment, resample, loudness-normalise, mix noisy speech) and "
                                   "list the items a run would use. Prepared audio is cached under "
                                   "$EVALSUITE_CACHE (default ~/.cache/evalsuite), keyed on content.")
    _add_data(p)
    _add_corpus_opts(p)
    p.add_argument("--csv", action="store_true", help="print items as CSV")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=_corpus)

    p = sub.add_parser("codecs", help="list codecs: availability (and why), sample rate, bitrates, operating points")
    _add_data(p)
    p.set_defaults(func=_codecs)
    p = sub.add_parser("metrics", help="list metrics: reference needed, rate, direction, categories, version, cost")
    _add_data(p)
    p.set_defaults(func=_metrics)


def default_run_name(codecs, kbps) -> str:
    from .registry import plugin_label

    return "+".join(plugin_label(c) for c in codecs) + "@" + kbps.describe().replace(",", "-").replace(":", "")


def _ctx(args):
    from .context import context_from_env

    return context_from_env(getattr(args, "data", None))


def _run(args) -> int:
    from .executors import ExecutorConfig, prestarted
    from .slurm import config_from_args

    ex = ExecutorConfig(kind=args.executor, jobs=args.jobs, scheduler=args.scheduler, workers=args.workers,
                        slurm=config_from_args(args))
    with prestarted(ex):  # before this process's own imports: the workers' libraries load meanwhile
        return _run_started(args, ex)


def _run_started(args, ex) -> int:
    from .runner import RunConfig, run

    ctx = _ctx(args)
    ctx.data_root() if (args.data or not args.corpus) else None  # fail early and clearly
    shard = _shard_args(args)
    cfg = RunConfig(codecs=args.codecs, kbps=args.kbps, metrics=args.metrics,
                    codec_opts=parse_opts(args.codec_opt, "--codec-opt"),
                    metric_opts=parse_opts(args.metric_opt, "--metric-opt"), anchors=not args.no_anchors,
                    corpus=_corpus_config(args), corpus_spec=args.corpus, category=args.category,
                    data=str(ctx.data) if ctx.data else None, jobs=args.jobs, retry_errors=args.retry_errors,
                    reuse=not args.no_reuse, shard=shard, merge=args.merge)
    out = Path(args.out) if args.out else Path("runs") / (args.name or default_run_name(args.codecs, args.kbps))
    if args.merge:
        from .merge import check_complete

        check_complete(out)  # names every shard that is missing or still running
    s = run(cfg, out, progress=not args.no_progress, execution_cfg=ex, ship_audio=args.ship_audio, ctx=ctx)
    for n in s.notes:
        print(f"note: {n}", file=sys.stderr)
    if shard:
        print(f"note: shard {shard[0]}/{shard[1]} finished; when all {shard[1]} have, run the same command with "
              "--merge instead of --shard to export the run's table", file=sys.stderr)
    print(f"{s.out_dir}: {s.rows} rows ({', '.join(f'{k} {v}' for k, v in sorted(s.status_counts.items()))}); "
          f"{s.units_computed} of {s.units_total} tasks computed in {s.seconds:.0f} s", file=sys.stderr)
    print(s.out_dir)
    return 0


def _shard_args(args):
    from .grid import GridError
    from .shards import parse_shard

    if args.shard and args.merge:
        raise GridError("--shard and --merge exclude each other: run the shards, then the same command with --merge")
    return parse_shard(args.shard) if args.shard else None


def _score(args) -> int:

    from .audio import check_audio, find_lag, match_length, read_audio, resample, to_mono
    from .codecs.transcode import shift
    from .grid import build_metrics

    ctx = _ctx(args)
    ref, rr = read_audio(args.ref)
    deg, dr = read_audio(args.deg)
    ref, deg = to_mono(ref), resample(to_mono(deg), dr, rr)
    check_audio(ref, rr, name=str(args.ref))
    check_audio(deg, rr, name=str(args.deg))
    actions = []
    if dr != rr:
        actions.append(f"resampled DEG from {dr} to {rr} Hz")
    lag = find_lag(ref, deg, int(0.5 * rr))
    if not args.no_align and lag:
        deg = shift(deg, lag) if abs(lag) < len(deg) else deg
        actions.append(f"shifted DEG {'earlier' if lag > 0 else 'later'} by {abs(lag)} samples "
                       f"({1000 * abs(lag) / rr:.2f} ms) to align it with REF")
    n_ref, n_deg = len(ref), len(deg)
    if n_deg > n_ref:
        actions.append(f"trimmed {n_deg - n_ref} samples from the end of DEG to REF's length")
    elif n_deg < n_ref:
        actions.append(f"padded DEG with {n_ref - n_deg} zero samples at the end to REF's length")
    deg = match_length(deg, n_ref)
    metrics, skipped = build_metrics(args.metrics, parse_opts(args.metric_opt, "--metric-opt"), ctx)
    out = {"ref": str(args.ref), "deg": str(args.deg), "sample_rate": rr, "ref_samples": n_ref,
           "deg_samples": n_deg, "lag_samples": lag, "aligned": not args.no_align, "actions": actions,
           "scores": {}, "errors": {}, "metrics": {}}
    for m in metrics:
        info = m.instance.describe()
        out["metrics"][m.name] = {"version": info.version, "mode": info.mode,
                                  "higher_is_better": info.higher_is_better}
        try:
            vals = m.instance.score(ref if info.needs_reference else None, deg, rr)
            out["scores"].update({k: float(v) for k, v in vals.items()})
        except Exception as e:  # noqa: BLE001 - a metric failing on this pair is reported, the others still run
            out["errors"][m.name] = f"{type(e).__name__}: {e}"
    if skipped:
        out["unavailable"] = skipped
    print(json.dumps(_json_safe(out), indent=2, allow_nan=False))
    return 0


def _json_safe(v):
    """NaN/Inf are not JSON: they become null (and the error says why)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def _corpus(args) -> int:
    import pandas as pd

    from .corpus import prepare
    from .sources import default_sources, user_sources

    ctx = _ctx(args)
    cfg = _corpus_config(args)
    sources = user_sources(args.corpus, args.category) if args.corpus else default_sources(ctx.data)
    pc = prepare(sources, cfg, ctx.cache_root(), progress=True)
    df = pd.DataFrame([i.__dict__ for i in pc.items])
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 48):
            print(df[["item", "category", "cluster", "duration_s", "loudness_lufs", "license", "error"]].to_string(index=False))
        print(f"\n{len(pc.items)} items ({', '.join(f'{k} {v}' for k, v in df['category'].value_counts().items())}), "
              f"{df['cluster'].nunique()} recording clusters")
    return 0


def _codecs(args) -> int:
    from .codecs import list_codecs

    for c in list_codecs(_ctx(args)):
        state = "available" if c.available else "UNAVAILABLE"
        rate = f"{c.sample_rate} Hz" if c.sample_rate else "-"
        pts = ("native " + ",".join(f"{p:g}" for p in c.operating_points)) if c.operating_points else ""
        print(f"{c.name:13s} {state:11s} {rate:9s} {c.bitrates:28s} {pts:30s} "
              f"{(c.description + (' [' + c.version + ']' if c.version else '')) if c.available else c.reason}")
    return 0


def _metrics(args) -> int:
    from .metrics import metric_class, metric_names

    ctx = _ctx(args)
    for n in metric_names():
        try:
            cls = metric_class(n)
            i = cls.info
            ok, why = cls.availability(ctx, {})
            ref = "full-reference" if i.needs_reference else "no-reference"
            hib = "higher=better" if i.higher_is_better else "lower=better"
            cats = ",".join(i.applies_to) if i.applies_to else "all"
            opts = ",".join(f"{k}={v}" for k, v in cls.options.items()) or "-"
            cost = getattr(i, "cost", "") or "-"
            print(f"{n:13s} {'available' if ok else 'UNAVAILABLE':11s} {ref:14s} {i.sample_rate:6d} Hz  {hib:13s} "
                  f"{cats:25s} options: {opts:28s} cost: {cost:18s} {i.version} {i.mode}" + ("" if ok else f"  ({why})"))
        except Exception as e:  # noqa: BLE001 - a broken metric must not hide the others
            print(f"{n:13s} UNAVAILABLE  {type(e).__name__}: {e}")
    return 0
