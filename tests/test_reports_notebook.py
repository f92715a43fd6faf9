"""Generate, execute and export a report from a small real run (see reports_fixture_run.py) and
read it as a reader does: the HTML's text, figures, audio and paths."""
from __future__ import annotations

import html as htmlmod
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from reports_fixture_run import SECOND, make_run, old_schema_copy

from evalsuite.bdrate import rate_to_match
from reports.data import load_run
from reports.notebook import ReportSpec, build_notebook, generate_report


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
    files = generate_report(ReportSpec(a, compare_dir=b, bootstrap_b=1000), out, name="cmp")
    return files, files.html.read_text(encoding="utf-8")


def _ok(run_dir) -> pd.DataFrame:
    r = pd.read_parquet(run_dir / "results.parquet")
    return r[r["status"] == "ok"]


def _text(html: str) -> str:
    """What a reader reads: the page's text without code cells, styles and embedded data."""
    t = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", html)
    t = re.sub(r"<(style|script)\b.*?</\1>", "", t, flags=re.S)
    t = re.sub(r'<div class="highlight hl-ipython3"><pre>.*?</pre></div>', "", t, flags=re.S)
    t = htmlmod.unescape(re.sub(r"<[^>]+>", " ", t))
    return re.sub(r"\s+", " ", t)


def test_fixture_run_follows_the_layout(runs):
    from evalsuite.layout import RESULT_COLUMNS

    for d in runs:
        r = pd.read_parquet(d / "results.parquet")
        assert list(r.columns)[: len(RESULT_COLUMNS)] == RESULT_COLUMNS
        assert set(r["codec"]) == {"soundstream", "opus", "reference", "anchor_lp35", "anchor_lp70"}
        assert set(r["status"]) == {"ok", "unsupported"}  # SoundStream stops at 9.2 kbps
        assert (d / "run.json").is_file() and (d / "items.csv").is_file()


