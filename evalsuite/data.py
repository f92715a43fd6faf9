"""The data location: where corpus, models and conformance files live.

evalsuite never hard-codes a path to its assets. One directory (the *data root*) is chosen by,
in order: an explicit ``--data`` option, the ``EVALSUITE_DATA`` environment variable. Inside it:

    corpus/SOURCES.csv + corpus/<category>/<file>   real recordings with licence and sha256
    models/lyra-v2/*.tflite                         Google's released SoundStream (Lyra v2)
    visqol-conformance/EXPECTED.csv + wavs          ViSQOL's published conformance scores

Everything missing is reported with what it is and where it comes from.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ENV_VAR = "EVALSUITE_DATA"


class DataError(RuntimeError):
    """An asset is missing or does not match its recorded checksum."""


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data root from ``explicit`` or ``$EVALSUITE_DATA``; fail clearly otherwise."""
    value = explicit if explicit is not None else os.environ.get(ENV_VAR)
    if not value:
        raise DataError(
            f"No data location set. Pass --data DIR or set {ENV_VAR}=DIR, where DIR holds "
            "corpus/SOURCES.csv, models/lyra-v2/ and visqol-conformance/ "
            "(in a checkout of this project next to its shared/ folder: "
            f"export {ENV_VAR}=$PWD/../shared)."
        )
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"Data location {root} (from {'--data' if explicit else ENV_VAR}) is not a directory.")
    return root


def lyra_model_dir(root: Path) -> Path:
    d = root / "models" / "lyra-v2"
    needed = ["soundstream_encoder.tflite", "quantizer.tflite", "lyragan.tflite"]
    missing = [n for n in needed if not (d / n).is_file()]
    if missing:
        raise DataError(
            f"Lyra v2 SoundStream model files missing in {d}: {', '.join(missing)}. They are "
            "published in github.com/google/lyra (release v1.3.2, lyra/model_coeffs, Apache-2.0); "
            "copy them into that folder of your data location."
        )
    return d


def visqol_conformance_dir(root: Path) -> Path:
    d = root / "visqol-conformance"
    if not (d / "EXPECTED.csv").is_file():
        raise DataError(
            f"ViSQOL conformance data missing: {d / 'EXPECTED.csv'} not found "
            "(it comes from github.com/google/visqol testdata)."
        )
    return d


@dataclass(frozen=True)
class SourceEntry:
    """One row of corpus/SOURCES.csv."""

    file: str  # path relative to corpus/
    category: str
    sample_rate: int
    channels: int
    duration_s: float
    license: str
    source: str
    sha256: str
    note: str

    @property
    def stem(self) -> str:
        return Path(self.file).stem


def read_sources(csv_path: Path) -> list[SourceEntry]:
    if not csv_path.is_file():
        raise DataError(f"Corpus index {csv_path} not found.")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        SourceEntry(
            file=r["file"],
            category=r["category"],
            sample_rate=int(r["sample_rate"]),
            channels=int(r["channels"]),
            duration_s=float(r["duration_s"]),
            license=r.get("license", ""),
            source=r.get("source", ""),
            sha256=r.get("sha256", ""),
            note=r.get("note", ""),
        )
        for r in rows
    ]


@lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def verify_corpus(corpus_dir: Path, entries: list[SourceEntry]) -> None:
    """Check every listed file exists with its recorded sha256; one error lists all problems."""
    problems = []
    for e in entries:
        p = corpus_dir / e.file
        if not p.is_file():
            problems.append(f"missing {p} (upstream: {e.source}; licence: {e.license})")
        elif e.sha256 and sha256_file(p) != e.sha256:
            problems.append(f"sha256 mismatch for {p}: expected {e.sha256} (upstream: {e.source})")
    if problems:
        raise DataError("Corpus check failed:\n  " + "\n  ".join(problems))


def corpus_hash(entries: list[SourceEntry]) -> str:
    """One hash for the whole corpus (over the recorded per-file hashes), stored in run.json."""
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e.file):
        h.update(f"{e.file}:{e.sha256}\n".encode())
    return h.hexdigest()
