"""Load a run directory (evalsuite.layout) for a report: results, items and run.json.

Only results.parquet (or results.csv) is required; everything a report shows is recomputed
from it, so a report never depends on derived files (curves.csv, plots/) being up to date.
Results are read through ``evalsuite.curves.normalise``: runs written before the results had
condition/cluster columns read the same as new ones.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalsuite.curves import OK, normalise
from evalsuite.layout import RunLayout

from .errors import ReportError


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
        """Codecs with a bitrate curve (reference and anchors excluded): in the run
        configuration's order (the codec under test first, as the user listed it), then others."""
        cfg = self.meta.get("config") if isinstance(self.meta.get("config"), dict) else {}
        codec_rows = self.results[self.results["condition_kind"] == "codec"]
        present = list(dict.fromkeys(codec_rows["codec"]))
        first = [c for c in (cfg.get("codecs") or []) if c in present]
        return first + [c for c in present if c not in first]

    def directions(self) -> dict[str, bool]:
        """metric -> higher_is_better (True when unknown)."""
        out = {}
        for m, g in self.results.groupby("metric"):
            v = g["higher_is_better"].dropna() if "higher_is_better" in g else pd.Series(dtype=bool)
            out[m] = bool(v.iloc[0]) if len(v) else True
        return out


def load_run(path: str | Path) -> RunData:
    """Read a run directory; a clear error names what is missing."""
    lay = RunLayout(Path(path).expanduser().resolve())
    if not lay.root.is_dir():
        raise ReportError(f"run directory {lay.root.name} does not exist")
    if lay.results_parquet.is_file():
        res = pd.read_parquet(lay.results_parquet)
    elif lay.results_csv.is_file():
        res = pd.read_csv(lay.results_csv, keep_default_na=True)
    else:
        raise ReportError(f"{lay.root.name} has no results.parquet or results.csv; is it an `evalsuite run` "
                                "output folder (and did the run finish exporting)?")
    missing = {"item", "category", "codec", "requested_kbps", "measured_kbps", "metric", "value", "status"} - set(res.columns)
    if missing:
        raise ValueError(f"{lay.results_parquet.name} in {lay.root.name} lacks columns {sorted(missing)}")
    items = pd.read_csv(lay.items_csv, dtype={"item": str}) if lay.items_csv.is_file() else pd.DataFrame()
    meta = json.loads(lay.run_json.read_text()) if lay.run_json.is_file() else {}
    return RunData(lay, normalise(res, items), items, meta)


def preferred_metric(metrics: list[str]) -> str | None:
    """The metric a report leads with: ViSQOL (speech mode first: SoundStream's claims are about
    speech, and visqol_audio covers only music and general audio), then PESQ-WB and the rest."""
    for m in ("visqol", "visqol_speech", "visqol_audio", "pesq_wb", "mel_distance", "stoi", "estoi", "si_sdr"):
        if m in metrics:
            return m
    return metrics[0] if metrics else None
