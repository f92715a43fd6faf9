"""A real browser against the real server: headless Chromium driven by Selenium.

* A listener starts (generated ID, personal link on the public URL), passes consent, volume
  check and training (a set-aside item), plays signals (decoded from the FLAC files; switching
  keeps the position), rates every signal with the keyboard, submits; the test reads the row
  back from the database, then the personal link resumes at the next trial.
* A Prolific link (?PROLIFIC_PID=..&STUDY_ID=..&SESSION_ID=..) goes through the Huggins-pitch
  headphone screening (the test answers by analysing the served stimulus: the interval whose
  channels are in antiphase around 600 Hz) and its two assigned trials to the completion
  redirect; a participant answering wrongly ends at the screen-out redirect.
* The admin reissues a lost link in the admin view; the new link (on the public URL) resumes
  with the ratings intact and the old link stops working.

Set MUSHRA_SCREENSHOT=docs/img/mushra_trial.png to refresh the documentation screenshot.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from listening_test.cli import streamlit_command
from listening_test.config import load_config
from listening_test.storage import RatingStore
from tests.support.browser import chrome, free_port, wait
from tests.support.mushra import PROLIFIC_CODE, SCREENOUT_CODE, STUDY, enrol

pytestmark = pytest.mark.browser

ADMIN = "Hq8-Zr3mWx7Kp2Ld9Tv5"


def start_server(test_dir: Path, port: int, env_extra: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, EVALSUITE_MUSHRA_TEST=str(test_dir), **(env_extra or {}))
    env.pop("EVALSUITE_MUSHRA_DB", None)
    proc = subprocess.Popen(streamlit_command(test_dir, port, "127.0.0.1"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("streamlit did not start: " + proc.stdout.read1().decode(errors="replace"))


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def server(fresh_test):
    port = free_port()
    proc = start_server(fresh_test, port, {"EVALSUITE_MUSHRA_ADMIN_TOKEN": ADMIN,
                                           # another spelling of this host: links must use it, not the request's
                                           "EVALSUITE_MUSHRA_PUBLIC_URL": f"http://localhost:{port}/"})
    try:
        yield f"http://127.0.0.1:{port}/", fresh_test
    finally:
        stop_server(proc)


@pytest.fixture
def completion_site():
    """Stands in for app.prolific.com: records the paths browsers are sent to."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            body = b"<html><body>submission recorded</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/submissions/complete", seen
    finally:
        httpd.shutdown()


@pytest.fixture
def crowd_server(fresh_crowd_test, completion_site):
    url, _ = completion_site
    p = fresh_crowd_test / "mushra.yaml"
    d = yaml.safe_load(p.read_text())
    d["prolific"]["completion_url"] = url
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    port = free_port()
    proc = start_server(fresh_crowd_test, port)
    try:
        yield f"http://127.0.0.1:{port}/", fresh_crowd_test
    finally:
        stop_server(proc)


@pytest.fixture
def browser():
    with chrome("1000,1400") as d:
        yield d


def click_button(d, text: str) -> None:
    from selenium.webdriver.common.by import By

    def go():
        b = d.find_element(By.XPATH, f"//button[.//p[normalize-space()='{text}']]")
        if not b.is_enabled():
            return False
        b.click()
        return True
    wait(go, what=f"button {text!r}")


def click_label(d, text: str) -> None:
    from selenium.webdriver.common.by import By

    wait(lambda: d.find_element(By.XPATH, f"//label[.//p[contains(text(), \"{text}\")]]").click() or True,
         what=f"checkbox {text!r}")


def page_text(d) -> str:
    from selenium.webdriver.common.by import By

    return d.find_element(By.TAG_NAME, "body").text


