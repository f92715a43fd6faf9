"""Where tasks run: any object with the ``concurrent.futures.Executor`` shape.

- ``local``: a spawn process pool (``--jobs N``), or this process for ``--jobs 1``;
- ``dask``: an existing Dask distributed scheduler (``--scheduler tcp://HOST:PORT``);
- ``dask-local``: a Dask ``LocalCluster`` of ``--workers N`` single-threaded worker processes.

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

from .context import RunContext


class ExecutorError(RuntimeError):
    """An executor could not be set up (bad settings, unreachable scheduler)."""


@dataclass(frozen=True)
class ExecutorConfig:
    kind: str = "local"  # local | dask | dask-local
    jobs: int = 1
    scheduler: str | None = None
    workers: int = 2

    def validate(self) -> None:
        if self.kind not in ("local", "dask", "dask-local"):
            raise ExecutorError(f"--executor must be local, dask or dask-local; got {self.kind!r}")
        if self.jobs < 1:
            raise ExecutorError(f"--jobs must be at least 1, got {self.jobs}")
        if self.kind == "dask-local" and self.workers < 1:
            raise ExecutorError(f"--workers must be at least 1, got {self.workers}")
        if self.kind == "dask" and not self.scheduler:
            raise ExecutorError("--executor dask needs --scheduler tcp://HOST:PORT")

    def describe(self) -> dict:
        return {"kind": self.kind, "jobs": self.jobs, "scheduler": self.scheduler, "workers": self.workers}


@dataclass
class Execution:
    """How the run gets its executors."""

    make: Callable[[], Executor]
    capacity: int  # tasks in flight at once
    fn: Callable  # task -> result, as the executor calls it
    make_isolated: Callable[[], Executor] | None = None  # one fresh worker, for suspects


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
    import multiprocessing as mp

    # spawn: ViSQOL's and torch's thread pools do not survive fork
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .worker import init_process

    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=init_process,
                               initargs=(ctx, os.getpid()))


@contextlib.contextmanager
def execution(cfg: ExecutorConfig, ctx: RunContext) -> Iterator[Execution]:
    """The executors for one run; cluster resources live as long as the context."""
    from .worker import Worker, run_task

    cfg.validate()
    if cfg.kind == "local" and cfg.jobs == 1:
        worker = Worker(ctx)  # owned by this run, dropped with it
        with _thread_limits(ctx.threads):
            yield Execution(SerialExecutor, 1, worker.run, functools.partial(_pool, 1, ctx))
        return
    fn = functools.partial(run_task, ctx)
    if cfg.kind == "local":
        yield Execution(functools.partial(_pool, cfg.jobs, ctx), cfg.jobs, fn, functools.partial(_pool, 1, ctx))
        return
    with _dask(cfg, ctx) as (client, n):
        # pure=False: a task has side effects (it writes audio)
        yield Execution(lambda: client.get_executor(pure=False), max(1, n), fn)


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


@contextlib.contextmanager
def _dask(cfg: ExecutorConfig, ctx: RunContext):
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ExecutorError("the dask executors need `pip install distributed`") from e
    if cfg.kind == "dask":
        try:
            client = Client(cfg.scheduler, timeout=5)
        except (OSError, TimeoutError) as e:
            raise ExecutorError(f"cannot reach the Dask scheduler at {cfg.scheduler}: {e}") from None
        try:
            yield client, sum(client.nthreads().values()) or 1
        finally:
            client.close()
        return
    from .worker import thread_env

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers (1.7x the CPU per unit here);
    # keep glibc's default. Thread limits go to the workers' environment, not ours.
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    environ.update(thread_env(ctx.threads))
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=cfg.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40, death_timeout=10)
        client = Client(cluster)
        try:
            yield client, cfg.workers
        finally:
            client.close()
            cluster.close()
