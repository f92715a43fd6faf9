"""The two stages' tasks and the worker that runs them.

A task carries everything it needs (paths or audio, expected content hashes, the run context);
a worker keeps one instance of each codec and metric it has used (models load once) for the
lifetime of its run. The task functions never raise for codec or metric failures: they return
a result with a status, a one-line error and the traceback for the run log. Storage failures
come back as ``resource_error`` so the run can stop cleanly.

This module is imported by worker processes before anything heavy, so it imports numpy and
friends only inside functions: ``init_process`` sets the thread limits first.
"""
from __future__ import annotations

import io
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .context import RunContext

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class TranscodeTask:
    item: str
    item_sha: str
    condition: str  # Condition.id
    kind: str  # codec | reference | anchor
    codec: str  # codec/anchor name (rows, folders)
    spec: str  # registry name or module:Class
    opts: tuple[tuple[str, Any], ...]
    codec_key: str
    kbps: float | None
    ref_path: str
    audio_path: str
    bitstream_path: str
    ref_sha: str
    ref_wav: bytes | None = field(default=None, repr=False, compare=False)  # shipped (no shared FS)

    @property
    def key(self) -> tuple:
        return ("t", self.item, self.condition)


@dataclass
class TranscodeResult:
    fields: dict  # TranscodeRecord fields measured here
    traceback: str = ""
    resource_error: str = ""
    audio_wav: bytes | None = None  # shipped back
    container: bytes | None = None


@dataclass(frozen=True)
class ScoreInput:
    condition: str
    audio_path: str
    audio_sha: str
    wav: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ScoreTask:
    item: str
    item_sha: str
    metric: str  # registry name or module:Class
    opts: tuple[tuple[str, Any], ...]
    metric_key: str
    ref_path: str
    ref_sha: str
    inputs: tuple[ScoreInput, ...]
    ref_wav: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple:
        return ("s", self.item, self.metric)


@dataclass
class ScoreResult:
    rows: list[dict]  # ScoreRow fields without item/item_sha
    stale: list[str] = field(default_factory=list)  # conditions whose audio no longer matches its hash
    traceback: str = ""
    resource_error: str = ""
    unavailable: str = ""  # the metric cannot run here (not stored: a fixed environment computes it)
    failed: str = ""  # the metric could not be set up at all: every input is a metric_error


# ---------------------------------------------------------------------------------------------
# process set-up


def thread_env(threads: int = 1) -> dict[str, str]:
    return {v: str(threads) for v in THREAD_VARS}


def init_process(ctx: RunContext, parent_pid: int, parent_start: str | None = None) -> None:
    """Pool initializer in a worker process we own: thread limits before numeric imports, and a
    watchdog that ends the worker when the process that started the pool (``parent_pid`` with its
    start time, passed in: it may already have died while this worker was starting, and a fork
    server, not it, is the worker's parent) is gone, SIGKILL included."""
    _watch_parent(parent_pid, parent_start)
    for k, v in thread_env(ctx.threads).items():
        os.environ[k] = v  # this is the worker process's own environment
    _limit_threads(ctx.threads)


