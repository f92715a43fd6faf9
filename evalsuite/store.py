"""The durable results store: SQLite (WAL), two tables keyed on content.

``transcodes``: one record per item x condition, keyed on the item's content hash and the codec's
settings key (name, options, library version, evalsuite's transcode version), holding what the
transcode stage measured and the sha256 of the decoded audio and bitstream files it wrote.

``scores``: one row per item x condition x metric output, keyed on the item's content hash, the
decoded audio's sha256 and the metric's key (name, options, version). A changed source, codec
setting, decoded file or metric version therefore never matches an old row: nothing stale can
be served, and re-running computes exactly what is missing.

Each transcode record, and the rows of one score task, are committed in one transaction, so a
run killed at any moment resumes to exactly the rows of an uninterrupted run.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .fsutil import ResourceError

SCHEMA_VERSION = 2


class StoreError(RuntimeError):
    """The store file cannot be used (corrupt, not a database, newer format)."""


@dataclass
class TranscodeRecord:
    item: str
    item_sha: str
    condition: str
    codec_key: str
    status: str
    error: str = ""
    kbps_used: float | None = None
    measured_kbps: float | None = None
    lag_samples: float | None = None
    encode_cpu_s: float | None = None
    decode_cpu_s: float | None = None
    latency_ms: float | None = None
    codec_info: str = "{}"
    codec_settings: str = "{}"
    codec_version: str = ""
    note: str = ""
    waveform_note: str = ""  # why waveform metrics do not apply to this output ('' if they do)
    audio_rel: str = ""
    audio_sha: str = ""
    audio_size: int = 0
    bitstream_rel: str = ""
    bitstream_sha: str = ""


@dataclass
class ScoreRow:
    item: str
    item_sha: str
    condition: str
    audio_sha: str
    metric: str  # the metric's registry name
    metric_key: str
    output: str  # the result row's metric column (one metric can have several outputs)
    value: float | None
    status: str
    error: str = ""
    metric_version: str = ""
    metric_mode: str = ""
    higher_is_better: int = 1


_T_KEY = ("item", "item_sha", "condition", "codec_key")
_S_KEY = ("item", "item_sha", "condition", "audio_sha", "metric", "metric_key", "output")
_REAL = {"kbps_used", "measured_kbps", "lag_samples", "encode_cpu_s", "decode_cpu_s", "latency_ms",
         "value"}
_INT = {"audio_size", "higher_is_better"}


def _ddl(name: str, cls, key: tuple[str, ...]) -> str:
    cols = ", ".join(f"{f.name} {'REAL' if f.name in _REAL else 'INTEGER' if f.name in _INT else 'TEXT'}"
                     for f in fields(cls))
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols}, UNIQUE({', '.join(key)}) ON CONFLICT REPLACE)"


class ResultStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._con = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")  # a committed record survives power loss
            self._con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer evalsuite (store format {row[0]}); "
                                 "upgrade evalsuite or choose another --out")
            self._con.execute(_ddl("transcodes", TranscodeRecord, _T_KEY))
            self._con.execute(_ddl("scores", ScoreRow, _S_KEY))
            self._con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as e:
            raise _translate(e, self.path) from e

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------
    def put_transcode(self, rec: TranscodeRecord) -> None:
        self._insert("transcodes", [asdict(rec)])

    def put_scores(self, rows: Iterable[ScoreRow]) -> None:
        self._insert("scores", [asdict(r) for r in rows])

    def _insert(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        q = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        try:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                self._con.executemany(q, [tuple(r[c] for c in cols) for r in rows])
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise _translate(e, self.path) from e

    # --- reading ---------------------------------------------------------------------------
    def transcodes(self) -> dict[tuple[str, str, str, str], TranscodeRecord]:
        try:
            cur = self._con.execute(f"SELECT {', '.join(f.name for f in fields(TranscodeRecord))} FROM transcodes")
            return {(r[0], r[1], r[2], r[3]): TranscodeRecord(*r) for r in cur}
        except sqlite3.DatabaseError as e:
            raise _translate(e, self.path) from e

    def score_index(self) -> dict[tuple, list[ScoreRow]]:
        """(item, item_sha, condition, audio_sha, metric, metric_key) -> its rows (one per output)."""
        out: dict[tuple, list[ScoreRow]] = {}
        try:
            cur = self._con.execute(f"SELECT {', '.join(f.name for f in fields(ScoreRow))} FROM scores")
            for r in cur:
                row = ScoreRow(*r)
                out.setdefault(r[:6], []).append(row)
        except sqlite3.DatabaseError as e:
            raise _translate(e, self.path) from e
        return out

    def delete_transcode(self, rec: TranscodeRecord) -> None:
        try:
            self._con.execute("DELETE FROM transcodes WHERE item=? AND item_sha=? AND condition=? AND codec_key=?",
                              (rec.item, rec.item_sha, rec.condition, rec.codec_key))
        except sqlite3.DatabaseError as e:
            raise _translate(e, self.path) from e


def _translate(e: sqlite3.DatabaseError, path: Path) -> Exception:
    msg = str(e)
    if "full" in msg:
        return ResourceError(28, f"cannot write the results store {path}: the disk is full", str(path))
    if "readonly" in msg or "read-only" in msg:
        return ResourceError(30, f"cannot write the results store {path}: the file or folder is read-only", str(path))
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return StoreError(f"{path} is not a usable evalsuite results store ({msg}); move it away (finished "
                          "results in it cannot be read) or choose another --out")
    return StoreError(f"{path}: {msg}")


def dumps(obj) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, default=str)
