"""Generate, execute and export a report from a small real run (see reports_fixture_run.py)."""
from __future__ import annotations

import html as htmlmod
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalsuite.bdrate import rate_to_match
from reports.data import load_run
from reports.notebook import ReportSpec, build_notebook, generate_report
from reports_fixture_run import SECOND, make_run


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
    for heading in ("Key findings", "1. Run summary", "Corpus", "2. Bitrate–quality curves", "3. Bitrate savings and BD-rate",
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
    for metric in ("pesq_wb", SECOND):
        for (codec, kbps), g in ok[ok["metric"] == metric].groupby(["codec", "requested_kbps"]):
            v = g["value"].to_numpy()
            m = v.mean()
            assert len(v) >= 2
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            assert f"{m:.3f} ± {half:.3f}" in text, (metric, codec, kbps)
    # the "bitrate needed to match" sentence, recomputed independently from the results
    p = ok[(ok["metric"] == "pesq_wb")]
    curve = p[p["codec"] == "opus"].groupby("requested_kbps").agg(r=("measured_kbps", "mean"), q=("value", "mean"))
    target = p[(p["codec"] == "soundstream") & (p["requested_kbps"] == 3.2)]
    need = rate_to_match(curve["r"], curve["q"], target["value"].mean())
    assert need is not None and need > 3.2  # SoundStream's claim, on this tiny sample too
    sentence = (f"to match soundstream at {target['measured_kbps'].mean():.2f} kbps (pesq_wb {target['value'].mean():.3f}), "
                f"opus needs {need:.2f} kbps")
    assert text.count(sentence) == 2  # in the key findings and in section 3
    assert "BD-rate (pchip): opus needs" in text


def test_comparison_pairs_items_of_both_runs(report, runs):
    text = htmlmod.unescape(report[1])
    assert re.search(r"<td>run_a</td>\s*<td>run_b</td>\s*<td>4</td>\s*<td>4</td>\s*<td>4</td>", text)  # 4 shared items
    assert "paired differences (B − A)" in text
    a, b = _ok(runs[0]), _ok(runs[1])
    keys = ["item", "codec", "requested_kbps", "metric"]
    m = a.merge(b, on=keys, suffixes=("_a", "_b"))
    g = m[(m["metric"] == SECOND) & (m["codec"] == "opus") & (m["requested_kbps"] == 6.0)]
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
    assert "curve_figure(cv, 'pesq_wb')" in src and f"curve_figure(cv, {SECOND!r})" in src
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 2


def test_mushra_cells_are_added_when_asked(runs, tmp_path):
    nb = build_notebook(ReportSpec(runs[0], mushra_dir=tmp_path))
    src = "\n".join(c.source for c in nb.cells)
    assert "load_ratings(MUSHRA_DIR)" in src and "metric_agreement" in src


def test_tables_agree_with_bdrate_on_the_run(runs):
    from reports import tables
    from evalsuite.bdrate import bd_rate

    run = load_run(runs[0])
    cv = tables.curves(run)
    assert run.codecs() == ["soundstream", "opus"]  # the run's order
    hib = run.directions()[SECOND]
    bd = tables.bd_table(cv, SECOND, "all", hib, codecs=run.codecs())
    row = bd[(bd["A"] == "soundstream") & (bd["B"] == "opus")].iloc[0]
    a, b = tables.codec_curve(cv, "soundstream", SECOND), tables.codec_curve(cv, "opus", SECOND)
    ref = bd_rate(a["measured_kbps"], a["mean"], b["measured_kbps"], b["mean"], higher_is_better=hib)
    if ref.value is None:
        assert pd.isna(row["bd_rate_pct"]) and row["note"]
    else:
        assert row["bd_rate_pct"] == pytest.approx(round(ref.value, 2))
    worst = tables.worst_items(run, "pesq_wb", n=2)
    assert set(worst["rank"]) == {1, 2}
    first = worst[(worst["codec"] == "opus") & (worst["requested_kbps"] == 6.0)].iloc[0]
    ok = run.ok[(run.ok["metric"] == "pesq_wb") & (run.ok["codec"] == "opus") & (run.ok["requested_kbps"] == 6.0)]
    assert first["pesq_wb"] == pytest.approx(round(ok["value"].min(), 3))


# ---------------------------------------------------------------------------------------------
# --mushra: a MUSHRA test built from the fixture run with listening_test's own builder, and
# ratings stored through its own store. The ratings are TEST DATA from simulated listeners who
# rate each codec condition by its item's PESQ (plus noise); one listener fails post-screening.


def _simulated_ratings(test_dir, run_dir):
    from listening_test.config import load_config
    from listening_test.storage import RatingStore

    cfg = load_config(test_dir)
    ok = _ok(run_dir)
    key = ["item", "codec", "requested_kbps"]
    pesq = ok[ok["metric"] == "pesq_wb"].set_index(key)["value"]
    by_condition = ok[ok["metric"] == "pesq_wb"].groupby(["codec", "requested_kbps"])["value"].mean()
    rng = np.random.default_rng(7)
    store = RatingStore.for_test(test_dir)
    try:
        for k, listener in enumerate(["l1", "l2", "l3", "careless"]):
            token = store.create_listener(listener)
            store.accept(listener, token)
            store.training_done(listener, token)
            for pos, t in enumerate(cfg.trials):
                scores = {}
                for c in t.conditions:
                    if c.id == "reference":
                        s = 60.0 if listener == "careless" else 100.0 - rng.uniform(0, 5)
                    else:  # codecs and anchors alike follow the item's PESQ (the condition's where it does not apply)
                        row = (t.item, c.codec, float(c.kbps or 0.0))
                        q = pesq[row] if row in pesq.index else by_condition[row[1:]]
                        s = 20 * q - 10 + rng.normal(0, 4)
                    scores[c.id] = float(np.clip(s, 0, 100))
                labels = {cid: chr(65 + i) for i, cid in enumerate(scores)}
                store.submit_trial(listener, token, t.id, scores, labels, pos, 30.0 + k)
    finally:
        store.dispose()


def test_report_with_mushra(runs, tmp_path):
    analysis = pytest.importorskip("listening_test.analysis")
    from listening_test.build import BuildOptions, build_test

    from reports.agreement import metric_agreement, objective_condition_means

    test_dir = tmp_path / "mushra"
    build_test(runs[0], test_dir, BuildOptions(codecs=["soundstream", "opus"], kbps=[3.2, 6.0], n_items=3, seed=1))
    _simulated_ratings(test_dir, runs[0])
    files = generate_report(ReportSpec(runs[0], mushra_dir=test_dir), tmp_path / "rep", name="mushra")
    text = htmlmod.unescape(files.html.read_text(encoding="utf-8"))
    for heading in ("5. MUSHRA listening test", "Post-screening", "MUSHRA mean and 95% CI per condition",
                    "Pairwise tests between conditions", "Which objective metric predicts the listeners?",
                    "Agreement of each metric with MUSHRA"):
        assert heading in text, heading
    assert "careless" in text and "hidden reference rated below 90" in text
    assert "3 of 4 listeners kept" in text
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', text)) >= 2 + 4  # curves + bars x2, box, scatter
    # the headline sentence, recomputed independently of the notebook
    ratings = analysis.load_ratings(test_dir)
    kept, _ = analysis.post_screening(ratings)
    summary = analysis.condition_summary(kept, by=["condition"])
    agree, _ = metric_agreement(objective_condition_means(load_run(runs[0]).ok, kept["item"].unique()), summary)
    best = agree.iloc[0]
    assert agree.set_index("metric").loc["pesq_wb", "agrees"] > 0.7  # the simulated listeners follow PESQ
    assert (f"On this material {best['metric']} agrees best with listeners (Spearman {best['spearman_rho']:.2f}, "
            f"Pearson {best['pearson_r']:.2f}, n = {best['n']} conditions)") in re.sub(r"</?strong>", "", text)
    for cond, m in zip(summary["condition"], summary["mean"]):
        assert f"{m:.2f}" in text, cond


def test_savings_statuses_on_the_run(runs):
    from reports import tables

    run = load_run(runs[0])
    cv = tables.curves(run)
    hib = run.directions()[SECOND]
    sav = tables.savings_table(cv, SECOND, "all", hib, codecs=run.codecs())
    assert set(sav["status"]) <= {"matched", "below_range", "not_reached"}
    assert sav["other_kbps_needed"].notna().sum() == (sav["status"] == "matched").sum()
    for _, r in sav[sav["status"] == "matched"].iterrows():  # the needed rate lies inside the other's range
        other = tables.codec_curve(cv, r["other"], SECOND)
        assert other["measured_kbps"].min() <= r["other_kbps_needed"] <= other["measured_kbps"].max()
    piv = tables.savings_by_category(cv, SECOND, hib, codecs=run.codecs())
    assert list(piv.columns) == ["all", "clean_speech", "noisy_speech", "music"]


def test_failing_cell_is_a_clear_error(runs, tmp_path):
    import shutil

    from reports.notebook import ReportExecutionError, execute_notebook

    broken = tmp_path / "run"
    shutil.copytree(runs[0], broken, ignore=shutil.ignore_patterns("audio"))
    nb = build_notebook(ReportSpec(broken))
    (broken / "results.parquet").unlink()
    (broken / "results.csv").unlink()
    with pytest.raises(ReportExecutionError, match="no results.parquet or results.csv"):
        execute_notebook(nb, tmp_path, timeout_s=120)
