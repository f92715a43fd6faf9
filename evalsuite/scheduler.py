"""Running tasks on an executor with exact blame when a worker dies.

At most ``capacity`` tasks are in flight (one per worker), so when a process pool breaks (a
worker killed or crashed) the tasks that were running are known exactly: only they are counted
as suspects, re-queued, and a task that was in flight at ``isolate_after`` breaks runs alone in
a fresh one-worker pool. If it kills that worker too, ``on_crash`` turns it into a failure
result; no other task is blamed and the rest of the grid keeps its parallelism.

Waiting tasks start in the order of evalsuite.longest_first (stage by stage, the longest
expected first, costs measured in the workers as tasks finish); re-queued suspects before them.
"""
from __future__ import annotations

import collections
import functools
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .longest_first import Cost, LongestFirst


class Scheduler:
    def __init__(self, make_executor: Callable[[], Executor], capacity: int, fn: Callable[[Any], Any],
                 key: Callable[[Any], Hashable], on_crash: Callable[[Any, str], Any],
                 make_isolated: Callable[[], Executor] | None = None, isolate_after: int = 2,
                 first: Executor | None = None, cost: Callable[[Any], Cost] | None = None) -> None:
        self._make = make_executor
        self._isolated = make_isolated
        self.capacity = max(1, capacity)
        self._fn, self._key, self._on_crash = fn, key, on_crash
        self._isolate_after = isolate_after
        self._order = LongestFirst(cost)  # tasks waiting to start
        self._retry: collections.deque = collections.deque()  # suspects of a broken pool, first
        self._flight: dict[Future, Any] = {}
        self._breaks: dict[Hashable, int] = {}
        self._ex: Executor | None = first  # an executor started early (its workers boot meanwhile)
        self.stopping = False
        self.isolated: list[Any] = []  # tasks that were run alone after breaking pools
        self.pool_breaks = 0
        self.used = False  # a task or call was submitted (else the workers only booted)

    def submit(self, task: Any) -> None:
        if self._breaks.get(self._key(task)):
            self._retry.append(task)
        else:
            self._order.push(task)

    def _waiting(self) -> int:
        return len(self._retry) + len(self._order)

    def pending(self) -> int:
        return self._waiting() + len(self._flight)

    def stop_submitting(self) -> None:
        """Finish what is in flight, start nothing new (e.g. the disk is full)."""
        self.stopping = True
        self._retry.clear()
        self._order.clear()

    def results(self) -> Iterator[tuple[Any, Any]]:
        """(task, result) as tasks finish; tasks submitted meanwhile are picked up."""
        while self._waiting() or self._flight:
            broken = not self._fill()
            if not self._flight and not broken:
                continue
            done, _ = wait(list(self._flight), return_when=FIRST_COMPLETED) if self._flight else (set(), set())
            for f in done:
                task = self._flight.pop(f)
                try:
                    seconds, res = f.result()
                except BrokenProcessPool:
                    broken = True
                    self._suspect(task)
                except Exception as e:  # noqa: BLE001 - a lost Dask worker or a bug in the task wrapper
                    yield task, self._on_crash(task, f"worker failed: {type(e).__name__}: {e}")
                else:
                    self._order.measured(task, seconds)
                    yield task, res
            if broken:
                self.pool_breaks += 1
                # every task still in flight was on the broken pool: suspects, re-queued
                for f, task in list(self._flight.items()):
                    self._flight.pop(f)
                    self._suspect(task)
                self.close()
                yield from self._run_isolated()

    def _suspect(self, task: Any) -> None:
        k = self._key(task)
        self._breaks[k] = self._breaks.get(k, 0) + 1
        if not self.stopping:
            self._retry.appendleft(task)

    def _run_isolated(self) -> Iterator[tuple[Any, Any]]:
        suspects = [t for t in self._retry if self._breaks.get(self._key(t), 0) >= self._isolate_after]
        for t in suspects:
            self._retry.remove(t)
        self.isolated += suspects
        for t in suspects:
            if self._isolated is None:
                yield t, self._on_crash(t, "the worker process died on this task every time it was run")
                continue
            ex = self._isolated()
            try:
                yield t, ex.submit(self._fn, t).result()
            except BrokenProcessPool:
                yield t, self._on_crash(t, "the worker process died on this task (killed or crashed) every time "
                                           "it was run")
            finally:
                shutdown(ex)

    def _fill(self) -> bool:
        """Submit up to capacity; False when the pool turned out to be broken (a worker died
        between our last look and this submit): the task is put back, it never ran."""
        if self.stopping:
            return True
        while self._waiting() and len(self._flight) < self.capacity:
            if self._ex is None:
                self._ex = self._make()
            task = self._next()
            if task is None:
                break
            try:
                self.used = True
                self._flight[self._ex.submit(functools.partial(_timed, self._fn), task)] = task
            except BrokenProcessPool:
                self._retry.appendleft(task)
                return False
        return True

    def _next(self) -> Any | None:
        """The next task to start. At most one suspect (a task that was running when a pool broke)
        runs at a time, beside tasks with a clean record: a second break then points at it, and
        innocent tasks from the same broken pool are not broken again together with it."""
        suspect_running = any(self._breaks.get(self._key(t), 0) for t in self._flight.values())
        if self._retry and not suspect_running:
            return self._retry.popleft()
        return self._order.pop()

    def close(self, kill: bool = False) -> None:
        if self._ex is not None:
            # workers that were given nothing (a resume with nothing to do) are not waited for
            shutdown(self._ex, kill=kill or not self.used)
            self._ex = None


def _timed(fn: Callable[[Any], Any], task: Any) -> tuple[float, Any]:
    """(seconds, result) of one task, measured where it runs: the wait in the executor's queue and
    the transfer are not part of the task's cost."""
    t0 = time.perf_counter()
    res = fn(task)
    return time.perf_counter() - t0, res


class StartingExecutor(Executor):
    """An executor made in a thread, its workers given a first call (``warm``): this process goes on
    (preparing the corpus) while a cluster starts or a fork server loads its libraries. Using it
    waits until it is made; an error in making it is raised there."""

    def __init__(self, make: Callable[[], Executor], first_call: Callable[[], Any], n: int) -> None:
        import threading

        self._made: Future = Future()

        def start() -> None:
            try:
                ex = make()
                for _ in range(n):
                    ex.submit(first_call)
                self._made.set_result(ex)
            except BaseException as e:  # noqa: BLE001 - raised where the executor is used
                self._made.set_exception(e)

        threading.Thread(target=start, name="evalsuite-start-workers", daemon=True).start()

    def made(self) -> Executor:
        return self._made.result()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self.made().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        shutdown(self.made(), kill=not wait)


def shutdown(ex: Executor, kill: bool = False) -> None:
    """Shut an executor down; ``kill`` also terminates local worker processes at once (the run was
    interrupted: nothing they compute now would be stored)."""
    if isinstance(ex, StartingExecutor):
        try:
            ex = ex.made()
        except Exception:  # noqa: BLE001 - it never started: nothing to shut down
            return
    if kill:
        procs = getattr(ex, "_processes", None) or {}
        for p in list(procs.values()):
            try:
                p.terminate()
            except Exception:  # noqa: BLE001 - already gone
                pass
    try:
        ex.shutdown(wait=not kill, cancel_futures=True)
    except TypeError:  # executors without cancel_futures (dask's ClientExecutor)
        ex.shutdown(wait=not kill)
