"""Generate, execute and export a report from a small real run (see reports_fixture_run.py)."""
from __future__ import annotations

import html as htmlmod
import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from reports.bdrate import rate_to_match
from reports.data import load_run
from reports.notebook import ReportSpec, build_notebook, generate_report
from reports_fixture_run import make_run


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("reports_runs")
    a = make_run(data_dir, work, "run_a")
    b = make_run(data_dir, work, "run_b", codec_opts={"opus": {"complexity": 0}})
    return a, b


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    a, b = runs
    out = tmp_path_factory.mktemp("report")
    files = generate_report(ReportSpec(a, compare_dir=b), out, name="cmp")
    return files, files.html.read_text(encoding="utf-8")


def _ok(run_dir) -> pd.DataFrame:
    r = pd.read_parquet(run_dir / "results.parquet")
    return r[r["status"] == "ok"]


def test_fixture_run_follows_the_layout(runs):
    from evalsuite.layout import RESULT_COLUMNS

    for d in runs:
        r = pd.read_parquet(d / "results.parquet")
        assert list(r.columns)[: len(RESULT_COLUMNS)] == RESULT_COLUMNS
        assert set(r["codec"]) == {"soundstream", "opus", "reference", "anchor_lp35", "anchor_lp70"}
        assert set(r["status"]) == {"ok", "unsupported"}  # SoundStream stops at 9.2 kbps
        assert set(r.loc[r["status"] == "unsupported", "codec"]) == {"soundstream"}
        assert (d / "run.json").is_file() and (d / "items.csv").is_file()


def test_notebook_is_valid_and_executed(report):
    files, _ = report
    nb = nbformat.read(files.notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_html_has_every_section(report):
    _, html = report
    for heading in ("1. Run summary", "Corpus", "2. Bitrate–quality curves", "3. Bitrate savings and BD-rate",
                    "4. Items and listening examples", "6. Run comparison"):
        assert heading in html, heading
    assert "5. MUSHRA listening test" not in html  # not asked for


def test_html_embeds_figures_and_audio(report, runs):
    _, html = report
    pngs = re.findall(r'<img[^>]+src="data:image/png;base64,', html)
    # curves per metric (2) + per shared metric in the comparison: overlay + differences (4)
    assert len(pngs) >= 6
    audio = re.findall(r'<audio controls[^>]+src="data:audio/flac;base64,', html)
    assert len(audio) == 3 * 3  # 3 items x (reference + 2 codecs)


def test_html_numbers_match_the_results_table(report, runs):
    _, html = report
    text = htmlmod.unescape(html)
    ok = _ok(runs[0])
    for metric in ("pesq_wb", "stoi"):
        for (codec, kbps), g in ok[ok["metric"] == metric].groupby(["codec", "requested_kbps"]):
            v = g["value"].to_numpy()
            m = v.mean()
            half = 1.96 if len(v) < 2 else __import__("scipy").stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            assert f"{m:.3f} ± {half:.3f}" in text, (metric, codec, kbps)
    # the "bitrate needed to match" sentence, recomputed independently from the results
    p = ok[(ok["metric"] == "pesq_wb")]
    curve = p[p["codec"] == "opus"].groupby("requested_kbps").agg(r=("measured_kbps", "mean"), q=("value", "mean"))
    target = p[(p["codec"] == "soundstream") & (p["requested_kbps"] == 3.2)]
    need = rate_to_match(curve["r"], curve["q"], target["value"].mean())
    assert need is not None and need > 3.2  # SoundStream's claim, on this tiny sample too
    assert (f"to match soundstream at {target['measured_kbps'].mean():.2f} kbps (pesq_wb {target['value'].mean():.3f}), "
            f"opus needs {need:.2f} kbps") in text


def test_comparison_pairs_items_of_both_runs(report, runs):
    text = htmlmod.unescape(report[1])
    assert re.search(r"<td>run_a</td>\s*<td>run_b</td>\s*<td>4</td>\s*<td>4</td>\s*<td>4</td>", text)  # 4 shared items
    assert "paired differences (B − A)" in text
    a, b = _ok(runs[0]), _ok(runs[1])
    keys = ["item", "codec", "requested_kbps", "metric"]
    m = a.merge(b, on=keys, suffixes=("_a", "_b"))
    g = m[(m["metric"] == "stoi") & (m["codec"] == "opus") & (m["requested_kbps"] == 6.0)]
    assert len(g) == 4
    d = (g["value_b"] - g["value_a"]).mean()
    assert d != 0  # complexity 0 vs 10 changes the output
    assert f"opus@6: B − A = {d:+.4f}" in text
    assert "soundstream@6: B − A = +0.0000" in text  # unchanged codec, deterministic


def test_build_without_execution_and_cli(runs, tmp_path):
    from evalsuite.cli import main

    rc = main(["report", str(runs[0]), "-o", str(tmp_path / "out"), "--no-execute"])
    assert rc == 0
    nb = nbformat.read(tmp_path / "out" / "out.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert not (tmp_path / "out" / "out.html").exists()
    # metrics found in the run get their own cells
    src = "\n".join(c.source for c in nb.cells)
    assert "curve_figure(cv, 'pesq_wb')" in src and "curve_figure(cv, 'stoi')" in src
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 2


def test_mushra_cells_are_added_when_asked(runs, tmp_path):
    nb = build_notebook(ReportSpec(runs[0], mushra_dir=tmp_path))
    src = "\n".join(c.source for c in nb.cells)
    assert "load_ratings(MUSHRA_DIR)" in src and "metric_agreement" in src


def test_tables_agree_with_bdrate_on_the_run(runs):
    from reports import tables
    from reports.bdrate import bd_rate

    run = load_run(runs[0])
    cv = tables.curves(run)
    assert run.codecs() == ["soundstream", "opus"]  # the run's order
    bd = tables.bd_table(cv, "stoi", "all", codecs=run.codecs())
    row = bd[(bd["A"] == "soundstream") & (bd["B"] == "opus")].iloc[0]
    a, b = tables.codec_curve(cv, "soundstream", "stoi"), tables.codec_curve(cv, "opus", "stoi")
    ref = bd_rate(a["measured_kbps"], a["mean"], b["measured_kbps"], b["mean"])
    if ref.value is None:
        assert pd.isna(row["bd_rate_pct"]) and row["note"]
    else:
        assert row["bd_rate_pct"] == pytest.approx(round(ref.value, 2))
    worst = tables.worst_items(run, "pesq_wb", n=2)
    assert set(worst["rank"]) == {1, 2}
    first = worst[(worst["codec"] == "opus") & (worst["requested_kbps"] == 6.0)].iloc[0]
    ok = run.ok[(run.ok["metric"] == "pesq_wb") & (run.ok["codec"] == "opus") & (run.ok["requested_kbps"] == 6.0)]
    assert first["pesq_wb"] == pytest.approx(round(ok["value"].min(), 3))
