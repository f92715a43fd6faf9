"""The report's figures (matplotlib). Each function returns a Figure; the notebook displays it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import ANCHORS
from .tables import ordered_categories

ANCHOR_STYLE = {"reference": ("k", "-"), "anchor_lp70": ("0.35", "--"), "anchor_lp35": ("0.6", ":")}


def _subplots(ncols: int, figsize, sharey: bool = False):
    """A pyplot-free Figure (no global figure registry, no backend switching): the notebook
    shows it with reports.notebook_helpers.show, tests can save it anywhere."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(1, ncols, sharey=sharey, squeeze=False)


def _legend_below(fig, axes) -> None:
    handles = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=min(len(handles), 4), fontsize=8)


def curve_figure(cv: pd.DataFrame, metric: str, title: str = "", styles: dict | None = None):
    """One panel per category: x = measured kbps (log), mean with 95% CI bars per codec; the
    reference and anchors as horizontal lines. ``cv`` may hold a 'run' column to overlay runs."""
    c = cv[cv["metric"] == metric]
    cats = ordered_categories(c["category"])
    width = max(3.5 * max(1, len(cats)), 6.5)
    fig, axes = _subplots(max(1, len(cats)), (width, 3.6 if len(cats) > 1 else 4.0), sharey=True)
    runs = list(dict.fromkeys(c["run"])) if "run" in c else [None]
    # one colour per codec, one line style per run: the same codec in two runs is easy to pair
    colors = {k: f"C{i % 10}" for i, k in enumerate(x for x in dict.fromkeys(c["codec"]) if x not in ANCHOR_STYLE)}
    line_styles = ["-", "--", "-.", ":"]
    for ax, cat in zip(axes[0], cats):
        d = c[c["category"] == cat]
        for ri, run in enumerate(runs):
            dr = d[d["run"] == run] if run is not None else d
            suffix = f" [{run}]" if run is not None and len(runs) > 1 else ""
            for codec, g in dr.groupby("codec", sort=False):
                if codec in ANCHOR_STYLE:
                    if ri == 0:
                        color, ls = ANCHOR_STYLE[codec]
                        ax.axhline(g["mean"].iloc[0], color=color, ls=ls, lw=1, label=codec)
                    continue
                g = g.dropna(subset=["measured_kbps"]).sort_values("measured_kbps")
                if g.empty:
                    continue
                yerr = np.vstack([g["mean"] - g["ci95_low"], g["ci95_high"] - g["mean"]])
                ax.errorbar(g["measured_kbps"], g["mean"], yerr=np.nan_to_num(yerr), marker="os^D"[ri % 4], capsize=3,
                            ls=line_styles[ri % len(line_styles)], color=colors[codec], label=f"{codec}{suffix}")
        _log_kbps_axis(ax)
        ax.set_title(f"{cat} (n={int(d['n'].max()) if len(d) else 0})", fontsize=9)
        ax.set_xlabel("measured kbps")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel(metric)
    lim = _value_limits(c)
    if lim is not None:
        axes[0][0].set_ylim(*lim)
    if title:
        fig.suptitle(title, fontsize=10)
    _legend_below(fig, axes)
    return fig


def _value_limits(c: pd.DataFrame) -> tuple[float, float] | None:
    """y limits that show every mean and as much of the CIs as stays within half the means'
    span: with two items a t-interval can be ten times wider than the differences that matter."""
    means = c["mean"].to_numpy(dtype=float)
    means = means[np.isfinite(means)]
    if len(means) == 0:
        return None
    lo_m, hi_m = float(means.min()), float(means.max())
    span = hi_m - lo_m or max(abs(hi_m), 1.0) * 0.1
    lows = c["ci95_low"].to_numpy(dtype=float)
    highs = c["ci95_high"].to_numpy(dtype=float)
    lo = max(np.nanmin(lows, initial=lo_m), lo_m - 0.5 * span) if np.isfinite(lows).any() else lo_m
    hi = min(np.nanmax(highs, initial=hi_m), hi_m + 0.5 * span) if np.isfinite(highs).any() else hi_m
    pad = 0.05 * (hi - lo or span)
    return (min(lo, lo_m) - pad, max(hi, hi_m) + pad)


def _log_kbps_axis(ax) -> None:
    """Log-scaled bitrate axis labelled in plain kbps (3, 6, 12 rather than 3x10^0)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def mushra_bars(summary: pd.DataFrame, by: str | None = None, title: str = "MUSHRA"):
    """Mean score with 95% CI per condition (one panel per value of ``by`` if given)."""
    groups = [(None, summary)] if by is None else list(summary.groupby(by, sort=False))
    if by is not None:
        order = ordered_categories([g for g, _ in groups])
        groups = sorted(groups, key=lambda t: order.index(t[0]))
    width = max(4.0, 0.45 * summary["condition"].nunique() + 1.5)
    fig, axes = _subplots(len(groups), (min(width * len(groups), 16), 3.8), sharey=True)
    for ax, (key, d) in zip(axes[0], groups):
        d = d.reset_index(drop=True)
        x = np.arange(len(d))
        err = np.vstack([d["mean"] - d["ci95_low"], d["ci95_high"] - d["mean"]])
        colors = ["0.6" if c in ANCHORS else "C0" for c in d["condition"]]
        ax.bar(x, d["mean"], yerr=np.nan_to_num(err), capsize=3, color=colors)
        ax.set_xticks(x, d["condition"], rotation=60, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(str(key) if key is not None else title, fontsize=9)
    axes[0][0].set_ylabel("MUSHRA score")
    return fig


def mushra_box(ratings: pd.DataFrame, order: list[str]):
    fig, axes = _subplots(1, (max(4.0, 0.45 * len(order) + 1.5), 3.8))
    ax = axes[0][0]
    data = [ratings.loc[ratings["condition"] == c, "score"].to_numpy() for c in order]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(np.arange(1, len(order) + 1), order, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("MUSHRA score")
    ax.grid(axis="y", alpha=0.3)
    return fig


def agreement_scatter(pairs: pd.DataFrame, stats: pd.DataFrame):
    """One panel per metric: objective condition mean (x) vs MUSHRA condition mean (y)."""
    metrics = list(stats["metric"])
    fig, axes = _subplots(max(1, len(metrics)), (3.4 * max(1, len(metrics)), 3.4))
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
    fig, axes = _subplots(1, (max(4.0, 0.5 * len(d) + 1.5), 3.4))
    ax = axes[0][0]
    x = np.arange(len(d))
    err = np.vstack([d["mean_diff"] - d["ci95_low"], d["ci95_high"] - d["mean_diff"]])
    ax.errorbar(x, d["mean_diff"], yerr=np.nan_to_num(err), fmt="o", capsize=3)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, d["condition"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric}: {label_b} - {label_a}")
    ax.grid(alpha=0.3)
    return fig
