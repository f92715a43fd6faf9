"""Plan the grid (items x codecs x bitrates), run it on an executor, store rows as they finish.

The unit of work is one item through one codec at one requested bitrate, scored by every
metric; its rows are written in one transaction (see store.py), which makes resuming exact.
Workers are spawn processes (one thread each); codecs and metrics are created once per worker.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import layout as L
from .audio import atomic_write_bytes
from .corpus import CorpusConfig, Item, Source, default_sources, prepare_cached, user_sources, write_items_csv

DEFAULT_CODECS = ("soundstream", "opus", "codec2", "evs")
ANCHORS = ("reference", "anchor_lp35", "anchor_lp70")
DEFAULT_KBPS = (3.0, 6.0, 12.0)


@dataclass
class RunConfig:
    codecs: tuple[str, ...] = DEFAULT_CODECS
    kbps: tuple[float, ...] = DEFAULT_KBPS
    metrics: tuple[str, ...] | None = None  # None: every available metric
    codec_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    anchors: bool = True
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    corpus_spec: str | None = None  # None: the shared default corpus
    data: str | None = None
    jobs: int = 1
    retry_errors: bool = False

    def all_codecs(self) -> tuple[str, ...]:
        extra = tuple(a for a in ANCHORS if a not in self.codecs) if self.anchors else ()
        return tuple(self.codecs) + extra

    def comparable(self) -> dict:
        """The parts that must match for a run directory to be resumed."""
        return {"corpus": asdict(self.corpus), "corpus_spec": self.corpus_spec, "codec_opts": self.codec_opts}


@dataclass(frozen=True)
class UnitResult:
    rows: list[dict]
    decoded_wav: bytes | None = None  # returned instead of written when the unit shipped its audio


@dataclass(frozen=True)
class Unit:
    item: str
    category: str
    codec: str
    requested_kbps: float
    codec_opts: tuple[tuple[str, Any], ...]
    metrics: tuple[str, ...]
    ref_path: str
    out_path: str
    audio_rel: str
    #: the reference as WAV bytes, for workers without the run folder (no shared filesystem)
    ref_wav: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.item, self.codec, float(self.requested_kbps))


# ---------------------------------------------------------------------------------------------
# worker side


@lru_cache(maxsize=None)
def _codec(name: str, opts: tuple[tuple[str, Any], ...]):
    from .codecs import get_codec

    return get_codec(name, **dict(opts))


@lru_cache(maxsize=None)
def _metric(name: str):
    from .metrics import get_metric

    return get_metric(name)


def metric_outputs(names: Iterable[str]) -> list[tuple[str, str]]:
    """(metric class name, output name) pairs: one result row each."""
    from .metrics import metric_class

    return [(n, o) for n in names for o in metric_class(n).info.output_names]


def _metric_fields(name: str) -> dict:
    from .metrics import metric_class

    i = metric_class(name).info
    return {"higher_is_better": i.higher_is_better, "metric_version": i.version, "metric_mode": i.mode}


def status_rows(unit: Unit, status: str, error: str, base: dict | None = None) -> list[dict]:
    """One row per metric output, all with the same non-ok status (value NaN)."""
    base = base or {}
    return [
        {**_unit_fields(unit), **base, **_metric_fields(m), "metric": o, "value": float("nan"),
         "status": status, "error": error}
        for m, o in metric_outputs(unit.metrics)
    ]


def _unit_fields(unit: Unit) -> dict:
    return {"item": unit.item, "category": unit.category, "codec": unit.codec, "requested_kbps": unit.requested_kbps}


def run_unit(unit: Unit) -> UnitResult:
    """Transcode one item and score it; never raises for codec or metric failures."""
    from .audio import AudioError, read_audio, wav_bytes, write_audio
    from .codecs.transcode import transcode

    _init_worker()  # no-op after the first call; Dask workers have no pool initializer
    try:
        codec = _codec(unit.codec, unit.codec_opts)
        settings = codec.settings()
    except Exception as e:
        return UnitResult(status_rows(unit, L.UNAVAILABLE, f"{type(e).__name__}: {e}"))
    base: dict[str, Any] = {"codec_settings": settings}
    decoded = None
    try:
        ref, rate = read_audio(io.BytesIO(unit.ref_wav) if unit.ref_wav is not None else unit.ref_path)
        t = transcode(codec, ref, rate, unit.requested_kbps)
        deg = t.audio
        if not np.all(np.isfinite(deg)):
            raise AudioError("decoded audio contains NaN/Inf")
        if unit.ref_wav is not None:
            decoded = wav_bytes(deg, rate)
        else:
            write_audio(unit.out_path, deg, rate)
    except Exception as e:
        return UnitResult(status_rows(unit, L.CODEC_ERROR, f"{type(e).__name__}: {e}", base))
    base.update(
        kbps_used=t.kbps_used if not codec.is_anchor else float("nan"),
        measured_kbps=t.measured_kbps if not codec.is_anchor else float("nan"),
        codec_info=t.encoded.info,
        note=t.note,
        audio_path=unit.audio_rel,
    )
    rows = []
    for name in unit.metrics:
        fields = {**_unit_fields(unit), **base, **_metric_fields(name)}
        try:
            m = _metric(name)
            values = m.score(ref if m.info.needs_reference else None, deg, rate)
            for out in m.info.output_names:
                v = float(values[out])
                ok = np.isfinite(v)
                rows.append({**fields, "metric": out, "value": v, "status": L.OK if ok else L.ERROR,
                             "error": "" if ok else "metric returned a non-finite value"})
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            rows.extend({**fields, "metric": out, "value": float("nan"), "status": L.ERROR, "error": msg}
                        for out in _metric_class_outputs(name))
    return UnitResult(rows, decoded)


def _metric_class_outputs(name: str) -> tuple[str, ...]:
    from .metrics import metric_class

    return metric_class(name).info.output_names


THREAD_VARS = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def single_thread_env() -> None:
    """One compute thread per worker process, inherited by processes started after this call:
    the parallelism is the workers, and oversubscribed threads only slow them down."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


