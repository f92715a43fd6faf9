"""Run (or resume) a grid: items x conditions x metrics, in two stages.

1. Validate everything that can be checked before work: codecs and metrics (names, plugin
   classes, options, availability), bitrates, corpus settings, the output folder.
2. Lock the run folder; prepare the corpus (content-hashed cache); copy references in
   atomically, verified by sha256.
3. Transcode stage: each item x condition without a valid record (content hashes of the item and
   the codec settings) writes its bitstream container and decoded audio.
4. Score stage: as soon as an item's transcodes are known, one task per item x metric scores
   every condition whose rows (keyed on the decoded audio's hash and the metric's version) are
   missing, computing the reference side once.
5. Export the tidy table of exactly this command's grid (results.parquet/.csv, curves, plots).

The results table always shows this command's grid: conditions stored by earlier commands into
the same folder stay in the store (re-adding them costs nothing) but are not exported; run.json
lists them. Rows that depend on the machine (``unavailable``) are never stored.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import layout as L
from .conditions import Condition, Kind
from .context import RunContext
from .corpus import CorpusConfig, Item, PreparedCorpus, prepare, write_items_csv
from .fsutil import ResourceError, atomic_write_bytes, clean_temp_files, read_verified
from .grid import (
    CodecEntry,
    GridError,
    KbpsRequest,
    MetricEntry,
    anchor_key,
    build_codecs,
    build_conditions,
    build_metrics,
    check_applicable,
)
from .store import ResultStore, ScoreRow, TranscodeRecord
from .worker import ScoreInput, ScoreResult, ScoreTask, TranscodeResult, TranscodeTask

DEFAULT_CODECS = ("soundstream", "opus")
DEFAULT_KBPS = "3,6,12"


@dataclass
class RunConfig:
    codecs: tuple[str, ...] = DEFAULT_CODECS
    kbps: KbpsRequest = field(default_factory=lambda: KbpsRequest.parse(DEFAULT_KBPS))
    metrics: tuple[str, ...] | None = None  # None: every available metric
    codec_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    anchors: bool = True
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    corpus_spec: str | None = None  # None: the shared default corpus
    category: str | None = None  # category of a flat folder corpus
    data: str | None = None
    jobs: int = 1
    retry_errors: bool = False
    reuse: bool = True  # reuse scores of identical work from other runs (the cache's score store)
    shard: tuple[int, int] | None = None  # (i, N): compute only shard i of N (evalsuite/shards.py)
    merge: bool = False  # first combine the folder's finished shards into this run (evalsuite/merge.py)

    def __post_init__(self) -> None:
        if isinstance(self.kbps, (tuple, list)):  # convenience for library callers
            self.kbps = KbpsRequest(values=tuple(float(k) for k in self.kbps))
        elif isinstance(self.kbps, str):
            self.kbps = KbpsRequest.parse(self.kbps)


@dataclass
class RunSummary:
    out_dir: Path
    units_total: int
    units_computed: int
    rows: int
    status_counts: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)


class RunError(RuntimeError):
    """The run cannot proceed (one-line message for the user)."""


# ---------------------------------------------------------------------------------------------
# the run


def run(cfg: RunConfig, out_dir: str | Path, progress: bool = True, execution_cfg=None, ship_audio: bool = False,
        ctx: RunContext | None = None) -> RunSummary:
    from .executors import ExecutorConfig, prestarted

    ex_cfg = execution_cfg or ExecutorConfig(jobs=cfg.jobs)
    ex_cfg.validate()
    with prestarted(ex_cfg):  # the workers' libraries load while the grid and the corpus are set up
        return _run(cfg, out_dir, progress, ex_cfg, ship_audio, ctx)


def _run(cfg: RunConfig, out_dir: str | Path, progress: bool, ex_cfg, ship_audio: bool,
         ctx: RunContext | None) -> RunSummary:
    from .executors import execution
    from .lock import RunLock

    t0 = time.time()
    ctx = ctx or _context(cfg)
    cfg.corpus.validate()
    if cfg.jobs < 1:
        raise GridError(f"--jobs must be at least 1, got {cfg.jobs}")
    codecs = build_codecs(tuple(cfg.codecs), cfg.codec_opts, ctx)
    metrics, skipped = build_metrics(tuple(cfg.metrics) if cfg.metrics is not None else None, cfg.metric_opts, ctx)
    conditions, notes = build_conditions(codecs, cfg.kbps, cfg.anchors)
    if not conditions:
        raise GridError("nothing to run: no condition (check --codecs and --kbps)")
    from .cache import ensure_usable

    ensure_usable(ctx.cache_root())
    target = Path(out_dir).expanduser().absolute()
    sources = _sources(cfg, ctx, exclude=(target, ctx.cache_root()))
    check_applicable(metrics, {s.category for s in sources} | _derived_categories(sources, cfg), cfg.metrics is not None)
    out = _make_run_folder(target)
    from . import shards

    lay = L.RunLayout(out) if cfg.shard is None else L.ShardLayout(out, *cfg.shard)
    lock = RunLock(lay.lock) if cfg.shard is None else shards.lock(lay)
    with lock, contextlib.ExitStack() as executors:
        ex = executors.enter_context(execution(ex_cfg, ctx))
        first = executors.enter_context(_started(ex))
        clean_temp_files(out if cfg.shard is None else lay.dir)  # other shards may be writing temp files
        prev = _read_json(lay.run_json) or {}
        corpus = prepare(sources, cfg.corpus, ctx.cache_root(), progress=progress)
        mine = corpus if cfg.shard is None else shards.select(corpus, cfg.shard)
        _install_references(lay, mine)
        write_items_csv(lay.items_csv, mine.items)
        grid = _grid_signature(codecs, conditions, metrics, mine)
        same_grid = (prev.get("export") or {}).get("grid") == grid
        if not same_grid:
            _remove_exports(lay)  # another grid's table must not outlive a run that stops early
        meta = _meta(cfg, lay, codecs, conditions, metrics, skipped, corpus, prev, ex_cfg, notes)
        meta["export"] = {"grid": grid, "table": (prev.get("export") or {}).get("table") if same_grid else None}
        if cfg.merge:
            from .merge import merge_shards

            meta["shards"] = merge_shards(lay, meta, notes)
        _write_json(lay.run_json, meta)
        with ResultStore(lay.store) as store:
            engine = _Engine(cfg, ctx, lay, store, mine, conditions, metrics, ship_audio, progress)
            try:
                engine.execute(ex, first)
                df = engine.table()
                kept = engine.other_stored_conditions()
                from .export import export_all, exported, table_digest

                digest = table_digest(df)
                # a shard's rows are part of a table (--merge exports it); an unchanged table is not rewritten
                if cfg.shard is None and (digest != meta["export"]["table"] or not exported(lay)):
                    meta["export"]["table"] = None
                    # the workers are done: their pool or cluster ends before the export, which
                    # forks copies of this process to draw plots on the cores they used
                    engine.close()
                    executors.close()
                    engine.ready_to_export()
                    export_all(lay, df, helpers=ex_cfg.local_processes() - 1)
                    meta["export"]["table"] = digest
            finally:
                engine.close()
        counts = {str(k): int(v) for k, v in df["status"].value_counts().items()}
        meta.update(finished=_now(), rows=len(df), status_counts=counts,
                    stored_conditions_not_in_this_table=kept,
                    units={"transcodes_computed": engine.n_transcoded, "score_tasks_computed": engine.n_scored,
                           "transcodes_reused": engine.n_reused_t, "scores_reused": engine.n_reused})
        meta["invocations"][-1].update(finished=meta["finished"], transcodes_computed=engine.n_transcoded,
                                       score_tasks_computed=engine.n_scored)
        _write_json(lay.run_json, meta)
    if kept:
        notes.append(f"the folder's store also holds {len(kept)} condition(s) from earlier commands that this table "
                     f"does not show ({', '.join(kept[:6])}{', ...' if len(kept) > 6 else ''}); add them to "
                     "--codecs/--kbps to include them (nothing is recomputed)")
    notes += engine.notes
    if engine.n_reused_t:
        notes.append(f"{engine.n_reused_t} item x condition transcode(s) were identical work already done by another "
                     "run (content-keyed cache): their files were linked in, verified (--no-reuse transcodes them again)")
    if engine.n_reused:
        notes.append(f"{engine.n_reused} item x condition x metric score(s) were identical work already scored by "
                     "another run (content-keyed cache): taken from it (--no-reuse computes them again)")
    total = engine.n_units_total
    return RunSummary(out, total, engine.n_transcoded + engine.n_scored, len(df), counts, time.time() - t0, notes)


def _task_cost(items: dict[str, Item], t: TranscodeTask | ScoreTask) -> tuple[int, tuple, float]:
    """(stage, class, size) of a task for the order in which tasks start (evalsuite.longest_first):
    transcodes before scores; a codec condition's or a metric's cost grows with the seconds of
    audio it processes."""
    seconds = items[t.item].duration_s
    if isinstance(t, TranscodeTask):
        return (0, ("t", t.condition), seconds)
    return (1, ("s", t.metric_key), seconds * max(1, len(t.inputs)))


@contextlib.contextmanager
def _started(ex):
    """The first executor where it is worth starting early (a cluster): made in a thread with a first
    call to each worker, which boot and import while this process prepares the corpus; shut down
    here if the run fails before the engine owns it. Else None: made at the first task (local pool
    workers fork from a server that is loading their libraries meanwhile)."""
    from .scheduler import StartingExecutor, shutdown
    from .worker import warm

    if not ex.warm_up:
        yield None
        return
    first = StartingExecutor(ex.make, warm, ex.capacity)
    try:
        yield first
    except BaseException:
        shutdown(first, kill=True)
        raise


def _grid_signature(codecs, conditions, metrics, corpus: PreparedCorpus) -> str:
    """What the exported table is a function of: conditions with their codec keys, metrics with
    theirs, and the items with their content."""
    import hashlib

    sig = {"conditions": [(c.id, e.key if e else "") for c, e in conditions], "metrics": [(m.name, m.key) for m in metrics],
           "items": [(i.item, i.sha256, i.error, i.cluster) for i in corpus.items], "columns": L.RESULT_COLUMNS}
    return hashlib.sha256(json.dumps(sig, sort_keys=True, default=str).encode()).hexdigest()


def _remove_exports(lay: L.RunLayout) -> None:
    """The exported tables describe the last completed command; a new command removes them first,
    so a run that stops early leaves no table of another grid behind (the store keeps everything)."""
    import shutil

    for p in (lay.results_parquet, lay.results_csv, lay.curves_csv):
        p.unlink(missing_ok=True)
    shutil.rmtree(lay.plots_dir, ignore_errors=True)


def _context(cfg: RunConfig) -> RunContext:
    from .context import context_from_env

    return context_from_env(cfg.data, threads=1)


def _make_run_folder(out: Path) -> Path:
    from .fsutil import is_resource_error, resource_message

    out = out.expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        out = out.resolve()
        (out / L.MARKER).touch()
    except FileExistsError:
        raise RunError(f"--out {out}: a file of that name exists; choose a folder") from None
    except NotADirectoryError:
        raise RunError(f"--out {out}: a parent of it is a file, not a folder") from None
    except OSError as e:
        if is_resource_error(e):
            raise RunError(resource_message(e, f"the run folder {out}")) from None
        raise
    return out


def _sources(cfg: RunConfig, ctx: RunContext, exclude: tuple[Path, ...]):
    from .sources import default_sources, user_sources

    if cfg.corpus_spec:
        return user_sources(cfg.corpus_spec, cfg.category, exclude=exclude)
    if cfg.category:
        raise GridError("--category applies to a --corpus folder; the shared corpus names its categories")
    return default_sources(ctx.data)


def _derived_categories(sources, cfg: RunConfig) -> set[str]:
    cats = {s.category for s in sources}
    if "clean_speech" in cats and "noise" in cats and cfg.corpus.noisy_mixes > 0:
        cats.add("noisy_speech")
    return cats


def _install_references(lay: L.RunLayout, corpus: PreparedCorpus) -> None:
    """Copy each prepared item into the run folder atomically; a file already there is kept only
    if its sha256 matches (a truncated copy from a killed run is replaced)."""
    for it in corpus.items:
        src = corpus.audio.get(it.item)
        if src is None:
            continue
        dst = lay.reference_audio(it.item)
        if read_verified(dst, it.sha256) is not None:
            continue
        data = read_verified(src, it.sha256)
        if data is None:
            raise RunError(f"the prepared-corpus cache entry {src} is damaged (sha256 mismatch); delete that "
                           "folder and run again")
        atomic_write_bytes(dst, data, "the reference audio")


def _meta(cfg, lay, codecs, conditions, metrics, skipped, corpus, prev, ex_cfg, notes) -> dict:
    from .corpus import PREP_VERSION

    inv = {"command": " ".join(["evalsuite"] + sys.argv[1:]), "started": _now(), "finished": None}
    h = json.dumps(sorted((i.item, i.sha256, i.error) for i in corpus.items)).encode()
    import hashlib

    return {
        "name": lay.root.name,
        "config": json.loads(json.dumps(asdict(cfg), default=str)),
        "grid": "results.parquet holds exactly this command's grid (conditions x metrics over the items below)",
        "conditions": [c.id for c, _ in conditions],
        "codecs": {c.name: {"spec": c.spec, "options": c.opts, "available": c.available, "reason": c.reason,
                            "settings": (c.instance.settings() if c.available and c.instance else {}),
                            "version": (c.instance.version() if c.available and c.instance else ""),
                            "operating_points": list(c.instance.operating_points()) if c.instance else []}
                   for c in codecs},
        "metrics": {m.name: {"spec": m.spec, "options": m.opts, "version": m.instance.describe().version,
                             "mode": m.instance.describe().mode} for m in metrics},
        "metrics_skipped": skipped,
        "versions": package_versions(),
        "corpus_hash": hashlib.sha256(h).hexdigest(),
        "corpus_preparation_version": PREP_VERSION,
        "n_items": len(corpus.items),
        "started": (prev or {}).get("started") or _now(),
        "finished": None,
        "invocations": ((prev or {}).get("invocations") or [])[-49:] + [inv],
        "executor": ex_cfg.describe(),
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------
# the two stages


class _Engine:
    def __init__(self, cfg: RunConfig, ctx: RunContext, lay: L.RunLayout, store: ResultStore, corpus: PreparedCorpus,
                 conditions: list[tuple[Condition, CodecEntry | None]], metrics: list[MetricEntry], ship: bool,
                 progress: bool) -> None:
        self.cfg, self.ctx, self.lay, self.store = cfg, ctx, lay, store
        self.items = [i for i in corpus.items]
        self.good = [i for i in corpus.items if not i.error and i.item in corpus.audio]
        self.conditions, self.metrics = conditions, metrics
        self.ship, self.progress = ship, progress
        self.records = store.transcodes()
        self.scores = store.score_index()
        from .score_cache import ScoreCache
        from .transcode_cache import TranscodeCache

        self.shared = ScoreCache.open(ctx.cache_root() / "scores.sqlite") if cfg.reuse else None
        self.shared_t = TranscodeCache.open(ctx.cache_root()) if cfg.reuse else None
        self.n_reused_t = 0
        self._shared_rows: dict[str, dict] = {}
        self.n_reused = 0
        self.unavailable_t: dict[tuple[str, str], str] = {}  # (item, cond) -> reason, not stored
        self.unavailable_m: dict[str, str] = {}  # metric -> reason, not stored
        self.retried: set[tuple[str, str]] = set()
        self.notes: list[str] = []
        self.n_transcoded = self.n_scored = self.n_units_total = 0
        self._pending: dict[str, int] = {}
        self._resource_error = ""
        self.sched = None
        self.exports = cfg.shard is None  # a shard's rows are exported by --merge, not here
        self._warming = None  # thread loading the plotting libraries here while the workers compute

    # --- keys ------------------------------------------------------------------------------
    def codec_key(self, cond: Condition, entry: CodecEntry | None) -> str:
        return anchor_key(cond.codec) if entry is None else entry.key

    def record(self, it: Item, cond: Condition, entry: CodecEntry | None) -> TranscodeRecord | None:
        return self.records.get((it.item, it.sha256, cond.id, self.codec_key(cond, entry)))

    def decided(self, cond: Condition, entry: CodecEntry | None) -> tuple[str, str]:
        """(status, reason) for conditions that are never computed here."""
        if entry is None:
            return "", ""
        if not entry.available:
            return L.UNAVAILABLE, entry.reason
        from .codecs.base import UnsupportedBitrate

        try:
            entry.instance.resolve_kbps(cond.kbps)
        except UnsupportedBitrate as e:
            return L.UNSUPPORTED, str(e)
        return "", ""

    # --- planning --------------------------------------------------------------------------
    def _valid(self, rec: TranscodeRecord | None) -> bool:
        if rec is None:
            return False
        if rec.status == L.OK:
            p = self.lay.root / rec.audio_rel
            return p.is_file() and p.stat().st_size == rec.audio_size
        return rec.status == L.CODEC_ERROR and not self.cfg.retry_errors

    def transcode_task(self, it: Item, cond: Condition, entry: CodecEntry | None) -> TranscodeTask:
        ref = self.lay.reference_audio(it.item)
        return TranscodeTask(
            item=it.item, item_sha=it.sha256, condition=cond.id, kind=cond.kind.value,
            codec=cond.codec, spec=entry.spec if entry else cond.codec,
            opts=tuple(sorted(entry.opts.items())) if entry else (), codec_key=self.codec_key(cond, entry),
            kbps=cond.kbps, ref_path=str(ref), audio_path=str(self._audio_path(cond, it)),
            bitstream_path=str(self.lay.bitstream(cond, it.item)), ref_sha=it.sha256,
            ref_wav=ref.read_bytes() if self.ship else None)

    def _audio_path(self, cond: Condition, it: Item) -> Path:
        return self.lay.reference_audio(it.item) if cond.kind is Kind.REFERENCE else self.lay.audio(cond, it.item)

    def _not_applicable(self, it: Item, cond: Condition, rec: TranscodeRecord, m: MetricEntry) -> bool:
        """A waveform metric on an output whose phase the codec rebuilds: its rows say why, with no
        task (nothing is computed, whatever the run)."""
        from .metrics.base import not_applicable_reason

        info = m.instance.describe()
        why = not_applicable_reason(info, waveform_note=rec.waveform_note)
        if why is None:
            return False
        rows = [ScoreRow(it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key, o, None, L.NOT_APPLICABLE, why,
                         info.version, info.mode, int(bool(info.higher_is_better))) for o in m.outputs]
        self.store.put_scores(rows)
        self.scores[(it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key)] = rows
        return True

    def _reuse(self, it: Item, cond: Condition, rec: TranscodeRecord, m: MetricEntry) -> bool:
        """Take the rows from the shared score cache, if identical work was scored before."""
        if self.shared is None:
            return False
        if it.sha256 not in self._shared_rows:
            self._shared_rows[it.sha256] = self.shared.for_item(it.sha256)
        hit = self._shared_rows[it.sha256].get((rec.audio_sha, m.name, m.key))
        if not hit or {r["output"] for r in hit} != set(m.outputs):
            return False
        rows = [ScoreRow(it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key, r["output"], r["value"], L.OK, "",
                         r["metric_version"], r["metric_mode"], r["higher_is_better"]) for r in hit]
        self.store.put_scores(rows)
        self.scores[(it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key)] = rows
        self.n_reused += 1
        return True

    def _reuse_transcode(self, it: Item, cond: Condition, entry: CodecEntry | None) -> bool:
        """Take the transcode from the shared cache, if this item was coded this way before."""
        if self.shared_t is None or cond.kind is Kind.REFERENCE:
            return False
        audio = self._audio_path(cond, it)
        bitstream = self.lay.bitstream(cond, it.item) if cond.kind is Kind.CODEC else None
        rec = self.shared_t.install(it.item, it.sha256, cond.id, self.codec_key(cond, entry), audio, bitstream)
        if rec is None:
            return False
        rec.audio_rel = self.lay.relative(audio)
        if bitstream is not None:
            rec.bitstream_rel = self.lay.relative(bitstream)
        self.store.put_transcode(rec)
        self.records[(it.item, it.sha256, cond.id, rec.codec_key)] = rec
        self.n_reused_t += 1
        return True

    def score_tasks(self, it: Item) -> list[ScoreTask]:
        tasks = []
        for m in self.metrics:
            if m.name in self.unavailable_m or (m.applies_to is not None and it.category not in m.applies_to):
                continue
            inputs = []
            for cond, entry in self.conditions:
                rec = self.record(it, cond, entry)
                if rec is None or rec.status != L.OK:
                    continue
                rows = self.scores.get((it.item, it.sha256, cond.id, rec.audio_sha, m.name, m.key))
                if rows and not (self.cfg.retry_errors and any(r.status == L.METRIC_ERROR for r in rows)):
                    continue
                if not rows and (self._not_applicable(it, cond, rec, m) or self._reuse(it, cond, rec, m)):
                    continue
                path = self.lay.root / rec.audio_rel
                inputs.append(ScoreInput(cond.id, str(path), rec.audio_sha, path.read_bytes() if self.ship else None))
            if inputs:
                ref = self.lay.reference_audio(it.item)
                tasks.append(ScoreTask(it.item, it.sha256, m.spec, tuple(sorted(m.opts.items())), m.key, str(ref),
                                       it.sha256, tuple(inputs), ref.read_bytes() if self.ship else None))
        return tasks

    # --- execution -------------------------------------------------------------------------
    def execute(self, ex, first=None) -> None:
        from tqdm import tqdm

        from .scheduler import Scheduler

        by_item = {it.item: it for it in self.good}
        self.sched = sched = Scheduler(ex.make, ex.capacity, ex.fn, key=lambda t: t.key, on_crash=self._crash,
                                       make_isolated=ex.make_isolated, first=first,
                                       cost=functools.partial(_task_cost, by_item))
        todo: list[TranscodeTask] = []
        for it in self.good:
            n = 0
            for cond, entry in self.conditions:
                if self.decided(cond, entry)[0]:
                    continue
                if not self._valid(self.record(it, cond, entry)) and not self._reuse_transcode(it, cond, entry):
                    todo.append(self.transcode_task(it, cond, entry))
                    n += 1
            self._pending[it.item] = n
        scored: list[ScoreTask] = []
        for it in self.good:
            if self._pending[it.item] == 0:
                scored += self.score_tasks(it)
        self.n_units_total = len(todo) + len(scored)
        if self.exports and self.n_units_total and not ex.in_process:  # new results: plots are drawn
            self._warm_export()
        bar = tqdm(total=self.n_units_total, desc="run", unit="task", disable=not self.progress, file=sys.stderr)
        # transcodes start first (every score task is then known early), the longest expected first
        for t in scored + todo:
            sched.submit(t)
        try:
            for task, res in sched.results():
                bar.update(1)
                if isinstance(task, TranscodeTask):
                    self._on_transcode(task, res, sched, by_item, bar)
                else:
                    self._on_score(task, res, sched, by_item, bar)
        except BaseException:
            sched.close(kill=True)
            raise
        finally:
            bar.close()
        if sched.isolated:
            names = ", ".join(f"{t.item} {getattr(t, 'condition', '') or t.metric}" for t in sched.isolated[:8])
            self.notes.append(f"{sched.pool_breaks} worker process(es) died; {len(sched.isolated)} task(s) that were "
                              f"running each time were run alone: {names}{' ...' if len(sched.isolated) > 8 else ''}")
        if self._resource_error:
            raise ResourceError(28, f"{self._resource_error}. Finished results are kept in {self.lay.root}; "
                                    "free space (or fix the permission) and run the same command again to resume")

    def _warm_export(self) -> None:
        """The export draws its plots in this process (and in forked copies of it, which inherit
        what it loaded: evalsuite.plot_sharing), which has the table and pandas already: the
        plotting libraries load (about 0.7 s) in a thread while the workers compute. Not with
        --jobs 1: beside the tasks in this process it would only contend with them for the
        interpreter."""
        import threading

        from .plots import warm

        self._warming = threading.Thread(target=warm, name="evalsuite-warm-plots", daemon=True)
        self._warming.start()

    def ready_to_export(self) -> None:
        if self._warming is not None:
            self._warming.join()

    def close(self) -> None:
        """Shut the run's executor and the shared caches (again: nothing happens)."""
        sched = getattr(self, "sched", None)
        if sched is not None:
            sched.close()
        for cache in (self.shared, self.shared_t):
            if cache is not None:
                cache.close()
        self.shared = self.shared_t = None

    def _stop(self, sched, msg: str) -> None:
        if not self._resource_error:
            self._resource_error = msg
        sched.stop_submitting()

    def _on_transcode(self, t: TranscodeTask, res: TranscodeResult, sched, by_item, bar) -> None:
        if res.resource_error:
            self._stop(sched, res.resource_error)
            return
        self._log(res.traceback)
        rec = TranscodeRecord(item=t.item, item_sha=t.item_sha, condition=t.condition, codec_key=t.codec_key,
                              **{k: v for k, v in res.fields.items() if k in TranscodeRecord.__dataclass_fields__})
        if rec.status == L.OK:
            rec.audio_rel = self.lay.relative(Path(t.audio_path))
            if t.kind == "codec":
                rec.bitstream_rel = self.lay.relative(Path(t.bitstream_path))
            if res.audio_wav is not None:  # shipped back: store it as a local worker would
                atomic_write_bytes(Path(t.audio_path), res.audio_wav, "decoded audio")
                if res.container is not None:
                    atomic_write_bytes(Path(t.bitstream_path), res.container, "a bitstream file")
        if rec.status == L.UNAVAILABLE:
            self.unavailable_t[(t.item, t.condition)] = rec.error
        else:
            self.store.put_transcode(rec)
            if self.shared_t is not None and t.kind != "reference":
                self.shared_t.put(rec, Path(t.audio_path), Path(t.bitstream_path) if t.kind == "codec" else None)
        self.records[(t.item, t.item_sha, t.condition, t.codec_key)] = rec
        self.n_transcoded += 1
        self._pending[t.item] -= 1
        if self._pending[t.item] == 0 and not sched.stopping:
            new = self.score_tasks(by_item[t.item])
            bar.total += len(new)
            self.n_units_total += len(new)
            for s in new:
                sched.submit(s)

    def _on_score(self, t: ScoreTask, res: ScoreResult, sched, by_item, bar) -> None:
        if res.resource_error:
            self._stop(sched, res.resource_error)
            return
        self._log(res.traceback)
        m = next(m for m in self.metrics if m.spec == t.metric)
        if res.unavailable:
            self.unavailable_m[m.name] = res.unavailable
            return
        rows = [ScoreRow(item=t.item, item_sha=t.item_sha, **r) for r in res.rows]
        if res.failed:
            info = m.instance.describe()
            rows = [ScoreRow(t.item, t.item_sha, inp.condition, inp.audio_sha, m.name, m.key, o, None, L.METRIC_ERROR,
                             res.failed, info.version, info.mode, int(bool(info.higher_is_better)))
                    for inp in t.inputs for o in m.outputs]
        self.store.put_scores(rows)
        if self.shared is not None:
            self.shared.put(t.item_sha, rows)
        for r in rows:
            self.scores.setdefault((r.item, r.item_sha, r.condition, r.audio_sha, r.metric, r.metric_key), []).append(r)
        self.n_scored += 1
        if res.stale and not sched.stopping:
            it = by_item[t.item]
            for cid in res.stale:
                cond, entry = next((c, e) for c, e in self.conditions if c.id == cid)
                rec = self.record(it, cond, entry)
                if (t.item, cid) in self.retried or rec is None:
                    continue
                self.retried.add((t.item, cid))
                self.notes.append(f"{t.item} {cid}: decoded audio changed on disk; transcoded again")
                self.store.delete_transcode(rec)
                self.records.pop((rec.item, rec.item_sha, rec.condition, rec.codec_key), None)
                self._pending[t.item] = self._pending.get(t.item, 0) + 1
                bar.total += 1
                sched.submit(self.transcode_task(it, cond, entry))

    def _crash(self, task, msg: str):
        from .layout import CODEC_ERROR

        if isinstance(task, TranscodeTask):
            return TranscodeResult({"status": CODEC_ERROR, "error": msg})
        return ScoreResult([], failed=msg)

    def _log(self, tb: str) -> None:
        if not tb:
            return
        try:
            with open(self.lay.log, "a") as f:
                f.write(f"--- {_now()}\n{tb}\n")
        except OSError:
            pass  # the row keeps its one-line error

    # --- the table -------------------------------------------------------------------------
    def table(self):
        from .export import results_table

        return results_table(self)

    def other_stored_conditions(self) -> list[str]:
        mine = {c.id for c, _ in self.conditions}
        shas = {(i.item, i.sha256) for i in self.items}
        return sorted({r.condition for r in self.records.values() if (r.item, r.item_sha) in shas} - mine)


# ---------------------------------------------------------------------------------------------
# helpers


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
    return out


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=_json_default).encode(), "run.json")


def _json_default(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return str(v)
