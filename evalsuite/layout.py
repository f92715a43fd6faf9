"""The layout of a run directory: the one contract between the runner, the MUSHRA builder and
the report generator. Nothing else should build these paths by hand.

    runs/<name>/
      run.json                         configuration, package versions, corpus hash, times
      items.csv                        prepared items (ITEM_COLUMNS)
      audio/reference/<item>.wav       prepared reference: mono, run rate, loudness-normalised
      audio/<codec>/<kbps>/<item>.wav  decoded + aligned output, same rate and length
      results.sqlite                   the durable store (resume)
      results.parquet, results.csv     tidy table (RESULT_COLUMNS)
      curves.csv                       codec x kbps x category x metric aggregates
      plots/<metric>.png|.svg
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

ITEM_COLUMNS = [
    "item", "category", "source_file", "segment_start_s", "duration_s", "sample_rate",
    "loudness_lufs", "license", "source", "note", "path",
]

RESULT_COLUMNS = [
    "item", "category", "codec", "requested_kbps", "kbps_used", "measured_kbps", "metric",
    "value", "status", "error", "higher_is_better", "metric_version", "metric_mode",
    "codec_settings", "codec_info", "note", "audio_path",
]

#: row statuses
OK = "ok"
ERROR = "error"  # the metric failed on this pair (value NaN)
CODEC_ERROR = "codec_error"  # the codec failed on this item
UNSUPPORTED = "unsupported"  # the bitrate is outside the codec's range
UNAVAILABLE = "unavailable"  # the codec or metric cannot run on this machine
BAD_INPUT = "bad_input"  # the item's audio cannot be evaluated
STATUSES = (OK, ERROR, CODEC_ERROR, UNSUPPORTED, UNAVAILABLE, BAD_INPUT)

#: requested_kbps used for conditions without a bitrate (reference, anchors)
NO_BITRATE = 0.0


def kbps_label(kbps: float) -> str:
    """Directory label for a bitrate: 3 -> '3', 3.2 -> '3.2'."""
    if kbps is None or (isinstance(kbps, float) and math.isnan(kbps)):
        return "0"
    return f"{float(kbps):g}"


@dataclass(frozen=True)
class RunLayout:
    root: Path

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
        return self.root / "audio" / "reference" / f"{item}.wav"

    def decoded_audio(self, codec: str, kbps: float, item: str) -> Path:
        return self.root / "audio" / codec / kbps_label(kbps) / f"{item}.wav"

    def relative(self, path: Path) -> str:
        return str(Path(path).relative_to(self.root))
