"""Shared test fixtures. Tests run against the real shared data; CI points EVALSUITE_DATA at it.
When the variable is unset we fall back to ../shared beside the checkout (tests only: the
product itself never guesses a location)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# One thread per process, set before numpy/numba/torch are imported by any test module: results
# must not depend on thread scheduling (the resume tests compare tables exactly), and CI has 2 cores.
for _var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


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
    yield
