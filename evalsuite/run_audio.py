"""The audio of a finished run, as its results table vouches for it: for each item x condition
the file the run wrote and its sha256. Readers (the MUSHRA build, report players) get audio only
through here, so a file changed or left over from another command is never used silently."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError, read_audio
from .conditions import REFERENCE
from .fsutil import read_verified
from .layout import RunLayout


class RunAudioError(AudioError):
    """Audio a run does not vouch for (missing, changed since the run, not in its table)."""


def audio_index(run: RunLayout) -> dict[tuple[str, str], tuple[str, str]]:
    """(item, condition) -> (path relative to the run, sha256 or '' for runs that predate it)."""
    if run.results_parquet.is_file():
        df = pd.read_parquet(run.results_parquet)
    elif run.results_csv.is_file():
        df = pd.read_csv(run.results_csv, keep_default_na=False)
    else:
        raise RunAudioError(f"{run.root} has no results table; let `evalsuite run` finish (re-run the same command)")
    if "condition" not in df.columns:  # a run written before conditions were recorded
        from .conditions import Condition

        df["condition"] = [Condition.from_row(c, k if k else None).id for c, k in zip(df["codec"], df["requested_kbps"])]
    sha = df["audio_sha256"] if "audio_sha256" in df.columns else pd.Series("", index=df.index)
    df = df.assign(audio_sha256=sha.fillna("").astype(str), audio_path=df["audio_path"].fillna("").astype(str))
    df = df[df["audio_path"] != ""].drop_duplicates(["item", "condition"])
    return {(str(i), str(c)): (p, s) for i, c, p, s in zip(df["item"], df["condition"], df["audio_path"], df["audio_sha256"])}


def read_run_audio(run: RunLayout, index: dict, item: str, condition: str) -> tuple[np.ndarray, int]:
    """The audio the run produced for ``item`` under ``condition``, verified by its sha256."""
    entry = index.get((item, condition))
    if entry is None:
        if condition == REFERENCE:
            entry = (run.relative(run.reference_audio(item)), "")
        else:
            raise RunAudioError(f"{item}: the run's table has no audio for {condition} (not in the run's grid, or it "
                                "failed); re-run `evalsuite run` with it")
    rel, sha = entry
    path = run.root / rel
    if sha:
        data = read_verified(path, sha)
        if data is None:
            raise RunAudioError(f"{path} is missing or changed since the run wrote it (sha256 mismatch); re-run the "
                                "same `evalsuite run` command to restore it")
        return read_audio(io.BytesIO(data))
    if not Path(path).is_file():
        raise RunAudioError(f"{path} is missing; re-run the same `evalsuite run` command to restore it")
    return read_audio(path)
