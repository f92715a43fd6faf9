"""The MUSHRA rating panel in a real browser, measured by what the listener hears.

Headless Debian Chromium (Selenium) opens a Streamlit page that renders only the panel
(tests/support/mushra_panel_page.py) on generated signals: one pure tone per signal (so the
signal heard is known from the spectrum) plus faint seeded noise (so 512 samples give the exact
position in the signal). tests/support/audio_tap.js is injected into every frame before the
page's scripts: every AudioContext gets a pass-through recorder in front of its destination, so
the test reads the samples the page sent to the speakers, with their output frame numbers,
without any help from the player. Measured: sample-to-sample jumps at switches, loop wraps,
play/pause/seek/stop against the signals' own largest step; that never two tones are present in
one 256-sample window; that the displayed playhead matches the audio; the loop minimum; rating
states, require_play / lock_to_playing, keys; that 12 signals fit a 1366x768 window; prefetch.
"""
from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.support.browser import chrome, free_port, wait
from tests.support.mushra_panel import AMPLITUDE, LETTERS, RATE, load_signal, make_signals, tone_hz

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "tests" / "support" / "mushra_panel_page.py"
TAP_JS = REPO / "tests" / "support" / "audio_tap.js"
WINDOW = 256  # samples per analysis window (5.3 ms): tones 400 Hz apart are resolved with a Hann window
PRESENT = 0.15  # a tone is "present" in a window above this fraction of its full amplitude (-16.5 dB)
STEP_TOL = 1.01  # the raised-cosine slope adds < 0.5 % to the largest step of these tones
FADE = round(0.005 * RATE)


# -- pure analysis of the captured output ------------------------------------------------------------
def own_step(*signals: np.ndarray) -> float:
    """The largest sample-to-sample change of the signals themselves."""
    return max(float(np.abs(np.diff(x)).max()) for x in signals)


def tone_amplitudes(y: np.ndarray, freqs: list[float], hop: int = 32) -> np.ndarray:
    """Amplitude of each tone per Hann window (1.0 = a tone at full test amplitude); windows x tones."""
    w = np.hanning(WINDOW)
    starts = np.arange(0, len(y) - WINDOW, hop)
    frames = np.stack([y[s:s + WINDOW] for s in starts]) * w
    n = np.arange(WINDOW)
    basis = np.exp(-2j * np.pi * np.outer(n, freqs) / RATE)
    return 2 * np.abs(frames @ basis) / w.sum() / AMPLITUDE


class Searcher:
    """Finds where an n-sample window occurs unscaled in ``source`` (exact match, unique thanks
    to the noise): least squared difference over all offsets by FFT correlation."""

    def __init__(self, source: np.ndarray, n: int = 512):
        self.n, self.source = n, source.astype(np.float64)
        self.size = 1 << (len(source) + n - 1).bit_length()
        self.spec = np.fft.rfft(self.source, self.size)
        c2 = np.concatenate([[0.0], np.cumsum(self.source ** 2)])
        self.energy = c2[n:] - c2[:-n]

    def find(self, window: np.ndarray) -> int | None:
        w = window.astype(np.float64)
        corr = np.fft.irfft(self.spec * np.conj(np.fft.rfft(w, self.size)), self.size)[:len(self.energy)]
        ssd = (w ** 2).sum() + self.energy - 2 * corr
        best = int(np.argmin(ssd))
        return best if ssd[best] < 1e-6 else None


def locate(window: np.ndarray, source: np.ndarray) -> int | None:
    """Offset where ``window`` occurs unscaled in ``source``, or None (a fade, silence)."""
    return Searcher(source, len(window)).find(window)


def locate_near(y: np.ndarray, i: int, source: np.ndarray, step: int) -> tuple[int, int]:
    """(index, position in source) of the first exactly matching 512-sample window from ``i`` on,
    moving by ``step`` (past a fade)."""
    for k in range(40):
        j = i + k * step
        p = locate(y[j:j + 512], source) if 0 <= j <= len(y) - 512 else None
        if p is not None:
            return j, p
    raise AssertionError(f"no steady stretch of the signal near sample {i}")


