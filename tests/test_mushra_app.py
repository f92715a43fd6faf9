"""The Streamlit app flow with AppTest: start (generated ID), consent, volume check, training on
a set-aside item, rating rules, storage of a trial, resume through the personal link, public
base URL of links, prefetch of the next trial, admin view and link reissue.

``submit`` below is the only part that knows the rating panel (listening_test.player.rating_panel):
it sets the component's value as the browser sends it on a submit click."""
from __future__ import annotations

import re
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from listening_test.config import load_config
from listening_test.storage import RatingStore
from tests.support.mushra import APP, enrol

ADMIN = "q7Vd-2mXk9PzR4wLt8Hs"


@pytest.fixture
def app_env(fresh_test, monkeypatch):
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(fresh_test))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    monkeypatch.delenv("EVALSUITE_MUSHRA_PUBLIC_URL", raising=False)
    monkeypatch.setenv("EVALSUITE_MUSHRA_ADMIN_TOKEN", ADMIN)
    return fresh_test


def new_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def qp(at: AppTest, key: str) -> str:
    v = at.query_params[key]
    return v[0] if isinstance(v, list) else v


def start_listener(at: AppTest) -> tuple[str, str]:
    button(at, "Start").click().run()
    assert not at.exception, at.exception
    return qp(at, "listener"), qp(at, "token")


def sliders(at: AppTest, key: str) -> dict[str, object]:
    return {s.key.rsplit(".", 1)[1]: s for s in at.slider if s.key.startswith(f"score.{key}.")}


def submit(at: AppTest, key: str, scores: dict[str, int], label: str = "Submit and continue") -> None:
    """Rate the signals in ``scores`` (letter -> 0..100; others stay unrated) and press submit."""
    # the component's value, as the browser sends it on the submit click
    at.session_state[f"mushra_panel.{key}"] = dict(
        trial_key=key, nonce=uuid.uuid4().hex, ratings={L: float(v) for L, v in scores.items()},
        played=dict.fromkeys("ABCDE", True), seconds_listened=dict.fromkeys("ABCDE", 1.0))
    at.run()
    assert not at.exception, at.exception


def through_training(at: AppTest, store: RatingStore, lid: str, tok: str, cfg) -> None:
    at.checkbox(key="agree").check().run()
    button(at, "Continue").click().run()
    assert at.title[0].value.startswith("Volume")
    assert button(at, "Continue").disabled
    at.checkbox(key="chk_headphones").check().run()
    at.checkbox(key="chk_volume").check().run()
    button(at, "Continue").click().run()
    assert at.title[0].value == "Training"
    a = store.assignment(lid, tok)
    # training is the set-aside item, never a rated one, with every condition
    assert a.training == ("p01",) and cfg.trial("p01").item not in {t.item for t in cfg.trials}
    submit(at, "training.p01", {"A": 100}, "Finish training")  # not every signal rated: stays
    assert at.title[0].value == "Training" and any("rate every signal: B, C, D, E" in w.value for w in at.warning)
    submit(at, "training.p01", {"A": 100, **{L: 50 for L in "BCDE"}}, "Finish training")


def test_full_flow_rules_and_resume(app_env):
    cfg = load_config(app_env)
    at = new_app()
    assert at.title[0].value.startswith("Listening test")
    assert not at.text_input  # nothing to type: the ID is generated
    lid, token = start_listener(at)
    assert re.fullmatch(r"L[0-9a-f]{10}", lid)
    store = RatingStore.for_test(app_env)
    through_training(at, store, lid, token, cfg)
    assert store.ratings_frame().empty  # training recorded nothing
    assert store.state(lid, token).training_done

    a = store.assignment(lid, token)
    tid = a.trials[0]
    assert sorted(a.trials) == cfg.trial_ids
    assert "Trial 1 of 4" in at.get("progress")[0].proto.text
    letters = dict(a.letters[tid])
    assert sorted(letters) == list("ABCDE")
    want = {"reference": 100, "anchor_lp35": 5, "anchor_lp70": 45, "opus@6": 60, "opus@12": 80}
    by_letter = {L: want[c] for L, c in letters.items()}
    ref_letter = next(L for L, c in letters.items() if c == "reference")
    # all rated but none at 100: refused, with a hint naming no condition
    submit(at, f"trial.{tid}", {L: (90 if L == ref_letter else v) for L, v in by_letter.items()})
    assert any("at least one signal 100" in w.value for w in at.warning)
    shown = " ".join(e.value for e in list(at.caption) + list(at.markdown) + list(at.warning))
    assert not any(cid in shown for cid in ("opus", "anchor", "lp35", "lp70")), shown
    assert store.ratings_frame().empty
    submit(at, f"trial.{tid}", by_letter)
    df = store.ratings_frame()
    assert len(df) == 5 and set(df["trial_id"]) == {tid}
    assert df.set_index("condition")["score"].to_dict() == {k: float(v) for k, v in want.items()}
    assert df.set_index("condition")["label"].to_dict() == {c: L for L, c in letters.items()}
    assert (df["time_spent_s"] > 0).all() and (df["position"] == 0).all()
    assert "Trial 2 of 4" in at.get("progress")[0].proto.text

    # the browser is closed; the personal link resumes at trial 2 with the stored letters
    at2 = new_app(listener=lid, token=token)
    assert not at2.exception
    assert "Trial 2 of 4" in at2.get("progress")[0].proto.text
    assert store.assignment(lid, token) == a


