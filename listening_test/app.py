"""MUSHRA listening test app (ITU-R BS.1534-3), run by `evalsuite mushra serve <test>`.

Flow: welcome (a listener ID is generated; or the Prolific link, or an admin-made link) ->
consent -> volume check -> headphone screening (if the test has one; failing ends the test, and
a Prolific participant is sent back with the screen-out code) -> training (every condition, on
items not rated afterwards; grades discarded) -> the listener's rated trials (their own balanced
subset, order and letters, drawn once and stored) -> thanks (Prolific: back with the completion
code). The personal link (?listener=ID&token=T) resumes where they stopped. ``?admin=1`` opens
the admin view (token from $EVALSUITE_MUSHRA_ADMIN_TOKEN).

The test folder comes from ``--test DIR`` after ``--`` on the streamlit command line or from
$EVALSUITE_MUSHRA_TEST; the database from $EVALSUITE_MUSHRA_DB (default SQLite in the folder);
the address listeners use from $EVALSUITE_MUSHRA_PUBLIC_URL.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

import streamlit as st

try:
    import listening_test  # noqa: F401
except ImportError:  # started as a bare script from a checkout: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listening_test import admin_auth, links, panel, prolific, screening
from listening_test.assignment import Assignment, new_listener_draw, system_rng, trial_of
from listening_test.cli import ENV_ADMIN_TOKEN, ENV_DB_URL, ENV_PUBLIC_URL, ENV_TEST_DIR
from listening_test.config import TestConfig, Trial, load_config, safe_path
from listening_test.protocol import next_trial, submit_problems
from listening_test.storage import AlreadySubmitted, AuthError, ListenerExists, RatingStore, UnknownListener

ss = st.session_state

INVALID_LINK = ("This link is not valid. If you started the test before, ask the test administrator for a new "
                "personal link; your ratings are kept.")


# -- resources -------------------------------------------------------------------------------------
def _test_dir() -> Path | None:
    argv = sys.argv[1:]
    if "--test" in argv and argv.index("--test") + 1 < len(argv):
        return Path(argv[argv.index("--test") + 1])
    if os.environ.get(ENV_TEST_DIR):
        return Path(os.environ[ENV_TEST_DIR])
    st.error(f"No test folder given: start with `evalsuite mushra serve <test>` (or set ${ENV_TEST_DIR}).")
    return None


@st.cache_resource(show_spinner=False)
def _config(test_dir: str, mtime: float) -> TestConfig:
    return load_config(Path(test_dir))


@st.cache_resource(show_spinner=False)
def _store(url: str) -> RatingStore:
    return RatingStore(url)


def _db_url(test_dir: Path) -> str:
    from listening_test.storage import default_url

    return os.environ.get(ENV_DB_URL) or default_url(test_dir)


def _flash(msg: str, kind: str = "error") -> None:
    ss["flash"] = (kind, msg)


def _show_flash() -> None:
    if "flash" in ss:
        kind, msg = ss.pop("flash")
        getattr(st, kind)(msg)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _public_base() -> tuple[str, bool]:
    """(base URL of listener links, whether it was configured)."""
    if os.environ.get(ENV_PUBLIC_URL):
        return links.normalize_public_url(os.environ[ENV_PUBLIC_URL]), True
    try:
        seen = links.base_from_browser(st.context.url)
    except Exception:  # noqa: BLE001 - no browser context (AppTest, bare mode)
        seen = None
    return seen or "/", False


def _redirect(url: str, label: str) -> None:
    """Send the browser to ``url`` now, with a button in case scripts are blocked."""
    st.link_button(label, url, type="primary")
    target = json.dumps(url).replace("<", "\\u003c")
    st.html(f"<script>window.location.replace({target});</script>", unsafe_allow_javascript=True)


# -- identity ----------------------------------------------------------------------------------------
def _remember(lid: str, tok: str) -> tuple[str, str]:
    ss["listener"], ss["token"] = lid, tok
    return lid, tok


def _prolific_identity(cfg: TestConfig, store: RatingStore, visit: prolific.ProlificVisit):
    if not cfg.prolific.enabled or (cfg.prolific.study_id and visit.study_id != cfg.prolific.study_id):
        st.error("This link does not belong to this study. Please open the study from Prolific again.")
        return None
    try:
        store.state(visit.pid, visit.session_id)
        return _remember(visit.pid, visit.session_id)
    except AuthError:
        pass
    try:
        store.create_listener(visit.pid, token=visit.session_id, source="prolific", study_id=visit.study_id)
        return _remember(visit.pid, visit.session_id)
    except (ListenerExists, ValueError):
        st.error("This Prolific session does not match the one that started this test. If you restarted the "
                 "study on Prolific, please message the researcher through Prolific.")
        return None


def _identity(cfg: TestConfig, store: RatingStore):
    """(listener, token) from the session, the Prolific link or the personal link; None if there
    is none (the page says what to do)."""
    if "listener" in ss:
        return ss["listener"], ss["token"]
    qp = st.query_params
    try:
        visit = prolific.visit_from_query(qp)
    except ValueError as e:
        st.error(f"{e}. Please open the study from Prolific again.")
        return None
    if visit is not None:
        return _prolific_identity(cfg, store, visit)
    lid, tok = qp.get("listener"), qp.get("token")
    if lid or tok:
        try:
            store.state(lid or "", tok or "")
            return _remember(lid, tok)
        except AuthError:
            st.error(INVALID_LINK)  # the same words for an unknown ID and a wrong token
            return None
    welcome_page(cfg, store)
    return None


def _start(store: RatingStore) -> None:
    lid, tok = store.create_generated_listener()
    _remember(lid, tok)
    st.query_params["listener"] = lid
    st.query_params["token"] = tok


# -- pages -------------------------------------------------------------------------------------------
def welcome_page(cfg: TestConfig, store: RatingStore) -> None:
    st.title(f"Listening test: {cfg.name}")
    if cfg.prolific.enabled:
        st.info("This study runs on Prolific: please open it from your Prolific account.")
        return
    st.markdown(
        "You will hear short audio excerpts, each processed in several ways, and rate the quality of "
        "each version against the **Reference** on a scale from 0 to 100. The test follows "
        "ITU-R BS.1534-3 (MUSHRA). Please use headphones in a quiet room.\n\n"
        f"It has **{cfg.k} trials** after a short training and takes about {max(5, 2 * cfg.k + 3)} minutes. "
        "You can stop at any time and come back later with your personal link.")
    if cfg.instructions:
        st.markdown(cfg.instructions)
    _show_flash()
    st.button("Start", on_click=_start, args=(store,), type="primary")


def consent_page(cfg: TestConfig, store: RatingStore, lid: str, tok: str, source: str) -> None:
    st.title("Before you start")
    if source == "prolific":
        st.success("Welcome. To continue later, open the study from Prolific again.")
    else:
        st.success(f"Welcome, listener **{lid}**. This is your personal link: bookmark it to resume the test "
                   "later. Do not share it.")
        st.code(links.personal_link(_public_base()[0], lid, tok), language=None)
    st.markdown(
        "- Your ratings are stored with your listener ID only; no other personal data is recorded.\n"
        "- Participation is voluntary; you may stop at any time.\n"
        "- Only the ratings of completed trials are stored.")
    agree = st.checkbox("I agree to take part and to have my ratings stored for this evaluation", key="agree")
    if st.button("Continue", disabled=not agree, type="primary"):
        store.accept(lid, tok)
        st.rerun()


def volume_page(cfg: TestConfig, test_dir: Path, first: Trial) -> None:
    st.title("Volume and headphone check")
    st.markdown("Put on your headphones. Play the excerpt and set your volume to a comfortable, fairly loud "
                "level. **Do not change the volume during the test.**")
    path = safe_path(test_dir, first.reference)
    st.audio(path.read_bytes(), format="audio/flac" if path.suffix == ".flac" else "audio/wav")
    a = st.checkbox("I am wearing headphones", key="chk_headphones")
    b = st.checkbox("The volume is comfortable and I will keep it unchanged", key="chk_volume")
    if st.button("Continue", disabled=not (a and b), type="primary", key="volume_continue"):
        ss["volume_ok"] = True
        st.rerun()


def _answer(store: RatingStore, lid: str, tok: str, index: int) -> None:
    choice = ss.get(f"screening.{index}")
    if choice is not None:
        store.answer_screening(lid, tok, index, int(choice) - 1)


def screening_page(cfg: TestConfig, store: RatingStore, lid: str, tok: str) -> None:
    test = screening.get_test(cfg.screening)
    plan = screening.ScreeningPlan.from_json(
        store.start_screening(lid, tok, cfg.screening, screening.draw_plan(cfg.screening, system_rng()).to_json()))
    answers = json.loads(store.screening(lid, tok).answers)
    i = len(answers)
    if i >= len(plan.trials):
        correct, passed = screening.score(plan, answers)
        store.finish_screening(lid, tok, correct, passed)
        st.rerun()
    st.title(test.title)
    st.markdown(test.instructions)
    st.progress(i / len(plan.trials), text=f"Sound {i + 1} of {len(plan.trials)}")
    st.audio(screening.stimulus_wav(cfg.screening, plan.trials[i]), format="audio/wav")
    choice = st.radio(test.question, ["1", "2", "3"], index=None, horizontal=True, key=f"screening.{i}")
    st.button("Next", type="primary", disabled=choice is None, key=f"screening_next.{i}",
              on_click=_answer, args=(store, lid, tok, i))


def _signals(test_dir: Path, t: Trial, letters: dict[str, str]):
    ref = panel.Signal("ref", "Reference", safe_path(test_dir, t.reference))
    sigs = [panel.Signal(L, L, safe_path(test_dir, t.condition(c).path)) for L, c in sorted(letters.items())]
    return ref, sigs


def _options(cfg: TestConfig, label: str) -> panel.PanelOptions:
    return panel.PanelOptions(require_play=cfg.require_play, lock_to_playing=cfg.lock_to_playing, submit_label=label)


def _fresh(sub) -> bool:
    """A submission not handled before (the panel may hand the same one back on a rerun)."""
    if sub is None or sub.nonce in ss.setdefault("nonces", set()):
        return False
    ss["nonces"].add(sub.nonce)
    return True


def _check(cfg: TestConfig, sub, letters: dict[str, str]) -> list[str]:
    return submit_problems(sub.ratings, letters, sub.played, cfg.require_play)


def training_page(cfg: TestConfig, test_dir: Path, store: RatingStore, lid: str, tok: str, a: Assignment) -> None:
    pos = min(ss.get("training_pos", 0), len(a.training) - 1)
    tid = a.training[pos]
    t = trial_of(cfg, tid)
    st.title("Training" + (f" ({pos + 1} of {len(a.training)})" if len(a.training) > 1 else ""))
    st.info("Practice: nothing is recorded. Listen to every signal and compare it with the Reference; one of "
            "them is the Reference itself (rate it 100), and the range from best to worst is the range you will "
            "meet in the test. Try the loop region. To continue, rate every signal and at least one at 100.")
    _show_flash()
    last = pos == len(a.training) - 1
    prefetch = []
    if last and a.trials:
        prefetch = panel.prefetch_urls(*_signals(test_dir, cfg.trial(a.trials[0]), dict(a.letters[a.trials[0]])),
                                       key=f"trial.{a.trials[0]}")
    ref, sigs = _signals(test_dir, t, dict(a.letters[tid]))
    sub = panel.rating_panel(ref, sigs, key=f"training.{tid}",
                             options=_options(cfg, "Finish training and start the test" if last else "Next practice trial"),
                             prefetch=prefetch)
    if not _fresh(sub):
        return
    problems = _check(cfg, sub, dict(a.letters[tid]))
    if problems:
        st.warning("; ".join(problems))
        return
    if last:
        store.training_done(lid, tok)
    ss["training_pos"] = pos + 1
    st.rerun()


def _store_trial(cfg: TestConfig, store: RatingStore, lid: str, tok: str, tid: str, pos: int, sub,
                 letters: dict[str, str]) -> bool:
    """Store a submission; False (and the reason shown) when it breaks a rule."""
    problems = _check(cfg, sub, letters)
    if problems:  # the panel may check too; the server decides
        st.warning("; ".join(problems))
        return False
    scores = {letters[L]: float(sub.ratings[L]) for L in letters}
    labels = {c: L for L, c in letters.items()}
    played = {letters[L]: bool(sub.played.get(L, False)) for L in letters}
    seconds = {letters[L]: float(sub.seconds_listened.get(L, 0.0)) for L in letters}
    spent = time.time() - ss.get(f"t0.{tid}", time.time())
    try:
        store.submit_trial(lid, tok, tid, scores, labels, position=pos, time_spent_s=spent,
                           started_at=ss.get(f"started.{tid}"), played=played, seconds_listened=seconds)
    except AlreadySubmitted:
        _flash("This trial had already been submitted; your earlier ratings are kept.", "info")
    except AuthError:
        _flash(INVALID_LINK)
    return True


def trial_page(cfg: TestConfig, test_dir: Path, store: RatingStore, lid: str, tok: str, a: Assignment,
               pos: int, tid: str) -> None:
    n = len(a.trials)
    st.progress(pos / n, text=f"Trial {pos + 1} of {n}")
    _show_flash()
    ss.setdefault(f"t0.{tid}", time.time())
    ss.setdefault(f"started.{tid}", _now())
    letters = dict(a.letters[tid])
    ref, sigs = _signals(test_dir, cfg.trial(tid), letters)
    prefetch = []
    if pos + 1 < n:
        nxt = a.trials[pos + 1]
        prefetch = panel.prefetch_urls(*_signals(test_dir, cfg.trial(nxt), dict(a.letters[nxt])), key=f"trial.{nxt}")
    sub = panel.rating_panel(ref, sigs, key=f"trial.{tid}", options=_options(cfg, "Submit and continue"),
                             prefetch=prefetch)
    if _fresh(sub) and _store_trial(cfg, store, lid, tok, tid, pos, sub, letters):
        st.rerun()


def done_page(cfg: TestConfig, source: str, n_done: int) -> None:
    st.title("Thank you!")
    if source == "prolific" and cfg.prolific.enabled:
        st.success("You have completed the test. Taking you back to Prolific to record your submission…")
        _redirect(prolific.completion_link(cfg.prolific, cfg.prolific.completion_code), "Back to Prolific")
        return
    st.success(f"You have completed all {n_done} trials of {cfg.name}. Your ratings are saved; "
               "you can close this page.")


def screened_out_page(cfg: TestConfig, source: str) -> None:
    st.title("Thank you")
    st.info("This test needs headphones, and the headphone check did not confirm that you are using them, so "
            "your part ends here. Thank you for your time.")
    if source == "prolific" and cfg.prolific.screenout_code:
        _redirect(prolific.completion_link(cfg.prolific, cfg.prolific.screenout_code), "Back to Prolific")
    elif source == "prolific":
        st.markdown("Please return the study on Prolific.")


# -- admin ------------------------------------------------------------------------------------------------
def _admin_login(store: RatingStore, expected: str) -> None:
    given = ss.get("admin_token") or ""
    if not given:
        return
    res = admin_auth.check_login(store, expected, given, time.time())
    if res.ok:
        ss["admin_ok"] = True
    else:
        _flash(res.message)


def _admin_link(lid: str, tok: str) -> None:
    base, configured = _public_base()
    st.code(links.personal_link(base, lid, tok), language=None)
    if not configured and (base == "/" or links.is_loopback(base)):
        st.warning(f"This link uses the address of this admin page ({base}). Start the server with "
                   f"--public-url (or ${ENV_PUBLIC_URL}) set to the address listeners use.")


def admin_page(cfg: TestConfig, store: RatingStore) -> None:
    from listening_test.analysis import post_screening, tidy_ratings

    st.title(f"Admin: {cfg.name}")
    expected = os.environ.get(ENV_ADMIN_TOKEN, "")
    if not expected:
        st.error(f"The admin view is disabled: set ${ENV_ADMIN_TOKEN} before `evalsuite mushra serve`.")
        return
    weak = admin_auth.token_problem(expected)
    if weak:
        st.error(f"The admin view is disabled: ${ENV_ADMIN_TOKEN} is too weak ({weak}); "
                 f"{admin_auth.GENERATE_HINT}")
        return
    if not ss.get("admin_ok"):
        st.text_input("Admin token", type="password", key="admin_token", on_change=_admin_login,
                      args=(store, expected))
        _show_flash()
        return
    _show_flash()
    prog = store.progress(cfg.k)
    st.metric("Listeners", len(prog), help="registered")
    st.metric("Completed", int(prog["complete"].sum()) if len(prog) else 0)
    counts = store.trial_counts()
    st.caption("Listeners per trial: " + ", ".join(f"{t}: {counts.get(t, 0)}" for t in cfg.trial_ids))
    st.dataframe(prog, hide_index=True)
    ratings = tidy_ratings(store.ratings_frame(), cfg)
    st.download_button("Download ratings (CSV)", ratings.to_csv(index=False), "ratings.csv", "text/csv")
    if cfg.screening != "none":
        st.download_button("Download headphone screening (CSV)", store.screening_frame().to_csv(index=False),
                           "screening.csv", "text/csv")
    if len(ratings):
        _, scr = post_screening(ratings)
        st.subheader("Post-screening (BS.1534-3)")
        st.dataframe(scr, hide_index=True)

    st.subheader("Create a listener link")
    new_id = st.text_input("New listener ID", key="admin_new_id")
    if st.button("Create link") and new_id:
        try:
            _admin_link(new_id.strip(), store.create_listener(new_id.strip(), source="admin"))
        except (ListenerExists, ValueError) as e:
            st.error(str(e))

    st.subheader("Reissue a lost link")
    st.caption("A new personal link for an existing listener: the old link stops working, ratings are kept.")
    who = st.selectbox("Listener", store.listener_ids(), index=None, key="admin_reissue_id")
    if st.button("Reissue link", disabled=who is None) and who:
        try:
            _admin_link(who, store.reissue_token(who))
        except UnknownListener as e:
            st.error(str(e))


def main() -> None:
    st.set_page_config(page_title="MUSHRA listening test", page_icon="🎧", layout="centered")
    test_dir = _test_dir()
    if test_dir is None:
        return
    yml = test_dir / "mushra.yaml"
    cfg = _config(str(test_dir), yml.stat().st_mtime if yml.exists() else 0.0)
    store = _store(_db_url(test_dir))
    if "admin" in st.query_params:
        admin_page(cfg, store)
        return
    ident = _identity(cfg, store)
    if ident is None:
        return
    lid, tok = ident
    try:
        state = store.state(lid, tok)
    except AuthError:
        for k in ("listener", "token"):
            ss.pop(k, None)
        st.error(INVALID_LINK)
        return
    if state.screening_passed is False:
        screened_out_page(cfg, state.source)
        return
    a = store.assign(lid, tok, new_listener_draw(cfg))
    nxt = next_trial(a.trials, state.completed)
    if not state.accepted:
        consent_page(cfg, store, lid, tok, state.source)
    elif not state.training_done and not ss.get("volume_ok"):
        volume_page(cfg, test_dir, trial_of(cfg, a.training[0]) if a.training else cfg.trials[0])
    elif cfg.screening != "none" and state.screening_passed is None:
        screening_page(cfg, store, lid, tok)
    elif not state.training_done:
        training_page(cfg, test_dir, store, lid, tok, a)
    elif nxt is None:
        done_page(cfg, state.source, len(a.trials))
    else:
        trial_page(cfg, test_dir, store, lid, tok, a, *nxt)


main()