class Panel:
    """Drives the trial's rating panel: the component (listening_test.player.rating_panel: one
    iframe with play buttons, sliders and submit) or the interim one (player iframe + Streamlit
    sliders and button), whichever the app renders."""

    def __init__(self, d):
        self.d = d

    def _frame(self):
        from selenium.webdriver.common.by import By

        self.d.switch_to.default_content()
        self.d.switch_to.frame(self.d.find_element(By.CSS_SELECTOR, "iframe[title*='mushra_player']"))

    def enter(self, key: str) -> None:
        """Switch into the panel once the audio of trial ``key`` is decoded."""
        from selenium.webdriver.common.by import By

        def ready():
            self._frame()
            st = self.d.find_element(By.ID, "status")
            self.component = bool(self.d.find_elements(By.ID, "panel"))
            if self.component:
                return st.get_attribute("data-state") == "ready" and st.get_attribute("data-trial") == key
            return st.get_attribute("data-state") == "stopped"
        wait(ready, 60, f"panel of {key} decoded")

    def buttons(self) -> list[str]:
        from selenium.webdriver.common.by import By

        css = "button.play[data-key]" if self.component else "#buttons button[data-key]"
        return [b.get_attribute("data-key") for b in self.d.find_elements(By.CSS_SELECTOR, css)]

    def play(self, key: str) -> None:
        from selenium.webdriver.common.by import By

        css = f"button.play[data-key='{key}']" if self.component else f"#buttons button[data-key='{key}']"
        self.d.find_element(By.CSS_SELECTOR, css).click()

    def status(self) -> tuple[bool, str, float]:
        """(playing, active signal key, position in seconds)."""
        ds = self.d.execute_script("return Object.assign({}, document.getElementById('status').dataset)")
        if self.component:
            return ds.get("playing") == "1", ds.get("active", ""), float(ds.get("pos") or 0)
        return ds.get("state") == "playing", ds.get("active", ""), float(ds.get("position") or 0)

    def stop(self) -> None:
        from selenium.webdriver.common.by import By

        self.d.find_element(By.ID, "stop").click()

    def rate(self, key: str, scores: dict[str, int]) -> None:
        """Set every slider with the keyboard (letter -> 0..100)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.enter(key)
        if not self.component:
            self.d.switch_to.default_content()
            css = "[data-testid='stSlider'] input[type='range']"
            wait(lambda: len(self.d.find_elements(By.CSS_SELECTOR, css)) == len(scores), what="sliders")
            for i, L in enumerate(sorted(scores)):
                set_slider(self.d, i, scores[L])
            return
        for L, v in scores.items():
            s = self.d.find_element(By.CSS_SELECTOR, f".slider[data-key='{L}']")
            self.d.execute_script("arguments[0].focus()", s)
            keys = [Keys.END] if v == 100 else [Keys.HOME] + [Keys.PAGE_UP] * (v // 10) + [Keys.ARROW_UP] * (v % 10)
            ActionChains(self.d).send_keys(*keys).perform()
            wait(lambda: s.get_attribute("aria-valuenow") == str(v), 5, f"slider {L} at {v}")
        self.d.switch_to.default_content()

    def submit(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        if not self.component:
            click_button(self.d, label)
            return
        self._frame()
        b = self.d.find_element(By.ID, "submit")
        assert b.text == label
        wait(lambda: b.is_enabled(), 10, "submit enabled")
        b.click()
        self.d.switch_to.default_content()


def set_slider(d, index: int, value: int) -> None:
    """Keyboard input on Streamlit's slider (a react-aria slider around a focusable range input)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    css = "[data-testid='stSlider'] input[type='range']"

    def now():
        return int(d.find_elements(By.CSS_SELECTOR, css)[index].get_attribute("value"))

    d.execute_script("arguments[0].focus()", d.find_elements(By.CSS_SELECTOR, css)[index])
    keys = [Keys.END] if value == 100 else [Keys.HOME] + [Keys.ARROW_RIGHT] * value
    ActionChains(d).send_keys(*keys).perform()
    wait(lambda: now() == value, what=f"slider {index} at {value}")


def rate_and_submit(d, key: str, scores: dict[str, int], label: str) -> None:
    p = Panel(d)
    p.rate(key, scores)
    p.submit(label)


def consent_and_volume(d) -> None:
    click_label(d, "I agree")
    click_button(d, "Continue")
    wait(lambda: "Volume and headphone check" in page_text(d), what="volume page")
    click_label(d, "I am wearing headphones")
    click_label(d, "The volume is comfortable")
    click_button(d, "Continue")


