"""The order in which the scheduler starts waiting tasks (evalsuite.longest_first): stage by stage,
then the longest expected first, with costs measured as tasks finish. Real tasks that take real
time (sleeps of clearly different lengths), run through the scheduler as the engine runs them."""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from evalsuite.executors import SerialExecutor
from evalsuite.longest_first import LongestFirst
from evalsuite.scheduler import Scheduler


@dataclass(frozen=True)
class Job:
    name: str
    stage: int
    cls: str
    size: float
    seconds: float  # what it takes per unit of size

    @property
    def key(self):
        return self.name


def _cost(t: Job):
    return (t.stage, t.cls, t.size)


def _work(t: Job) -> str:
    time.sleep(t.seconds * t.size)
    return t.name


def _order(jobs, capacity=1, make=SerialExecutor) -> list[str]:
    s = Scheduler(make, capacity, _work, key=lambda t: t.key, on_crash=lambda t, msg: msg, cost=_cost)
    for j in jobs:
        s.submit(j)
    try:
        return [res for _, res in s.results()]
    finally:
        s.close()


def test_earlier_stages_first_then_the_longest_expected_task():
    jobs = [Job("short1", 1, "short", 1, 0.0), Job("long1", 1, "long", 1, 0.03),
            Job("short2", 1, "short", 1, 0.0), Job("long2", 1, "long", 1, 0.03),
            Job("short3", 1, "short", 3, 0.0), Job("long3", 1, "long", 2, 0.03),
            Job("t1", 0, "transcode", 1, 0.0), Job("t2", 0, "transcode", 1, 0.0)]
    # stage 0 in arrival order; then the largest task of each class not measured yet (as long as it
    # might be: arrival order among those), then by measured cost: 'long' before 'short'
    assert _order(jobs) == ["t1", "t2", "short3", "long3", "long1", "long2", "short1", "short2"]


def test_a_task_submitted_while_others_run_is_ordered_with_them():
    """The engine submits score tasks as transcodes finish: they join the waiting ones."""
    q = LongestFirst(_cost)
    q.push(Job("a", 1, "m", 1, 0))
    q.measured(Job("x", 1, "m", 2, 0), 2.0)  # 1 s per unit of size
    q.measured(Job("y", 1, "n", 1, 0), 5.0)  # 5 s per unit
    q.push(Job("b", 1, "n", 1, 0))
    q.push(Job("c", 1, "m", 9, 0))
    assert q.expected("m", 9) == 9.0 and q.expected("n", 1) == 5.0 and q.expected("new", 1) == float("inf")
    assert [q.pop().name for _ in range(3)] == ["c", "b", "a"] and q.pop() is None and len(q) == 0


def test_process_pool_runs_every_task_once_in_that_order():
    jobs = [Job(f"s{i}", 1, "short", 1, 0.0) for i in range(4)] + [Job(f"l{i}", 1, "long", 1, 0.05) for i in range(4)]
    with ProcessPoolExecutor(1) as ex:
        done = _order(jobs, capacity=1, make=lambda: ex)
    assert sorted(done) == sorted(j.name for j in jobs)
    assert done[:2] == ["s0", "l0"] and done[2:5] == ["l1", "l2", "l3"]
