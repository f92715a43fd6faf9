"""Drawing a run's plots after its last task: in this process and in forked copies of it.

The plots come last, when the run's workers are done and shut down, so the cores they used are
idle. This process holds the table, pandas and matplotlib (loaded in a thread while the run
computed); a forked copy has all of it at once, where a fresh worker would first load pandas and
matplotlib (about 1.1 s). So with ``helpers`` > 0 the plots are shared between this process and
that many forked copies, each taking the next plot when it finishes one. A plot a copy fails to
draw (or the plots of a copy that died) is drawn here, where an error is raised as usual.

The copies are forked before anything is drawn and while no other thread of this run is working
(the run's executors are closed by then), so no lock can be held in them by a thread they lack.
Should a copy hang all the same (``runner.run`` called from a process with threads of its own),
the copies are ended after ``timeout`` seconds on one plot and the rest is drawn here. Only
where fork is the platform's safe default (Linux); elsewhere every plot is drawn here.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

#: seconds a copy may take for one plot before the copies are ended (a plot takes about 1 s)
PLOT_TIMEOUT_S = 120.0


def can_fork() -> bool:
    import multiprocessing as mp

    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


def draw_all(draw: Callable[..., Any], jobs: Sequence[tuple], helpers: int = 0,
             timeout: float = PLOT_TIMEOUT_S) -> None:
    """``draw(*job)`` for every job, each exactly once; ``helpers`` forked copies of this process
    draw beside it. ``draw`` and the jobs must pickle (a module-level function, plain data)."""
    todo = list(jobs)
    helpers = min(helpers, len(todo) - 1) if can_fork() else 0
    if helpers <= 0:
        for job in todo:
            draw(*job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    lock = threading.Lock()
    failed: list[tuple] = []

    def take() -> tuple | None:
        with lock:
            return todo.pop() if todo else None

    with ProcessPoolExecutor(helpers, mp_context=mp.get_context("fork")) as pool:
        try:
            # forks every copy now (fork pools start all their processes at the first submit),
            # from this thread alone, before any drawing
            pool.submit(int).result()
        except Exception:  # noqa: BLE001 - no copy could be made (out of memory): draw here
            for job in todo:
                draw(*job)
            return

        def helper() -> None:
            while (job := take()) is not None:
                try:
                    pool.submit(draw, *job).result(timeout=timeout)
                except TimeoutError:
                    with lock:
                        failed.append(job)
                    _end_copies(pool)  # the other helpers' plots fail too and are drawn here
                except Exception:  # noqa: BLE001 - drawn here instead (also a copy that died)
                    with lock:
                        failed.append(job)

        threads = [threading.Thread(target=helper, name=f"evalsuite-plot-{i}", daemon=True) for i in range(helpers)]
        for t in threads:
            t.start()
        try:
            while (job := take()) is not None:
                draw(*job)
        finally:
            with lock:
                todo.clear()  # after an error here: the copies finish their plot and stop
            for t in threads:
                t.join()
    for job in failed:
        draw(*job)


def _end_copies(pool) -> None:
    for p in list(getattr(pool, "_processes", {}).values()):  # CPython's; the pool then breaks
        try:
            p.kill()
        except (OSError, ValueError):  # already gone
            pass