def test_notebook_is_valid_and_executed(report):
    files, _ = report
    nb = nbformat.read(files.notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_figures_come_first_then_the_details(report):
    text = _text(report[1])
    order = ["Key findings", "1. Figures", "2. Complexity", "3. Listening examples", "4. Corpus", "5. Run summary",
             "6. Every metric", "7. Bitrate savings and BD-rate", "8. Items", "10. Run comparison"]
    pos = [text.find(h) for h in order]
    assert all(p >= 0 for p in pos), dict(zip(order, pos))
    assert pos == sorted(pos)
    assert "9. MUSHRA listening test" not in text  # not asked for
    html = report[1]
    first_img = html.find('<img ')
    assert html.find("1. Figures") < first_img < html.find("2. Complexity")  # the lead metric's figures


def test_html_has_no_paths_of_the_building_machine(report, runs, data_dir):
    files, html = report
    repo = Path(__file__).resolve().parents[1]
    for p in {str(runs[0]), str(runs[1]), str(files.html.parent), str(Path(data_dir).resolve()), str(repo),
              sys.prefix, str(Path.home())}:
        assert p not in html, p
    # nothing that looks like an absolute path of this machine outside embedded data
    bare = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", html)
    assert not re.findall(r"(?:/tmp/|/work/|/root/|/home/|site-packages)", bare)


def test_code_is_hidden_until_asked_for(report):
    html = report[1]
    assert "body:not(.evalsuite-show-code) .jp-CodeCell .jp-Cell-inputWrapper { display: none; }" in html
    assert 'id="evalsuite-code-toggle"' in html and ">Show code</button>" in html
    assert 'key_findings</span>' in html  # the code is still there for a reader who shows it
    nb = nbformat.read(report[0].notebook, as_version=4)
    assert any("tables.key_findings" in c.source for c in nb.cells)  # and in the notebook


def test_listening_examples_cover_every_category_with_measured_kbps(report, runs):
    html, ok = report[1], _ok(runs[0])
    audio = re.findall(r'<audio controls[^>]+src="data:audio/flac;base64,', html)
    # one item per category (clean speech, noisy speech, music) x (reference, 2 anchors,
    # SoundStream at 3 points, Opus at 4)
    assert len(audio) == 3 * 10
    text = _text(html)
    for cat in ("clean_speech", "noisy_speech", "music"):
        assert re.search(rf"{cat}: \S+ reference \(unprocessed\) anchor: 7 kHz low-pass anchor: 3\.5 kHz low-pass", text)
    item = re.search(r"music: (\S+) reference", text).group(1)
    kb = ok[(ok["item"] == item) & (ok["codec"] == "opus") & (ok["requested_kbps"] == 6.0)]["measured_kbps"].iloc[0]
    assert f"opus@6: {kb:.2f} kbps measured" in text


def test_curve_numbers_match_the_results_table(report, runs):
    text = _text(report[1])
    ok = _ok(runs[0])
    ok = ok[ok["category"] == "clean_speech"]
    # clean speech holds two items, each its own source recording: two clusters are too few for
    # an interval, so the mean is shown with none
    for metric in ("pesq_wb", SECOND):
        for (codec, kbps), g in ok[ok["metric"] == metric].groupby(["codec", "requested_kbps"]):
            assert len(g) == 2
            assert f"{g['value'].mean():.3f} [no interval]" in text, (metric, codec, kbps)


def _speech_points(ok, codec, metric="pesq_wb"):
    """Speech pool by hand: clean items weigh 1/4 each, the noisy item 1/2 (each category half)."""
    d = ok[(ok["metric"] == metric) & (ok["codec"] == codec) & ok["category"].isin(["clean_speech", "noisy_speech"])]
    w = np.where(d["category"] == "clean_speech", 0.25, 0.5)
    d = d.assign(w=w, wv=w * d["value"], wr=w * d["measured_kbps"])
    g = d.groupby("requested_kbps")[["w", "wv", "wr"]].sum()
    return (g["wr"] / g["w"]).to_numpy(), (g["wv"] / g["w"]).to_numpy()


def test_headline_sentence_recomputed_independently(report, runs):
    text = _text(report[1])
    ok = _ok(runs[0])
    r_ss, q_ss = _speech_points(ok, "soundstream")
    r_op, q_op = _speech_points(ok, "opus")
    need = rate_to_match(r_op, q_op, q_ss[0])
    assert need is not None and need > 3.2  # SoundStream's claim, on this tiny sample too
    head = f"speech: to match soundstream@3.2 at {r_ss[0]:.2f} kbps (pesq_wb {q_ss[0]:.3f}), opus needs"
    assert text.count(head) == 2  # the key findings and section 7
    i = text.find(head)
    sentence = text[i:text.find("sources)", i)]
    # three speech items from two recordings (the noisy item is its clean twin plus babble, found
    # by the corpus preparation): too few clusters for an interval, and the sentence says so
    assert f"opus needs {need:.2f} kbps, but this is not stated: only 2 source recording(s)" in sentence, sentence
    assert "n = 3 items from 2" in sentence
    # the BD-rate of the headline carries its overlap, stated or not
    assert "speech: BD-rate of opus against soundstream: not stated: only 2 source recording(s)" in text
    # the caveat about intrusive metrics and generative codecs, with this run's inversion
    assert "are known to under-rate them against listeners" in text
    o12 = q_op[3]
    if o12 > q_ss[1]:
        # the inversion, with the paired difference recomputed by hand (categories weigh the same)
        # the inversion, recomputed by hand; two recordings are too few for its interval
        assert f"pesq_wb (speech) ranks opus@12 ({o12:.3f}) above soundstream@6 ({q_ss[1]:.3f}) " \
               "(n = 3 items from 2 sources: too few for an interval)" in text
    assert "evalsuite mushra build" in text


def test_complexity_measured_in_the_run_and_skipped_with_a_note_when_not_recorded(runs, tmp_path):
    from reports import tables

    run = load_run(runs[0])
    cx, note = tables.complexity_table(run)
    res = run.results.drop_duplicates(["item", "condition"])
    items = pd.read_csv(runs[0] / "items.csv").set_index("item")["duration_s"]
    for cid in ("soundstream@6", "opus@6"):
        g = res[res.condition == cid]
        expect = g.encode_cpu_s.sum() / g.item.map(items).sum()  # by hand from the rows
        row = cx[cx.condition == cid].iloc[0]
        assert row.encode_cpu_s_per_s == pytest.approx(expect, abs=5e-5) and 0 < expect < 1  # table rounds to 4 places
    assert cx[cx.condition == "soundstream@6"].latency_ms.iloc[0] == "20"  # one 20 ms frame
    old = load_run(old_schema_copy(runs[0], tmp_path / "old"))
    cx, note = tables.complexity_table(old)
    assert cx.empty and "no encode_cpu_s/decode_cpu_s columns" in note


def test_corpus_notes_are_visible(report, runs):
    text = _text(report[1])
    items = pd.read_csv(runs[0] / "items.csv")
    for _, r in items[items["note"].notna()].iterrows():
        assert f"{r['item']} ({r['category']}): {r['note']}" in text


def test_comparison_pairs_items_of_both_runs(report, runs):
    text = _text(report[1])
    assert re.search(r"run_a run_b 4 4 4", text)  # 4 shared items
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
    src = "\n".join(c.source for c in nb.cells)
    assert "curve_figure(cv, 'pesq_wb')" in src and f"curve_figure(cv, {SECOND!r})" in src
    assert str(runs[0]) not in src and "RUN_DIR = '../" in src  # relative to the notebook
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 2


def test_both_results_schemas_read_the_same(runs, tmp_path):
    from reports import tables

    new = load_run(runs[0])
    old = load_run(old_schema_copy(runs[0], tmp_path / "old"))
    key = ["item", "condition", "metric"]
    a = old.results.sort_values(key).reset_index(drop=True)
    b = new.results.sort_values(key).reset_index(drop=True)
    assert (a["condition"] == b["condition"]).all() and (a["condition_kind"] == b["condition_kind"]).all()
    assert a["requested_kbps"].equals(b["requested_kbps"]) and (a["status"] == b["status"]).all()
    assert a["value"].equals(b["value"])
    # the new schema knows the noisy item is its clean twin plus babble: one source, not two
    assert old.results.groupby("item")["cluster"].first()["pesq_speech_bab_0dB"] == "pesq_speech_bab_0dB"
    assert new.results.groupby("item")["cluster"].first()["pesq_speech_bab_0dB"] == "pesq_speech"
    cv_old, cv_new = tables.curves(old, B=500), tables.curves(new, B=500)
    so = cv_old[(cv_old["category"] == "speech") & (cv_old["metric"] == "pesq_wb")].set_index("condition")
    sn = cv_new[(cv_new["category"] == "speech") & (cv_new["metric"] == "pesq_wb")].set_index("condition")
    assert (so["n_clusters"] == 3).all() and (sn["n_clusters"] == 2).all()
    assert np.allclose(so["mean"], sn["mean"])  # same items, same means
    assert so["ci95_low"].notna().all() and sn["ci95_low"].isna().all()  # two recordings: no interval
    sav = tables.savings_table(new, "pesq_wb", "speech", True, new.codecs(), B=500)
    first = sav[sav["condition"] == "soundstream@3.2"].iloc[0]
    assert first["status"] == "not_stated" and "only 2 source recording(s)" in first["statement"]


def test_mushra_cells_are_added_when_asked(runs, tmp_path):
    nb = build_notebook(ReportSpec(runs[0], mushra_dir=tmp_path))
    src = "\n".join(c.source for c in nb.cells)
    assert "load_ratings(MUSHRA_DIR)" in src and "metric_agreement" in src and "estimates_table" in src


def test_tables_agree_with_the_stats_module_on_the_run(runs):
    from reports import tables

    run = load_run(runs[0])
    assert run.codecs() == ["soundstream", "opus"]  # the run's order
    bd = tables.bd_table(run, "pesq_wb", "speech", True, codecs=run.codecs(), B=500)
    row = bd[(bd["A"] == "soundstream") & (bd["B"] == "opus")].iloc[0]
    assert row["n_items"] == 3 and row["n_sources"] == 2  # the noisy item is its clean twin plus babble
    ok = run.ok
    r_ss, q_ss = _speech_points(ok, "soundstream")
    r_op, q_op = _speech_points(ok, "opus")
    from evalsuite.bdrate import bd_rate, quality_overlap

    ref = bd_rate(r_ss, q_ss, r_op, q_op)
    assert row["bd_rate_pct"] == pytest.approx(round(ref.value, 1))
    assert row["quality_overlap"] == f"{quality_overlap(q_ss, q_op):.0%}"
    assert row["stated"] == (quality_overlap(q_ss, q_op) >= 0.5)
    worst = tables.worst_items(run, "pesq_wb", n=2)
    first = worst[worst["condition"] == "opus@6"].iloc[0]
    v = ok[(ok["metric"] == "pesq_wb") & (ok["codec"] == "opus") & (ok["requested_kbps"] == 6.0)]["value"]
    assert first["pesq_wb"] == pytest.approx(round(v.min(), 3))


# ---------------------------------------------------------------------------------------------
# --mushra: a MUSHRA test built from the fixture run with listening_test's own builder, and
# ratings stored through its own store. The ratings are TEST DATA from simulated listeners who
# rate each codec condition by its item's PESQ (plus noise); one listener fails post-screening.


def _simulated_ratings(test_dir, run_dir):
    from listening_test.config import load_config
    from listening_test.storage import RatingStore

    cfg = load_config(test_dir)
    ok = _ok(run_dir)
    pesq = ok[ok["metric"] == "pesq_wb"].set_index(["item", "condition"])["value"]
    by_condition = ok[ok["metric"] == "pesq_wb"].groupby("condition")["value"].mean()
    rng = np.random.default_rng(7)
    store = RatingStore.for_test(test_dir)
    try:
        for k, listener in enumerate(["l1", "l2", "l3", "l4", "careless"]):
            token = store.create_listener(listener)
            store.accept(listener, token)
            store.training_done(listener, token)
            offset = rng.normal(0, 5)  # listeners use the scale differently
            for pos, t in enumerate(cfg.trials):
                scores = {}
                for c in t.conditions:
                    if c.id == "reference":
                        s = 60.0 if listener == "careless" else 100.0 - rng.uniform(0, 5)
                    elif c.id in ("anchor_lp70", "anchor_lp35"):  # where listeners usually put the anchors
                        s = (65.0 if c.id == "anchor_lp70" else 25.0) + offset + rng.normal(0, 5)
                    else:  # codecs follow the item's PESQ (the condition's where it does not apply)
                        row = (t.item, c.id)
                        q = pesq[row] if row in pesq.index else by_condition[c.id]
                        s = 20 * q - 10 + offset + rng.normal(0, 4)
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
    files = generate_report(ReportSpec(runs[0], mushra_dir=test_dir, bootstrap_b=500), tmp_path / "rep", name="mushra")
    text = _text(files.html.read_text(encoding="utf-8"))
    kept, _ = analysis.post_screening(analysis.load_ratings(test_dir))
    n = kept["listener"].nunique()
    assert n >= 3 and "careless" not in set(kept["listener"])
    for heading in ("9. MUSHRA listening test", "Post-screening", "mixed-model estimate and 95% interval",
                    f"Friedman's test over {n} listeners and 7 conditions",
                    "Post-hoc: Wilcoxon signed-rank on listener means",
                    "Pairwise tests per trial", "Which objective metric predicts the listeners?",
                    "Agreement of each metric with MUSHRA"):
        assert heading in text, heading
    assert "careless" in text and "hidden reference rated below 90" in text
    assert f"{n} of 5 listeners kept" in text
    assert f"Mixed model rating ~ condition + (1|listener) + (1|item), REML, {n} listeners, 3 items" in text
    assert f"With {n} listeners the intervals are wide" in text
    # the model's estimates, recomputed from the store through the analysis functions
    from listening_test.mixed_model import fit_mixed_model

    fit = fit_mixed_model(kept).estimates
    for _, r in fit.iterrows():
        assert f"{r['condition']} {r['estimate']:.2f} {r['low']:.2f} {r['high']:.2f}" in text, r["condition"]
    plain = analysis.condition_summary(kept, by=["condition"])
    agree, _ = metric_agreement(objective_condition_means(load_run(runs[0]).ok, kept["item"].unique()), plain)
    best = agree.iloc[0]
    assert agree.set_index("metric").loc["pesq_wb", "agrees"] > 0.7  # the simulated listeners follow PESQ
    assert (f"On this material {best['metric']} agrees best with listeners (Spearman {best['spearman_rho']:.2f}, "
            f"Pearson {best['pearson_r']:.2f}, n = {best['n']} conditions)") in text


def test_failing_cell_is_a_clear_error(runs, tmp_path):
    import shutil

    from reports.notebook import ReportExecutionError, execute_notebook

    broken = tmp_path / "run"
    shutil.copytree(runs[0], broken, ignore=shutil.ignore_patterns("audio"))
    nb = build_notebook(ReportSpec(broken), tmp_path)
    (broken / "results.parquet").unlink()
    (broken / "results.csv").unlink()
    with pytest.raises(ReportExecutionError, match="no results.parquet or results.csv"):
        execute_notebook(nb, tmp_path, timeout_s=120)