def test_rate_a_trial_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    url, test_dir = server
    d = browser
    d.get(url)
    click_button(d, "Start")
    wait(lambda: "token=" in d.current_url, what="personal link in the address")
    link = d.current_url
    lid = link.split("listener=")[1].split("&")[0]
    token = link.split("token=")[1].split("&")[0]
    shown = wait(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid='stCode'] code").text, what="link shown")
    assert shown == f"http://localhost:{url.rsplit(':', 1)[1].strip('/')}/?listener={lid}&token={token}"
    consent_and_volume(d)
    wait(lambda: "Training" in page_text(d), what="training page")
    store = RatingStore.for_test(test_dir)
    a = store.assignment(lid, token)
    assert a.training == ("p01",)
    rate_and_submit(d, "training.p01", {L: 100 if L == "A" else 2 for L in a.letters["p01"]},
                    "Finish training and start the test")
    wait(lambda: "Trial 1 of 4" in page_text(d), what="first trial")
    assert store.ratings_frame().empty  # training grades are discarded

    # -- the panel: every signal decodes (from FLAC) and plays; switching keeps the position (loop,
    # fades and the rest of playback are the rating panel's own browser tests)
    tid = a.trials[0]
    p = Panel(d)
    p.enter(f"trial.{tid}")
    assert p.buttons() == ["ref", "A", "B", "C", "D", "E"]
    p.play("ref")
    wait(lambda: p.status()[2] > 0.6, what="playback past 0.6 s")
    before = p.status()[2]
    p.play("C")
    wait(lambda: p.status()[1] == "C", 5, "C active")
    playing, active, after = p.status()
    assert playing and after >= before  # continued, not restarted
    for letter in "ABDE":
        p.play(letter)
        wait(lambda: p.status()[1] == letter, 5, f"{letter} active")
    p.stop()
    wait(lambda: not p.status()[0], 5, "stopped")
    d.switch_to.default_content()

    # -- rate every signal (one at 100) and submit
    letters = dict(a.letters[tid])
    want = {"reference": 100, "anchor_lp35": 12, "anchor_lp70": 35, "opus@6": 48, "opus@12": 71}
    p.rate(f"trial.{tid}", {L: want[c] for L, c in letters.items()})
    shot = os.environ.get("MUSHRA_SCREENSHOT")
    if shot:
        _save_screenshot(d, Path(shot))
    assert store.ratings_frame().empty
    p.submit("Submit and continue")
    wait(lambda: "Trial 2 of 4" in page_text(d), what="second trial")
    df = store.ratings_frame()
    assert df.set_index("condition")["score"].to_dict() == {k: float(v) for k, v in want.items()}
    assert df.set_index("condition")["label"].to_dict() == {c: L for L, c in letters.items()}
    assert set(df["listener_id"]) == {lid} and set(df["trial_id"]) == {tid}
    assert float(df["time_spent_s"].iloc[0]) > 1.0

    # -- closing the page and opening the personal link resumes at trial 2
    d.get("about:blank")
    d.get(link)
    wait(lambda: "Trial 2 of 4" in page_text(d), what="resume at trial 2")


