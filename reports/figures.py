"""The report's figures. The rate-quality and MUSHRA figures and their conventions live in
evalsuite.plots (shared with the run's own plots and `mushra report`); this module adds the
figures only a report draws. Every function returns a matplotlib Figure (no pyplot)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalsuite.plots import bars_figure, curve_figure, mushra_box_figure, mushra_means_figure, new_figure

__all__ = ["agreement_scatter", "bars_figure", "curve_figure", "difference_figure", "mushra_box_figure",
           "mushra_means_figure"]


def agreement_scatter(pairs: pd.DataFrame, stats: pd.DataFrame):
    """One panel per metric: objective condition mean (x) vs MUSHRA condition mean (y)."""
    metrics = list(stats["metric"])
    fig, axes = new_figure(max(1, len(metrics)), (3.4 * max(1, len(metrics)), 3.4))
    for ax, m in zip(axes[0], metrics):
        d = pairs[pairs["metric"] == m]
        ax.scatter(d["objective"], d["mushra"], s=18)
        for _, r in d.iterrows():
            ax.annotate(r["condition"], (r["objective"], r["mushra"]), fontsize=6, alpha=0.7)
        s = stats[stats["metric"] == m].iloc[0]
        ax.set_title(f"{m}: r={s['pearson_r']:.2f}, rho={s['spearman_rho']:.2f}", fontsize=9)
        ax.set_xlabel(m)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MUSHRA mean")
    return fig


def difference_figure(diff: pd.DataFrame, metric: str, label_a: str, label_b: str):
    """Paired mean difference (B - A) with 95% CI per condition for one metric."""
    d = diff[diff["metric"] == metric].reset_index(drop=True)
    fig, axes = new_figure(1, (max(4.0, 0.5 * len(d) + 1.5), 3.4))
    ax = axes[0][0]
    x = np.arange(len(d))
    err = np.vstack([d["mean_diff"] - d["ci95_low"], d["ci95_high"] - d["mean_diff"]])
    ax.errorbar(x, d["mean_diff"], yerr=np.nan_to_num(err), fmt="o", capsize=3)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, d["condition"], rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_ylabel(f"{metric}: {label_b} - {label_a}")
    ax.grid(alpha=0.3)
    return fig
