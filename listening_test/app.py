"""MUSHRA listening test app (ITU-R BS.1534-3), run by `evalsuite mushra serve <test>`.

Flow: welcome (listener ID) -> consent -> volume/headphone check -> training trial (nothing
recorded) -> the rated trials in this listener's random order -> thanks. The listener's personal
link (?listener=ID&token=T) resumes where they stopped. ``?admin=1`` opens the admin view
(token from $EVALSUITE_MUSHRA_ADMIN_TOKEN).

The test folder comes from ``--test DIR`` after ``--`` on the streamlit command line or from
$EVALSUITE_MUSHRA_TEST; the database from $EVALSUITE_MUSHRA_DB (default SQLite in the folder).
"""
from __future__ import annotations

import datetime as _dt
import hmac
import os
import sys
import time
from pathlib import Path

import streamlit as st

try:
    import listening_test  # noqa: F401
except ImportError:  # started as a bare script from a checkout: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listening_test.cli import ENV_ADMIN_TOKEN, ENV_DB_URL, ENV_TEST_DIR
from listening_test.config import BANDS, TestConfig, Trial, load_config, safe_path
from listening_test.player import Signal, player
from listening_test.protocol import condition_letters, next_trial, submit_problems, trial_order
from listening_test.storage import AlreadySubmitted, AuthError, ListenerExists, RatingStore

ss = st.session_state


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
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


# -- identity ----------------------------------------------------------------------------------------
def _identity(store: RatingStore):
    """(listener, token) from the session or from the personal link; None if unknown."""
    if "listener" not in ss:
        qp = st.query_params
        lid, tok = qp.get("listener"), qp.get("token")
        if lid and tok:
            try:
                store.state(lid, tok)
            except AuthError:
                st.error("This personal link is not valid (unknown listener or wrong token). "
                         "Start again with a new listener ID below, or ask the test administrator.")
                return None
            ss["listener"], ss["token"] = lid, tok
    if "listener" in ss:
        return ss["listener"], ss["token"]
    return None


def _start(store: RatingStore) -> None:
    lid = (ss.get("listener_input") or "").strip()
    try:
        tok = store.create_listener(lid)
    except (ListenerExists, ValueError) as e:
        _flash(str(e))
        return
    ss["listener"], ss["token"] = lid, tok
    st.query_params["listener"] = lid
    st.query_params["token"] = tok


# -- pages -------------------------------------------------------------------------------------------
def welcome_page(cfg: TestConfig, store: RatingStore) -> None:
    st.title(f"Listening test: {cfg.name}")
    st.markdown(
        "You will hear short audio excerpts, each processed in several ways, and rate the quality of "
        "each version against the **Reference** on a scale from 0 to 100. The test follows "
        "ITU-R BS.1534-3 (MUSHRA). Please use headphones in a quiet room.\n\n"
        f"It has **{len(cfg.trials)} trials** and takes about {max(5, 2 * len(cfg.trials))} minutes. "
        "You can stop at any time and come back later with your personal link.")
    if cfg.instructions:
        st.markdown(cfg.instructions)
    _show_flash()
    st.text_input("Listener ID (letters, digits, '.', '_' or '-')", key="listener_input", max_chars=64)
    st.button("Start", on_click=_start, args=(store,), type="primary")


def consent_page(cfg: TestConfig, store: RatingStore, lid: str, tok: str) -> None:
    st.title("Before you start")
    st.success(f"Welcome, **{lid}**. This page's address is your personal link: bookmark it to resume "
               "the test later. Do not share it.")
    st.code(_personal_link(lid, tok), language=None)
    st.markdown(
        "- Your ratings are stored with your listener ID only; no other personal data is recorded.\n"
        "- Participation is voluntary; you may stop at any time.\n"
        "- Only the ratings of completed trials are stored.")
    agree = st.checkbox("I agree to take part and to have my ratings stored for this evaluation", key="agree")
    if st.button("Continue", disabled=not agree, type="primary"):
        store.accept(lid, tok)
        st.rerun()


def _personal_link(lid: str, tok: str) -> str:
    host = ""
    try:
        host = st.context.headers.get("Host") or ""
    except Exception:  # noqa: BLE001 - no request context (tests)
        pass
    base = f"http://{host}/" if host else "/"
    return f"{base}?listener={lid}&token={tok}"


