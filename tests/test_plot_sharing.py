"""Drawing the export's plots here and in forked copies of this process (evalsuite.plot_sharing):
real processes, real files. Each plot is drawn exactly once; the copies share the work as soon
as there are two plots; a plot a copy fails on, the plots of a copy that dies, and one a copy
hangs on (the copies are then ended) are drawn here; and a plot drawn in a copy is the same
file, byte for byte, as one drawn here."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from evalsuite.plot_sharing import can_fork, draw_all

pytestmark = pytest.mark.skipif(not can_fork(), reason="plots are shared with forked copies on Linux only")


def _draw(out: Path, name: str, parent: int, seconds: float = 0.05) -> None:
    """Writes out/name holding the drawing process's pid; a second drawing of a name fails
    (exclusive create), so 'each exactly once' is checked where it would go wrong."""
    here = os.getpid() == parent
    if not here and name.startswith("fail"):
        raise RuntimeError("cannot draw this one in a copy")
    if not here and name.startswith("die"):
        os._exit(3)  # the copy is killed mid-plot
    if not here and name.startswith("hang"):
        time.sleep(600)  # a copy stuck (e.g. on a lock a thread held when it was forked)
    time.sleep(seconds)
    with open(out / name, "x") as f:
        f.write(str(os.getpid()))


def _drawn(out: Path) -> dict[str, int]:
    return {p.name: int(p.read_text()) for p in out.iterdir()}


def test_two_quick_plots_are_already_shared(tmp_path):
    names = ["a", "b", "c", "d"]  # the small grid: four plots of about 0.25 s
    draw_all(_draw, [(tmp_path, n, os.getpid()) for n in names], helpers=1)
    drawn = _drawn(tmp_path)
    assert sorted(drawn) == names  # each exactly once (a second drawing would have raised)
    assert os.getpid() in drawn.values() and len(set(drawn.values())) == 2  # here and in a copy


def test_helpers_draw_at_the_same_time(tmp_path):
    n, seconds = 8, 0.2
    t0 = time.perf_counter()
    draw_all(_draw, [(tmp_path, f"m{i}", os.getpid(), seconds) for i in range(n)], helpers=1)
    assert len(_drawn(tmp_path)) == n
    assert time.perf_counter() - t0 < 0.8 * n * seconds  # two at a time: about half of n * seconds


def test_a_plot_a_copy_fails_on_is_drawn_here(tmp_path):
    names = ["a", "b", "c", "fail-1", "fail-2", "d"]
    draw_all(_draw, [(tmp_path, n, os.getpid()) for n in names], helpers=1)
    drawn = _drawn(tmp_path)
    assert sorted(drawn) == sorted(names)
    assert drawn["fail-1"] == drawn["fail-2"] == os.getpid()


def test_the_plots_of_a_copy_that_dies_are_drawn_here(tmp_path):
    names = ["a", "b", "c", "d", "e", "die"]  # taken from the end: the copy takes "die" first
    draw_all(_draw, [(tmp_path, n, os.getpid()) for n in names], helpers=1)
    drawn = _drawn(tmp_path)
    assert sorted(drawn) == sorted(names) and drawn["die"] == os.getpid()


def test_a_copy_that_hangs_is_ended_and_its_plot_drawn_here(tmp_path):
    names = ["a", "b", "c", "hang"]
    t0 = time.perf_counter()
    draw_all(_draw, [(tmp_path, n, os.getpid()) for n in names], helpers=1, timeout=1.0)
    drawn = _drawn(tmp_path)
    assert sorted(drawn) == sorted(names) and drawn["hang"] == os.getpid()
    assert time.perf_counter() - t0 < 30  # not the 600 s the copy would have taken


def test_without_helpers_or_with_one_plot_nothing_is_forked(tmp_path):
    draw_all(_draw, [(tmp_path, "a", os.getpid()), (tmp_path, "b", os.getpid())], helpers=0)
    draw_all(_draw, [(tmp_path, "c", os.getpid())], helpers=3)
    assert set(_drawn(tmp_path).values()) == {os.getpid()}


def _results() -> pd.DataFrame:
    """A run's table, the shape evalsuite.export writes: two codecs, a reference, two metrics."""
    rows = []
    for metric, ref in (("pesq_wb", 4.64), ("stoi", 1.0)):
        for item in range(4):
            for codec, rates in (("opus", (6.0, 12.0)), ("soundstream", (3.0, 6.0))):
                for r in rates:
                    v = ref * (0.5 + 0.04 * r + 0.01 * item)
                    rows.append(dict(item=f"i{item}", category="clean_speech", cluster=f"c{item % 3}",
                                     condition=f"{codec}@{r:g}", condition_kind="codec", codec=codec,
                                     requested_kbps=r, kbps_used=r, measured_kbps=r * 1.01, metric=metric,
                                     value=v, status="ok", error="", higher_is_better=True))
            rows.append(dict(item=f"i{item}", category="clean_speech", cluster=f"c{item % 3}", condition="reference",
                             condition_kind="reference", codec="reference", requested_kbps=math.nan,
                             kbps_used=math.nan, measured_kbps=math.nan, metric=metric, value=ref, status="ok",
                             error="", higher_is_better=True))
    return pd.DataFrame(rows)


def test_plots_drawn_in_copies_are_the_files_drawn_here(tmp_path):
    from evalsuite import layout as L
    from evalsuite.export import export_all

    runs = {}
    for helpers in (0, 1):
        run = L.RunLayout(tmp_path / f"h{helpers}")
        run.root.mkdir()
        export_all(run, _results(), helpers=helpers)
        runs[helpers] = {p.name: p.read_bytes() for p in run.plots_dir.iterdir()}
    assert sorted(runs[0]) == ["pesq_wb.png", "pesq_wb.svg", "stoi.png", "stoi.svg"]
    assert runs[0] == runs[1]
