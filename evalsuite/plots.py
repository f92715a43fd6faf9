"""The figures of evalsuite and its conventions: run plots, report figures and MUSHRA figures.

Every function returns a ``matplotlib.figure.Figure`` built with the object-oriented API (no
pyplot, no backend switch): the caller's backend and figure registry are never touched. Save
with ``save``; a notebook displays the Figure as it is.

Conventions: x = measured kbps on a log axis; one colour per codec; the hidden reference and the
anchors are horizontal lines, and a reference far outside the codecs' range (SI-SDR of an
identical signal, ~185 dB) is left off the axis with a note instead of setting the scale; error
bars are the curves' 95% intervals; an interval cut by the axis is marked, never cut silently.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .conditions import LOW_ANCHOR, MID_ANCHOR, REFERENCE, Condition, ordered_ids
from .curves import CATEGORY_ORDER, POOLS

ANCHOR_STYLE = {REFERENCE: ("k", "-"), MID_ANCHOR: ("0.35", "--"), LOW_ANCHOR: ("0.6", ":")}
GROUP_ORDER = CATEGORY_ORDER + list(POOLS)  # categories, then the named pools
POOL_NAMES = tuple(POOLS)


def ordered_groups(groups) -> list[str]:
    g = set(groups)
    return [c for c in GROUP_ORDER if c in g] + sorted(g - set(GROUP_ORDER))


def new_figure(ncols: int, figsize, sharey: bool = False, nrows: int = 1):
    """A Figure with an ncols x nrows grid of axes (always 2-D), constrained layout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)


def warm() -> None:
    """Load what drawing needs (matplotlib, the Agg canvas, the font) ahead of drawing, e.g. in a
    thread while a run computes. A failure is left to the drawing itself to report."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(1, 1))
        fig.text(0.5, 0.5, "0")
        FigureCanvasAgg(fig).draw()
    except (ImportError, OSError, RuntimeError, ValueError):
        pass


def save(fig, out_base: Path, exts=("png", "svg"), dpi: int = 120) -> list[Path]:
    """Write ``out_base``.png/.svg through the Agg canvas (no pyplot)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in exts:
        p = out_base.with_suffix(f".{ext}")
        # reproducible files: an SVG without the time of drawing and with ids made from its
        # content (else a random salt), so the same figure is the same bytes in every run
        with matplotlib.rc_context({"svg.hashsalt": "evalsuite"}):
            # constrained layout already fits; "tight" would draw twice
            fig.savefig(p, dpi=dpi, metadata={"Date": None} if ext == "svg" else None)
        fig.set_layout_engine("none")  # laid out once: the next format keeps these positions
        paths.append(p)
    return paths


