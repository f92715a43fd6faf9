"""The Streamlit app flow with AppTest: start, consent, volume check, training, rating rules,
storage of a trial, resume through the personal link, admin view."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from listening_test.config import load_config
from listening_test.protocol import condition_letters, trial_order
from listening_test.storage import RatingStore
from test_mushra_fixtures import fresh_test, mushra_run, mushra_test_dir  # noqa: F401

APP = str(Path(__file__).resolve().parents[1] / "listening_test" / "app.py")


@pytest.fixture
def app_env(fresh_test, monkeypatch):
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(fresh_test))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    monkeypatch.setenv("EVALSUITE_MUSHRA_ADMIN_TOKEN", "s3cret-admin")
    return fresh_test


def new_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def start_listener(at: AppTest, lid: str) -> AppTest:
    at.text_input[0].input(lid).run()
    button(at, "Start").click().run()
    assert not at.exception, at.exception
    return at


def through_training(at: AppTest) -> AppTest:
    at.checkbox(key="agree").check().run()
    button(at, "Continue").click().run()
    assert at.title[0].value.startswith("Volume")
    assert button(at, "Continue to training").disabled
    at.checkbox(key="chk_headphones").check().run()
    at.checkbox(key="chk_volume").check().run()
    button(at, "Continue to training").click().run()
    assert at.title[0].value == "Training"
    # training: sliders for all 5 signals, nothing recorded when leaving
    assert len(at.slider) == 5
    at.slider[0].set_value(100).run()
    button(at, "Finish training").click().run()
    return at


def sliders_of(at: AppTest, tid: str) -> dict[str, object]:
    return {s.key.rsplit(".", 1)[1]: s for s in at.slider if s.key.startswith(f"score.trial.{tid}.")}


def test_full_flow_rules_and_resume(app_env):
    cfg = load_config(app_env)
    at = new_app()
    assert at.title[0].value.startswith("Listening test")
    start_listener(at, "alice")
    assert at.query_params["listener"] == ["alice"] or at.query_params["listener"] == "alice"
    token = at.query_params["token"]
    token = token[0] if isinstance(token, list) else token
    through_training(at)
    store = RatingStore.for_test(app_env)
    assert store.ratings_frame().empty  # training recorded nothing
    assert store.state("alice", token).training_done

    order = trial_order(cfg, "alice")
    tid = order[0]
    assert "Trial 1 of 4" in at.get("progress")[0].proto.text
    sl = sliders_of(at, tid)
    assert sorted(sl) == list("ABCDE")
    nxt = button(at, "Next")
    assert nxt.disabled  # nothing moved
    letters = condition_letters(cfg.trial(tid), cfg.seed, "alice")
    want = {"reference": 100, "anchor_lp35": 15, "anchor_lp70": 45, "opus@6": 60, "opus@12": 80}
    for i, (L, cond) in enumerate(letters.items()):
        score = want[cond] if cond != "reference" else 90  # nobody at 100 yet
        sliders_of(at, tid)[L].set_value(score).run()
        if i < 4:
            assert button(at, "Next").disabled
            # the hint names the untouched signals by letter only: condition ids stay hidden
            hint = next(c.value for c in at.caption if "move each slider" in c.value)
            assert re.search(r"move each slider\): [A-E](, [A-E])*$", hint), hint
        shown = " ".join(e.value for e in list(at.caption) + list(at.markdown))
        assert not any(cid in shown for cid in ("opus", "anchor", "lp35", "lp70")), shown
    # all moved but none at 100: still not allowed (AppTest, like a browser, cannot click it)
    assert button(at, "Next").disabled
    assert any("at least one signal 100" in c.value for c in at.caption)
    assert store.ratings_frame().empty
    ref_letter = next(L for L, c in letters.items() if c == "reference")
    sliders_of(at, tid)[ref_letter].set_value(100).run()
    assert not button(at, "Next").disabled
    button(at, "Next").click().run()
    assert not at.exception
    df = store.ratings_frame()
    assert len(df) == 5 and set(df["trial_id"]) == {tid}
    assert df.set_index("condition")["score"].to_dict() == {k: float(v) for k, v in want.items()}
    assert df.set_index("condition")["label"].to_dict() == {c: L for L, c in letters.items()}
    assert (df["time_spent_s"] > 0).all() and (df["position"] == 0).all()
    assert "Trial 2 of 4" in at.get("progress")[0].proto.text

    # the browser is closed; the personal link resumes at trial 2, same order
    at2 = new_app(listener="alice", token=token)
    assert not at2.exception
    assert "Trial 2 of 4" in at2.get("progress")[0].proto.text
    assert sorted(sliders_of(at2, order[1])) == list("ABCDE")
    # a wrong token does not give access
    at3 = new_app(listener="alice", token="forged")
    assert any("not valid" in e.value for e in at3.error)
    assert not at3.slider


def test_taken_id_and_invalid_id(app_env):
    RatingStore.for_test(app_env).create_listener("bob")
    at = new_app()
    start_listener(at, "bob")
    assert any("already taken" in e.value for e in at.error)
    at = new_app()
    start_listener(at, "bad id!")
    assert any("listener ID" in e.value for e in at.error)


def test_complete_then_done(app_env):
    cfg = load_config(app_env)
    at = new_app()
    start_listener(at, "carol")
    through_training(at)
    for tid in trial_order(cfg, "carol"):
        for L, s in sliders_of(at, tid).items():
            s.set_value(100 if L == "A" else 50).run()
        button(at, "Next").click().run()
    assert at.title[0].value == "Thank you!"
    assert len(RatingStore.for_test(app_env).ratings_frame()) == 4 * 5


def test_admin_view(app_env):
    store = RatingStore.for_test(app_env)
    store.create_listener("dave")
    at = new_app(admin="1")
    assert at.title[0].value.startswith("Admin")
    assert not at.dataframe
    at.text_input(key="admin_token").input("wrong").run()
    assert any("Wrong admin token" in e.value for e in at.error) and not at.dataframe
    at.text_input(key="admin_token").input("s3cret-admin").run()
    assert at.dataframe and "dave" in at.dataframe[0].value["listener_id"].tolist()


def test_admin_disabled_without_env(app_env, monkeypatch):
    monkeypatch.delenv("EVALSUITE_MUSHRA_ADMIN_TOKEN")
    at = new_app(admin="1")
    assert any("disabled" in e.value for e in at.error)
