"""Shared fixtures of the MUSHRA tests: a small but real run directory and a test built from it.

The run follows evalsuite.layout.RunLayout with real audio: four corpus recordings (one per
category), downmixed, resampled to 48 kHz, cut to 3 s and loudness-normalised; the 'opus'
conditions are really encoded to Opus packets and decoded with libopus (opuslib), then aligned.
(When the lead's runner lands this can call it instead.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalsuite.audio import find_lag, match_length, normalize_loudness, read_audio, resample, to_mono, write_audio
from evalsuite.layout import ITEM_COLUMNS, RunLayout

RATE = 48000
ITEMS = {  # item -> (corpus file, category)
    "vctk_p286_011": ("speech/vctk_p286_011.wav", "clean_speech"),
    "pesq_speech_bab_0dB": ("noisy/pesq_speech_bab_0dB.wav", "noisy_speech"),
    "castanets48": ("music/castanets48_stereo.wav", "music"),
    "glass_hum": ("general/glass_hum.flac", "general"),
    "lyra_sample1": ("speech/lyra_sample1_48k.wav", "clean_speech"),
}
KBPS = (6, 12)


def opus_transcode(x: np.ndarray, kbps: float) -> np.ndarray:
    """Real Opus round trip (48 kHz mono, 20 ms frames, CBR at ``kbps``), aligned to ``x``."""
    import opuslib

    frame = RATE // 50
    enc = opuslib.Encoder(RATE, 1, opuslib.APPLICATION_AUDIO)
    enc.bitrate = int(kbps * 1000)
    dec = opuslib.Decoder(RATE, 1)
    pad = np.concatenate([x, np.zeros(frame * 2 - len(x) % frame, np.float32)])
    pcm = (np.clip(pad, -1, 1) * 32767).astype("<i2")
    out = []
    for i in range(0, len(pcm), frame):
        packet = enc.encode(pcm[i:i + frame].tobytes(), frame)
        out.append(np.frombuffer(dec.decode(packet, frame), dtype="<i2"))
    y = np.concatenate(out).astype(np.float32) / 32768
    lag = find_lag(x, y, max_lag=2000)
    return match_length(y[max(lag, 0):], len(x))


def make_run(root: Path, data_dir: Path, items: dict = ITEMS, seconds: float = 3.0) -> RunLayout:
    run = RunLayout(root)
    rows = []
    for item, (rel, cat) in items.items():
        x, r = read_audio(data_dir / "corpus" / rel)
        x = resample(to_mono(x), r, RATE)[: int(seconds * RATE)]
        x = normalize_loudness(x, RATE, -26.0)
        write_audio(run.reference_audio(item), x, RATE)
        for kbps in KBPS:
            write_audio(run.decoded_audio("opus", kbps, item), opus_transcode(x, kbps), RATE)
        rows.append(dict(item=item, category=cat, source_file=rel, segment_start_s=0.0, duration_s=len(x) / RATE,
                         sample_rate=RATE, loudness_lufs=-26.0, license="see corpus SOURCES.csv", source="",
                         note="", path=run.relative(run.reference_audio(item))))
    pd.DataFrame(rows, columns=ITEM_COLUMNS).to_csv(run.items_csv, index=False)
    run.run_json.write_text('{"fixture": "tests/test_mushra_fixtures.py"}')
    return run


@pytest.fixture(scope="session")
def mushra_run(tmp_path_factory, data_dir) -> RunLayout:
    return make_run(tmp_path_factory.mktemp("run"), data_dir)


@pytest.fixture(scope="session")
def mushra_test_dir(tmp_path_factory, mushra_run) -> Path:
    """A built test (4 trials, opus@6/opus@12 + reference + anchors; training on the fifth item).
    Session-wide: tests that write ratings copy it (see ``fresh_test``)."""
    from listening_test.build import BuildOptions, build_test

    out = tmp_path_factory.mktemp("mushra") / "test"
    build_test(mushra_run.root, out, BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=4, seed=1))
    return out


PROLIFIC_CODE, SCREENOUT_CODE, STUDY = "C1A2B3C4", "SCRN0UT9", "5f0c0ffee0ddba11c0ffee00"


@pytest.fixture(scope="session")
def crowd_test_dir(tmp_path_factory, mushra_run) -> Path:
    """A crowd test: Prolific codes, Huggins-pitch screening, 2 of 4 trials per listener."""
    from listening_test.build import BuildOptions, build_test
    from listening_test.config import ProlificSettings

    out = tmp_path_factory.mktemp("crowd") / "test"
    build_test(mushra_run.root, out, BuildOptions(
        codecs=["opus"], kbps=[6, 12], n_items=4, seed=1, trials_per_listener=2,
        prolific=ProlificSettings(completion_code=PROLIFIC_CODE, screenout_code=SCREENOUT_CODE, study_id=STUDY)))
    return out


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ratings.sqlite*"))
    return dst


@pytest.fixture
def fresh_test(tmp_path, mushra_test_dir) -> Path:
    """A private copy of the built test (no ratings yet)."""
    return _copy(mushra_test_dir, tmp_path / "test")


@pytest.fixture
def fresh_crowd_test(tmp_path, crowd_test_dir) -> Path:
    return _copy(crowd_test_dir, tmp_path / "crowd")


def enrol(store, cfg, lid: str, token: str | None = None, **kw):
    """Register ``lid`` and draw its assignment as the app does; returns (token, assignment)."""
    from listening_test.assignment import new_listener_draw

    tok = store.create_listener(lid, token=token, **kw)
    return tok, store.assign(lid, tok, new_listener_draw(cfg))


def test_fixture_run_is_real_opus(mushra_run):
    """The fixture's opus conditions differ from the reference as real coding does (not copies)."""
    ref, _ = read_audio(mushra_run.reference_audio("castanets48"))
    y6, _ = read_audio(mushra_run.decoded_audio("opus", 6, "castanets48"))
    y12, _ = read_audio(mushra_run.decoded_audio("opus", 12, "castanets48"))
    err6 = np.mean((ref - y6) ** 2) / np.mean(ref ** 2)
    err12 = np.mean((ref - y12) ** 2) / np.mean(ref ** 2)
    assert 0 < err12 < err6 < 2
