"""Helpers of the MUSHRA tests: a small run made by the product's own runner (real Opus at 6 and
12 kbps, the BS.1534 anchors) on five corpus recordings cut to a few seconds, and enrolment of
listeners as the app does it. The fixtures that use them live in tests/conftest.py."""
from __future__ import annotations

import shutil
from pathlib import Path

from evalsuite.layout import RunLayout

#: the Streamlit app as `evalsuite mushra serve` runs it
APP = str(Path(__file__).resolve().parents[2] / "listening_test" / "app.py")
RATE = 48000
ITEMS = {  # item -> (corpus file, category); the file is copied under the item's name
    "vctk_p286_011": ("speech/vctk_p286_011.wav", "clean_speech"),
    "pesq_speech_bab_0dB": ("noisy/pesq_speech_bab_0dB.wav", "noisy_speech"),
    "castanets48": ("music/castanets48_stereo.wav", "music"),
    "glass_hum": ("general/glass_hum.flac", "general"),
    "lyra_sample1": ("speech/lyra_sample1_48k.wav", "clean_speech"),
}
KBPS = (6, 12)
PROLIFIC_CODE, SCREENOUT_CODE, STUDY = "C1A2B3C4", "SCRN0UT9", "5f0c0ffee0ddba11c0ffee00"


def make_run(root: Path, data_dir: Path, items: dict = ITEMS, seconds: float = 3.0) -> RunLayout:
    """`evalsuite run` (in-process) with opus at 6 and 12 kbps plus anchors on ``items``."""
    from evalsuite.context import RunContext
    from evalsuite.corpus import CorpusConfig
    from evalsuite.runner import RunConfig, run

    root = Path(root)
    corpus = root.parent / f"{root.name}-corpus"
    for item, (rel, cat) in items.items():
        src = Path(data_dir) / "corpus" / rel
        (corpus / cat).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, corpus / cat / f"{item}{src.suffix}")
    cfg = RunConfig(codecs=("opus",), kbps=KBPS, metrics=("si_sdr",), corpus=CorpusConfig(max_segment_s=seconds),
                    corpus_spec=str(corpus), jobs=1)
    run(cfg, root, progress=False, ctx=RunContext(data=Path(data_dir), cache=root.parent / f"{root.name}-cache"))
    return RunLayout(root.resolve())


def enrol(store, cfg, lid: str, token: str | None = None, **kw):
    """Register ``lid`` and draw its assignment as the app does; returns (token, assignment)."""
    from listening_test.assignment import new_listener_draw

    tok = store.create_listener(lid, token=token, **kw)
    return tok, store.assign(lid, tok, new_listener_draw(cfg))


def copy_test(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ratings.sqlite*"))
    return dst
