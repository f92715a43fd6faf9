"""Shared test fixtures. Tests run against the real shared data; CI points EVALSUITE_DATA at it.
When the variable is unset we fall back to ../shared beside the checkout (tests only: the
product itself never guesses a location)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("EVALSUITE_DATA")
    return Path(env) if env else (REPO.parent / "shared")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "corpus" / "SOURCES.csv").is_file():
        pytest.fail(f"shared data not found at {d}; set EVALSUITE_DATA to the shared/ folder")
    return d


@pytest.fixture(autouse=True, scope="session")
def _data_env():
    os.environ.setdefault("EVALSUITE_DATA", str(_data_dir()))
    # one BLAS/torch thread per test process: CI has 2 cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    yield
