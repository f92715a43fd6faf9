"""Item identity: every item gets one id, unique and safe as a file name, before anything is
written. The run layout derives every path from it (evalsuite.layout); nothing else names files.

Ids are readable (the file's stem), made unique deterministically and independently of the
order sources are listed in: two sources with the same stem are told apart by their folders
(``music/a.wav`` -> ``music_a``, ``general/a.wav`` -> ``general_a``), and names that still
collide after cleaning (``a b.wav`` and ``a_b.wav``) get a short hash of their path. Uniqueness is
checked case-insensitively (case-insensitive file systems), and ids are at most 64 characters.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

MAX_LEN = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def clean(text: str) -> str:
    """ASCII letters, digits and ``._+-``; anything else becomes ``_``; no leading dot or dash."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    t = _UNSAFE.sub("_", t).strip("._-") or "item"
    return t


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def shorten(ident: str, key: str) -> str:
    """Cap the length, keeping the id unique through a hash of ``key``."""
    if len(ident) <= MAX_LEN:
        return ident
    return ident[: MAX_LEN - 9].rstrip("._-") + "-" + _digest(key, 8)


def assign(paths: Sequence[Sequence[str]]) -> list[str]:
    """One id per source, given each source's relative path parts (folders..., file name)."""
    keys = ["/".join(p) for p in paths]
    stems = [clean(_stem(p[-1])) for p in paths]
    ids = list(stems)
    # widen with parent folders while ids collide
    depth = 1
    while True:
        groups = _collisions(ids)
        if not groups or depth > max(len(p) for p in paths):
            break
        for idx in groups:
            parts = paths[idx]
            folders = [clean(x) for x in parts[:-1][-depth:]]
            ids[idx] = "_".join(folders + [stems[idx]]) if folders else stems[idx]
        depth += 1
    for idx in _collisions(ids):
        ids[idx] = f"{ids[idx]}-{_digest(keys[idx])}"
    ids = [shorten(i, k) for i, k in zip(ids, keys)]
    if _collisions(ids):  # only a hash collision could get here
        raise RuntimeError(f"item ids are not unique: {sorted(ids)}")
    return ids


def ensure_unique(ids: Iterable[str]) -> None:
    ids = list(ids)
    dup = _collisions(ids)
    if dup:
        raise RuntimeError(f"duplicate item ids: {sorted({ids[i] for i in dup})}")


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def _collisions(ids: list[str]) -> list[int]:
    seen: dict[str, list[int]] = {}
    for i, x in enumerate(ids):
        seen.setdefault(x.casefold(), []).append(i)
    return [i for group in seen.values() if len(group) > 1 for i in group]
