"""Figures: panels per category, log-rate axis, y-limits that ignore runaway two-item CIs."""
from __future__ import annotations

import pandas as pd
import pytest

from reports.figures import _value_limits, curve_figure


def _cv():
    rows = []
    for cat, wide in (("all", 0.1), ("music", 50.0)):
        for codec, rates, q in (("a", [3.0, 6.0], [2.0, 3.0]), ("b", [6.0, 12.0], [2.5, 3.5])):
            for r, m in zip(rates, q):
                rows.append(dict(codec=codec, requested_kbps=r, category=cat, metric="m", measured_kbps=r, mean=m,
                                 ci95_low=m - wide, ci95_high=m + wide, n=2))
        rows.append(dict(codec="reference", requested_kbps=0.0, category=cat, metric="m", measured_kbps=float("nan"),
                         mean=4.5, ci95_low=4.5, ci95_high=4.5, n=2))
    return pd.DataFrame(rows)


def test_value_limits_keep_means_and_cap_wide_intervals():
    lo, hi = _value_limits(_cv())
    assert lo < 2.0 and hi > 4.5  # every mean visible
    assert lo > 2.0 - 0.5 * 2.5 - 0.5 and hi < 4.5 + 0.5 * 2.5 + 0.5  # the +-50 intervals do not set the scale


def test_curve_figure_has_a_panel_per_category_on_a_log_axis():
    fig = curve_figure(_cv(), "m")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["all (n=2)", "music (n=2)"]
    assert all(ax.get_xscale() == "log" for ax in axes)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"a", "b", "reference"} <= labels
    assert axes[0].get_ylim() == pytest.approx(_value_limits(_cv()))
