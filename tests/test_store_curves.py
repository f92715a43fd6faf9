import math

import numpy as np
import pandas as pd
import pytest

from evalsuite.curves import curves, mean_ci


def _row(item, codec, kbps, metric, value, status="ok"):
    return {"item": item, "category": "music", "codec": codec, "requested_kbps": kbps, "measured_kbps": kbps + 0.1,
            "metric": metric, "value": value, "status": status, "higher_is_better": True}


def test_mean_ci_matches_hand_computation():
    m, sd, lo, hi, n = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    # mean 2.5, sd 1.2910, t(0.975, 3) = 3.182446
    assert m == 2.5 and n == 4
    half = 3.182446305284263 * 1.2909944487358056 / 2
    assert math.isclose(lo, 2.5 - half, rel_tol=1e-9) and math.isclose(hi, 2.5 + half, rel_tol=1e-9)
    assert math.isnan(mean_ci(np.array([1.0]))[2])


def test_curves_group_per_codec_kbps_category_and_pool_all():
    rows = [_row(f"i{k}", "opus", 6, "pesq_wb", v) for k, v in enumerate([2.0, 3.0, 4.0])]
    rows += [{**_row("j", "opus", 6, "pesq_wb", 1.0), "category": "clean_speech"}]
    rows += [_row("bad", "opus", 6, "pesq_wb", float("nan"), status="error")]
    c = curves(pd.DataFrame(rows))
    music = c[(c.category == "music")].iloc[0]
    allc = c[(c.category == "all")].iloc[0]
    assert music["n"] == 3 and music["mean"] == 3.0 and math.isclose(music["measured_kbps"], 6.1)
    assert allc["n"] == 4 and allc["mean"] == 2.5
