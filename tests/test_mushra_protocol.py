"""Blinding (per-listener assignments nobody can predict), balanced subsets, the rules for
leaving a trial, and the CLI end to end."""
from __future__ import annotations

import random
import threading
from collections import Counter

import pandas as pd
import pytest

from evalsuite.cli import main as evalsuite_main
from listening_test.assignment import balanced_subset, draw_assignment
from listening_test.build import BuildOptions, build_test
from listening_test.config import TestConfig, load_config
from listening_test.protocol import next_trial, submit_problems
from listening_test.storage import RatingStore
from tests.support.mushra import enrol

IDS = [f"listener{i}" for i in range(8)]


def _view(a) -> tuple:
    return a.trials, tuple(tuple(sorted(a.letters[t].items())) for t in a.trials + a.training)


def test_two_builds_of_one_run_blind_differently(tmp_path, mushra_run):
    """Build the same run twice with identical options (same seed, same name) and register the
    same listener IDs in each: the assignments differ. An assignment that were a function of
    public inputs (config, seed, listener ID) would be equal."""
    views = []
    for k in range(2):
        out = tmp_path / f"b{k}" / "same_name"
        build_test(mushra_run.root, out, BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=4, seed=0))
        cfg = load_config(out)
        store = RatingStore.for_test(out)
        views.append({lid: _view(enrol(store, cfg, lid)[1]) for lid in IDS})
        store.dispose()
    a, b = (load_config(tmp_path / f"b{k}" / "same_name").to_dict() for k in range(2))
    a.pop("created"), b.pop("created")
    assert a == b  # the two test folders say the same: nothing public tells the builds apart
    for lid in IDS:
        assert views[0][lid] != views[1][lid], lid
    # nor is it a function of the folder: one build, a fresh database, the same IDs
    out = tmp_path / "b0" / "same_name"
    for p in out.glob("ratings.sqlite*"):
        p.unlink()
    store = RatingStore.for_test(out)
    again = {lid: _view(enrol(store, load_config(out), lid)[1]) for lid in IDS}
    assert all(again[lid] != views[0][lid] for lid in IDS)


def test_the_test_folder_holds_no_assignment(fresh_test):
    """The letters live only in the database: the config and audio files hold no secret or
    mapping a listener could derive them from (the audio names are condition names, and the
    audio is only served under opaque URLs; see test_mushra_security)."""
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    _, a = enrol(store, cfg, "alice")
    text = (fresh_test / "mushra.yaml").read_text()
    assert "secret" not in text and "alice" not in text
    assert not [p for p in fresh_test.rglob("*") if p.is_file() and "ratings.sqlite" not in p.name
                and p.suffix not in (".flac", ".yaml")]


def test_letters_are_uniform(mushra_test_dir):
    """Each condition lands on each letter about equally often (a biased shuffle would let
    listeners guess); 1000 draws, 5 letters: every count within 5 sigma of 200."""
    cfg = load_config(mushra_test_dir)
    rng = random.SystemRandom()
    counts = Counter()
    for _ in range(1000):
        a = draw_assignment(cfg, {}, rng)
        counts.update((L, c) for L, c in a.letters[a.trials[0]].items())
    assert len(counts) == 25
    assert all(abs(n - 200) < 5 * (1000 * 0.2 * 0.8) ** 0.5 for n in counts.values()), counts


def _cfg(n: int, k: int, base: TestConfig) -> TestConfig:
    """``base`` with its trials repeated to ``n`` (ids t01..tNN), K = ``k``."""
    import copy

    trials = []
    for i in range(n):
        t = copy.deepcopy(base.trials[i % len(base.trials)])
        t.id = f"t{i + 1:02d}"
        trials.append(t)
    return TestConfig(**{**base.__dict__, "trials": trials, "trials_per_listener": k})


def test_balanced_subset_as_listeners_arrive(tmp_path, mushra_test_dir):
    """7 trials, 3 per listener: after every arrival each trial's listener count is within one of
    every other's; a screened-out listener's trials are given to the next arrivals."""
    cfg = _cfg(7, 3, load_config(mushra_test_dir))
    store = RatingStore.for_test(tmp_path)
    spread = []
    for i in range(30):
        tok, a = enrol(store, cfg, f"l{i}")
        assert len(a.trials) == 3 and len(set(a.trials)) == 3 and set(a.trials) <= set(cfg.trial_ids)
        counts = store.trial_counts()
        spread.append(max(counts.get(t, 0) for t in cfg.trial_ids) - min(counts.get(t, 0) for t in cfg.trial_ids))
        if i == 20:  # a listener fails screening: their trials no longer count
            store.start_screening("l20", tok, "huggins", "{}")
            store.finish_screening("l20", tok, 2, False)
    assert max(spread[:20]) <= 1, spread
    counts = store.trial_counts()
    assert max(counts.values()) - min(counts.values()) <= 1 and sum(counts.values()) == 29 * 3
    # resumable: coming back gives the stored assignment, not a new draw
    tok = store.create_listener("back")
    first = store.assign("back", tok, lambda c: draw_assignment(cfg, c, random.SystemRandom()))
    assert store.assign("back", tok, lambda c: pytest.fail("drew again")) == first