def test_complete_then_done(app_env):
    cfg = load_config(app_env)
    at = new_app()
    lid, tok = start_listener(at)
    store = RatingStore.for_test(app_env)
    through_training(at, store, lid, tok, cfg)
    a = store.assignment(lid, tok)
    for tid in a.trials:
        submit(at, f"trial.{tid}", {L: 100 if L == "A" else 50 for L in "ABCDE"})
    assert at.title[0].value == "Thank you!"
    assert len(store.ratings_frame()) == 4 * 5


def test_no_listener_id_enumeration(app_env):
    """Nothing tells an existing listener ID from an unknown one: the welcome page takes no ID
    (it generates one), and a link with a wrong token reads exactly like one with an unknown ID."""
    store = RatingStore.for_test(app_env)
    store.create_listener("bob")
    at = new_app()
    assert not at.text_input
    seen = {start_listener(new_app())[0] for _ in range(2)}
    assert len(seen) == 2 and "bob" not in seen

    def page(lid, tok):
        at = new_app(listener=lid, token=tok)
        assert not at.exception and not at.slider
        return [(type(e).__name__, getattr(e, "value", None)) for e in at.main]

    forged = "x" * 24
    assert page("bob", forged) == page("nobody", forged) == page("bob", "")
    assert any("not valid" in str(v) for _, v in page("bob", forged))


def test_links_use_the_public_url(app_env, monkeypatch):
    """Behind an HTTPS proxy the app sees http://127.0.0.1: links must use the configured address."""
    monkeypatch.setenv("EVALSUITE_MUSHRA_PUBLIC_URL", "https://listen.example.org/mushra")
    at = new_app()
    lid, tok = start_listener(at)
    link = at.get("code")[0].value
    assert link == f"https://listen.example.org/mushra/?listener={lid}&token={tok}"
    at = new_app(admin="1")
    at.text_input(key="admin_token").input(ADMIN).run()
    at.text_input(key="admin_new_id").input("lab07").run()
    button(at, "Create link").click().run()
    assert at.get("code")[0].value.startswith("https://listen.example.org/mushra/?listener=lab07&token=")
    assert not at.warning  # no "set --public-url" warning when it is set


def test_admin_link_without_public_url_warns(app_env):
    at = new_app(admin="1")
    at.text_input(key="admin_token").input(ADMIN).run()
    at.text_input(key="admin_new_id").input("lab08").run()
    button(at, "Create link").click().run()
    assert at.get("code")[0].value.startswith("/?listener=lab08&token=")
    assert any("--public-url" in w.value for w in at.warning)


def test_admin_reissue_keeps_ratings(app_env):
    cfg = load_config(app_env)
    store = RatingStore.for_test(app_env)
    old, a = enrol(store, cfg, "lost1")
    store.accept("lost1", old)
    store.training_done("lost1", old)
    tid = a.trials[0]
    letters = a.letters[tid]
    store.submit_trial("lost1", old, tid, {c: 100.0 if c == "reference" else 30.0 for c in letters.values()},
                       a.labels(tid), position=0, time_spent_s=5.0)
    before = store.ratings_frame()
    at = new_app(admin="1")
    at.text_input(key="admin_token").input(ADMIN).run()
    at.selectbox(key="admin_reissue_id").select("lost1").run()
    button(at, "Reissue link").click().run()
    assert not at.exception, at.exception
    link = at.get("code")[0].value
    new = re.search(r"token=([^&]+)", link).group(1)
    assert new != old
    resumed = new_app(listener="lost1", token=new)
    assert "Trial 2 of 4" in resumed.get("progress")[0].proto.text
    assert any("not valid" in e.value for e in new_app(listener="lost1", token=old).error)
    assert store.ratings_frame().equals(before) and store.assignment("lost1", new) == a


