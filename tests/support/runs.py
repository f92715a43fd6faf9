"""Helpers for tests that inspect a run's store while it is being written."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_units(db: Path) -> int:
    """Records committed so far (transcode records + score rows; 0 if the store is not there yet)."""
    try:
        con = sqlite3.connect(str(db), timeout=5)
        n = con.execute("SELECT (SELECT COUNT(*) FROM transcodes) + (SELECT COUNT(*) FROM scores)").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def comparable(df):
    """A results table without what legitimately differs between identical runs (CPU timings,
    the folder-relative audio path)."""
    from evalsuite.layout import TIMING_COLUMNS

    return df.drop(columns=[c for c in (*TIMING_COLUMNS, "audio_path", "audio_sha256") if c in df.columns])


def store_counts(run_dir: Path) -> dict[str, int]:
    """Records in a run's store: {'transcodes': n, 'scores': n}."""
    con = sqlite3.connect(str(Path(run_dir) / "results.sqlite"), timeout=5)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("transcodes", "scores")}
    finally:
        con.close()
