"""``--ship-audio`` on Dask: each piece of audio travels to the workers once, not inside every task.

Tasks built for shipping carry WAV bytes: a transcode task its item's reference, a score task the
reference and every condition's decoded output. Sent as task arguments, every task would carry
them through the scheduler (a score task of the default grid: about 30 MB, which Dask also warns
about), and an item's reference would travel once per condition and once per metric. Here the
executor turns each distinct piece of audio into one small Dask task keyed by its sha256 whose
result is the bytes, and sends the task with those keys instead: the scheduler stores each
piece once, a worker fetches it once (from whichever worker has it), and all of an item's tasks
share it. If the worker holding a piece dies, Dask recomputes it from the task (lineage), so a
killed worker costs nothing more than with paths. Pieces no running task needs are kept up to
``keep_bytes`` for the item's next tasks, then released.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from .worker import ScoreTask, TranscodeTask

#: audio kept on the cluster for tasks to come (an item's score tasks follow its transcodes)
KEEP_BYTES = 512 << 20


def audio_of(task: Any) -> dict[str, bytes]:
    """sha256 -> WAV bytes a task carries (empty for tasks that carry paths)."""
    out: dict[str, bytes] = {}
    if isinstance(task, (TranscodeTask, ScoreTask)) and task.ref_wav is not None:
        out[task.ref_sha] = task.ref_wav
    if isinstance(task, ScoreTask):
        out.update({i.audio_sha: i.wav for i in task.inputs if i.wav is not None})
    return out


def without_audio(task: Any) -> Any:
    """The task with its WAV bytes left out (their sha256 stay: ``with_audio`` puts them back)."""
    task = dataclasses.replace(task, ref_wav=None)
    if isinstance(task, ScoreTask):
        task = dataclasses.replace(task, inputs=tuple(dataclasses.replace(i, wav=None) for i in task.inputs))
    return task


def with_audio(task: Any, audio: dict[str, bytes]) -> Any:
    if task.ref_sha in audio:
        task = dataclasses.replace(task, ref_wav=audio[task.ref_sha])
    if isinstance(task, ScoreTask):
        task = dataclasses.replace(task, inputs=tuple(
            dataclasses.replace(i, wav=audio[i.audio_sha]) if i.audio_sha in audio else i for i in task.inputs))
    return task


def _run(fn: Callable, task: Any, audio: dict[str, bytes]) -> Any:
    """On the worker: Dask has replaced the keys in ``audio`` with the bytes."""
    return fn(with_audio(task, audio))


def _piece(data: bytes) -> bytes:
    return data


class ShippingExecutor(Executor):
    """A ``concurrent.futures`` executor on a Dask client that sends tasks' audio by content key."""

    def __init__(self, client, keep_bytes: int = KEEP_BYTES) -> None:
        self._client = client
        self._ex = client.get_executor(pure=False)  # pure=False: tasks have side effects
        self._keep = keep_bytes
        self._lock = threading.Lock()  # done-callbacks run on the client's event-loop thread
        self._pieces: collections.OrderedDict[str, tuple[Any, int]] = collections.OrderedDict()
        self._pins: collections.Counter[str] = collections.Counter()
        self._held = 0

    def submit(self, fn, /, *args, **kwargs):
        if len(args) != 1 or kwargs or not (audio := audio_of(args[0])):
            return self._ex.submit(fn, *args, **kwargs)
        keys: dict[str, Any] = {}
        with self._lock:  # a piece found here is pinned before a done-callback could release it
            for sha in audio:
                if sha in self._pieces:
                    self._pieces.move_to_end(sha)
                    keys[sha] = self._pieces[sha][0]
                    self._pins[sha] += 1
        new = {sha: self._submit_piece(sha, data) for sha, data in audio.items() if sha not in keys}
        with self._lock:
            for sha, fut in new.items():
                self._pieces[sha] = (fut, len(audio[sha]))
                self._held += len(audio[sha])
                self._pins[sha] += 1
            self._evict()
        keys.update(new)
        f = self._ex.submit(_run, fn, without_audio(args[0]), keys)
        f.add_done_callback(functools.partial(self._unpin, tuple(keys)))
        return f

    def _submit_piece(self, sha: str, data: bytes):
        import dask

        # a long item is one large piece on purpose: not the "large graph" Dask warns about
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "4GiB"}):
            return self._client.submit(_piece, data, key=f"evalsuite-audio-{sha}", pure=False)

    def _unpin(self, shas: tuple[str, ...], _future=None) -> None:
        with self._lock:
            self._pins.subtract(shas)
            self._evict()

    def _evict(self) -> None:
        """Release the least recently used pieces no pending task needs, down to ``keep_bytes``."""
        for sha in list(self._pieces):
            if self._held <= self._keep:
                return
            if self._pins[sha] <= 0:
                fut, n = self._pieces.pop(sha)
                del self._pins[sha]
                self._held -= n
                fut.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._ex.shutdown(wait=wait)
        with self._lock:
            for fut, _ in self._pieces.values():
                fut.release()
            self._pieces.clear()
            self._pins.clear()
            self._held = 0