def test_balanced_subset_under_concurrent_arrivals(tmp_path, mushra_test_dir):
    """24 listeners arrive at once through separate connections: still balanced (the counts are
    read and the assignment written in one write transaction)."""
    cfg = _cfg(6, 2, load_config(mushra_test_dir))
    RatingStore.for_test(tmp_path).dispose()
    barrier = threading.Barrier(24)
    errors = []

    def arrive(i):
        store = RatingStore.for_test(tmp_path)
        try:
            barrier.wait()
            enrol(store, cfg, f"c{i}")
        except BaseException as e:  # noqa: BLE001 - asserted below
            errors.append(e)
        finally:
            store.dispose()

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    counts = RatingStore.for_test(tmp_path).trial_counts()
    assert sorted(counts.values()) == [8] * 6, counts


def test_balanced_subset_pure():
    rng = random.Random(3)
    counts = dict.fromkeys("abcdefg", 0)
    for _ in range(50):
        for t in balanced_subset(counts, 3, rng):
            counts[t] += 1
        assert max(counts.values()) - min(counts.values()) <= 1
    with pytest.raises(ValueError):
        balanced_subset(counts, 8, rng)


def test_submit_rules():
    L = "AB"
    assert submit_problems({"A": 100.0, "B": 0.0}, L) == []  # 0 is a rating
    assert "rate every signal: B" in submit_problems({"A": 100.0, "B": None}, L)[0]
    assert "rate every signal: B" in submit_problems({"A": 100.0}, L)[0]
    assert "at least one signal 100" in submit_problems({"A": 99.0, "B": 20.0}, L)[0]
    assert "between 0 and 100" in submit_problems({"A": 100.0, "B": 101.0}, L)[0]
    assert submit_problems({"A": 100.0, "B": 5.0}, L, {"A": True}, require_play=False) == []
    assert "listen to every signal before rating it: B" in submit_problems(
        {"A": 100.0, "B": 5.0}, L, {"A": True}, require_play=True)[0]
    assert next_trial(["t2", "t1"], {"t2"}) == (1, "t1") and next_trial(["t1"], {"t1"}) is None


def test_cli_build_and_report(tmp_path, mushra_run, capsys):
    out = tmp_path / "cli_test"
    rc = evalsuite_main(["mushra", "build", str(mushra_run.root), "--codecs", "opus", "--kbps", "6,12",
                         "--items", "3", "--max-clip-s", "2", "-o", str(out)])
    cap = capsys.readouterr()
    assert rc == 0 and "3 trials x 5 signals" in cap.out and "1 training trial" in cap.out
    # 2 s excerpts: warned on the console and in the config
    assert "warning: 4 excerpt(s) shorter than 5 s" in cap.err and "about 10 s" in cap.err
    assert any("shorter than 5 s" in w for w in load_config(out).warnings)
    # a clear one-line error for a codec the run does not have
    rc = evalsuite_main(["mushra", "build", str(mushra_run.root), "--codecs", "soundstream", "--kbps", "3",
                         "-o", str(tmp_path / "x")])
    assert rc == 2 and "no decoded audio" in capsys.readouterr().err
    rc = evalsuite_main(["mushra", "report", str(out)])
    assert rc == 2 and "no completed trials" in capsys.readouterr().err
    cfg = load_config(out)
    store = RatingStore.for_test(out)
    tok, a = enrol(store, cfg, "l1")
    for i, tid in enumerate(a.trials):
        labels = a.labels(tid)
        store.submit_trial("l1", tok, tid, {c: 100.0 if c == "reference" else 40.0 for c in labels}, labels, i, 9.0)
    store.dispose()
    rc = evalsuite_main(["mushra", "report", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "1 listener(s), 0 excluded" in text
    assert pd.read_csv(out / "report" / "ratings.csv").shape[0] == 3 * 5


def test_cli_link_reissue(tmp_path, fresh_test, capsys):
    cfg = load_config(fresh_test)
    store = RatingStore.for_test(fresh_test)
    old, _ = enrol(store, cfg, "lab1")
    rc = evalsuite_main(["mushra", "link", str(fresh_test), "lab1", "--reissue", "--public-url",
                         "https://listen.example.org/t/"])
    link = capsys.readouterr().out.strip()
    assert rc == 0 and link.startswith("https://listen.example.org/t/?listener=lab1&token=")
    new = link.rsplit("=", 1)[1]
    assert store.state("lab1", new).listener_id == "lab1"
    rc = evalsuite_main(["mushra", "link", str(fresh_test), "nobody", "--reissue"])
    assert rc == 2 and "no listener 'nobody'" in capsys.readouterr().err


def test_legacy_config_trains_on_its_named_trial(fresh_test):
    """A test built before training items were set aside (``training_trial: t01``) still loads;
    its training replays that rated trial under separately drawn letters."""
    import yaml

    p = fresh_test / "mushra.yaml"
    d = yaml.safe_load(p.read_text())
    d.pop("training")
    d["training_trial"] = "t01"
    p.write_text(yaml.safe_dump(d))
    cfg = load_config(fresh_test)
    a = draw_assignment(cfg, {}, random.SystemRandom())
    assert a.training == ("training:t01",)
    assert sorted(a.letters["training:t01"].values()) == sorted(cfg.trial("t01").condition_ids)
    d["training_trial"] = ""
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(Exception, match="no training trial"):
        load_config(fresh_test)
