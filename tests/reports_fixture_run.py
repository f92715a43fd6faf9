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


#: the noisy item is its clean twin plus babble (SOURCES.csv: "clean twin of
#: noisy/pesq_speech_bab_0dB.wav"): one source recording
CLUSTERS = {"pesq_speech_bab_0dB": "pesq_speech"}


def make_run(data_dir: Path, work: Path, out_name: str, codec_opts: dict | None = None) -> Path:
    """Run the real runner (in-process, one job) on a 4-item corpus cut to 3 s segments."""
    from evalsuite.codecs.base import Codec
    from evalsuite.corpus import CorpusConfig
    from evalsuite.runner import RunConfig, run

    if not hasattr(Codec, "is_anchor"):
        # the runner on this branch predates the shared Codec interface (which dropped the
        # attribute); until the new runner lands, codecs are not anchors unless they say so
        Codec.is_anchor = False

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


def new_schema_copy(run_dir: Path, dest: Path) -> Path:
    """The same run with the results columns the new runner writes (condition, condition_kind,
    cluster; status metric_error; requested_kbps NaN for the reference and anchors), to test
    that reports read both schemas. Values, audio and bitstreams are the run's own."""
    import shutil

    import numpy as np
    import pandas as pd

    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("audio", "results.sqlite"))
    (dest / "audio").symlink_to(run_dir / "audio")
    r = pd.read_parquet(run_dir / "results.parquet")
    non_codec = r["codec"].isin(["reference", "anchor_lp35", "anchor_lp70"])
    r["requested_kbps"] = r["requested_kbps"].where(~non_codec, np.nan)
    r.insert(2, "cluster", r["item"].map(lambda i: CLUSTERS.get(i, i)))
    r.insert(3, "condition", [c if nc else f"{c}@{k:g}" for c, k, nc in zip(r["codec"], r["requested_kbps"], non_codec)])
    r.insert(4, "condition_kind", np.where(r["codec"] == "reference", "reference", np.where(non_codec, "anchor", "codec")))
    r["status"] = r["status"].replace({"error": "metric_error"})
    r.to_parquet(dest / "results.parquet", index=False)
    (dest / "results.csv").unlink(missing_ok=True)
    items = pd.read_csv(run_dir / "items.csv")
    items.insert(2, "cluster", items["item"].map(lambda i: CLUSTERS.get(i, i)))
    items.to_csv(dest / "items.csv", index=False)
    return dest
