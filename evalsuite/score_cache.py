"""Scores shared by every run on this machine (in the cache folder), keyed on content only:
(reference sha256, decoded-audio sha256, metric, metric key, output). The same item coded the
same way and scored by the same metric code and options has the same value whatever the run,
item id or folder, so a second run over the same corpus (one more codec, say) pays only for what
is new: the hidden reference and the anchors, and every deterministic codec's outputs, are scored
once. Only ``ok`` values are shared; ``--no-reuse`` ignores the cache."""
from __future__ import annotations

import sqlite3
from pathlib import Path

_COLS = ("item_sha", "audio_sha", "metric", "metric_key", "output", "value", "metric_version", "metric_mode",
         "higher_is_better")


class ScoreCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS scores (item_sha TEXT, audio_sha TEXT, metric TEXT, "
                          "metric_key TEXT, output TEXT, value REAL, metric_version TEXT, metric_mode TEXT, "
                          "higher_is_better INTEGER, PRIMARY KEY (item_sha, audio_sha, metric, metric_key, output))")

    @classmethod
    def open(cls, path: Path) -> ScoreCache | None:
        """The cache, or None if it cannot be used (it only saves time)."""
        try:
            return cls(path)
        except sqlite3.Error:
            return None

    def for_item(self, item_sha: str) -> dict[tuple[str, str, str], list[dict]]:
        """(audio_sha, metric, metric_key) -> rows, for one reference."""
        out: dict[tuple[str, str, str], list[dict]] = {}
        try:
            cur = self._con.execute(f"SELECT {', '.join(_COLS)} FROM scores WHERE item_sha = ?", (item_sha,))
            for r in cur:
                out.setdefault((r[1], r[2], r[3]), []).append(dict(zip(_COLS, r)))
        except sqlite3.Error:
            return {}
        return out

    def put(self, item_sha: str, rows: list) -> None:
        ok = [(item_sha, r.audio_sha, r.metric, r.metric_key, r.output, r.value, r.metric_version, r.metric_mode,
               r.higher_is_better) for r in rows if r.status == "ok" and r.value is not None]
        if not ok:
            return
        try:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.executemany(f"INSERT OR REPLACE INTO scores ({', '.join(_COLS)}) VALUES "
                                  f"({', '.join('?' * len(_COLS))})", ok)
            self._con.execute("COMMIT")
        except sqlite3.Error:
            try:
                self._con.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self._con.close()
