"""Bitrate-quality plots: one figure per metric, one panel per category, x = measured kbps,
one line per codec with 95% CI bars; reference and anchors as horizontal lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ANCHOR_STYLE = {"reference": ("k", "-"), "anchor_lp70": ("0.35", "--"), "anchor_lp35": ("0.6", ":")}
CATEGORY_ORDER = ["all", "clean_speech", "noisy_speech", "music", "general"]


def plot_metric(curves: pd.DataFrame, metric: str, out_base: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = curves[curves["metric"] == metric]
    cats = [k for k in CATEGORY_ORDER if k in set(c["category"])] + sorted(set(c["category"]) - set(CATEGORY_ORDER))
    if not cats:
        return []
    fig, axes = plt.subplots(1, len(cats), figsize=(3.6 * len(cats), 3.4), sharey=True, squeeze=False)
    for ax, cat in zip(axes[0], cats):
        d = c[c["category"] == cat]
        others = d.loc[d["codec"] != "reference", "mean"].dropna()
        lo, hi = (others.min(), others.max()) if len(others) else (np.nan, np.nan)
        for codec, g in d.groupby("codec"):
            if codec in ANCHOR_STYLE:
                color, ls = ANCHOR_STYLE[codec]
                y = g["mean"].iloc[0]
                span = max(hi - lo, 1e-9)
                if codec == "reference" and np.isfinite(lo) and not (lo - span <= y <= hi + span):
                    # unbounded metrics (SI-SDR, SNR) put the identity far off the codecs' scale
                    ax.annotate(f"reference: {y:.3g} (off scale)", xy=(0.02, 0.97), xycoords="axes fraction",
                                va="top", fontsize=7)
                    continue
                ax.axhline(y, color=color, ls=ls, lw=1, label=codec)
                continue
            g = g.sort_values("measured_kbps")
            if g["measured_kbps"].isna().all():
                continue
            yerr = np.vstack([g["mean"] - g["ci95_low"], g["ci95_high"] - g["mean"]])
            ax.errorbar(g["measured_kbps"], g["mean"], yerr=np.nan_to_num(yerr), marker="o", capsize=3, label=codec)
        ax.set_title(f"{cat} (n={int(d['n'].max()) if len(d) else 0})")
        ax.set_xlabel("measured kbps")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 7), fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_base.with_suffix(f".{ext}")
        fig.savefig(p, dpi=120, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def plot_all(curves: pd.DataFrame, plots_dir: Path) -> list[Path]:
    out = []
    for metric in sorted(curves["metric"].unique()):
        out += plot_metric(curves, metric, plots_dir / metric)
    return out