def volume_page(cfg: TestConfig, test_dir: Path) -> None:
    st.title("Volume and headphone check")
    st.markdown("Put on your headphones. Play the reference excerpt and set your volume to a comfortable, "
                "fairly loud level. **Do not change the volume during the test.**")
    t = cfg.trial(cfg.training_trial or cfg.trials[0].id)
    player([Signal("ref", "Reference", safe_path(test_dir, t.reference))], key="volume")
    a = st.checkbox("I am wearing headphones", key="chk_headphones")
    b = st.checkbox("The volume is comfortable and I will keep it unchanged", key="chk_volume")
    if st.button("Continue to training", disabled=not (a and b), type="primary"):
        ss["volume_ok"] = True
        st.rerun()


def _scale_header() -> None:
    cells = "".join(
        f'<div style="flex:1;text-align:center;border-left:1px solid #ccc;padding:2px 0">{name}<br>'
        f'<span style="color:#999;font-size:11px">{lo}–{hi}</span></div>' for lo, hi, name in BANDS)
    st.markdown(f'<div style="display:flex;font-size:13px;color:#555;border-right:1px solid #ccc">{cells}</div>',
                unsafe_allow_html=True)


def _band(score: float) -> str:
    for lo, hi, name in BANDS:
        if score < hi or hi == 100:
            return name
    return ""


def _moved(prefix: str, letter: str) -> None:
    ss.setdefault("moved", {})[f"{prefix}.{letter}"] = True


def rating_ui(cfg: TestConfig, test_dir: Path, t: Trial, lid: str, prefix: str) -> tuple[dict, dict, dict]:
    """Player + one slider per condition. Returns (scores, moved, labels) keyed by condition id.
    ``lid`` seeds the letter order (the training page passes a variant of the listener ID, so the
    practice trial does not reveal the letters of the same item in the test)."""
    letters = condition_letters(t, cfg.seed, lid)
    signals = [Signal("ref", "Reference", safe_path(test_dir, t.reference))]
    signals += [Signal(L, L, safe_path(test_dir, t.condition(c).path)) for L, c in letters.items()]
    player(signals, key=prefix)
    st.caption("Click a button to listen; switching keeps the position. Set a loop region to compare details.")
    head = st.columns([1, 8, 2])
    with head[1]:
        _scale_header()
    scores, moved, labels = {}, {}, {}
    for L, cond in letters.items():
        c1, c2, c3 = st.columns([1, 8, 2], vertical_alignment="center")
        c1.markdown(f"**{L}**")
        v = c2.slider(f"Score {L}", 0, 100, 0, key=f"score.{prefix}.{L}", label_visibility="collapsed",
                      on_change=_moved, args=(prefix, L))
        c3.markdown(f"{v} · {_band(v)}")
        scores[cond], labels[cond] = float(v), L
        moved[cond] = ss.get("moved", {}).get(f"{prefix}.{L}", False)
    return scores, moved, labels


def training_page(cfg: TestConfig, test_dir: Path, store: RatingStore, lid: str, tok: str) -> None:
    st.title("Training")
    st.info("This trial is for practice: nothing is recorded. Listen to every signal, find the hidden "
            "reference (rate it 100) and try the loop region. In the test, **Next** is enabled once every "
            "slider has been moved and at least one signal is rated 100.")
    t = cfg.trial(cfg.training_trial or cfg.trials[0].id)
    scores, moved, labels = rating_ui(cfg, test_dir, t, f"{lid}#training", prefix="training")
    for p in submit_problems(scores, moved, labels):
        st.caption(f"In the test: {p}")
    if st.button("Finish training and start the test", type="primary"):
        store.training_done(lid, tok)
        st.rerun()


def _current(cfg: TestConfig, t: Trial, lid: str, prefix: str) -> tuple[dict, dict, dict]:
    """The trial's slider values, moved flags and letters, straight from the session state."""
    letters = condition_letters(t, cfg.seed, lid)
    moved = ss.get("moved", {})
    scores = {c: float(ss.get(f"score.{prefix}.{L}", 0)) for L, c in letters.items()}
    return scores, {c: moved.get(f"{prefix}.{L}", False) for L, c in letters.items()}, {c: L for L, c in letters.items()}


