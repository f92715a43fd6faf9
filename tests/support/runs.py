"""Helpers for tests that inspect a run's store while it is being written."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_units(db: Path) -> int:
    """Distinct item x codec x kbps units committed so far (0 if the store is not there yet)."""
    try:
        con = sqlite3.connect(str(db), timeout=5)
        n = con.execute("SELECT COUNT(DISTINCT item || codec || requested_kbps) FROM results").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0