def log_kbps_axis(ax) -> None:
    """Log-scaled bitrate axis labelled in plain kbps (3, 6, 12 rather than 3x10^0)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def legend_below(fig, axes, ncol: int = 4) -> None:
    handles = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=min(len(handles), ncol),
                   fontsize=8)


def off_scale(value: float, others: np.ndarray) -> bool:
    """A reference value more than the codecs' own span away from them (SI-SDR of the identical
    signal): drawing it would flatten every codec curve into a line."""
    others = np.asarray(others, float)
    others = others[np.isfinite(others)]
    if len(others) == 0 or not np.isfinite(value):
        return False
    lo, hi = float(others.min()), float(others.max())
    span = max(hi - lo, 1e-9)
    return not (lo - span <= value <= hi + span)


def value_limits(c: pd.DataFrame, exclude=()) -> tuple[float, float] | None:
    """y limits that show every mean (except ``exclude`` conditions) and as much of the CIs as
    stays within half the means' span: a few-item interval can be ten times wider than the
    differences that matter (cut intervals are marked by ``mark_clipped``)."""
    d = c[~c["condition"].isin(list(exclude))] if len(exclude) else c
    means = d["mean"].to_numpy(dtype=float)
    means = means[np.isfinite(means)]
    if len(means) == 0:
        return None
    lo_m, hi_m = float(means.min()), float(means.max())
    span = hi_m - lo_m or max(abs(hi_m), 1.0) * 0.1
    lows = d["ci95_low"].to_numpy(dtype=float)
    highs = d["ci95_high"].to_numpy(dtype=float)
    lo = max(np.nanmin(lows, initial=lo_m), lo_m - 0.5 * span) if np.isfinite(lows).any() else lo_m
    hi = min(np.nanmax(highs, initial=hi_m), hi_m + 0.5 * span) if np.isfinite(highs).any() else hi_m
    pad = 0.05 * (hi - lo or span)
    return (min(lo, lo_m) - pad, max(hi, hi_m) + pad)


def mark_clipped(ax, x, low, high) -> int:
    """Draw ▲/▼ at the axis edge where an interval continues beyond it; returns how many."""
    y0, y1 = ax.get_ylim()
    n = 0
    for xi, lo, hi in zip(np.ravel(x), np.ravel(low), np.ravel(high)):
        if np.isfinite(hi) and hi > y1:
            ax.plot([xi], [y1], marker="^", color="crimson", ms=6, clip_on=False, zorder=5)
            n += 1
        if np.isfinite(lo) and lo < y0:
            ax.plot([xi], [y0], marker="v", color="crimson", ms=6, clip_on=False, zorder=5)
            n += 1
    return n


CLIP_NOTE = "▲/▼: interval continues beyond the axis (cut there)"


def _title(fig, title: str, clipped: int) -> None:
    """The figure's title, with the note on cut intervals when there are any (a suptitle, so
    the constrained layout keeps it clear of the panels)."""
    text = "\n".join(t for t in (title, CLIP_NOTE if clipped else "") if t)
    if text:
        fig.suptitle(text, fontsize=9)


def _error_bars(ax, x, mean, low, high, color) -> None:
    """Interval bars where an interval exists (none drawn where it is NaN: no fake zero-width cap)."""
    x, m = np.asarray(x, float), np.asarray(mean, float)
    lo, hi = np.asarray(low, float), np.asarray(high, float)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(m)
    if ok.any():
        ax.errorbar(x[ok], m[ok], yerr=np.vstack([m[ok] - lo[ok], hi[ok] - m[ok]]).clip(min=0), fmt="none",
                    ecolor=color, capsize=3, lw=1.2)


def _panel_title(d: pd.DataFrame, group: str) -> str:
    n = int(d["n"].max()) if len(d) and d["n"].notna().any() else 0
    k = int(d["n_clusters"].max()) if "n_clusters" in d and len(d) and d["n_clusters"].notna().any() else None
    return f"{group} (n={n}" + (f", {k} sources)" if k is not None else ")")


# ---------------------------------------------------------------------------------------------
# rate-quality curves


def curve_figure(cv: pd.DataFrame, metric: str, title: str = "", groups=None):
    """One panel per group (category or pool): x = measured kbps (log), mean with 95% interval
    per codec; reference and anchors as horizontal lines (an off-scale reference as a note).
    ``cv`` may hold a 'run' column to overlay runs (one line style per run)."""
    c = cv[(cv["metric"] == metric) & cv["mean"].notna()]
    gs = ordered_groups(c["category"]) if groups is None else [g for g in groups if g in set(c["category"])]
    fig, axes = new_figure(max(1, len(gs)), (max(3.5 * max(1, len(gs)), 6.5), 3.6 if len(gs) > 1 else 4.0),
                           sharey=True)
    runs = list(dict.fromkeys(c["run"])) if "run" in c else [None]
    codecs = [k for k in dict.fromkeys(c.loc[c["condition_kind"] == "codec", "codec"])]
    colors = {k: f"C{i % 10}" for i, k in enumerate(codecs)}
    refs = c[(c["condition"] == REFERENCE)]
    hidden = [REFERENCE] if len(refs) and off_scale(float(refs["mean"].iloc[0]),
                                                     c.loc[c["condition"] != REFERENCE, "mean"].to_numpy()) else []
    lim = value_limits(c, exclude=hidden)
    clipped = 0
    for ax, grp in zip(axes[0], gs):
        d = c[c["category"] == grp]
        if lim is not None:
            ax.set_ylim(*lim)
        for ri, run in enumerate(runs):
            dr = d[d["run"] == run] if run is not None else d
            suffix = f" [{run}]" if run is not None and len(runs) > 1 else ""
            for cond, g in dr[dr["condition_kind"] != "codec"].groupby("condition", sort=False):
                if ri or cond not in ANCHOR_STYLE:
                    continue
                y = float(g["mean"].iloc[0])
                if cond in hidden:
                    ax.annotate(f"reference: {y:.3g} (off scale)", xy=(0.02, 0.97), xycoords="axes fraction",
                                va="top", fontsize=7)
                    continue
                color, ls = ANCHOR_STYLE[cond]
                ax.axhline(y, color=color, ls=ls, lw=1, label=cond)
            for codec, g in dr[dr["condition_kind"] == "codec"].groupby("codec", sort=False):
                g = g.dropna(subset=["measured_kbps"]).sort_values("measured_kbps")
                if g.empty:
                    continue
                color = colors.get(codec, "C0")
                ax.plot(g["measured_kbps"], g["mean"], marker="os^D"[ri % 4], ls=["-", "--", "-.", ":"][ri % 4],
                        color=color, label=f"{codec}{suffix}")
                _error_bars(ax, g["measured_kbps"], g["mean"], g["ci95_low"], g["ci95_high"], color)
                clipped += mark_clipped(ax, g["measured_kbps"], g["ci95_low"], g["ci95_high"])
        log_kbps_axis(ax)
        ax.set_title(_panel_title(d, grp), fontsize=9)
        ax.set_xlabel("measured kbps")
        ax.grid(alpha=0.3, which="both")
    hib = c["higher_is_better"].dropna()
    direction = "" if not len(hib) else (" (higher is better)" if bool(hib.iloc[0]) else " (lower is better)")
    axes[0][0].set_ylabel(metric + direction)
    _title(fig, title, clipped)
    legend_below(fig, axes)
    return fig


def bars_figure(cv: pd.DataFrame, metric: str, groups=None, title: str = ""):
    """The papers' presentation: one panel per requested bitrate, bars per codec for each
    category with 95% intervals; the anchors (and the reference, unless off scale) as lines."""
    c = cv[(cv["metric"] == metric) & cv["mean"].notna()]
    gs = ordered_groups(c["category"]) if groups is None else [g for g in groups if g in set(c["category"])]
    codec_rows = c[c["condition_kind"] == "codec"]
    points = sorted(codec_rows["requested_kbps"].dropna().unique())
    fig, axes = new_figure(max(1, len(points)), (max(3.2 * max(1, len(points)), 6.5), 3.8), sharey=True)
    codecs = list(dict.fromkeys(codec_rows["codec"]))
    colors = {k: f"C{i % 10}" for i, k in enumerate(codecs)}
    refs = c[c["condition"] == REFERENCE]
    hidden = [REFERENCE] if len(refs) and off_scale(float(refs["mean"].iloc[0]),
                                                     c.loc[c["condition"] != REFERENCE, "mean"].to_numpy()) else []
    lim = value_limits(c, exclude=hidden)
    width = 0.8 / max(1, len(codecs))
    clipped = 0
    for ax, k in zip(axes[0], points):
        if lim is not None:
            ax.set_ylim(*lim)
        x = np.arange(len(gs))
        measured = []
        for i, codec in enumerate(codecs):
            d = codec_rows[(codec_rows["codec"] == codec) & (codec_rows["requested_kbps"] == k)].set_index("category")
            d = d.reindex(gs)
            if d["mean"].isna().all():
                continue
            xs = x + (i - (len(codecs) - 1) / 2) * width
            kb = d.loc[[g for g in gs if g not in POOL_NAMES], "measured_kbps"].dropna()
            if len(kb):
                measured.append(f"{codec} {kb.mean():.1f}")
            bottom = lim[0] if lim is not None else 0.0
            ax.bar(xs, d["mean"] - bottom, bottom=bottom, width=width * 0.95, color=colors[codec], label=codec)
            _error_bars(ax, xs, d["mean"], d["ci95_low"], d["ci95_high"], "k")
            clipped += mark_clipped(ax, xs, d["ci95_low"], d["ci95_high"])
        for cond, (color, ls) in ANCHOR_STYLE.items():
            if cond in hidden:
                continue
            d = c[c["condition"] == cond].set_index("category").reindex(gs)
            for xi, y in zip(x, d["mean"]):
                if np.isfinite(y):
                    ax.hlines(y, xi - 0.45, xi + 0.45, color=color, ls=ls, lw=1.2, label=cond)
        if hidden:
            ax.annotate(f"reference off scale ({float(refs['mean'].iloc[0]):.3g})", xy=(0.02, 0.97),
                        xycoords="axes fraction", va="top", fontsize=7)
        ax.set_xticks(x, gs, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_title(f"requested {k:g} kbps" + ("\nmeasured ≈ " + ", ".join(measured) if measured else ""),
                     fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(metric)
    _title(fig, title, clipped)
    legend_below(fig, axes)
    return fig


def plot_metric(curves: pd.DataFrame, metric: str, out_base: Path) -> list[Path]:
    """The run's plot of one metric (plots/<metric>.png|.svg)."""
    if curves[(curves["metric"] == metric) & curves["mean"].notna()].empty:
        return []
    return save(curve_figure(curves, metric), out_base)


