"""Where tasks run: any object with the ``concurrent.futures.Executor`` shape.

- ``local``: a process pool (``--jobs N``; forked from a fork server that preloads the common
  libraries), or this process for ``--jobs 1``;
- ``dask``: an existing Dask distributed scheduler (``--scheduler tcp://HOST:PORT``);
- ``dask-local``: a Dask ``LocalCluster`` of ``--workers N`` single-threaded worker processes;
- ``slurm``: Dask workers as Slurm batch jobs through dask-jobqueue (evalsuite.slurm).

Workers receive the run context with every task (evalsuite.worker.run_task); nothing is set in
this process's environment. Local pool workers set their own thread limits before importing
numeric libraries and end themselves when this process dies.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .context import RunContext

if TYPE_CHECKING:
    from .slurm import SlurmConfig

#: tasks in flight per Dask worker thread: the next task already waits on the worker when one
#: finishes, instead of after a round trip through the scheduler and this process
DASK_TASKS_PER_WORKER = 2


class ExecutorError(RuntimeError):
    """An executor could not be set up (bad settings, unreachable scheduler)."""


@dataclass(frozen=True)
class ExecutorConfig:
    kind: str = "local"  # local | dask | dask-local | slurm
    jobs: int = 1
    scheduler: str | None = None
    workers: int = 2
    slurm: SlurmConfig | None = None  # --executor slurm (evalsuite.slurm; None: its defaults)

    def validate(self) -> None:
        if self.kind not in ("local", "dask", "dask-local", "slurm"):
            raise ExecutorError(f"--executor must be local, dask, dask-local or slurm; got {self.kind!r}")
        if self.jobs < 1:
            raise ExecutorError(f"--jobs must be at least 1, got {self.jobs}")
        if self.kind == "dask-local" and self.workers < 1:
            raise ExecutorError(f"--workers must be at least 1, got {self.workers}")
        if self.kind == "dask" and not self.scheduler:
            raise ExecutorError("--executor dask needs --scheduler tcp://HOST:PORT")
        if self.kind == "slurm":
            from .slurm import SlurmConfig

            (self.slurm or SlurmConfig()).validate()

    def local_processes(self) -> int:
        """How many of this run's processes compute on this machine: its cores the run may use
        (a remote cluster's workers are elsewhere)."""
        return self.jobs if self.kind == "local" else self.workers if self.kind == "dask-local" else 1

    def describe(self) -> dict:
        d = {"kind": self.kind, "jobs": self.jobs, "scheduler": self.scheduler, "workers": self.workers}
        if self.kind == "slurm":
            d["slurm"] = self.slurm.describe() if self.slurm else {}
        return d


@dataclass
class Execution:
    """How the run gets its executors."""

    make: Callable[[], Executor]
    capacity: int  # tasks in flight at once
    fn: Callable  # task -> result, as the executor calls it
    make_isolated: Callable[[], Executor] | None = None  # one fresh worker, for suspects
    #: make the executor at once, in a thread, and give each worker a first call (a cluster takes
    #: seconds to start); else it is made when the first task is submitted
    warm_up: bool = False
    in_process: bool = False  # tasks run in this process (--jobs 1): nothing runs beside them


class SerialExecutor(Executor):
    """Runs tasks in this process (``--jobs 1``): no pickling, nothing to start."""

    def submit(self, fn, /, *args, **kwargs):
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f


def _pool(jobs: int, ctx: RunContext) -> Executor:
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .worker import init_process, process_start

    return ProcessPoolExecutor(max_workers=jobs, mp_context=_worker_context(), initializer=init_process,
                               initargs=(ctx, os.getpid(), process_start(os.getpid())))


def _worker_context():
    """Workers are forked from a fork server that imported the common libraries once
    (evalsuite.worker_preload), where the platform has one; else spawned. Never forked from this
    process: ViSQOL's and torch's thread pools do not survive a fork. The preload list is the
    multiprocessing module's (one fork server a process); every run sets the same list."""
    import multiprocessing as mp

    return _fork_server(LOCAL_PRELOAD) or mp.get_context("spawn")


#: what the fork servers of local pool workers and of LocalCluster workers import once
LOCAL_PRELOAD = ("evalsuite.worker_preload",)
DASK_PRELOAD = ("distributed", "evalsuite.worker_preload")


def _fork_server(preload: tuple[str, ...]):
    """The forkserver context, its server started (or kept, when it already runs) with ``preload``."""
    import multiprocessing as mp
    from multiprocessing import forkserver

    if "forkserver" not in mp.get_all_start_methods():
        return None
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    forkserver.ensure_running()  # returns at once; the server answers once it has loaded them
    return ctx


def prestart(cfg: ExecutorConfig) -> None:
    """Start the server the run's worker processes will fork from, so that it loads their libraries
    while this process is still starting (imports, the grid, the corpus): called first thing by a
    command that will run tasks. Nothing else starts here; ``execution`` stops the server at the
    end of the run. A process that never gets there ends its server by exiting."""
    if cfg.kind == "local" and cfg.jobs > 1:
        _worker_context()
    elif cfg.kind == "dask-local" and cfg.workers >= 1:
        _fork_server(DASK_PRELOAD)


@contextlib.contextmanager
def prestarted(cfg: ExecutorConfig) -> Iterator[None]:
    """``prestart`` for a command; if the command fails before its run ends the server (``execution``
    does, at the run's end), the server is stopped here."""
    prestart(cfg)
    try:
        yield
    except BaseException:
        stop_fork_server()
        raise


def stop_fork_server() -> None:
    """The run's fork server ends with the run (its workers have): nothing of the run outlives it,
    and its CPU time is accounted to this process, as spawned workers' is. It is signalled first:
    a run with nothing to do need not wait for it to finish loading its libraries."""
    import os
    import signal
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # CPython's, since 3.8
    if stop is None:
        return
    pid = getattr(server, "_forkserver_pid", None)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    stop()


@contextlib.contextmanager
def execution(cfg: ExecutorConfig, ctx: RunContext) -> Iterator[Execution]:
    """The executors for one run; cluster resources live as long as the context."""
    from .worker import Worker, run_task

    cfg.validate()
    if cfg.kind == "local" and cfg.jobs == 1:
        worker = Worker(ctx)  # owned by this run, dropped with it
        with _thread_limits(ctx.threads):
            yield Execution(SerialExecutor, 1, worker.run, functools.partial(_pool, 1, ctx), in_process=True)
        return
    fn = functools.partial(run_task, ctx)
    if cfg.kind == "local":
        try:
            yield Execution(functools.partial(_pool, cfg.jobs, ctx), cfg.jobs, fn, functools.partial(_pool, 1, ctx))
        finally:
            stop_fork_server()
        return
    from .shipping import ShippingExecutor

    with _dask(cfg, ctx) as (client, n):
        # tasks with --ship-audio send each piece of audio once, by content (evalsuite.shipping)
        yield Execution(lambda: ShippingExecutor(client()), max(1, n) * DASK_TASKS_PER_WORKER, fn, warm_up=True)


@contextlib.contextmanager
def _thread_limits(n: int) -> Iterator[None]:
    """Limit BLAS/OpenMP and torch threads in this process for the run, then restore them. Torch
    is not imported for this: if it is not loaded yet, it reads OMP_NUM_THREADS when it is (the
    command line sets that before any numeric import)."""
    import sys

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        if torch and before is not None:
            torch.set_num_threads(before)


def dask_settings(threads: int) -> dict:
    """Dask settings (dotted keys) for the clusters evalsuite starts (dask-local, slurm).

    The statistical profiler (samples the task thread's stack every 10 ms), the 20 ms event-loop
    tick and the 100 ms / 500 ms memory and system monitors cost a 2-worker cluster about 0.13
    CPU-seconds per second, idle or busy (0.015 without them; benchmarks/bench_dask_overhead.py).
    Nothing here uses them: no dashboard, and tasks hold no Dask data to spill. The nanny's
    MALLOC_TRIM_THRESHOLD_=65536 is unset (None: glibc's default): with it every unit cost 1.7x
    the CPU here (large numpy temporaries become fresh mmaps). Worker processes get the thread
    limits in their environment before numpy loads."""
    from .worker import thread_env

    env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in thread_env(threads).items()}
    return {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
            "distributed.worker.memory.monitor-interval": "1s", "distributed.admin.system-monitor.interval": "2s",
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None, **env}


