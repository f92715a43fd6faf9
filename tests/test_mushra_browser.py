"""A real browser against the real server: headless Chromium driven by Selenium.

`evalsuite mushra serve`'s command line starts Streamlit on a loopback port; the browser
registers a listener, passes consent, volume check and training, plays signals (checking that
switching keeps the position and that the loop region holds), moves every slider with the
keyboard, submits, and the test reads the row back from the database; then the personal link
resumes at the next trial. Set MUSHRA_SCREENSHOT=docs/img/mushra_trial.png to refresh the
documentation screenshot of the rating page.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from listening_test.cli import streamlit_command
from listening_test.config import load_config
from listening_test.protocol import condition_letters, trial_order
from listening_test.storage import RatingStore
from test_mushra_fixtures import fresh_test, mushra_run, mushra_test_dir  # noqa: F401

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--autoplay-policy=no-user-gesture-required", "--window-size=1000,1400"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(fresh_test):
    port = _free_port()
    env = dict(os.environ, EVALSUITE_MUSHRA_TEST=str(fresh_test))
    env.pop("EVALSUITE_MUSHRA_DB", None)
    proc = subprocess.Popen(streamlit_command(fresh_test, port, "127.0.0.1"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("streamlit did not start: " + proc.stdout.read1().decode(errors="replace"))
        yield url, fresh_test
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in CHROME_ARGS:
        opts.add_argument(a)
    profile = tempfile.mkdtemp(prefix="mushra-chrome-")
    opts.add_argument(f"--user-data-dir={profile}")
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.implicitly_wait(0)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(fn, timeout=30.0, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - stale elements during Streamlit reruns
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} ({last})")


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


def in_player(d):
    """Switch into the player iframe once its audio is decoded."""
    from selenium.webdriver.common.by import By

    d.switch_to.default_content()
    frame = wait(lambda: d.find_element(By.CSS_SELECTOR, "iframe[title*='mushra_player']"), what="player iframe")
    d.switch_to.frame(frame)
    wait(lambda: d.find_element(By.ID, "status").get_attribute("data-state") == "stopped", what="audio decoded")


def status(d) -> tuple[str, str, float]:
    from selenium.webdriver.common.by import By

    s = d.find_element(By.ID, "status")
    return s.get_attribute("data-state"), s.get_attribute("data-active") or "", float(s.get_attribute("data-position") or 0)


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


def test_rate_a_trial_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    url, test_dir = server
    d = browser
    cfg = load_config(test_dir)
    d.get(url)
    wait(lambda: d.find_element(By.CSS_SELECTOR, "input[type='text']"), what="welcome page").send_keys("chromium1")
    click_button(d, "Start")
    wait(lambda: "token=" in d.current_url, what="personal link in the address")
    link = d.current_url
    click_label(d, "I agree")
    click_button(d, "Continue")
    wait(lambda: "Volume and headphone check" in page_text(d), what="volume page")
    in_player(d)
    d.find_element(By.XPATH, "//button[text()='Reference']").click()
    wait(lambda: status(d)[0] == "playing" and status(d)[2] > 0.2, what="reference playing")
    d.find_element(By.ID, "stop").click()
    d.switch_to.default_content()
    click_label(d, "I am wearing headphones")
    click_label(d, "The volume is comfortable")
    click_button(d, "Continue to training")
    wait(lambda: "Training" in page_text(d), what="training page")
    click_button(d, "Finish training and start the test")
    wait(lambda: "Trial 1 of 4" in page_text(d), what="first trial")

    # -- the player: every signal decodes and plays; switching keeps the position; loop holds
    in_player(d)
    labels = [b.text for b in d.find_elements(By.CSS_SELECTOR, "#buttons button[data-key]")]
    assert labels == ["Reference", "A", "B", "C", "D", "E"]
    d.find_element(By.XPATH, "//button[text()='Reference']").click()
    wait(lambda: status(d)[2] > 0.6, what="playback past 0.6 s")
    before = status(d)[2]
    d.find_element(By.XPATH, "//button[text()='C']").click()
    state, active, after = status(d)
    assert state == "playing" and active == "C" and after >= before  # continued, not restarted
    for letter in "ABDE":
        d.find_element(By.XPATH, f"//button[text()='{letter}']").click()
        assert status(d)[1] == letter
    d.execute_script("""const ls = document.getElementById('ls'), le = document.getElementById('le');
        ls.value = 1.0; ls.dispatchEvent(new Event('input')); le.value = 1.6; le.dispatchEvent(new Event('input'));""")
    seen = []
    for _ in range(12):  # ~1.4 s: more than two loop turns
        seen.append(status(d)[2])
        time.sleep(0.12)
    assert all(0.99 <= p <= 1.61 for p in seen), seen
    assert any(b < a for a, b in zip(seen, seen[1:])), f"no wrap-around seen: {seen}"
    d.find_element(By.ID, "stop").click()
    assert status(d)[0] == "stopped"
    d.switch_to.default_content()

    # -- rate: every slider moved, one at 100; Next enabled only then
    tid = trial_order(cfg, "chromium1")[0]
    letters = condition_letters(cfg.trial(tid), cfg.seed, "chromium1")
    want = {"reference": 100, "anchor_lp35": 12, "anchor_lp70": 35, "opus@6": 48, "opus@12": 71}
    next_btn = "//button[.//p[normalize-space()='Next']]"
    assert not d.find_element(By.XPATH, next_btn).is_enabled()
    for i, (L, cond) in enumerate(letters.items()):
        set_slider(d, i, want[cond])
    wait(lambda: d.find_element(By.XPATH, next_btn).is_enabled(), what="Next enabled")
    shot = os.environ.get("MUSHRA_SCREENSHOT")
    if shot:
        _save_screenshot(d, Path(shot))
    store = RatingStore.for_test(test_dir)
    assert store.ratings_frame().empty
    click_button(d, "Next")
    wait(lambda: "Trial 2 of 4" in page_text(d), what="second trial")
    df = store.ratings_frame()
    assert df.set_index("condition")["score"].to_dict() == {k: float(v) for k, v in want.items()}
    assert df.set_index("condition")["label"].to_dict() == {c: L for L, c in letters.items()}
    assert set(df["listener_id"]) == {"chromium1"} and set(df["trial_id"]) == {tid}
    assert float(df["time_spent_s"].iloc[0]) > 1.0

    # -- closing the page and opening the personal link resumes at trial 2
    d.get("about:blank")
    d.get(link)
    wait(lambda: "Trial 2 of 4" in page_text(d), what="resume at trial 2")


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