def positions(y: np.ndarray, source: np.ndarray, hop: int = 256, n: int = 512) -> list[tuple[int, int]]:
    """(index in y, position in source) of every steady window, hop apart: the position predicted
    from the previous window is checked first, a full search only after a jump or a fade."""
    out: list[tuple[int, int]] = []
    search = Searcher(source, n)
    for i in range(0, len(y) - n, hop):
        w = y[i:i + n]
        if out:
            p = out[-1][1] + i - out[-1][0]
            if 0 <= p <= len(source) - n and np.array_equal(w, source[p:p + n]):
                out.append((i, p))
                continue
        if np.abs(w).min(initial=1.0) == 0 and np.abs(w).max() < 0.05:
            continue  # silence
        p = search.find(w)
        if p is not None:
            out.append((i, p))
    return out


def dominant_segments(y: np.ndarray, freqs: list[float], hop: int = 32) -> list[tuple[int, int, int]]:
    """(tone index, first sample, last sample) of each stretch where one tone is at full level."""
    a = tone_amplitudes(y, freqs, hop)
    segs: list[list[int]] = []
    for k, row in enumerate(a):
        i = int(np.argmax(row))
        if row[i] < 0.9:
            continue
        s = k * hop
        if segs and segs[-1][0] == i and s - segs[-1][2] <= 4 * hop:
            segs[-1][2] = s + WINDOW
        else:
            segs.append([i, s, s + WINDOW])
    return [tuple(s) for s in segs]


def test_analysis_catches_what_it_should():
    """The measures used below, on synthetic output: a linear cross-fade shows two tones at once
    and an unfaded loop wrap a jump far above the signal's own; the player's fades pass both."""
    t = np.arange(RATE) / RATE
    a, b = AMPLITUDE * np.sin(2 * np.pi * 902.5 * t), AMPLITUDE * np.sin(2 * np.pi * 1302.5 * t)
    ramp = np.clip((np.arange(RATE) - 20000) / 384, 0, 1)
    linear = (1 - ramp) * a + ramp * b
    g = 0.5 * (1 - np.cos(np.pi * np.arange(FADE + 1) / FADE))  # the engine's gain for fade counter 0..F
    g_a = np.ones(RATE); g_a[20000:20000 + FADE] = g[FADE - 1::-1]; g_a[20000 + FADE:] = 0
    g_b = np.zeros(RATE); g_b[20000 + FADE + 1:20000 + 2 * FADE + 1] = g[1:]; g_b[20000 + 2 * FADE + 1:] = 1
    ours = g_a * a + g_b * b
    second = lambda y: np.sort(tone_amplitudes(y, [902.5, 1302.5]), axis=1)[:, -2].max()  # noqa: E731
    assert second(linear) > 0.45 and second(ours) < 0.07
    assert np.abs(np.diff(ours)).max() <= STEP_TOL * own_step(a, b)
    wrapped = np.concatenate([a[:30011], a[1000:20000]])
    assert np.abs(np.diff(wrapped)).max() > 4 * own_step(a)
    underrun = ours.copy()
    underrun[30000:34096] = 0
    assert dropouts(ours) == 0 and dropouts(underrun) == 1
    x = np.random.default_rng(0).uniform(-1, 1, 5000).astype(np.float32)
    assert locate(x[1234:1234 + 512], x) == 1234 and locate(0.5 * x[1234:1746], x) is None


# -- the page, the server, the browser ---------------------------------------------------------------
@pytest.fixture(scope="module")
def signal_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("panel_signals")
    make_signals(d, trials=2, n=12)
    return d


