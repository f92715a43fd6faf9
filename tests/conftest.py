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


# -- shared audio --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def speech48(data_dir):
    """pesq_speech.wav (python-pesq's example utterance) at 48 kHz mono."""
    from evalsuite.audio import read_audio, resample, to_mono

    x, r = read_audio(data_dir / "corpus/speech/pesq_speech.wav")
    y = resample(to_mono(x), r, 48000)
    y.setflags(write=False)  # shared by every module: a test that changes it in place fails at once
    return y


# -- MUSHRA: a run made by the product's runner, and tests built from it ------------------------------
@pytest.fixture(scope="session")
def mushra_run(tmp_path_factory, data_dir):
    from tests.support.mushra import make_run

    return make_run(tmp_path_factory.mktemp("mushra-run") / "run", data_dir)


@pytest.fixture(scope="session")
def mushra_test_dir(tmp_path_factory, mushra_run):
    """A built test (4 trials, opus@6/opus@12 + reference + anchors; training on the fifth item).
    Session-wide: tests that write ratings copy it (see ``fresh_test``)."""
    from listening_test.build import BuildOptions, build_test

    out = tmp_path_factory.mktemp("mushra") / "test"
    build_test(mushra_run.root, out, BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=4, seed=1))
    return out


@pytest.fixture(scope="session")
def crowd_test_dir(tmp_path_factory, mushra_run):
    """A crowd test: Prolific codes, Huggins-pitch screening, 2 of 4 trials per listener."""
    from listening_test.build import BuildOptions, build_test
    from listening_test.config import ProlificSettings
    from tests.support.mushra import PROLIFIC_CODE, SCREENOUT_CODE, STUDY

    out = tmp_path_factory.mktemp("crowd") / "test"
    build_test(mushra_run.root, out, BuildOptions(
        codecs=["opus"], kbps=[6, 12], n_items=4, seed=1, trials_per_listener=2,
        prolific=ProlificSettings(completion_code=PROLIFIC_CODE, screenout_code=SCREENOUT_CODE, study_id=STUDY)))
    return out


@pytest.fixture
def fresh_test(tmp_path, mushra_test_dir):
    """A private copy of the built test (no ratings yet)."""
    from tests.support.mushra import copy_test

    return copy_test(mushra_test_dir, tmp_path / "test")


@pytest.fixture
def fresh_crowd_test(tmp_path, crowd_test_dir):
    from tests.support.mushra import copy_test

    return copy_test(crowd_test_dir, tmp_path / "crowd")
