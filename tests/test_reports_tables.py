"""Report tables on small hand-built runs (TEST DATA): complexity arithmetic, not-applicable
rows, path stripping, and the rules that decide whether a number is stated."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalsuite.curves import normalise
from evalsuite.layout import RunLayout
from reports import tables
from reports.data import RunData


def _run(rows, items=None, tmp="/nonexistent") -> RunData:
    res = normalise(pd.DataFrame(rows), items)
    return RunData(RunLayout(__import__("pathlib").Path(tmp)), res, items if items is not None else pd.DataFrame(), {})


def _row(item, cat, cond, value, **kw):
    codec, _, k = cond.partition("@")
    return {"item": item, "category": cat, "codec": codec, "requested_kbps": float(k) if k else math.nan,
            "measured_kbps": float(k) if k else math.nan, "metric": kw.pop("metric", "m"), "value": value,
            "status": kw.pop("status", "ok"), "error": kw.pop("error", ""), "higher_is_better": True, **kw}


def test_complexity_is_cpu_seconds_per_second_of_audio():
    items = pd.DataFrame({"item": ["x", "y"], "duration_s": [2.0, 4.0]})
    rows = []
    for metric in ("m", "m2"):  # one row per metric: CPU time counts once per item
        rows += [_row("x", "music", "opus@6", 1.0, metric=metric, encode_cpu_s=0.02, decode_cpu_s=0.01, latency_ms=26.5),
                 _row("y", "music", "opus@6", 1.0, metric=metric, encode_cpu_s=0.04, decode_cpu_s=0.02, latency_ms=26.5),
                 _row("x", "music", "soundstream@6", 1.0, metric=metric, encode_cpu_s=0.3, decode_cpu_s=0.6, latency_ms=40.0),
                 _row("y", "music", "soundstream@6", 1.0, metric=metric, encode_cpu_s=0.3, decode_cpu_s=0.6, latency_ms=40.0)]
    t, note = tables.complexity_table(_run(rows, items))
    t = t.set_index("condition")
    assert t.loc["opus@6", "encode_cpu_s_per_s"] == pytest.approx(0.06 / 6.0)  # (0.02 + 0.04) s over 6 s
    assert t.loc["opus@6", "decode_cpu_s_per_s"] == pytest.approx(0.03 / 6.0)
    assert t.loc["soundstream@6", "decode_cpu_s_per_s"] == pytest.approx(1.2 / 6.0)
    assert t.loc["opus@6", "latency_ms"] == "26.5" and t.loc["soundstream@6", "audio_s"] == 6.0
    assert "per second of audio" in note
    empty, why = tables.complexity_table(_run([_row("x", "music", "opus@6", 1.0)]))
    assert empty.empty and "no encode_cpu_s/decode_cpu_s columns" in why


def test_not_applicable_is_listed_and_shown_as_such():
    rows = [_row("x", "music", "opus@6", 3.0), _row("y", "music", "opus@6", 5.0),
            _row("x", "music", "opus@12", math.nan, status="not_applicable", error="phase not preserved"),
            _row("y", "music", "opus@12", math.nan, status="not_applicable", error="phase not preserved")]
    run = _run(rows)
    na = tables.not_applicable_table(run, "m")
    assert na.to_dict("records") == [{"metric": "m", "condition": "opus@12", "items": 2, "reason": "phase not preserved"}]
    cv = tables.curves(run, B=200)
    piv = tables.mean_ci_pivot(cv, "m")
    assert piv.loc["opus@12", "music"] == "n/a" and piv.loc["opus@6", "music"].startswith("4.000")
    it = tables.item_table(run, "m")
    assert it.loc[("music", "x"), "opus@12"] == "n/a" and it.loc[("music", "x"), "opus@6"] == 3.0


def test_paths_are_stripped_from_recorded_text():
    assert tables.strip_paths("model_dir=/work/shared/models/lyra-v2, x=1") == "model_dir=lyra-v2, x=1"
    assert tables.strip_paths("cannot read /tmp/a b/c.wav: bad") == "cannot read /tmp/a b/c.wav: bad".replace(
        "/tmp/a", "a")
    assert tables.strip_paths("3/4 kbps, ratio 1/2") == "3/4 kbps, ratio 1/2"  # not a path


def _pair_run(n_clusters: int, shift: float, noise: float = 0.2, seed: int = 0, rates_b=(6.0, 9.0, 12.0)):
    """Two codecs on speech items (two items per source recording): B = A's curve shifted right."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clusters):
        for k in range(2):
            item, off = f"s{c}_{k}", rng.normal(0, noise)
            for r in (3.0, 6.0, 9.0):
                rows.append(_row(item, "clean_speech", f"a@{r:g}", math.log2(r) + off, cluster=f"s{c}"))
            for r in rates_b:
                rows.append(_row(item, "clean_speech", f"b@{r:g}", math.log2(r / shift) + off, cluster=f"s{c}"))
    return _run(rows)


def test_bd_rate_is_stated_with_its_interval_when_the_curves_overlap():
    run = _pair_run(8, shift=2.0)
    bd = tables.bd_table(run, "m", "clean_speech", codecs=["a", "b"], B=500).iloc[0]
    # B needs twice A's rate on every item: +100 %, and the interval has no spread
    assert bd["stated"] and bd["bd_rate_pct"] == pytest.approx(100.0) and bd["ci95"] == "[+100.0, +100.0]"
    # qualities log2(3..9) and log2(3..6): overlap 1 of the union's log2(3) = 1.585 -> 63 %
    assert bd["quality_overlap"] == "63%" and bd["n_items"] == 16 and bd["n_sources"] == 8
    # B measured at 3, 6, 9 kbps: qualities log2(1.5..4.5); overlap [log2 3, log2 4.5] = 0.585 of
    # the union [log2 1.5, log2 9] = 2.585 -> 23 %: the BD-rate (still +100 %) is not stated
    far = _pair_run(8, shift=2.0, rates_b=(3.0, 6.0, 9.0))
    low = tables.bd_table(far, "m", "clean_speech", codecs=["a", "b"], B=500).iloc[0]
    assert not low["stated"] and low["quality_overlap"] == "23%" and low["bd_rate_pct"] == pytest.approx(100.0)
    assert low["note"] == "not stated: the curves share only 23% of their joint quality range (minimum 50%)"


def test_savings_sentence_says_when_it_is_not_a_difference():
    # B is A itself (shift 1): matching A at 6 kbps needs 6 kbps, and the interval includes A's own rate
    run = _pair_run(8, shift=1.0, noise=0.3, rates_b=(3.0, 6.0, 9.0))
    sav = tables.savings_table(run, "m", "clean_speech", codecs=["a", "b"], B=500)
    row = sav[(sav["condition"] == "a@6") & (sav["other"] == "b")].iloc[0]
    assert row["other_kbps_needed"] == pytest.approx(6.0)
    assert not row["significant"]
    assert "the interval includes a's own 6.00 kbps: no significant rate difference" in row["statement"]
    few = tables.savings_table(_pair_run(2, shift=2.0), "m", "clean_speech", codecs=["a", "b"], B=500)
    assert (few["status"] != "stated").all()
    assert "only 2 source recording(s), an interval needs at least 3" in few.loc[few["status"] == "not_stated",
                                                                                  "statement"].iloc[0]