def plot_all(curves: pd.DataFrame, plots_dir: Path) -> list[Path]:
    out = []
    for metric in sorted(curves["metric"].unique()):
        out += plot_metric(curves, metric, plots_dir / metric)
    return out


# ---------------------------------------------------------------------------------------------
# MUSHRA


def _rotated_labels(ax, x, labels) -> None:
    """Tick labels rotated about their anchor, so each label ends exactly at its tick."""
    ax.set_xticks(x, labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)


def mushra_means_figure(summary: pd.DataFrame, by: str | None = None, title: str = "MUSHRA",
                        listeners: dict | int | None = None, low: str = "ci95_low", high: str = "ci95_high"):
    """Mean score with its interval per condition; one panel per value of ``by`` if given.
    ``listeners``: the number of listeners (per panel: a dict keyed by the ``by`` value), put in
    each panel's title. Intervals beyond 0..100 are cut at the scale and marked ▲/▼."""
    groups = [(None, summary)] if by is None else list(summary.groupby(by, sort=False))
    if by is not None:
        order = ordered_groups([g for g, _ in groups])
        groups = sorted(groups, key=lambda t: order.index(t[0]))
    width = max(4.0, 0.45 * summary["condition"].nunique() + 1.5)
    fig, axes = new_figure(max(1, len(groups)), (min(width * len(groups), 16), 4.0), sharey=True)
    clipped = 0
    for ax, (key, d) in zip(axes[0], groups):
        d = d.set_index("condition").loc[ordered_ids(d["condition"])].reset_index()
        x = np.arange(len(d))
        lo = d[low].to_numpy(float)
        hi = d[high].to_numpy(float)
        ax.set_ylim(0, 100)
        err = np.vstack([d["mean"] - np.clip(lo, 0, 100), np.clip(hi, 0, 100) - d["mean"]])
        colors = ["0.6" if not Condition.parse(cnd).is_codec else "C0" for cnd in d["condition"]]
        ax.bar(x, d["mean"], yerr=np.nan_to_num(err).clip(min=0), capsize=3, color=colors)
        clipped += mark_clipped(ax, x, lo, hi)
        _rotated_labels(ax, x, d["condition"])
        ax.grid(axis="y", alpha=0.3)
        n_l = listeners.get(key) if isinstance(listeners, dict) else listeners
        name = str(key) if key is not None else title
        ax.set_title(name + (f" ({n_l} listeners)" if n_l is not None else ""), fontsize=9)
    axes[0][0].set_ylabel("MUSHRA score")
    _title(fig, "", clipped)
    return fig


def mushra_box_figure(ratings: pd.DataFrame, title: str = "MUSHRA scores"):
    """Box plot per condition (whiskers at 1.5 IQR, mean as a marker), labels on their ticks."""
    order = ordered_ids(ratings["condition"].unique())
    fig, axes = new_figure(1, (max(5.0, 0.6 * len(order) + 2), 4.2))
    ax = axes[0][0]
    data = [ratings.loc[ratings["condition"] == c, "score"].to_numpy() for c in order]
    x = np.arange(1, len(order) + 1)
    ax.boxplot(data, positions=x, showmeans=True, whis=1.5)
    _rotated_labels(ax, x, order)
    ax.set_ylim(0, 100)
    ax.set_ylabel("MUSHRA score")
    ax.set_title(f"{title} ({ratings['listener'].nunique()} listeners)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig
