import math

import numpy as np
import pandas as pd
import pytest

from evalsuite.curves import curves, normalise


def _row(item, codec, kbps, metric, value, status="ok"):
    return {"item": item, "category": "music", "codec": codec, "requested_kbps": kbps, "measured_kbps": kbps + 0.1,
            "metric": metric, "value": value, "status": status, "higher_is_better": True,
            "codec_settings": {"a": 1}}


def _res(rows):
    """rows: (item, category, cluster, condition, value[, status]) -> a new-schema results table."""
    out = []
    for r in rows:
        item, cat, cl, cond, v = r[:5]
        codec, _, k = cond.partition("@")
        out.append({"item": item, "category": cat, "cluster": cl, "codec": codec,
                    "requested_kbps": float(k) if k else float("nan"), "measured_kbps": float(k) + 0.1 if k else float("nan"),
                    "metric": "m", "value": v, "status": r[5] if len(r) > 5 else "ok", "error": r[6] if len(r) > 6 else "",
                    "higher_is_better": True})
    return pd.DataFrame(out)


def test_pools_are_named_by_what_they_hold_and_weigh_categories_equally():
    rows = [(f"c{i}", "clean_speech", f"c{i}", "opus@6", v) for i, v in enumerate([1.0, 2.0, 3.0])]
    rows += [("n0", "noisy_speech", "n0", "opus@6", 10.0), ("g0", "music", "g0", "opus@6", 7.0)]
    c = curves(_res(rows)).set_index("category")
    assert "all" not in c.index
    assert list(c.index) == ["clean_speech", "noisy_speech", "music", "speech"]  # music+general needs both
    assert c.loc["speech", "categories"] == "clean_speech+noisy_speech"
    assert c.loc["speech", "mean"] == pytest.approx((2.0 + 10.0) / 2)  # mean of the category means, not 4.0
    assert c.loc["speech", "n"] == 4 and c.loc["clean_speech", "mean"] == 2.0
    assert c.loc["speech", "measured_kbps"] == pytest.approx(6.1)


def test_conditions_are_compared_on_common_items_only():
    # opus@6 fails on the hard item h: it leaves every condition's mean, n says so
    rows = [("e1", "music", "e1", "opus@6", 4.0), ("e2", "music", "e2", "opus@6", 3.0),
            ("e1", "music", "e1", "soundstream@6", 3.5), ("e2", "music", "e2", "soundstream@6", 3.5),
            ("h", "music", "h", "soundstream@6", 1.0), ("h", "music", "h", "opus@6", float("nan"), "codec_error")]
    c = curves(_res(rows)).set_index("condition")
    assert c.loc["opus@6", "mean"] == 3.5 and c.loc["soundstream@6", "mean"] == 3.5  # not (3.5+3.5+1)/3
    assert (c["n"] == 2).all() and (c["n_dropped"] == 1).all()


def test_intervals_resample_clusters():
    # cluster a: three items scored 1; clusters b and c: one item scored 0 each. Drawing 3
    # clusters: no a (8/27) -> 0, one a (12/27) -> 3/5, two (6/27) -> 6/7, three (1/27) -> 1, so
    # the 2.5% and 97.5% quantiles are 0 and 1. Items as independent would give a t-interval of
    # 0.6 -/+ 0.68 = [-0.08, 1.28] and an item bootstrap [0.2, 1.0].
    rows = [(f"a{i}", "music", "a", "opus@6", 1.0) for i in range(3)]
    rows += [("b0", "music", "b", "opus@6", 0.0), ("c0", "music", "c", "opus@6", 0.0)]
    c = curves(_res(rows)).iloc[0]
    assert c["mean"] == pytest.approx(0.6) and c["n"] == 5 and c["n_clusters"] == 3
    assert (c["ci95_low"], c["ci95_high"]) == (0.0, 1.0)
    again = curves(_res(rows)).iloc[0]
    assert (again["ci95_low"], again["ci95_high"]) == (c["ci95_low"], c["ci95_high"])  # seeded
    # two source recordings are too few for an interval: none is given
    two = curves(_res(rows[:4])).iloc[0]
    assert two["n_clusters"] == 2 and math.isnan(two["ci95_low"]) and math.isnan(two["ci95_high"])


def test_old_schema_is_read_through_the_adapter():
    old = pd.DataFrame([
        {"item": "x", "category": "music", "codec": "reference", "requested_kbps": 0.0, "measured_kbps": np.nan,
         "metric": "m", "value": 4.5, "status": "ok", "higher_is_better": True},
        {"item": "x", "category": "music", "codec": "opus", "requested_kbps": 6.0, "measured_kbps": 6.2,
         "metric": "m", "value": 3.0, "status": "ok", "higher_is_better": True},
        {"item": "y", "category": "music", "codec": "opus", "requested_kbps": 6.0, "measured_kbps": 6.0,
         "metric": "m", "value": np.nan, "status": "error", "higher_is_better": True},
    ])
    n = normalise(old)
    assert list(n["condition"]) == ["reference", "opus@6", "opus@6"]
    assert list(n["condition_kind"]) == ["reference", "codec", "codec"]
    assert math.isnan(n["requested_kbps"].iloc[0]) and list(n["status"]) == ["ok", "ok", "metric_error"]
    assert list(n["cluster"]) == ["x", "x", "y"]  # each item its own cluster when none is recorded
    items = pd.DataFrame({"item": ["x", "y"], "cluster": ["s1", "s1"]})
    assert set(normalise(old, items)["cluster"]) == {"s1"}
    c = curves(old).set_index("condition")
    assert c.loc["reference", "mean"] == 4.5 and math.isnan(c.loc["reference", "requested_kbps"])
    assert c.loc["opus@6", "n"] == 1 and c.loc["opus@6", "measured_kbps"] == pytest.approx(6.2)


def test_not_applicable_rows_are_shown_not_averaged():
    rows = [("x", "music", "x", "opus@6", 3.0), ("y", "music", "y", "opus@6", 5.0),
            ("x", "music", "x", "opus@12", float("nan"), "not_applicable", "phase drifts on tonal music"),
            ("y", "music", "y", "opus@12", float("nan"), "not_applicable", "phase drifts on tonal music")]
    c = curves(_res(rows)).set_index("condition")
    assert c.loc["opus@6", "mean"] == 4.0 and c.loc["opus@6", "n"] == 2
    assert math.isnan(c.loc["opus@12", "mean"]) and c.loc["opus@12", "n"] == 0
    assert c.loc["opus@12", "note"] == "not applicable: phase drifts on tonal music"
