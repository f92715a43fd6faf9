"""Where a corpus comes from: the shared corpus (SOURCES.csv, checked against sha256), a folder
of audio files, or a CSV listing them. Every listed file is either a usable source or a source
with a ``problem`` the run reports as a ``bad_input`` item; nothing is skipped without a word.
"""
from __future__ import annotations

import csv
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .data import data_root, read_sources, verify_corpus

CATEGORIES = ("clean_speech", "noisy_speech", "music", "general")
NOISE_CATEGORY = "noise"
#: folder names (and CSV spellings) accepted for a category
ALIASES = {"speech": "clean_speech", "clean": "clean_speech", "noisy": "noisy_speech", "noise": NOISE_CATEGORY,
           **{c: c for c in CATEGORIES}}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".opus"}
#: a folder holding this file (or run.json) is an evalsuite run, never corpus material
RUN_MARKER = ".evalsuite-run"


class CorpusError(ValueError):
    """A corpus specification that cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class Source:
    """One source recording."""

    path: Path
    category: str
    rel: tuple[str, ...]  # path parts relative to the corpus root (identity)
    license: str = ""
    source: str = ""
    note: str = ""
    sha256: str = ""  # expected content hash, when the corpus index records one
    cluster: str = ""  # explicit recording cluster (derived items share it)
    problem: str = ""  # why this entry cannot be read (not a file, broken link, ...)
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def normalise_category(value: str, where: str) -> str:
    v = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if v in ALIASES:
        return ALIASES[v]
    raise CorpusError(f"{where}: unknown category {value!r}; use one of {', '.join(CATEGORIES + (NOISE_CATEGORY,))}")


def shared_sources(root: Path, verify: bool = True) -> list[Source]:
    """The default corpus: ``<data>/corpus/SOURCES.csv``, every file checked against its sha256."""
    corpus_dir = root / "corpus"
    entries = read_sources(corpus_dir / "SOURCES.csv")
    if verify:
        verify_corpus(corpus_dir, entries)
    return [Source(corpus_dir / e.file, normalise_category(e.category, f"SOURCES.csv {e.file}"),
                   tuple(Path(e.file).parts), e.license, e.source, e.note, e.sha256) for e in entries]


def default_sources(data: str | os.PathLike | None = None) -> list[Source]:
    return shared_sources(data_root(data))


def _problem(p: Path) -> str:
    """'' for a readable regular file (or a link to one), else what is wrong with it."""
    try:
        st = p.stat()
    except FileNotFoundError:
        return "broken symbolic link" if p.is_symlink() else "file not found"
    except OSError as e:
        return f"cannot be accessed ({e.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not an audio file"
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device"
        return f"not a regular file ({kind})"
    if not os.access(p, os.R_OK):
        return "not readable (permission denied)"
    return ""


def is_run_folder(d: Path) -> bool:
    return (d / RUN_MARKER).exists() or (d / "run.json").is_file() and (d / "results.sqlite").exists()


def folder_sources(folder: Path, category: str | None = None, exclude: tuple[Path, ...] = ()) -> list[Source]:
    """Audio files below ``folder``. A first-level sub-folder named after a category sets it
    (speech/ clean_speech/ noisy_speech/ music/ general/ noise/); other files take ``category``
    (``--category``), else 'general'. evalsuite run folders and ``exclude`` are never scanned."""
    root = folder.resolve()
    excl = {Path(e).resolve() for e in exclude}
    out: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if sub.resolve() in excl or is_run_folder(sub) or name.startswith("."):
                continue
            if Path(name).suffix.lower() in AUDIO_SUFFIXES:  # a folder named like an audio file
                out.append(_folder_source(root, sub, category))
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            if Path(name).suffix.lower() in AUDIO_SUFFIXES and not name.startswith("."):
                out.append(_folder_source(root, d / name, category))
    if not out:
        raise CorpusError(f"--corpus {folder}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) found")
    return out


def _folder_source(root: Path, p: Path, category: str | None) -> Source:
    parts = p.relative_to(root).parts
    first = parts[0].lower() if len(parts) > 1 else ""
    cat = ALIASES.get(first) or category or "general"
    note = "user corpus" if (first in ALIASES or category) else "user corpus; category 'general' (no category folder or --category)"
    return Source(p, cat, parts, note=note, problem=_problem(p))


def csv_sources(csv_path: Path) -> list[Source]:
    """A CSV with ``path`` and ``category`` columns (optional: license, source, note, cluster);
    relative paths are relative to the CSV. UTF-8 with or without BOM (as spreadsheets write)."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            rows = list(reader)
    except UnicodeDecodeError as e:
        raise CorpusError(f"--corpus {csv_path}: not UTF-8 text ({e})") from e
    if "path" not in header or "category" not in header:
        raise CorpusError(f"--corpus {csv_path}: a corpus CSV needs 'path' and 'category' columns; found {header or 'none'}")
    out = []
    for n, raw in enumerate(rows, start=2):  # row 1 is the header
        r = {(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        where = f"{csv_path.name} row {n}"
        if not r.get("path"):
            raise CorpusError(f"{where}: empty 'path'")
        if not r.get("category"):
            raise CorpusError(f"{where}: empty 'category' for {r['path']}")
        f = Path(r["path"]).expanduser()
        f = f if f.is_absolute() else (csv_path.parent / f)
        rel = Path(r["path"]).parts if not Path(r["path"]).is_absolute() else (f.parent.name, f.name)
        out.append(Source(f, normalise_category(r["category"], where), tuple(p for p in rel if p not in ("..", ".")),
                          r.get("license", ""), r.get("source", ""), r.get("note", ""), cluster=r.get("cluster", ""),
                          problem=_problem(f)))
    if not out:
        raise CorpusError(f"--corpus {csv_path}: the CSV lists no files")
    return out


def user_sources(spec: str | os.PathLike, category: str | None = None, exclude: tuple[Path, ...] = ()) -> list[Source]:
    p = Path(spec).expanduser()
    if category is not None:
        category = normalise_category(category, "--category")
    if p.is_dir():
        return folder_sources(p, category, exclude)
    if p.is_file() and p.suffix.lower() == ".csv":
        if category:
            raise CorpusError("--category applies to a folder corpus; a CSV names each file's category")
        return csv_sources(p)
    if not p.exists():
        raise CorpusError(f"--corpus {p}: no such folder or file")
    raise CorpusError(f"--corpus {p}: not a folder of audio files or a .csv file")
