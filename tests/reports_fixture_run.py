"""TEST FIXTURE for the report tests: a small real run made with the product's runner, codecs
(SoundStream/Lyra v2 TFLite, Opus, BS.1534 anchors) and metrics (PESQ-WB for speech; mel
distance, lower is better, for every category) on four 3 s items of the shared corpus.
"""
from __future__ import annotations

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
    from evalsuite.context import RunContext
    from evalsuite.corpus import CorpusConfig
    from evalsuite.runner import RunConfig, run

    csv = work / "corpus.csv"
    if not csv.exists():
        csv.write_text("path,category,license\n" + "".join(
            f"{data_dir / 'corpus' / f},{c},see SOURCES.csv\n" for f, c in ITEMS))
    cfg = RunConfig(codecs=CODECS, kbps=KBPS, metrics=METRICS, codec_opts=codec_opts or {},
                    corpus=CorpusConfig(max_segment_s=3.0, noisy_mixes=0), corpus_spec=str(csv), data=str(data_dir),
                    jobs=1)
    # the prepared corpus stays in the test's folder
    ctx = RunContext(data=Path(data_dir), cache=work / "cache")
    return run(cfg, work / out_name, progress=False, ctx=ctx).out_dir


def old_schema_copy(run_dir: Path, dest: Path) -> Path:
    """The same run as the first evalsuite runner wrote it (no condition, condition_kind, cluster,
    lag or CPU columns; status 'error' for metric failures; requested_kbps 0 for the reference and
    anchors), to test that reports still read runs made before the run-engine change."""
    import shutil

    import numpy as np
    import pandas as pd

    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("audio", "bitstreams", "results.sqlite"))
    (dest / "audio").symlink_to(run_dir / "audio")
    r = pd.read_parquet(run_dir / "results.parquet")
    r["requested_kbps"] = r["requested_kbps"].fillna(0.0)
    r["status"] = r["status"].replace({"metric_error": "error"})
    r = r.drop(columns=["cluster", "condition", "condition_kind", "lag_samples", "encode_cpu_s", "decode_cpu_s",
                        "latency_ms", "codec_version"])
    r.to_parquet(dest / "results.parquet", index=False)
    (dest / "results.csv").unlink(missing_ok=True)
    items = pd.read_csv(run_dir / "items.csv").drop(columns=["cluster", "sha256"])
    items.to_csv(dest / "items.csv", index=False)
    del np
    return dest