def huggins_target(wav: bytes) -> int:
    """The interval a headphone listener hears the Huggins pitch in, found from the signal: the
    one whose two channels are in antiphase around 600 Hz (the others are identical)."""
    x, rate = sf.read(io.BytesIO(wav))
    level = np.convolve(np.abs(x).sum(axis=1), np.ones(480) / 480, mode="same")  # 10 ms moving average
    active = np.concatenate([[0], (level > 1e-4).astype(int), [0]])
    starts, stops = np.flatnonzero(np.diff(active) == 1), np.flatnonzero(np.diff(active) == -1)
    runs = [(a, b) for a, b in zip(starts, stops) if b - a > rate // 2]
    assert len(runs) == 3, runs
    corr = []
    for a, b in runs:
        L, R = np.fft.rfft(x[a:b, 0]), np.fft.rfft(x[a:b, 1])
        f = np.fft.rfftfreq(b - a, 1 / rate)
        band = (f > 580) & (f < 620)
        corr.append(np.real(np.sum(L[band] * np.conj(R[band]))) / np.sqrt(np.sum(abs(L[band]) ** 2) * np.sum(abs(R[band]) ** 2)))
    low, mid, high = sorted(corr)
    assert low < -0.99 and mid > 0.99, corr  # one antiphase band, two diotic noises
    return int(np.argmin(corr))


def do_screening(d, correct: bool) -> list[int]:
    from selenium.webdriver.common.by import By

    answers, prev = [], None

    def stimulus():
        """The current sound (once the page shows a new one; the old file is gone from the server)."""
        src = d.find_element(By.CSS_SELECTOR, "[data-testid='stAudio']").get_attribute("src")
        return src != prev and (src, urllib.request.urlopen(src, timeout=10).read())

    for k in range(6):
        wait(lambda: f"Sound {k + 1} of 6" in page_text(d), what=f"screening sound {k + 1}")
        prev, wav = wait(stimulus, what="stimulus")
        target = huggins_target(wav)
        answer = target if correct else (target + 1) % 3
        answers.append(answer)
        wait(lambda: d.find_element(
            By.XPATH, f"//div[@data-testid='stRadio']//label[.//p[normalize-space()='{answer + 1}']]").click() or True,
            what="radio option")
        click_button(d, "Next")
    return answers


def test_prolific_link_screening_to_completion(crowd_server, completion_site, browser):
    url, test_dir = crowd_server
    done_url, visited = completion_site
    d = browser
    cfg = load_config(test_dir)
    store = RatingStore.for_test(test_dir)

    # -- a participant with headphones: screening passed, training, 2 of 4 trials, completion code
    pid, session = "60a1b2c3d4e5f60718293a4b", "5c9d8e7f6a5b4c3d2e1f0a9b"
    d.get(f"{url}?PROLIFIC_PID={pid}&STUDY_ID={STUDY}&SESSION_ID={session}")
    consent_and_volume(d)
    answers = do_screening(d, correct=True)
    wait(lambda: "Training" in page_text(d), what="training after screening")
    scr = store.screening_frame().set_index("listener_id").loc[pid]
    assert scr["passed"] and scr["correct"] == 6 and json.loads(scr["answers"]) == answers
    a = store.assignment(pid, session)
    assert len(a.trials) == 2 and store.state(pid, session).source == "prolific"
    rate_and_submit(d, "training.p01", {L: 100 if L == "B" else 4 for L in a.letters["p01"]},
                    "Finish training and start the test")
    for k, tid in enumerate(a.trials):
        wait(lambda: f"Trial {k + 1} of 2" in page_text(d), what=f"trial {k + 1}")
        rate_and_submit(d, f"trial.{tid}", {L: 100 if L == "A" else 3 for L in a.letters[tid]}, "Submit and continue")
    wait(lambda: d.current_url.startswith(done_url), timeout=30, what="completion redirect")
    assert d.current_url == f"{done_url}?cc={PROLIFIC_CODE}"
    assert f"/submissions/complete?cc={PROLIFIC_CODE}" in visited  # the site got the code
    df = store.ratings_frame()
    assert set(df["listener_id"]) == {pid} and sorted(set(df["trial_id"])) == sorted(a.trials) and len(df) == 10

    # -- a participant who fails the headphone check: screen-out code, nothing rated, trials released
    pid2, session2 = "70b2c3d4e5f60718293a4b5c", "6d0e9f8a7b6c5d4e3f2a1b0c"
    d.get(f"{url}?PROLIFIC_PID={pid2}&STUDY_ID={STUDY}&SESSION_ID={session2}")
    consent_and_volume(d)
    do_screening(d, correct=False)
    wait(lambda: d.current_url.startswith(done_url), timeout=30, what="screen-out redirect")
    assert d.current_url == f"{done_url}?cc={SCREENOUT_CODE}"
    scr = store.screening_frame().set_index("listener_id").loc[pid2]
    assert not scr["passed"] and scr["correct"] == 0
    assert set(store.ratings_frame()["listener_id"]) == {pid}
    assert sum(store.trial_counts().values()) == 2  # the failed participant's trials go to the next ones
    # coming back with the same link: still screened out, straight to the screen-out code
    d.get(f"{url}?PROLIFIC_PID={pid2}&STUDY_ID={STUDY}&SESSION_ID={session2}")
    wait(lambda: d.current_url.startswith(done_url), timeout=30, what="screen-out redirect again")
    assert cfg.prolific.completion_code == PROLIFIC_CODE


def test_admin_reissues_a_lost_link(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, test_dir = server
    d = browser
    cfg = load_config(test_dir)
    store = RatingStore.for_test(test_dir)
    old, a = enrol(store, cfg, "lost1")
    store.accept("lost1", old)
    store.training_done("lost1", old)
    tid = a.trials[0]
    store.submit_trial("lost1", old, tid, {c: 100.0 if c == "reference" else 25.0 for c in a.letters[tid].values()},
                       a.labels(tid), position=0, time_spent_s=7.0)
    before = store.ratings_frame()

    d.get(url + "?admin=1")
    box = wait(lambda: d.find_element(By.CSS_SELECTOR, "input[type='password']"), what="admin token field")
    box.send_keys(ADMIN + Keys.ENTER)
    wait(lambda: "Reissue a lost link" in page_text(d), what="admin view")
    pick = wait(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid='stSelectbox'] input"), what="listener list")
    pick.click()
    pick.send_keys("lost1" + Keys.ENTER)
    click_button(d, "Reissue link")
    link = wait(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid='stCode'] code").text, what="reissued link")
    port = url.rsplit(":", 1)[1].strip("/")
    assert link.startswith(f"http://localhost:{port}/?listener=lost1&token=")  # the public URL, not the request's
    d.get(link)
    wait(lambda: "Trial 2 of 4" in page_text(d), what="resumed at trial 2")
    assert store.ratings_frame().equals(before)
    d.get(f"{url}?listener=lost1&token={old}")
    wait(lambda: "This link is not valid" in page_text(d), what="old link refused")


def _save_screenshot(d, path: Path) -> None:
    """Full rating page, palette-reduced so the committed PNG stays small."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    d.execute_script("window.scrollTo(0, 0)")
    h = d.execute_script("return document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1400")
    d.set_window_size(1000, min(2000, int(h) + 40))
    time.sleep(0.8)
    d.save_screenshot(str(path))
    import numpy as np

    img = Image.open(path).convert("RGB")
    rows = np.flatnonzero((np.asarray(img.convert("L")) < 250).any(axis=1))
    if len(rows):  # trim the empty page below the content
        img = img.crop((0, 0, img.width, min(img.height, int(rows[-1]) + 40)))
    img.quantize(colors=64).save(path, optimize=True)
