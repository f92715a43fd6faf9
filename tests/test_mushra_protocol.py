"""Per-listener randomisation, the rules for leaving a trial, and the CLI end to end."""
from __future__ import annotations

import pandas as pd

from evalsuite.cli import main as evalsuite_main
from listening_test.config import load_config
from listening_test.protocol import condition_letters, next_trial, submit_problems, trial_order
from listening_test.storage import RatingStore
from test_mushra_fixtures import fresh_test, mushra_run, mushra_test_dir  # noqa: F401


def test_randomisation_reproducible_and_per_listener(mushra_test_dir):
    cfg = load_config(mushra_test_dir)
    assert trial_order(cfg, "a") == trial_order(cfg, "a")
    assert sorted(trial_order(cfg, "a")) == sorted(cfg.trial_ids)
    orders = {tuple(trial_order(cfg, f"l{i}")) for i in range(20)}
    assert len(orders) > 5  # 4! = 24 orders possible
    t = cfg.trials[0]
    la = condition_letters(t, cfg.seed, "a")
    assert la == condition_letters(t, cfg.seed, "a") and list(la) == list("ABCDE")
    assert sorted(la.values()) == sorted(c.id for c in t.conditions)
    assert len({tuple(condition_letters(t, cfg.seed, f"l{i}").values()) for i in range(20)}) > 5
    assert next_trial(["t2", "t1"], {"t2"}) == (1, "t1") and next_trial(["t1"], {"t1"}) is None


def test_submit_rules():
    s = {"a": 100.0, "b": 20.0}
    assert submit_problems(s, {"a": True, "b": True}) == []
    assert "move each slider" in submit_problems(s, {"a": True, "b": False})[0]
    assert "at least one signal 100" in submit_problems({"a": 99.0, "b": 20.0}, {"a": True, "b": True})[0]


def test_cli_build_and_report(tmp_path, mushra_run, capsys):
    out = tmp_path / "cli_test"
    rc = evalsuite_main(["mushra", "build", str(mushra_run.root), "--codecs", "opus", "--kbps", "6,12",
                         "--items", "3", "--max-clip-s", "2", "-o", str(out)])
    assert rc == 0 and "3 trials x 5 signals" in capsys.readouterr().out
    # a clear one-line error for a codec the run does not have
    rc = evalsuite_main(["mushra", "build", str(mushra_run.root), "--codecs", "soundstream", "--kbps", "3",
                         "-o", str(tmp_path / "x")])
    assert rc == 2 and "no decoded audio" in capsys.readouterr().err
    rc = evalsuite_main(["mushra", "report", str(out)])
    assert rc == 2 and "no completed trials" in capsys.readouterr().err
    cfg = load_config(out)
    store = RatingStore.for_test(out)
    tok = store.create_listener("l1")
    for i, t in enumerate(cfg.trials):
        labels = {c: L for L, c in condition_letters(t, cfg.seed, "l1").items()}
        store.submit_trial("l1", tok, t.id, {c: 100.0 if c == "reference" else 40.0 for c in labels}, labels, i, 9.0)
    store.dispose()
    rc = evalsuite_main(["mushra", "report", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "1 listener(s), 0 excluded" in text
    assert pd.read_csv(out / "report" / "ratings.csv").shape[0] == 3 * 5