def test_prefetch_is_the_next_trial(app_env, monkeypatch):
    """The panel of trial k gets the URLs of trial k+1's audio (reference and every signal)."""
    import listening_test.panel as panel

    calls = []
    real = panel.rating_panel

    def spy(reference, signals, key, options=None, prefetch=(), initial=None):
        # resolve each URL to the bytes the server would send for it, while the run is live
        from streamlit import runtime

        files = runtime.get_instance().media_file_mgr._storage
        calls.append((key, [files.get_file(u.rsplit("/", 1)[1].split(".")[0]).content for u in prefetch]))
        return real(reference, signals, key, options, prefetch, initial)

    monkeypatch.setattr(panel, "rating_panel", spy)
    cfg = load_config(app_env)
    store = RatingStore.for_test(app_env)
    tok, a = enrol(store, cfg, "pf")
    store.accept("pf", tok)
    store.training_done("pf", tok)
    new_app(listener="pf", token=tok)
    key, served = calls[-1]
    assert key == f"trial.{a.trials[0]}"
    nxt = cfg.trial(a.trials[1])
    want = [(app_env / nxt.reference).read_bytes()] + [(app_env / nxt.condition(c).path).read_bytes()
                                                       for c in a.letters[a.trials[1]].values()]
    assert len(served) == 6 and sorted(served) == sorted(want)


def test_admin_view(app_env):
    store = RatingStore.for_test(app_env)
    store.create_listener("dave")
    at = new_app(admin="1")
    assert at.title[0].value.startswith("Admin")
    assert not at.dataframe
    at.text_input(key="admin_token").input("wrong").run()
    assert any("Wrong admin token" in e.value for e in at.error) and not at.dataframe
    at.text_input(key="admin_token").input(ADMIN).run()
    assert at.dataframe and "dave" in at.dataframe[0].value["listener_id"].tolist()


def test_admin_disabled_without_env(app_env, monkeypatch):
    monkeypatch.delenv("EVALSUITE_MUSHRA_ADMIN_TOKEN")
    at = new_app(admin="1")
    assert any("disabled" in e.value for e in at.error)


def test_a_repeated_submission_is_stored_once(app_env, monkeypatch):
    """A panel hands its value back on every rerun: the app stores a submission once (by nonce),
    so the next trial does not receive the previous trial's ratings."""
    import listening_test.panel as panel

    cfg = load_config(app_env)
    store = RatingStore.for_test(app_env)
    tok, a = enrol(store, cfg, "rep")
    store.accept("rep", tok)
    store.training_done("rep", tok)
    same = panel.Submission(ratings={L: 100.0 if L == "A" else 20.0 for L in "ABCDE"},
                            played=dict.fromkeys("ABCDE", True), seconds_listened=dict.fromkeys("ABCDE", 2.5),
                            nonce="n-1")
    monkeypatch.setattr(panel, "rating_panel", lambda *a, **k: same)
    at = new_app(listener="rep", token=tok)
    assert not at.exception, at.exception
    assert "Trial 2 of 4" in at.get("progress")[0].proto.text
    at.run()
    assert "Trial 2 of 4" in at.get("progress")[0].proto.text
    df = store.ratings_frame()
    assert set(df["trial_id"]) == {a.trials[0]} and len(df) == 5
    pb = store.playback_frame()
    assert pb["played"].all() and (pb["seconds_listened"] == 2.5).all() and len(pb) == 5


def test_require_play_reaches_the_panel_and_the_server(app_env, monkeypatch):
    """--require-play / --lock-to-playing are per-test options handed to the panel, and the
    server refuses a submission with an unplayed signal whatever the panel did."""
    import yaml

    import listening_test.panel as panel

    p = app_env / "mushra.yaml"
    d = yaml.safe_load(p.read_text())
    d["require_play"], d["lock_to_playing"] = True, True
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    cfg = load_config(app_env)
    store = RatingStore.for_test(app_env)
    tok, a = enrol(store, cfg, "rp")
    store.accept("rp", tok)
    store.training_done("rp", tok)
    seen = []

    def stub(reference, signals, key, options=None, prefetch=(), initial=None):
        seen.append(options)
        return panel.Submission(ratings={s.key: 100.0 for s in signals}, played={s.key: s.key != "C" for s in signals},
                                seconds_listened={}, nonce=f"n{len(seen)}")

    monkeypatch.setattr(panel, "rating_panel", stub)
    at = new_app(listener="rp", token=tok)
    assert seen[0].require_play and seen[0].lock_to_playing
    assert any("listen to every signal before rating it: C" in w.value for w in at.warning)
    assert store.ratings_frame().empty and "Trial 1 of 4" in at.get("progress")[0].proto.text