def _limit_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    # torch only if something already loaded it: importing it costs 1-3 s of CPU per worker, and
    # when it is imported later it takes its thread count from OMP_NUM_THREADS (set before)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def process_start(pid: int) -> str | None:
    """A process's start time (Linux /proc: with the pid, it names one process, not a reused pid);
    None when no such process exists, "" where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]  # field 22, after the command name
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _exists(pid)
    except (OSError, IndexError):
        return _exists(pid)


def _exists(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def _watch_parent(parent: int, start: str | None) -> None:
    import threading
    import time

    def gone() -> bool:
        now = process_start(parent)
        return now is None or (bool(start) and now != start)

    if gone():
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if gone():
                os._exit(1)

    threading.Thread(target=watch, name="evalsuite-parent-watchdog", daemon=True).start()


# ---------------------------------------------------------------------------------------------
# the worker


class Worker:
    """Codec and metric instances for one run in one process."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._codecs: dict[tuple, Any] = {}
        self._metrics: dict[tuple, Any] = {}

    def codec(self, spec: str, opts: tuple) -> Any:
        k = (spec, opts)
        if k not in self._codecs:
            from .codecs import codec_class

            self._codecs[k] = codec_class(spec)(self.ctx, **dict(opts))
        return self._codecs[k]

    def metric(self, spec: str, opts: tuple) -> Any:
        k = (spec, opts)
        if k not in self._metrics:
            from .metrics import metric_class

            self._metrics[k] = metric_class(spec)(self.ctx, **dict(opts))
        return self._metrics[k]

    def run(self, task: TranscodeTask | ScoreTask) -> TranscodeResult | ScoreResult:
        return self.transcode(task) if isinstance(task, TranscodeTask) else self.score(task)

    # --- transcode stage -------------------------------------------------------------------
    def transcode(self, t: TranscodeTask) -> TranscodeResult:
        import numpy as np

        from .audio import AudioError, wav_bytes
        from .codecs.base import CodecUnavailable
        from .fsutil import atomic_write_bytes, is_resource_error, sha256_bytes
        from .layout import CODEC_ERROR, OK, UNAVAILABLE

        shipped = t.ref_wav is not None
        fields: dict[str, Any] = {}
        try:
            ref, rate = _read_ref(t.ref_path, t.ref_sha, t.ref_wav)
            if t.kind != "codec":
                from .anchors import get_anchor

                y = get_anchor(t.codec).process(ref, rate)
                fields.update(lag_samples=0.0, encode_cpu_s=0.0, decode_cpu_s=0.0,
                              codec_settings=_dumps(get_anchor(t.codec).spec()))
            else:
                from .codecs.transcode import transcode

                codec = self.codec(t.spec, t.opts)

                def through_file(blob: bytes) -> bytes:
                    if shipped:
                        return blob
                    atomic_write_bytes(Path(t.bitstream_path), blob, "a bitstream file")
                    return Path(t.bitstream_path).read_bytes()

                r = transcode(codec, ref, rate, float(t.kbps), through_file)
                y = r.audio
                if not np.all(np.isfinite(y)):
                    raise AudioError("decoded audio contains NaN/Inf")
                settings = codec.settings()
                fields.update(kbps_used=r.kbps_used, measured_kbps=r.measured_kbps, lag_samples=float(r.lag_samples),
                              encode_cpu_s=r.encode_cpu_s, decode_cpu_s=r.decode_cpu_s,
                              latency_ms=_float(r.encoded.info.get("latency_ms", settings.get("latency_ms"))),
                              codec_info=_dumps(r.encoded.info),
                              codec_settings=_dumps(settings), codec_version=codec.version(), note=r.note,
                              waveform_note=r.waveform_note, bitstream_sha=sha256_bytes(r.container))
            if t.kind == "reference":  # the prepared item itself: its file is the run's reference
                fields.update(status=OK, audio_sha=t.ref_sha, audio_size=_ref_size(t))
                return TranscodeResult(fields)
            wav = wav_bytes(y, rate)
            sha = sha256_bytes(wav)
            if not shipped:
                atomic_write_bytes(Path(t.audio_path), wav, "decoded audio")
            fields.update(status=OK, audio_sha=sha, audio_size=len(wav))
            return TranscodeResult(fields, audio_wav=wav if shipped else None,
                                   container=r.container if shipped and t.kind == "codec" else None)
        except Exception as e:  # noqa: BLE001 - every failure becomes a status; tracebacks go to the log
            if is_resource_error(e):
                return TranscodeResult({}, resource_error=str(e))
            status = UNAVAILABLE if isinstance(e, CodecUnavailable) else CODEC_ERROR
            return TranscodeResult({**fields, "status": status, "error": _one_line(e)}, traceback=_tb(e, t))

    # --- score stage -----------------------------------------------------------------------
    def score(self, t: ScoreTask) -> ScoreResult:
        import numpy as np

        from .audio import read_audio
        from .fsutil import is_resource_error, read_verified
        from .layout import METRIC_ERROR, OK
        from .metrics.base import MetricUnavailable

        rows: list[dict] = []
        stale: list[str] = []
        tbs: list[str] = []
        try:
            m = self.metric(t.metric, t.opts)
            info = m.describe()
            meta = {"metric": info.name, "metric_key": t.metric_key, "metric_version": info.version,
                    "metric_mode": info.mode, "higher_is_better": int(bool(info.higher_is_better))}
            ref, rate = _read_ref(t.ref_path, t.ref_sha, t.ref_wav)
            feats, feat_err = None, None
            try:
                feats = m.reference_features(ref, rate) if info.needs_reference else None
            except ImportError:
                raise  # installed but not importable: unavailable, not a metric error
            except Exception as e:  # noqa: BLE001
                feat_err = e
                tbs.append(_tb(e, t))
            for inp in t.inputs:
                base = {"condition": inp.condition, "audio_sha": inp.audio_sha, **meta}
                data = inp.wav if inp.wav is not None else read_verified(Path(inp.audio_path), inp.audio_sha)
                if data is None:
                    stale.append(inp.condition)
                    continue
                try:
                    if feat_err is not None:
                        raise feat_err
                    deg, _ = read_audio(io.BytesIO(data))
                    values = m.score_features(feats, deg, rate)
                    for o in info.output_names:
                        v = float(values[o])
                        ok = bool(np.isfinite(v))
                        rows.append({**base, "output": o, "value": v if ok else None, "status": OK if ok else METRIC_ERROR,
                                     "error": "" if ok else "the metric returned a non-finite value"})
                except (MetricUnavailable, ImportError):
                    raise
                except Exception as e:  # noqa: BLE001 - a metric failure on this pair is a status
                    if is_resource_error(e):
                        raise
                    if e is not feat_err:
                        tbs.append(_tb(e, t, inp.condition))
                    rows += [{**base, "output": o, "value": None, "status": METRIC_ERROR, "error": _one_line(e)}
                             for o in info.output_names]
        except Exception as e:  # noqa: BLE001
            if is_resource_error(e):
                return ScoreResult([], resource_error=str(e))
            if isinstance(e, (MetricUnavailable, ImportError)):
                return ScoreResult([], unavailable=_one_line(e), traceback=_tb(e, t))
            return ScoreResult([], traceback=_tb(e, t), failed=_one_line(e))
        return ScoreResult(rows, stale, "\n".join(tbs))