@lru_cache(maxsize=1)
def _init_worker() -> None:
    """Once per process (local pool initializer, or the first unit on a Dask worker)."""
    single_thread_env()
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:
        pass


# ---------------------------------------------------------------------------------------------
# planning


def resolve_metrics(names: tuple[str, ...] | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """Selected metrics that can run here, and the reasons for those that cannot."""
    from .metrics import metric_class, metric_names

    chosen = names or tuple(metric_names())
    ok, skipped = [], {}
    for n in chosen:
        cls = metric_class(n)  # unknown names raise KeyError -> clear CLI error
        avail, why = cls.availability()
        if avail:
            ok.append(n)
        elif names:  # explicitly asked for: that is an error, not a skip
            from .metrics import MetricUnavailable

            raise MetricUnavailable(f"metric {n!r} unavailable: {why}")
        else:
            skipped[n] = why
    return tuple(ok), skipped


def applicable_metrics(metrics: tuple[str, ...], category: str) -> tuple[str, ...]:
    from .metrics import metric_class

    out = []
    for n in metrics:
        cats = metric_class(n).info.applies_to
        if cats is None or category in cats:
            out.append(n)
    return tuple(out)


def plan(cfg: RunConfig, items: list[Item], run: L.RunLayout, metrics: tuple[str, ...]) -> tuple[list[Unit], list[dict]]:
    """Units to compute, plus rows that are already decided (bad input, unavailable, unsupported)."""
    from .codecs import CodecUnavailable, codec_class
    from .data import DataError

    units: list[Unit] = []
    decided: list[dict] = []
    for name in cfg.all_codecs():
        cls = codec_class(name)  # unknown codec -> KeyError listing the known ones
        opts = tuple(sorted(cfg.codec_opts.get(name, {}).items()))
        avail, why = cls.availability()
        inst, settings = None, {}
        if avail:
            inst = cls(**dict(opts))  # validates options up front (unknown options are an error)
            try:
                settings = inst.settings()
            except (CodecUnavailable, DataError) as e:  # e.g. model files not in the data location
                avail, why = False, str(e)
        kbps_list = (L.NO_BITRATE,) if cls.is_anchor else tuple(cfg.kbps)
        for it in items:
            mets = applicable_metrics(metrics, it.category)
            for kbps in kbps_list:
                u = Unit(it.item, it.category, name, float(kbps), opts, mets,
                         ref_path=str(run.root / it.path) if it.path else "",
                         out_path=str(run.decoded_audio(name, kbps, it.item)),
                         audio_rel=run.relative(run.decoded_audio(name, kbps, it.item)))
                if it.error:
                    decided += status_rows(u, L.BAD_INPUT, it.error)
                elif not avail:
                    decided += status_rows(u, L.UNAVAILABLE, why)
                else:
                    reason = _unsupported(inst, kbps) if not cls.is_anchor else ""
                    if reason:
                        decided += status_rows(u, L.UNSUPPORTED, reason, {"codec_settings": settings})
                    else:
                        units.append(u)
    return units, decided


def _unsupported(codec, kbps: float) -> str:
    from .codecs import UnsupportedBitrate

    try:
        codec.resolve_kbps(kbps)
        return ""
    except UnsupportedBitrate as e:
        return str(e)


def group_rows(rows: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault((r["item"], r["codec"], float(r["requested_kbps"])), []).append(r)
    return out


# ---------------------------------------------------------------------------------------------
# execution


class SerialExecutor(Executor):
    """Runs tasks in this process (``--jobs 1``): simplest to debug, no pickling."""

    def submit(self, fn, /, *args, **kwargs):
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f


def local_executor(jobs: int) -> Executor:
    if jobs <= 1:
        _init_worker()
        return SerialExecutor()
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn: ViSQOL's and torch's thread pools do not survive fork
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker)


def execute(units: list[Unit], make_executor: Callable[[], Executor], on_result: Callable[[Unit, UnitResult], None],
            progress: bool = True, isolate_after: int = 2) -> None:
    """Run units and hand each result to ``on_result`` as it finishes.

    A worker process that dies (SIGKILL, segfault in a codec library) breaks a local pool and
    loses every unfinished unit. The pool is restarted and those units resubmitted; a unit that
    was unfinished at ``isolate_after`` breaks is then run alone in a fresh one-worker pool, so
    the unit that kills its worker is identified exactly and marked, and no other unit is blamed.
    """
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    from tqdm import tqdm

    pending = {u.key: u for u in units}
    breaks: dict[tuple, int] = {}
    bar = tqdm(total=len(units), desc="run", unit="unit", disable=not progress, file=sys.stderr)

    def finish(u: Unit, res: UnitResult) -> None:
        on_result(u, res)
        pending.pop(u.key, None)
        bar.update(1)

    while pending:
        suspects = [u for u in pending.values() if breaks.get(u.key, 0) >= isolate_after]
        if suspects:
            for u in suspects:
                ex = _isolated_pool()  # only local pools break; dask retries lost workers itself
                try:
                    finish(u, ex.submit(run_unit, u).result())
                except BrokenProcessPool:
                    finish(u, UnitResult(status_rows(u, L.CODEC_ERROR, "the worker process died on this unit "
                                                     "(killed or crashed) every time it was run")))
                finally:
                    _shutdown(ex)
            continue
        ex = make_executor()
        futs: dict[Future, Unit] = {}
        try:
            futs = {ex.submit(run_unit, u): u for u in pending.values()}
            for f in as_completed(futs):
                u = futs[f]
                try:
                    res = f.result()
                except BrokenProcessPool:
                    raise
                except Exception as e:  # a lost worker (dask KilledWorker) or a bug: record it, keep going
                    res = UnitResult(status_rows(u, L.CODEC_ERROR, f"worker failed: {type(e).__name__}: {e}"))
                finish(u, res)
        except BrokenProcessPool:
            for f, u in futs.items():
                if u.key in pending:
                    breaks[u.key] = breaks.get(u.key, 0) + 1
        finally:
            _shutdown(ex)
    bar.close()


def _isolated_pool() -> Executor:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"), initializer=_init_worker)


def _shutdown(ex: Executor) -> None:
    try:
        ex.shutdown(wait=True, cancel_futures=True)
    except TypeError:  # executors without cancel_futures (dask's ClientExecutor)
        ex.shutdown(wait=True)


# ---------------------------------------------------------------------------------------------
# the whole run


def package_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["evalsuite", "numpy", "scipy", "pandas", "soundfile", "soxr", "pyloudnorm", "pesq", "pystoi",
             "visqol-python", "speechmos", "opuslib", "ai-edge-litert", "torch", "onnxruntime"]
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    try:
        import opuslib

        out["libopus"] = opuslib.api.info.get_version_string().decode()
    except Exception:
        pass
    return out


def _sources(cfg: RunConfig) -> list[Source]:
    return user_sources(cfg.corpus_spec) if cfg.corpus_spec else default_sources(cfg.data)


def _check_resumable(run: L.RunLayout, cfg: RunConfig) -> dict | None:
    if not run.run_json.is_file():
        return None
    prev = json.loads(run.run_json.read_text())
    if prev.get("comparable") != json.loads(json.dumps(cfg.comparable(), default=str)):
        raise FileExistsError(
            f"{run.root} holds a run with a different corpus or codec options; choose another --out "
            "(or delete that folder to start over)"
        )
    return prev


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


@dataclass
class RunSummary:
    out_dir: Path
    units_total: int
    units_computed: int
    rows: int
    status_counts: dict[str, int]
    seconds: float


def run(cfg: RunConfig, out_dir: str | Path, progress: bool = True,
        make_executor: Callable[[], Executor] | None = None, ship_audio: bool = False) -> RunSummary:
    """Run (or resume) the grid into ``out_dir``. ``make_executor`` defaults to local processes;
    ``ship_audio`` sends audio by value to workers that cannot see ``out_dir``."""
    t0 = time.time()
    run_l = L.RunLayout(Path(out_dir).resolve())
    run_l.root.mkdir(parents=True, exist_ok=True)
    prev = _check_resumable(run_l, cfg)
    if cfg.data:
        os.environ["EVALSUITE_DATA"] = str(cfg.data)  # spawn workers inherit it (model lookup)
    single_thread_env()

    sources = _sources(cfg)
    prep_dir, items = prepare_cached(sources, cfg.corpus, progress=progress)
    for it in items:
        if it.path and not (run_l.root / it.path).is_file():
            (run_l.root / it.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(prep_dir / it.path, run_l.root / it.path)
    write_items_csv(run_l.items_csv, items)

    metrics, skipped_metrics = resolve_metrics(cfg.metrics)
    units, decided = plan(cfg, items, run_l, metrics)
    meta = {
        "name": run_l.root.name,
        "config": json.loads(json.dumps(asdict(cfg), default=str)),
        "comparable": json.loads(json.dumps(cfg.comparable(), default=str)),
        "metrics": list(metrics),
        "metrics_skipped": skipped_metrics,
        "versions": package_versions(),
        "corpus_hash": _corpus_hash(cfg, sources),
        "n_items": len(items),
        "started": (prev or {}).get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "resumed": bool(prev),
        "finished": None,
        "command": " ".join(sys.argv),
    }
    _write_json(run_l.run_json, meta)

    from .store import ResultStore

    with ResultStore(run_l.store) as store:
        retry = (L.ERROR, L.CODEC_ERROR) if cfg.retry_errors else ()
        done = store.done_units(retry)
        for key, rows in group_rows(decided).items():
            if key not in done:
                store.write_unit(rows)
        todo = [u for u in units if u.key not in done]
        if ship_audio:
            refs = {u.ref_path: Path(u.ref_path).read_bytes() for u in todo}
            todo = [replace(u, ref_wav=refs[u.ref_path]) for u in todo]

        def on_result(u: Unit, res: UnitResult) -> None:
            if res.decoded_wav is not None:  # audio came back by value: store it like a local worker would
                atomic_write_bytes(Path(u.out_path), res.decoded_wav)
            store.write_unit(res.rows)

        execute(todo, make_executor or (lambda: local_executor(cfg.jobs)), on_result, progress=progress)
        df = store.dataframe()

    from .export import export_all

    export_all(run_l, df)
    counts = {str(k): int(v) for k, v in df["status"].value_counts().items()}
    meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), rows=len(df), status_counts=counts,
                codec_settings=_codec_settings(df))
    _write_json(run_l.run_json, meta)
    return RunSummary(run_l.root, len(units), len(todo), len(df), counts, time.time() - t0)


def _corpus_hash(cfg: RunConfig, sources: list[Source]) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(asdict(cfg.corpus), sort_keys=True, default=str).encode())
    for s in sorted(sources, key=lambda s: str(s.path)):
        h.update(f"{s.path.name}:{s.sha256}\n".encode())
    return h.hexdigest()


def _codec_settings(df) -> dict:
    out = {}
    for codec, g in df.groupby("codec"):
        s = g["codec_settings"].dropna()
        out[codec] = json.loads(s.iloc[0]) if len(s) else {}
    return out