def _submit(cfg: TestConfig, store: RatingStore, lid: str, tok: str, tid: str, pos: int) -> None:
    scores, moved, labels = _current(cfg, cfg.trial(tid), lid, f"trial.{tid}")
    problems = submit_problems(scores, moved, labels)
    if problems:  # also enforced here, not only by the disabled button
        _flash("; ".join(problems), "warning")
        return
    spent = time.time() - ss.get(f"t0.{tid}", time.time())
    try:
        store.submit_trial(lid, tok, tid, scores, labels, position=pos, time_spent_s=spent,
                           started_at=ss.get(f"started.{tid}"))
    except AlreadySubmitted:
        _flash("This trial had already been submitted; your earlier ratings are kept.", "info")
    except AuthError as e:
        _flash(str(e))


def trial_page(cfg: TestConfig, test_dir: Path, store: RatingStore, lid: str, tok: str, pos: int, tid: str) -> None:
    n = len(cfg.trials)
    st.progress(pos / n, text=f"Trial {pos + 1} of {n}")
    _show_flash()
    ss.setdefault(f"t0.{tid}", time.time())
    ss.setdefault(f"started.{tid}", _now())
    t = cfg.trial(tid)
    scores, moved, labels = rating_ui(cfg, test_dir, t, lid, prefix=f"trial.{tid}")
    problems = submit_problems(scores, moved, labels)
    for p in problems:
        st.caption(f"To continue: {p}")
    st.button("Next", type="primary", disabled=bool(problems), key=f"next.{tid}",
              on_click=_submit, args=(cfg, store, lid, tok, tid, pos))


def done_page(cfg: TestConfig) -> None:
    st.title("Thank you!")
    st.success(f"You have completed all {len(cfg.trials)} trials of {cfg.name}. Your ratings are saved; "
               "you can close this page.")


def admin_page(cfg: TestConfig, store: RatingStore) -> None:
    from listening_test.analysis import post_screening, tidy_ratings

    st.title(f"Admin: {cfg.name}")
    expected = os.environ.get(ENV_ADMIN_TOKEN, "")
    if not expected:
        st.error(f"The admin view is disabled: set ${ENV_ADMIN_TOKEN} before `evalsuite mushra serve`.")
        return
    given = st.text_input("Admin token", type="password", key="admin_token")
    if not given:
        return
    if not hmac.compare_digest(given.encode(), expected.encode()):
        st.error("Wrong admin token.")
        return
    prog = store.progress(len(cfg.trials))
    st.metric("Listeners", len(prog), help="registered")
    st.metric("Completed", int(prog["complete"].sum()) if len(prog) else 0)
    st.dataframe(prog, hide_index=True)
    ratings = tidy_ratings(store.ratings_frame(), cfg)
    st.download_button("Download ratings (CSV)", ratings.to_csv(index=False), "ratings.csv", "text/csv")
    if len(ratings):
        _, scr = post_screening(ratings)
        st.subheader("Post-screening (BS.1534-3)")
        st.dataframe(scr, hide_index=True)
    st.subheader("Create a listener link")
    new_id = st.text_input("New listener ID", key="admin_new_id")
    if st.button("Create link") and new_id:
        try:
            tok = store.create_listener(new_id.strip())
            st.code(_personal_link(new_id.strip(), tok), language=None)
        except (ListenerExists, ValueError) as e:
            st.error(str(e))


def main() -> None:
    st.set_page_config(page_title="MUSHRA listening test", page_icon="🎧", layout="centered")
    test_dir = _test_dir()
    if test_dir is None:
        return
    cfg = _config(str(test_dir), (test_dir / "mushra.yaml").stat().st_mtime if (test_dir / "mushra.yaml").exists() else 0.0)
    store = _store(_db_url(test_dir))
    if "admin" in st.query_params:
        admin_page(cfg, store)
        return
    ident = _identity(store)
    if ident is None:
        welcome_page(cfg, store)
        return
    lid, tok = ident
    try:
        state = store.state(lid, tok)
    except AuthError:
        for k in ("listener", "token"):
            ss.pop(k, None)
        st.error("Your listener ID is no longer valid; start again.")
        return
    if not state.accepted:
        consent_page(cfg, store, lid, tok)
    elif not state.training_done:
        if not ss.get("volume_ok"):
            volume_page(cfg, test_dir)
        else:
            training_page(cfg, test_dir, store, lid, tok)
    else:
        nxt = next_trial(trial_order(cfg, lid), state.completed)
        if nxt is None:
            done_page(cfg)
        else:
            trial_page(cfg, test_dir, store, lid, tok, *nxt)


main()
