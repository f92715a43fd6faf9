"""Shard mode: split one run over machines that cannot reach a common scheduler.

``evalsuite run ... --shard i/N`` computes only shard i's items (every condition and metric of
them: an item's score tasks need its transcodes, so items are the unit) and writes its own store,
lock, run.json and log under ``shards/i-of-N/`` of the run folder (evalsuite.layout.ShardLayout);
its audio and bitstreams go to the run's own folders. Items are assigned by a stable hash of their
id: sorted by ``sha256(id)`` and dealt round-robin, so every shard that prepares the same corpus
makes the same split and the shards differ in size by at most one item. ``evalsuite run ...
--merge`` (evalsuite.merge) then combines the finished shards into the run.

Locks: a shard holds the run folder's lock shared (shards run side by side; an unsharded run or a
merge of the same folder waits for all of them) and its own shard lock exclusively (the same
shard cannot run twice at once).
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from .corpus import PreparedCorpus
from .grid import GridError
from .layout import ShardLayout


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N) with 1 <= i <= N."""
    i, sep, n = str(text).strip().partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit():
        raise GridError(f"--shard expects I/N with whole numbers (e.g. 2/8 for the second of 8 shards), got {text!r}")
    i_, n_ = int(i), int(n)
    if not 1 <= i_ <= n_:
        raise GridError(f"--shard {text}: I must be between 1 and N")
    return i_, n_


def item_rank_key(item_id: str) -> str:
    """The stable hash that orders items for the split (the same on every machine and Python)."""
    return hashlib.sha256(item_id.encode("utf-8")).hexdigest()


def assign(item_ids: list[str], count: int) -> dict[str, int]:
    """item id -> its shard (1..count)."""
    ranked = sorted(item_ids, key=lambda i: (item_rank_key(i), i))
    return {item: k % count + 1 for k, item in enumerate(ranked)}


def select(corpus: PreparedCorpus, shard: tuple[int, int]) -> PreparedCorpus:
    """The part of a prepared corpus that shard ``(i, N)`` computes (items with a bad input
    included: their rows are decided, not computed)."""
    i, n = shard
    owner = assign([it.item for it in corpus.items], n)
    mine = {item for item, s in owner.items() if s == i}
    return PreparedCorpus([it for it in corpus.items if it.item in mine],
                          {k: v for k, v in corpus.audio.items() if k in mine})


@contextlib.contextmanager
def lock(lay: ShardLayout) -> Iterator[None]:
    """The run folder's lock shared, then this shard's lock exclusively."""
    from .lock import RunLock

    lay.dir.mkdir(parents=True, exist_ok=True)
    with RunLock(lay.run_lock, shared=True), RunLock(lay.lock):
        yield
