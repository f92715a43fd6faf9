"""Load a run directory (evalsuite.layout) for a report: results, items and run.json.

Only results.parquet (or results.csv) is required; everything a report shows is recomputed
from it, so a report never depends on derived files (curves.csv, plots/) being up to date.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalsuite.layout import OK, RunLayout

#: conditions without a bitstream: drawn as reference lines, never part of bitrate curves
ANCHORS = ("reference", "anchor_lp70", "anchor_lp35")


@dataclass
class RunData:
    layout: RunLayout
    results: pd.DataFrame
    items: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.layout.root.name)

    @property
    def ok(self) -> pd.DataFrame:
        """Rows with a value."""
        return self.results[self.results["status"] == OK]

    def metrics(self) -> list[str]:
        return sorted(self.ok["metric"].unique())

    def codecs(self) -> list[str]:
        """Codecs with a bitrate curve (anchors excluded): in the run configuration's order
        (the codec under test first, as the user listed it), then any others."""
        cfg = self.meta.get("config") if isinstance(self.meta.get("config"), dict) else {}
        present = set(self.results["codec"])
        first = [c for c in (cfg.get("codecs") or []) if c in present]
        rest = [c for c in dict.fromkeys(self.results["codec"]) if c not in first]
        return [c for c in first + rest if c not in ANCHORS]

    def directions(self) -> dict[str, bool]:
        """metric -> higher_is_better (True when unknown)."""
        out = {}
        for m, g in self.results.groupby("metric"):
            v = g["higher_is_better"].dropna()
            out[m] = bool(v.iloc[0]) if len(v) else True
        return out


def load_run(path: str | Path) -> RunData:
    """Read a run directory; a clear error names what is missing."""
    lay = RunLayout(Path(path).expanduser().resolve())
    if not lay.root.is_dir():
        raise FileNotFoundError(f"run directory {lay.root} does not exist")
    if lay.results_parquet.is_file():
        res = pd.read_parquet(lay.results_parquet)
    elif lay.results_csv.is_file():
        res = pd.read_csv(lay.results_csv, keep_default_na=True)
    else:
        raise FileNotFoundError(f"{lay.root} has no results.parquet or results.csv; is it an `evalsuite run` output "
                                "folder (and did the run finish exporting)?")
    missing = {"item", "category", "codec", "requested_kbps", "measured_kbps", "metric", "value", "status"} - set(res.columns)
    if missing:
        raise ValueError(f"{lay.results_parquet.name} in {lay.root} lacks columns {sorted(missing)}")
    res["item"] = res["item"].astype(str)
    items = pd.read_csv(lay.items_csv, dtype={"item": str}) if lay.items_csv.is_file() else pd.DataFrame()
    meta = json.loads(lay.run_json.read_text()) if lay.run_json.is_file() else {}
    return RunData(lay, res, items, meta)


def condition_id(codec: str, kbps: float) -> str:
    """The condition naming shared with the MUSHRA test: 'reference', 'anchor_lp35', 'opus@6'."""
    if codec in ANCHORS:
        return codec
    return f"{codec}@{float(kbps):g}"


def preferred_metric(metrics: list[str]) -> str | None:
    """The metric a report leads with: ViSQOL (speech mode first: SoundStream's claims are about
    speech, and visqol_audio covers only music and general audio), then PESQ-WB and the rest."""
    for m in ("visqol", "visqol_speech", "visqol_audio", "pesq_wb", "mel_distance", "stoi", "estoi", "si_sdr"):
        if m in metrics:
            return m
    return metrics[0] if metrics else None


def condition_order(conditions) -> list[str]:
    """Reference, anchors (high to low), then codecs by name and bitrate."""
    conds = list(dict.fromkeys(conditions))

    def key(c: str):
        if c in ANCHORS:
            return (0, ANCHORS.index(c), "", 0.0)
        codec, _, k = c.rpartition("@")
        try:
            return (1, 0, codec or c, float(k))
        except ValueError:
            return (1, 0, c, 0.0)

    return sorted(conds, key=key)
