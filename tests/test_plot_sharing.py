"""Drawing the export's plots here and on idle workers (evalsuite.plot_sharing): few quick plots
stay here, many slow ones are shared, each is drawn exactly once, and one a worker fails to
draw is drawn here. Real work that takes real time (sleeps) on a real thread pool."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from evalsuite.plot_sharing import WORKER_START_S, draw_all


class Drawer:
    def __init__(self, seconds: float, fail_on_worker: str | None = None) -> None:
        self.seconds, self.fail_on_worker = seconds, fail_on_worker
        self.here: list[str] = []
        self.there: list[str] = []
        self.lock = threading.Lock()
        self.main = threading.get_ident()

    def __call__(self, name: str) -> None:
        on_worker = threading.get_ident() != self.main
        if on_worker and name == self.fail_on_worker:
            raise RuntimeError("matplotlib missing on this worker")
        time.sleep(self.seconds)
        with self.lock:
            (self.there if on_worker else self.here).append(name)


def test_few_quick_plots_are_drawn_here():
    d = Drawer(0.02)
    with ThreadPoolExecutor(2) as ex:
        draw_all(d, [(f"m{i}",) for i in range(4)], ex.submit, 2)
    assert d.here == ["m0", "m1", "m2", "m3"] and d.there == []


def test_many_slow_plots_are_shared_with_idle_workers_each_drawn_once():
    per_plot = WORKER_START_S / 3  # so that 12 plots are far more than a worker's start
    d = Drawer(per_plot, fail_on_worker="m11")
    with ThreadPoolExecutor(2) as ex:
        draw_all(d, [(f"m{i}",) for i in range(12)], ex.submit, 2)
    assert sorted(d.here + d.there) == sorted(f"m{i}" for i in range(12))  # each exactly once
    assert d.there and "m11" in d.here  # shared; the one a worker could not draw was drawn here


def test_without_workers_everything_is_drawn_here():
    d = Drawer(0.01)
    draw_all(d, [("a",), ("b",)])
    assert d.here == ["a", "b"]
