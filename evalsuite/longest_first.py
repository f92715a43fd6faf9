"""The order in which waiting tasks start: stage by stage, and the longest expected first.

A run's wall time ends when its last task does. Started in arrival order, a long task (ViSQOL,
DNSMOS: seconds) often starts last and runs alone while the other workers have nothing left to
do; starting the longest expected task first (LPT scheduling) leaves only short tasks for the
end, so the workers finish together. Costs are learned during the run, not declared: each task
has a class (a metric, a codec condition) and a size (seconds of audio x inputs); a class's
rate is its measured seconds per unit of size so far. A class not measured yet counts as the
longest, so every class is measured early.

Stages come first: a task of stage 0 (a transcode) starts before any waiting task of stage 1
(a score), so every score task is known, and can be ordered, as early as possible.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Hashable
from typing import Any

#: (stage, class, size) of a task
Cost = tuple[int, Hashable, float]


def _same_cost(task: Any) -> Cost:
    return (0, None, 1.0)


class LongestFirst:
    def __init__(self, cost: Callable[[Any], Cost] | None = None) -> None:
        self._cost = cost or _same_cost
        self._waiting: dict[tuple[int, Hashable], list] = {}  # (stage, class) -> heap of (-size, seq, task)
        self._spent: dict[Hashable, list[float]] = {}  # class -> [seconds, size] measured so far
        self._seq = itertools.count()  # equal expectations start in arrival order
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def push(self, task: Any) -> None:
        stage, cls, size = self._cost(task)
        heapq.heappush(self._waiting.setdefault((stage, cls), []), (-float(size), next(self._seq), task))
        self._n += 1

    def expected(self, cls: Hashable, size: float) -> float:
        """Seconds a task of this class and size is expected to take (inf: not measured yet)."""
        spent = self._spent.get(cls)
        if not spent or spent[1] <= 0:
            return math.inf
        return spent[0] / spent[1] * size

    def pop(self) -> Any | None:
        if not self._n:
            return None
        stage = min(s for (s, _), heap in self._waiting.items() if heap)
        best = None
        for (s, cls), heap in self._waiting.items():
            if s != stage or not heap:
                continue
            neg_size, seq, _ = heap[0]
            rank = (-self.expected(cls, -neg_size), seq)
            if best is None or rank < best[0]:
                best = (rank, heap)
        task = heapq.heappop(best[1])[2]
        self._n -= 1
        return task

    def measured(self, task: Any, seconds: float) -> None:
        _, cls, size = self._cost(task)
        spent = self._spent.setdefault(cls, [0.0, 0.0])
        spent[0] += seconds
        spent[1] += float(size)

    def clear(self) -> None:
        self._waiting.clear()
        self._n = 0
