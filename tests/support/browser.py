"""Headless Debian Chromium for the browser tests: one way to start it, one wait loop."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--autoplay-policy=no-user-gesture-required"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chrome(window: str, init_script: str | None = None) -> Iterator:
    """A fresh headless Chromium (own profile) at ``window`` size ("W,H"); ``init_script`` runs in
    every page before its own scripts (the audio tap). Skips the test where Chromium is missing."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in [*CHROME_ARGS, f"--window-size={window}"]:
        opts.add_argument(a)
    profile = tempfile.mkdtemp(prefix="evalsuite-chrome-")
    opts.add_argument(f"--user-data-dir={profile}")
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.implicitly_wait(0)
    if init_script:
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": init_script})
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(fn, timeout: float = 30.0, what: str = "condition", poll: float = 0.05):
    """``fn()``'s first truthy value within ``timeout`` seconds, else an assertion naming ``what``."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - stale elements during Streamlit reruns
            last = e
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what} ({last})")