@contextlib.contextmanager
def _dask(cfg: ExecutorConfig, ctx: RunContext):
    import importlib.util

    if importlib.util.find_spec("distributed") is None:  # imported where used: dask-local in a thread
        raise ExecutorError("the dask executors need `pip install distributed`")
    if cfg.kind == "slurm":
        from .slurm import SlurmConfig, slurm_client

        with slurm_client(cfg.slurm or SlurmConfig(), ctx.threads) as (client, n):
            yield lambda: client, n
        return
    if cfg.kind == "dask":
        from distributed import Client

        try:
            client = Client(cfg.scheduler, timeout=5)
        except (OSError, TimeoutError) as e:
            raise ExecutorError(f"cannot reach the Dask scheduler at {cfg.scheduler}: {e}") from None
        try:
            yield lambda: client, sum(client.nthreads().values()) or 1
        finally:
            client.close()
        return
    parts = contextlib.ExitStack()  # the run's settings, cluster and client, undone in reverse at its end
    made: list = []  # [client], made at the first use: in the run's starting thread

    def get_client():
        if not made:
            # set after Distributed is imported: importing it adds its defaults to Dask's config,
            # which restoring the settings must keep. The workers' environment, not ours; kept for
            # the whole run (a nanny restarts a lost worker)
            from distributed import Client

            parts.enter_context(_dask_settings_for_run(ctx.threads))
            cluster = _local_cluster(cfg.workers)
            parts.callback(cluster.close)
            made.append(Client(cluster))
            parts.callback(made[0].close)
        return made[0]

    try:
        yield get_client, cfg.workers
    finally:
        parts.close()
        stop_fork_server()


def _dask_settings_for_run(threads: int):
    """Dask's settings for this run's cluster, applied now; ``__exit__`` restores the previous ones."""
    import dask

    return dask.config.set({**dask_settings(threads), **_fork_server_setting()})


def _fork_server_setting() -> dict:
    """LocalCluster workers forked from a fork server that imported Dask and the common libraries
    once (as local pool workers are), instead of each importing them (about 2.5 s of CPU a worker)."""
    import multiprocessing as mp

    return {"distributed.worker.multiprocessing-method": "forkserver"} if "forkserver" in mp.get_all_start_methods() \
        else {}


def _local_cluster(workers: int):
    """A LocalCluster of single-threaded worker processes. Made in the run's starting thread:
    importing Distributed (about 0.4 s) overlaps with this process's own start."""
    from distributed import LocalCluster
    from distributed.utils import get_mp_context

    if _fork_server_setting():
        get_mp_context()  # Dask sets its preload list once a process; ours replaces it
        _fork_server(DASK_PRELOAD)  # already loading when the command called prestart
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=40, death_timeout=10)