def _read_ref(path: str, sha: str, wav: bytes | None):
    from .audio import AudioError, read_audio
    from .fsutil import read_verified

    data = wav if wav is not None else read_verified(Path(path), sha)
    if data is None:
        raise AudioError(f"the reference {path} is missing or does not match its recorded sha256")
    return read_audio(io.BytesIO(data))


def _ref_size(t: TranscodeTask) -> int:
    return len(t.ref_wav) if t.ref_wav is not None else Path(t.ref_path).stat().st_size


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}"[:500]


def _tb(e: BaseException, t: Any, extra: str = "") -> str:
    head = f"{type(t).__name__} item={getattr(t, 'item', '')} " \
           f"{getattr(t, 'condition', '') or getattr(t, 'metric', '')} {extra}".strip()
    return head + "\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__))


def warm() -> None:
    """Started on every worker at the beginning of a run: the libraries every task needs are
    imported while the main process prepares the corpus."""
    import numpy  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401


# ---------------------------------------------------------------------------------------------
# entry point for executors (pool processes, Dask workers)

_WORKERS: dict[RunContext, Worker] = {}


def run_task(ctx: RunContext, task: TranscodeTask | ScoreTask) -> TranscodeResult | ScoreResult:
    """Run a task in a worker process: one Worker per run context (the previous run's is dropped)."""
    w = _WORKERS.get(ctx)
    if w is None:
        _WORKERS.clear()
        if not os.environ.get("EVALSUITE_WORKER_INIT"):  # Dask workers have no pool initializer
            os.environ["EVALSUITE_WORKER_INIT"] = "1"
            _limit_threads(ctx.threads)
        w = _WORKERS[ctx] = Worker(ctx)
    return w.run(task)
