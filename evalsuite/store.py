"""The durable results store: SQLite (WAL) with a UNIQUE key per tidy row.

All rows of one unit of work (item x codec x requested kbps, every metric) are written in one
transaction, so a unit is either wholly present or absent: a run killed at any moment resumes
by skipping the units already stored, and ends with exactly the rows of an uninterrupted run.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterable

import pandas as pd

from .layout import RESULT_COLUMNS

_KEY = ("item", "codec", "requested_kbps", "metric")
_TYPES = {
    "requested_kbps": "REAL NOT NULL", "kbps_used": "REAL", "measured_kbps": "REAL", "value": "REAL",
    "higher_is_better": "INTEGER",
}


class ResultStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")  # a committed unit survives power loss
        cols = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" for c in RESULT_COLUMNS)
        self._con.execute(
            f"CREATE TABLE IF NOT EXISTS results ({cols}, UNIQUE({', '.join(_KEY)}) ON CONFLICT REPLACE)"
        )

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write_unit(self, rows: Iterable[dict]) -> int:
        """Insert the rows of one unit atomically; returns how many were written."""
        rows = [self._normalise(r) for r in rows]
        if not rows:
            return 0
        q = f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * len(RESULT_COLUMNS))})"
        with _transaction(self._con):
            self._con.executemany(q, [tuple(r[c] for c in RESULT_COLUMNS) for r in rows])
        return len(rows)

    def done_units(self, retry_statuses: tuple[str, ...] = ()) -> set[tuple[str, str, float]]:
        """Units (item, codec, requested_kbps) with stored rows; units holding a row whose status
        is in ``retry_statuses`` are treated as not done (so they are computed again)."""
        cur = self._con.execute("SELECT item, codec, requested_kbps, status FROM results")
        done: set[tuple[str, str, float]] = set()
        retry: set[tuple[str, str, float]] = set()
        for item, codec, kbps, status in cur:
            key = (item, codec, float(kbps))
            (retry if status in retry_statuses else done).add(key)
        return done - retry

    def dataframe(self) -> pd.DataFrame:
        df = pd.read_sql_query("SELECT * FROM results", self._con)
        df["higher_is_better"] = df["higher_is_better"].astype("boolean")
        return df.sort_values(list(_KEY), kind="stable").reset_index(drop=True)

    @staticmethod
    def _normalise(r: dict) -> dict:
        out = {c: r.get(c) for c in RESULT_COLUMNS}
        for c in ("codec_settings", "codec_info"):
            if not isinstance(out[c], str) and out[c] is not None:
                out[c] = json.dumps(out[c], sort_keys=True, default=str)
        if out["higher_is_better"] is not None:
            out["higher_is_better"] = int(bool(out["higher_is_better"]))
        if out["requested_kbps"] is not None:  # NULL is rejected by the table (NOT NULL)
            out["requested_kbps"] = float(out["requested_kbps"])
        return out


class _transaction:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *rest):
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
