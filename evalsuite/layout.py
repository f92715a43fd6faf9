"""The layout of a run directory: the one authority for paths inside a run (the runner, the MUSHRA
builder and the report generator all ask it; nothing else builds these paths by hand).

    runs/<name>/
      .evalsuite-run                     marks the folder as a run (never scanned as a corpus)
      .lock                              held by the process writing the run (who, since when)
      run.json                           configuration, versions, conditions, corpus hash, times
      items.csv                          prepared items (corpus.ITEM_COLUMNS)
      audio/reference/<item>.wav         prepared reference: mono, run rate, loudness-normalised
      audio/<codec>/<kbps>/<item>.wav    decoded + aligned output, same rate and length
      audio/<anchor>/<item>.wav          BS.1534 anchors
      bitstreams/<codec>/<kbps>/<item>.esb   the codec's bytes in the bitstream container
      results.sqlite                     the durable store (resume, content-keyed)
      results.parquet, results.csv       tidy table (RESULT_COLUMNS)
      curves.csv, plots/<metric>.png|.svg
      run.log                            tracebacks of codec/metric failures
      shards/<i>-of-<N>/                 shard i of N (--shard): its .lock, run.json, items.csv,
                                         results.sqlite, run.log; its audio and bitstreams go to
                                         the folders above (ShardLayout)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .conditions import REFERENCE, Condition, kbps_label  # noqa: F401  (kbps_label re-exported)

ITEM_COLUMNS = [
    "item", "category", "cluster", "source_file", "segment_start_s", "duration_s", "sample_rate",
    "loudness_lufs", "license", "source", "note", "sha256", "error",
]

RESULT_COLUMNS = [
    "item", "category", "cluster", "condition", "condition_kind", "codec", "requested_kbps", "kbps_used",
    "measured_kbps", "lag_samples", "encode_cpu_s", "decode_cpu_s", "latency_ms", "metric", "value", "status",
    "error", "higher_is_better", "metric_version", "metric_mode", "codec_settings", "codec_info", "codec_version",
    "note", "audio_path", "audio_sha256",
]

#: columns that measure this machine's speed, not the result: they differ between identical runs
TIMING_COLUMNS = ("encode_cpu_s", "decode_cpu_s")

#: row statuses
OK = "ok"
METRIC_ERROR = "metric_error"  # the metric failed on this pair (value NaN); traceback in run.log
CODEC_ERROR = "codec_error"  # the codec failed on this item; traceback in run.log
UNSUPPORTED = "unsupported"  # the bitrate is outside the codec's range
UNAVAILABLE = "unavailable"  # the codec or metric cannot run on this machine (how to get it in error)
BAD_INPUT = "bad_input"  # the item's audio cannot be evaluated
NOT_APPLICABLE = "not_applicable"  # the metric is meaningless for this output (reason in error)
STATUSES = (OK, METRIC_ERROR, CODEC_ERROR, UNSUPPORTED, UNAVAILABLE, BAD_INPUT, NOT_APPLICABLE)
#: statuses --retry-errors computes again
RETRYABLE = (METRIC_ERROR, CODEC_ERROR)

MARKER = ".evalsuite-run"


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def items_csv(self) -> Path:
        return self.root / "items.csv"

    @property
    def store(self) -> Path:
        return self.root / "results.sqlite"

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    @property
    def results_parquet(self) -> Path:
        return self.root / "results.parquet"

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def curves_csv(self) -> Path:
        return self.root / "curves.csv"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def reference_audio(self, item: str) -> Path:
        return self.root / "audio" / REFERENCE / f"{item}.wav"

    def audio(self, cond: Condition, item: str) -> Path:
        """The audio a condition produced for an item (the reference is the prepared item)."""
        return self.root / "audio" / cond.folder / f"{item}.wav"

    def bitstream(self, cond: Condition, item: str) -> Path:
        return self.root / "bitstreams" / cond.folder / f"{item}.esb"

    def decoded_audio(self, codec: str, kbps: float | None, item: str) -> Path:
        """Same as ``audio(Condition.from_row(codec, kbps), item)``."""
        return self.audio(Condition.from_row(codec, kbps), item)

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()


# --- shards (evalsuite/shards.py) ----------------------------------------------------------------

SHARDS_DIR = "shards"


@dataclass(frozen=True)
class ShardLayout(RunLayout):
    """Shard ``index`` of ``count`` of the run in ``root``: what only this shard writes (lock,
    run.json, items.csv, store, log) lives in its own folder, so shards on a shared file system
    never contend for a file; its audio and bitstreams go to the run's folders (the paths above),
    so a merge moves no file and audio paths are those of an unsharded run."""

    index: int = 1
    count: int = 1

    @property
    def dir(self) -> Path:
        return self.root / SHARDS_DIR / f"{self.index}-of-{self.count}"

    @property
    def run_lock(self) -> Path:
        """The run folder's lock (shards hold it shared)."""
        return self.root / ".lock"

    @property
    def lock(self) -> Path:
        return self.dir / ".lock"

    @property
    def run_json(self) -> Path:
        return self.dir / "run.json"

    @property
    def items_csv(self) -> Path:
        return self.dir / "items.csv"

    @property
    def store(self) -> Path:
        return self.dir / "results.sqlite"

    @property
    def log(self) -> Path:
        return self.dir / "run.log"

    @property
    def results_parquet(self) -> Path:
        return self.dir / "results.parquet"

    @property
    def results_csv(self) -> Path:
        return self.dir / "results.csv"

    @property
    def curves_csv(self) -> Path:
        return self.dir / "curves.csv"

    @property
    def plots_dir(self) -> Path:
        return self.dir / "plots"


def shard_layouts(root: Path) -> list[ShardLayout]:
    """The shard folders under a run (any count), by count then index."""
    out = []
    for d in (Path(root) / SHARDS_DIR).glob("*-of-*"):
        i, _, n = d.name.partition("-of-")
        if i.isdigit() and n.isdigit() and d.is_dir():
            out.append(ShardLayout(Path(root), int(i), int(n)))
    return sorted(out, key=lambda s: (s.count, s.index))
