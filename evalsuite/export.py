"""Write a run's tables and plots from the store's tidy dataframe (atomic file replaces)."""
from __future__ import annotations

import os

import pandas as pd

from .curves import curves
from .layout import RunLayout
from .plots import plot_all


def _atomic(path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def export_all(run: RunLayout, results: pd.DataFrame) -> pd.DataFrame:
    _atomic(run.results_parquet, lambda p: results.to_parquet(p, index=False))
    _atomic(run.results_csv, lambda p: results.to_csv(p, index=False))
    cv = curves(results)
    _atomic(run.curves_csv, lambda p: cv.to_csv(p, index=False))
    plot_all(cv, run.plots_dir)
    return cv
