"""Drawing a run's plots after its last task: here, and on idle workers when there are many.

This process has the table, pandas and (loaded in a thread during the run) matplotlib; a worker
has neither and pays about 1.1 s to load them before its first plot. So plots are drawn here one
after another, and a plot is handed to an idle worker only while the plots left would keep this
process busy for longer than that start plus the plot (the time of a plot is measured on the
ones drawn here). Four small plots (0.25 s each) are drawn here alone; seventeen of the default
run's (0.9 s each) are shared with the workers. A plot a worker fails to draw is drawn here.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

#: seconds a worker spends loading pandas and matplotlib before its first plot (measured: 1.1 s)
WORKER_START_S = 1.1


def draw_all(draw: Callable[..., Any], jobs: Sequence[tuple], submit: Callable[..., Future] | None = None,
             workers: int = 0) -> None:
    """``draw(*job)`` for every job; ``submit(draw, *job) -> Future`` runs one on a worker (at most
    ``workers`` at a time)."""
    todo = list(jobs)
    given: dict[Future, tuple] = {}
    spent, drawn = 0.0, 0  # seconds per plot here, measured
    while todo or given:
        for f in [f for f in given if f.done()]:
            job = given.pop(f)
            try:
                f.result()
            except Exception:  # noqa: BLE001 - drawn here instead, where an error is raised as usual
                todo.append(job)
        per_plot = spent / drawn if drawn else None
        if (todo and submit is not None and per_plot is not None and len(given) < workers
                and len(todo) * per_plot > WORKER_START_S + per_plot):
            job = todo.pop()
            try:
                given[submit(draw, *job)] = job
            except Exception:  # noqa: BLE001 - the executor is gone (a broken pool): draw the rest here
                todo.append(job)
                submit = None
            continue
        if todo:
            t0 = time.perf_counter()
            draw(*todo.pop(0))
            spent, drawn = spent + time.perf_counter() - t0, drawn + 1
        elif given:
            wait(list(given), return_when=FIRST_COMPLETED)
