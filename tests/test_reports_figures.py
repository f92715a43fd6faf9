"""Figures (evalsuite.plots): panels per group, log-rate axis, y-limits that ignore runaway
intervals and an off-scale reference, intervals cut by the axis marked."""
from __future__ import annotations

import math

import pandas as pd

from evalsuite.plots import bars_figure, curve_figure, plot_all, value_limits


def _cv(ref=4.5, wide_music=50.0, metric="m"):
    rows = []
    for cat, wide in (("clean_speech", 0.1), ("music", wide_music)):
        for codec, rates, q in (("a", [3.0, 6.0], [2.0, 3.0]), ("b", [6.0, 12.0], [2.5, 3.5])):
            for r, m in zip(rates, q):
                rows.append(dict(metric=metric, category=cat, condition=f"{codec}@{r:g}", condition_kind="codec",
                                 codec=codec, requested_kbps=r, measured_kbps=r, mean=m, ci95_low=m - wide,
                                 ci95_high=m + wide, n=4, n_clusters=3, higher_is_better=True))
        rows.append(dict(metric=metric, category=cat, condition="reference", condition_kind="reference",
                         codec="reference", requested_kbps=math.nan, measured_kbps=math.nan, mean=ref, ci95_low=ref,
                         ci95_high=ref, n=4, n_clusters=3, higher_is_better=True))
        rows.append(dict(metric=metric, category=cat, condition="anchor_lp35", condition_kind="anchor",
                         codec="anchor_lp35", requested_kbps=math.nan, measured_kbps=math.nan, mean=1.5,
                         ci95_low=1.2, ci95_high=1.8, n=4, n_clusters=3, higher_is_better=True))
    return pd.DataFrame(rows)


def _draw(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()


def test_value_limits_keep_means_and_cap_wide_intervals():
    lo, hi = value_limits(_cv())
    assert lo < 1.5 and hi > 4.5  # every mean visible
    assert lo > 1.5 - 0.5 * 3.0 - 0.5 and hi < 4.5 + 0.5 * 3.0 + 0.5  # the +-50 intervals do not set the scale


def test_curve_figure_has_a_panel_per_group_on_a_log_axis_and_marks_cut_intervals():
    fig = curve_figure(_cv(), "m")
    _draw(fig)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["clean_speech (n=4, 3 sources)", "music (n=4, 3 sources)"]
    assert all(ax.get_xscale() == "log" for ax in axes)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"a", "b", "reference", "anchor_lp35"} <= labels
    # the +-50 music intervals leave the axis at both ends of each of the 4 points: marked
    ups = [ln for ln in axes[1].get_lines() if ln.get_marker() == "^"]
    downs = [ln for ln in axes[1].get_lines() if ln.get_marker() == "v"]
    assert len(ups) == 4 and len(downs) == 4
    assert "continues beyond the axis" in fig.get_suptitle()
    assert axes[0].get_ylabel() == "m (higher is better)"


def test_si_sdr_reference_is_kept_off_scale():
    cv = _cv(ref=185.0, wide_music=0.1, metric="si_sdr")
    fig = curve_figure(cv, "si_sdr")
    _draw(fig)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert hi < 10  # the codecs' scale, not the 185 dB of the identical signal
    assert any(t.get_text() == "reference: 185 (off scale)" for t in ax.texts)
    assert "reference" not in {t.get_text() for t in fig.legends[0].get_texts()}
    bars = bars_figure(cv, "si_sdr")
    _draw(bars)
    assert bars.axes[0].get_ylim()[1] < 10
    assert any(t.get_text().startswith("reference off scale (185") for t in bars.axes[0].texts)


def test_bars_figure_one_panel_per_requested_bitrate():
    fig = bars_figure(_cv(wide_music=0.1), "m")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["requested 3 kbps\nmeasured ≈ a 3.0", "requested 6 kbps\nmeasured ≈ a 6.0, b 6.0",
                      "requested 12 kbps\nmeasured ≈ b 12.0"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["clean_speech", "music"]


def test_no_interval_no_error_bar():
    cv = _cv(wide_music=0.1)
    cv["ci95_low"] = math.nan
    cv["ci95_high"] = math.nan
    fig = curve_figure(cv, "m")
    from matplotlib.collections import LineCollection

    assert not [c for ax in fig.axes for c in ax.collections if isinstance(c, LineCollection)]


def test_run_plots_are_written(tmp_path):
    paths = plot_all(_cv(), tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["m.png", "m.svg"] and all(p.stat().st_size > 1000 for p in paths)


def test_a_plot_is_the_same_file_every_time(tmp_path):
    """A run's plots are reproducible: drawn again (another run, another process) they are the
    same bytes; an SVG holds no time of drawing and no random ids."""
    first = {p.name: p.read_bytes() for p in plot_all(_cv(), tmp_path / "a")}
    again = {p.name: p.read_bytes() for p in plot_all(_cv(), tmp_path / "b")}
    assert first == again and b"<dc:date>" not in first["m.svg"]
