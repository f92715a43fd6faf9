"""TEST FIXTURE for the report tests: a small real run made with the product's runner, codecs
(SoundStream/Lyra v2 TFLite, Opus, BS.1534 anchors) and metrics (PESQ-WB for speech; mel
distance, lower is better, for every category) on four 3 s items of the shared corpus.
"""
from __future__ import annotations

import os
from pathlib import Path

ITEMS = [  # (shared corpus file, category)
    ("speech/pesq_speech.wav", "clean_speech"),
    ("speech/vctk_p286_011.wav", "clean_speech"),
    ("noisy/pesq_speech_bab_0dB.wav", "noisy_speech"),
    ("music/guitar48_stereo.wav", "music"),
]
CODECS = ("soundstream", "opus")
KBPS = (3.2, 6.0, 9.2, 12.0)  # 12 is beyond SoundStream: 'unsupported' rows
METRICS = ("pesq_wb", "mel_distance")
SECOND = "mel_distance"  # the lower-is-better metric that applies to every category


def make_run(data_dir: Path, work: Path, out_name: str, codec_opts: dict | None = None) -> Path:
    """Run the real runner (in-process, one job) on a 4-item corpus cut to 3 s segments."""
    from evalsuite.corpus import CorpusConfig
    from evalsuite.runner import RunConfig, run

    csv = work / "corpus.csv"
    if not csv.exists():
        csv.write_text("path,category,license\n" + "".join(
            f"{data_dir / 'corpus' / f},{c},see SOURCES.csv\n" for f, c in ITEMS))
    saved = os.environ.get("EVALSUITE_CACHE")
    os.environ["EVALSUITE_CACHE"] = str(work / "cache")  # prepared corpus stays in the test's folder
    cfg = RunConfig(codecs=CODECS, kbps=KBPS, metrics=METRICS, codec_opts=codec_opts or {},
                    corpus=CorpusConfig(max_segment_s=3.0, noisy_mixes=0), corpus_spec=str(csv), data=str(data_dir),
                    jobs=1)
    try:
        return run(cfg, work / out_name, progress=False).out_dir
    finally:
        if saved is None:
            os.environ.pop("EVALSUITE_CACHE", None)
        else:
            os.environ["EVALSUITE_CACHE"] = saved