@pytest.fixture(scope="module")
def server(signal_dir):
    port = free_port()
    env = dict(os.environ, MUSHRA_PANEL_SIGNALS=str(signal_dir))
    cmd = [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(160):
            try:
                if urllib.request.urlopen(url + "_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("streamlit did not start: " + proc.stdout.read1().decode(errors="replace"))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    with chrome("1366,768", TAP_JS.read_text()) as d:
        yield d


def enter_panel(d, trial="t1"):
    """Switch into the panel's iframe once ``trial``'s audio is decoded."""
    from selenium.webdriver.common.by import By

    def ready():
        d.switch_to.default_content()
        d.switch_to.frame(d.find_element(By.CSS_SELECTOR, "iframe[title*='mushra_player']"))
        s = d.find_element(By.ID, "status")
        return s.get_attribute("data-state") == "ready" and s.get_attribute("data-trial") == trial
    wait(ready, 60, f"trial {trial} decoded")


def open_panel(d, url, **query):
    d.get(url + "?" + "&".join(f"{k}={v}" for k, v in query.items()))
    enter_panel(d)


def status(d) -> dict:
    return d.execute_script("return Object.assign({}, document.getElementById('status').dataset)")


def el(d, css):
    from selenium.webdriver.common.by import By

    return d.find_element(By.CSS_SELECTOR, css)


def press(d, *keys):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(d).send_keys(*keys).perform()


def tap_reset(d):
    """Record from now on (what the context rendered before is dropped by tap_dump); not in the
    context's first 0.5 s, whose frame count can jump once."""
    running = "const c = window.__tap.contexts.at(-1); return c && c.currentTime > 0.5"
    wait(lambda: d.execute_script(running), 10, "audio running")
    d.execute_script("window.__tap.reset()")


def tap_dump(d) -> tuple[int, np.ndarray]:
    """(output frame of the first sample, samples) recorded since the last reset."""
    r = d.execute_async_script(
        "const cb = arguments[arguments.length - 1]; window.__tap.dump().then(cb, (e) => cb(String(e)))")
    assert isinstance(r, dict), r
    assert r["rate"] == RATE and r["gaps"] == 0, {k: v for k, v in r.items() if k != "b64"}
    return int(r["frame0"]), np.frombuffer(base64.b64decode(r["b64"]), dtype=np.float32)


def dropouts(y: np.ndarray, n: int = 256) -> int:
    """Runs of at least ``n`` exact zeros inside the audible part (a fade touches 0 at one sample;
    a missed audio deadline leaves a whole block silent)."""
    z = np.concatenate([[0], (y == 0).astype(np.int8), [0]])
    starts, ends = np.flatnonzero(np.diff(z) == 1), np.flatnonzero(np.diff(z) == -1)
    return int(np.sum(ends - starts >= n))


def audible(y: np.ndarray) -> np.ndarray:
    nz = np.flatnonzero(np.abs(y) > 1e-4)
    return y[nz[0]:nz[-1] + 1] if len(nz) else y[:0]


def drag_handle(d, handle: str, seconds: float):
    """Drag a loop handle with the mouse to ``seconds`` on the position bar."""
    from selenium.webdriver.common.action_chains import ActionChains

    bar = el(d, "#bar").rect
    h = el(d, handle)
    x = bar["x"] + bar["width"] * seconds / 4.0
    hr = h.rect
    ActionChains(d).click_and_hold(h).move_by_offset(int(round(x - (hr["x"] + hr["width"] / 2))), 0).release().perform()


# -- (a) switching, (g) keys -----------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_switching_fades_out_then_in_one_signal_at_a_time(server, browser, signal_dir):
    from selenium.webdriver.common.keys import Keys

    d = browser
    open_panel(d, server, n=3)
    tap_reset(d)
    el(d, "button.play[data-key=ref]").click()
    wait(lambda: status(d)["active"] == "ref", what="reference playing")
    time.sleep(0.35)
    el(d, "button.play[data-key=A]").click()  # mouse
    time.sleep(0.35)
    press(d, "b")  # keys: letter, arrows, R
    wait(lambda: status(d)["active"] == "B", 5, "B by key")
    time.sleep(0.35)
    press(d, Keys.ARROW_LEFT)
    wait(lambda: status(d)["active"] == "A", 5, "A by left arrow")
    time.sleep(0.35)
    press(d, "r")
    wait(lambda: status(d)["active"] == "ref", 5, "reference by R")
    time.sleep(0.35)
    press(d, " ")
    wait(lambda: status(d)["playing"] == "0", 5, "paused by space")
    time.sleep(0.1)
    frame0, y = tap_dump(d)

    sources = [load_signal(signal_dir, 1, i) for i in range(4)]
    freqs = [tone_hz(i) for i in range(4)]
    y = audible(y)
    segs = dominant_segments(y, freqs)
    assert [s[0] for s in segs] == [0, 1, 2, 1, 0], segs  # the keys switched to what they say

    # no click: the output never steps more than the signals themselves do
    jump, own = float(np.abs(np.diff(y)).max()), own_step(*sources[:3])
    assert jump <= STEP_TOL * own, (jump, own)

    # one signal at a time: in no 5.3 ms window are two tones above -16.5 dB
    amps = tone_amplitudes(y, freqs)
    second = np.sort(amps, axis=1)[:, -2]
    assert second.max() < PRESENT, f"two signals audible at once: {second.max():.3f}"

    # sample-synchronous: after each switch the new signal continues exactly where the old one was
    for (i, _, end), (j, start, _) in zip(segs, segs[1:]):
        a, pa = locate_near(y, end - 512, sources[i], -64)
        b, pb = locate_near(y, start, sources[j], 64)
        assert pb - pa == b - a, (i, j, pa, pb, b - a)
        assert np.any(y[end - WINDOW:start + WINDOW] == 0)  # faded out to silence before the fade-in
    print(f"\nswitches: max jump {jump:.4f} vs own {own:.4f}; max second tone {second.max():.3f}")


# -- (b) loop wraps, pause/resume, seek, stop -----------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_loop_wraps_pause_seek_and_stop_are_click_free(server, browser, signal_dir):
    from selenium.webdriver.common.keys import Keys

    d = browser
    open_panel(d, server, n=2)
    # loop 1.0-1.7 s set with the handles' keys (exact 0.1 s steps): the tones do not fit a whole
    # number of periods into 0.7 s, so an unfaded wrap would jump (checked below)
    from selenium.webdriver.common.action_chains import ActionChains

    el(d, "#he").click()
    ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT).key_up(Keys.SHIFT).perform()  # -2 s
    press(d, Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # -0.3 s
    el(d, "#hs").click()
    ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()  # +1 s
    st = status(d)
    ls, le = int(st["loopStart"]), int(st["loopEnd"])
    assert (ls, le) == (RATE, int(1.7 * RATE))
    a = load_signal(signal_dir, 1, 1)
    assert abs(a[ls] - a[le - 1]) > 4 * own_step(a)  # what a wrap without fades would do

    tap_reset(d)
    el(d, "button.play[data-key=A]").click()
    time.sleep(1.6)  # two wraps
    press(d, " ")  # pause
    wait(lambda: status(d)["playing"] == "0", 5, "paused")
    time.sleep(0.25)
    press(d, " ")  # resume
    time.sleep(0.3)
    bar = el(d, "#bar")
    ActionChains(d).move_to_element_with_offset(bar, int(bar.rect["width"] * (1.35 / 4.0 - 0.5)), 0).click().perform()  # seek
    time.sleep(0.3)
    el(d, "#stop").click()
    time.sleep(0.1)
    _, y = tap_dump(d)
    y = audible(y)

    jump, own = float(np.abs(np.diff(y)).max()), own_step(a)
    assert jump <= STEP_TOL * own, (jump, own)

    # where the audio is steady, it is A at a position inside the loop; find wraps, pause, seek
    pos = positions(y, a)
    assert pos and all(ls <= p and p + 512 <= le for _, p in pos)
    steps = [(i1, p1, i2, p2) for (i1, p1), (i2, p2) in zip(pos, pos[1:])]
    # a wrap runs on from the loop end straight into the loop start, sample for sample
    wraps = [s for s in steps if s[3] < s[1] and p_after_wrap(s, ls, le) == s[3]]
    assert len(wraps) >= 2, "fewer than two loop wraps heard"
    seeks = [s for s in steps if s not in wraps and s[3] - s[1] != s[2] - s[0]]
    assert any(abs(p2 - 1.35 * RATE) < 0.06 * RATE for _, _, _, p2 in seeks), seeks  # the click on the bar
    silent = np.flatnonzero(np.abs(y) < 1e-9)
    runs = np.split(silent, np.flatnonzero(np.diff(silent) > 1) + 1)
    pause = max(runs, key=len)
    assert len(pause) > 0.15 * RATE  # the pause is silence, reached by a fade
    before = [(i, p) for i, p in pos if i + 512 <= pause[0]][-1]
    after = [(i, p) for i, p in pos if i >= pause[-1]][0]
    assert abs((after[1] - before[1]) - ((after[0] - before[0]) - len(pause))) <= 1  # resumes where it paused
    print(f"\nloop wraps/pause/seek/stop: max jump {jump:.4f} vs own {own:.4f} (unfaded wrap: {abs(a[ls] - a[le - 1]):.4f})")


def p_after_wrap(step, ls, le):
    i1, p1, i2, _ = step
    return ls + (p1 + (i2 - i1) - le)


@pytest.mark.browser
@pytest.mark.slow
def test_scriptprocessor_fallback_switches_and_wraps_click_free(server, browser, signal_dir):
    """Without AudioWorklet (plain http to a LAN address) the same engine runs in a
    ScriptProcessor: same fades, one signal at a time."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    d = browser
    open_panel(d, server, n=2, no_worklet=1)
    assert status(d)["backend"] == "script"
    el(d, "#hs").click()
    ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()  # 1.0 s
    el(d, "#he").click()
    ActionChains(d).key_down(Keys.SHIFT).send_keys(*[Keys.ARROW_LEFT] * 2).key_up(Keys.SHIFT).perform()
    press(d, *[Keys.ARROW_LEFT] * 3)  # 1.7 s
    for _attempt in range(3):
        tap_reset(d)
        el(d, "button.play[data-key=A]").click()
        time.sleep(0.9)
        press(d, "b")
        time.sleep(0.9)
        press(d, " ")
        wait(lambda: status(d)["playing"] == "0", 5, "paused")
        time.sleep(0.2)
        _, y = tap_dump(d)
        y = audible(y)
        # a ScriptProcessor runs on the page's main thread: when a loaded machine makes it miss a
        # deadline the browser plays silence for the block (an underrun, not the player's doing);
        # capture again rather than measure the browser's scheduling
        if not dropouts(y):
            break
    assert not dropouts(y), "the page's main thread missed ScriptProcessor deadlines in 3 captures"
    a, b = load_signal(signal_dir, 1, 1), load_signal(signal_dir, 1, 2)
    heard = [s[0] for s in dominant_segments(y, [tone_hz(1), tone_hz(2)])]
    assert [k for i, k in enumerate(heard) if i == 0 or heard[i - 1] != k] == [0, 1]
    jump, own = float(np.abs(np.diff(y)).max()), own_step(a, b)
    assert jump <= STEP_TOL * own, (jump, own)
    second = np.sort(tone_amplitudes(y, [tone_hz(1), tone_hz(2)]), axis=1)[:, -2].max()
    assert second < PRESENT
    pos = positions(y, b)
    assert any(p2 < p1 for (_, p1), (_, p2) in zip(pos, pos[1:]))  # B wrapped at least once
    print(f"\nScriptProcessor fallback: max jump {jump:.4f} vs own {own:.4f}; max second tone {second:.3f}")


# -- (c) playhead after moving the loop while playing ----------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_playhead_follows_the_audio_when_the_loop_moves_while_playing(server, browser, signal_dir):
    d = browser
    open_panel(d, server, n=1)
    drag_handle(d, "#hs", 0.5)
    drag_handle(d, "#he", 2.5)
    tap_reset(d)
    el(d, "button.play[data-key=A]").click()
    pairs = []  # (output frame, playhead shown, loop start, loop end) read off the page

    def read(until=None, seconds=30.0):
        end = time.time() + seconds
        while time.time() < end:
            st = status(d)
            pairs.append((int(st["frame"]), float(st["pos"]), int(st["loopStart"]), int(st["loopEnd"])))
            if until is not None and until(pairs[-1][1] / RATE):
                return
            time.sleep(0.03)
        assert until is None, "timed out"
    read(lambda p: p > 2.2)
    read(lambda p: 0.7 < p < 1.0)  # wrapped
    drag_handle(d, "#he", 2.0)  # the end moves ahead of the playhead, after a wrap
    read(lambda p: p > 1.5)
    drag_handle(d, "#he", 1.4)  # the end moves behind the playhead: on from the loop start
    read(seconds=0.15)
    drag_handle(d, "#hs", 0.9)  # the start moves past the playhead: on from the new start
    read(seconds=1.2)
    frame0, y = tap_dump(d)
    a = load_signal(signal_dir, 1, 1)
    steady = positions(y, a, hop=64)  # where the audio is A at full level, and at which position
    starts = np.array([i for i, _ in steady])
    errors = []
    for frame, shown, _, _ in pairs:
        i = frame - frame0
        k = np.searchsorted(starts, i, side="right") - 1
        if k < 0 or i >= starts[k] + 512:
            continue  # a fade (wrap or jump) is heard at that frame: no exact position
        errors.append(shown - (steady[k][1] + i - starts[k]))
    errors = np.array(errors)
    assert len(errors) >= 40, f"only {len(errors)} usable playhead readings"
    assert np.abs(errors).max() <= 128, errors
    ls, le = pairs[-1][2:]
    assert 0.85 * RATE < ls < 0.95 * RATE and 1.35 * RATE < le < 1.45 * RATE
    last = [p for i, p in steady if i > len(y) - 0.9 * RATE]  # the last 0.9 s: inside the final loop
    assert last and min(last) >= ls and max(last) + 512 <= le
    print(f"\nplayhead vs audio over {len(errors)} readings: max |error| {np.abs(errors).max():.0f} samples")


# -- (d) loop minimum ------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_a_loop_shorter_than_half_a_second_is_refused(server, browser):
    from selenium.webdriver.common.keys import Keys

    d = browser
    open_panel(d, server, n=1)
    drag_handle(d, "#hs", 1.0)
    drag_handle(d, "#he", 1.1)  # a 0.1 s loop asked for with the mouse
    st = status(d)
    assert int(st["loopStart"]) == pytest.approx(RATE, abs=RATE * 0.02)
    assert int(st["loopEnd"]) - int(st["loopStart"]) == RATE // 2
    note = el(d, "#loopnote")
    assert "at least 0.5 s" in note.text and "warn" in note.get_attribute("class")
    el(d, "#hs").click()
    press(d, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # and with the keys
    st2 = status(d)
    assert int(st2["loopEnd"]) - int(st2["loopStart"]) == RATE // 2
    # and so did the engine that plays it
    el(d, "button.play[data-key=A]").click()
    time.sleep(0.2)
    ls, le = map(int, status(d)["engineLoop"].split(","))
    assert (ls, le) == (int(st2["loopStart"]), int(st2["loopEnd"]))


# -- (e) rating states, submit, returned once, prefetch, formats ----------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_rating_states_submit_and_prefetch(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    d = browser
    open_panel(d, server, n=3, advance=1)
    el(d, "button.play[data-key=B]").click()  # listened to: B only
    time.sleep(0.5)
    el(d, "#stop").click()
    for L in "ABC":
        s = el(d, f".slider[data-key={L}]")
        assert "unrated" in s.get_attribute("class") and s.get_attribute("aria-valuetext") == "not rated"
        assert el(d, f".value[data-key={L}]").text == "–"
    assert not el(d, "#submit").is_enabled()
    assert "A, B, C" in el(d, "#hint").text

    def track(L):
        return el(d, f".slider[data-key={L}] .track")
    h = track("A").rect["height"]
    ActionChains(d).move_to_element_with_offset(track("A"), 0, int(h / 2) + 4).click().perform()  # one click at the bottom
    ActionChains(d).move_to_element_with_offset(track("B"), 0, 0).click_and_hold() \
        .move_by_offset(0, int(h / 2) + 12).release().perform()  # one drag, ending past the bottom
    ActionChains(d).move_to_element_with_offset(track("C"), 0, -int(h / 2) - 4).click().perform()
    assert [el(d, f".value[data-key={L}]").text for L in "ABC"] == ["0", "0", "100"]
    assert "unrated" not in el(d, ".slider[data-key=A]").get_attribute("class")
    assert el(d, "#submit").is_enabled()

    # prefetch: trial 2's audio was fetched (through the parent page) after trial 1 decoded
    urls = wait(lambda: d.execute_script(
        "const m = window.parent.__mushraPrefetch; return m && m.size === 4 ? Array.from(m.keys()) : null"), 20, "prefetch")
    for u in urls:  # served with the right type (trial signals alternate FLAC and WAV)
        with urllib.request.urlopen(u) as r:
            assert r.headers["Content-Type"] == ("audio/flac" if u.endswith(".flac") else "audio/wav")
    assert {u.rsplit(".", 1)[1] for u in urls} == {"flac", "wav"}

    el(d, "#submit").click()
    enter_panel(d, "t2")  # the page moved on to trial 2
    fetched = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not set(urls) & set(fetched), "trial 2 fetched its audio again instead of using the prefetched bytes"
    d.switch_to.default_content()
    subs = submissions(d)
    assert len(subs) == 1
    assert subs[0]["ratings"] == {"A": 0.0, "B": 0.0, "C": 100.0}
    assert subs[0]["played"] == {"A": False, "B": True, "C": False}
    heard = subs[0]["seconds_listened"]
    assert heard["A"] == heard["C"] == 0 and 0.3 < heard["B"] < 3
    d.find_element(By.XPATH, "//button[.//p[normalize-space()='Rerun']]").click()
    time.sleep(1.0)
    assert len(submissions(d)) == 1  # returned once, not per rerun


def submissions(d) -> list:
    from selenium.webdriver.common.by import By

    lines = lambda: [e.text for e in d.find_elements(By.CSS_SELECTOR, "[data-testid='stText']")  # noqa: E731
                     if e.text.startswith("submissions: ")]
    t = wait(lines, what="submissions line")[0]
    return json.loads(t[len("submissions: "):])


# -- (f) require_play, lock_to_playing -------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_require_play_and_lock_to_playing(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    d = browser

    def click_top(L):
        t = el(d, f".slider[data-key={L}] .track")
        ActionChains(d).move_to_element_with_offset(t, 0, -int(t.rect["height"] / 2) - 4).click().perform()

    def rated(L):
        return el(d, f".slider[data-key={L}]").get_attribute("data-rated") == "1"

    open_panel(d, server, n=2, require_play=1)
    click_top("A")
    assert not rated("A") and "Play A" in el(d, "#hint").text + el(d, ".slider[data-key=A]").get_attribute("title")
    el(d, "button.play[data-key=A]").click()
    wait(lambda: "disabled" not in el(d, ".slider[data-key=A]").get_attribute("class"), 5, "A playable")
    click_top("A")
    assert rated("A")
    click_top("B")
    assert not rated("B")
    el(d, "button.play[data-key=B]").click()
    wait(lambda: "disabled" not in el(d, ".slider[data-key=B]").get_attribute("class"), 5, "B playable")
    click_top("B")
    assert rated("B") and el(d, "#submit").is_enabled()
    click_top("A")  # lock not set: A stays adjustable while B plays
    assert rated("A")

    open_panel(d, server, n=2, lock=1)
    click_top("A")
    assert not rated("A")  # nothing playing: no slider
    el(d, "button.play[data-key=A]").click()
    click_top("A")
    click_top("B")
    assert rated("A") and not rated("B")
    el(d, "button.play[data-key=B]").click()
    click_top("B")
    assert rated("B")
    assert "disabled" in el(d, ".slider[data-key=A]").get_attribute("class")


# -- (h) 12 signals on a laptop screen -------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_twelve_signals_fit_a_1366x768_window(server, browser):
    d = browser
    d.set_window_size(1366, 768)
    open_panel(d, server, n=12, initial=1)
    assert el(d, ".value[data-key=A]").text == "42" and el(d, ".value[data-key=B]").text == "–"  # initial ratings
    boxes = d.execute_script("""
        const f = window.frameElement.getBoundingClientRect(), out = {};
        const add = (name, e) => { const r = e.getBoundingClientRect();
          out[name] = [f.left + r.left, f.top + r.top, f.left + r.right, f.top + r.bottom]; };
        document.querySelectorAll('button.play').forEach(e => add('play ' + e.dataset.key, e));
        document.querySelectorAll('.slider').forEach(e => add('slider ' + e.dataset.key, e));
        document.querySelectorAll('.slider .track').forEach(e => add('track ' + e.parentNode.dataset.key, e));
        document.querySelectorAll('.value').forEach(e => add('value ' + e.dataset.key, e));
        for (const id of ['playpause', 'stop', 'bar', 'hs', 'he', 'status', 'submit', 'keys']) add(id, document.getElementById(id));
        return {boxes: out, vw: window.parent.innerWidth, vh: window.parent.innerHeight, scroll: window.parent.scrollY};""")
    vw, vh, b = boxes["vw"], boxes["vh"], boxes["boxes"]
    assert boxes["scroll"] == 0
    assert len([k for k in b if k.startswith("slider ")]) == 12
    outside = {k: v for k, v in b.items() if v[0] < 0 or v[1] < 0 or v[2] > vw or v[3] > vh}
    assert not outside, f"outside the {vw}x{vh} viewport: {outside}"
    for L in LETTERS:  # each play button sits above its own slider
        p, s = b[f"play {L}"], b[f"slider {L}"]
        assert abs((p[0] + p[2]) / 2 - (s[0] + s[2]) / 2) < 2 and p[3] <= s[1]
        assert b[f"track {L}"][3] - b[f"track {L}"][1] >= 140  # a usable slider length
    print(f"\n12 signals in {vw}x{vh}: panel bottom at {max(v[3] for v in b.values()):.0f} px, "
          f"slider track {b['track A'][3] - b['track A'][1]:.0f} px")

    # keys typed on the page around the panel reach it (no need to click into the panel first)
    from selenium.webdriver.common.by import By

    d.switch_to.default_content()
    d.find_element(By.CSS_SELECTOR, "[data-testid='stProgress']").click()
    press(d, "k")
    enter_panel(d)
    wait(lambda: status(d)["active"] == "K", 5, "K by a key typed on the page")


@pytest.mark.browser
@pytest.mark.slow
def test_play_only_panel(server, browser, signal_dir):
    """player(): the same engine and transport without sliders or submit."""
    d = browser
    open_panel(d, server, n=1, mode="play")
    assert [b.get_attribute("data-key") for b in d.find_elements("css selector", "button.play")] == ["ref", "A"]
    assert not d.find_elements("css selector", ".slider") and not el(d, "#submit").is_displayed()
    tap_reset(d)
    press(d, "r")
    wait(lambda: status(d)["active"] == "ref", 5, "reference by R")
    time.sleep(0.3)
    el(d, "#stop").click()
    time.sleep(0.1)
    _, y = tap_dump(d)
    y = audible(y)
    ref = load_signal(signal_dir, 1, 0)
    assert len(positions(y, ref)) > 10 and np.abs(np.diff(y)).max() <= STEP_TOL * own_step(ref)


# -- Python side (no browser) ------------------------------------------------------------------------
def test_parse_submission_checks_what_the_browser_sent():
    from listening_test.player import parse_submission

    good = {"trial_key": "t1", "nonce": "0123456789abcdef", "ratings": {"A": 0, "B": 57.0, "X": 3},
            "played": {"A": True, "B": "yes"}, "seconds_listened": {"A": 2.5, "B": -1}}
    sub = parse_submission(good, "t1", ["A", "B", "C"])
    assert sub.ratings == {"A": 0.0, "B": 57.0} and sub.played == {"A": True, "B": False, "C": False}
    assert sub.seconds_listened == {"A": 2.5, "B": 0.0, "C": 0.0} and sub.nonce == "0123456789abcdef"
    assert parse_submission(good, "t2", ["A"]) is None  # another trial's value
    assert parse_submission(None, "t1", ["A"]) is None
    for bad in ({"A": 101}, {"A": -1}, {"A": "50"}, {"A": True}, {"A": math.nan}):
        assert parse_submission(dict(good, ratings=bad), "t1", ["A"]) is None
    assert parse_submission(dict(good, nonce="x"), "t1", ["A"]) is None


def test_audio_urls_carry_the_format_and_reveal_nothing(tmp_path):
    from listening_test.player import audio_mime, audio_url

    make_signals(tmp_path, trials=1, n=2)
    flac, wav = tmp_path / "t1" / "A.flac", tmp_path / "t1" / "B.wav"
    assert audio_url(flac, "t1.A").startswith("data:audio/flac;base64,")  # no server: a data URI
    assert audio_url(wav, "t1.B").startswith("data:audio/wav;base64,")
    assert audio_mime(Path("x.FLAC")) == "audio/flac"
    with pytest.raises(ValueError, match=r"\.wav or \.flac"):
        audio_mime(Path("x.mp3"))
