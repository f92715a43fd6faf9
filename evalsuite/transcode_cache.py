"""Transcodes shared by every run on this machine (in the cache folder), keyed on content only:
(the item's sha256, the condition, the codec key: name, options, settings, library version, code
hash, procedure version). The same item coded the same way gives the same bitstream and decoded
audio whatever the run, item id or folder, so a run into a new folder with one more codec
transcodes only that codec: the others' files are linked (or copied) in from here, verified by
their sha256, with the record the transcode stage measured. ``--no-reuse`` ignores the cache.

Files are stored by their own sha256 (``audio/ab/<sha>.wav``, ``bitstreams/ab/<sha>.esb``), so
identical outputs are stored once; a run folder's file and the cache's are hard links where both
are on one file system (no second copy on disk), copies otherwise.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
from dataclasses import asdict
from pathlib import Path

from .fsutil import atomic_write_bytes, read_verified
from .store import TranscodeRecord

#: the fields that belong to the run, not to the transcode
_RUN_FIELDS = ("item", "audio_rel", "bitstream_rel")


class TranscodeCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._con = sqlite3.connect(str(self.root / "transcodes.sqlite"), timeout=60, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS transcodes (item_sha TEXT, condition TEXT, codec_key TEXT, "
                          "record TEXT, PRIMARY KEY (item_sha, condition, codec_key))")

    @classmethod
    def open(cls, root: Path) -> TranscodeCache | None:
        """The cache, or None if it cannot be used (it only saves time)."""
        try:
            return cls(root)
        except (sqlite3.Error, OSError):
            return None

    def _file(self, kind: str, sha: str, ext: str) -> Path:
        return self.root / kind / sha[:2] / f"{sha}.{ext}"

    def put(self, rec: TranscodeRecord, audio: Path, bitstream: Path | None) -> None:
        """Keep an ``ok`` transcode's files and record (failures to do so are ignored)."""
        if rec.status != "ok" or not rec.audio_sha:
            return
        try:
            _link_or_copy(audio, self._file("audio", rec.audio_sha, "wav"), rec.audio_sha)
            if bitstream is not None and rec.bitstream_sha:
                _link_or_copy(bitstream, self._file("bitstreams", rec.bitstream_sha, "esb"), rec.bitstream_sha)
            fields = {k: v for k, v in asdict(rec).items() if k not in _RUN_FIELDS}
            self._con.execute("INSERT OR REPLACE INTO transcodes VALUES (?, ?, ?, ?)",
                              (rec.item_sha, rec.condition, rec.codec_key, json.dumps(fields)))
        except (OSError, sqlite3.Error):
            pass

    def install(self, item: str, item_sha: str, condition: str, codec_key: str, audio: Path,
                bitstream: Path | None) -> TranscodeRecord | None:
        """The cached transcode of this item and condition put in place at ``audio`` (and
        ``bitstream``), verified by sha256; None if there is none (or its files are gone or damaged)."""
        try:
            row = self._con.execute("SELECT record FROM transcodes WHERE item_sha = ? AND condition = ? AND "
                                    "codec_key = ?", (item_sha, condition, codec_key)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        fields = json.loads(row[0])
        rec = TranscodeRecord(item=item, **fields)
        if not _link_or_copy(self._file("audio", rec.audio_sha, "wav"), audio, rec.audio_sha):
            return None
        if bitstream is not None and rec.bitstream_sha:
            if not _link_or_copy(self._file("bitstreams", rec.bitstream_sha, "esb"), bitstream, rec.bitstream_sha):
                return None
        return rec

    def close(self) -> None:
        self._con.close()


def _link_or_copy(src: Path, dst: Path, sha: str) -> bool:
    """Put a file whose content is ``sha`` at ``dst`` atomically: a hard link to ``src`` (on one
    file system), else a copy. False if ``src`` is missing or not that content. A file already at
    ``dst`` with that content is kept."""
    if read_verified(dst, sha) is not None:
        return True
    data = read_verified(src, sha)
    if data is None:
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".tmp-{secrets.token_hex(6)}"
    try:
        os.link(src, tmp)
        os.replace(tmp, dst)
    except OSError:
        tmp.unlink(missing_ok=True)
        atomic_write_bytes(dst, data, dst.name)
    return True
