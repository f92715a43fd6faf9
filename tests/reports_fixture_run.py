"""TEST FIXTURE for the report tests: a small real run made with the real runner and the
product's codecs (SoundStream/Lyra v2 TFLite, Opus, BS.1534 anchors).

Metrics: the product's ``pesq_wb`` and ``mel_distance`` (a lower-is-better metric that applies
to every category) when evalsuite.metrics has them; until then two test-fixture metric classes
passed as ``module:Class`` plugins: PESQ wideband through the ``pesq`` package and STOI through
``pystoi`` (real implementations, only the thin adapter is the fixture's). Everything else
(corpus preparation, transcoding, storage, export, run.json) is the product's own code, so the
run folder follows the layout contract exactly.
"""
from __future__ import annotations

import os
from pathlib import Path


from evalsuite.metrics.base import Metric, MetricInfo

ITEMS = [  # (shared corpus file, category)
    ("speech/pesq_speech.wav", "clean_speech"),
    ("speech/vctk_p286_011.wav", "clean_speech"),
    ("noisy/pesq_speech_bab_0dB.wav", "noisy_speech"),
    ("music/guitar48_stereo.wav", "music"),
]
CODECS = ("soundstream", "opus")
KBPS = (3.2, 6.0, 9.2, 12.0)  # 12 is beyond SoundStream: 'unsupported' rows


def _product_metrics() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(f"evalsuite.metrics.{m}") is not None for m in ("pesq", "spectral"))


if _product_metrics():
    METRICS = ("pesq_wb", "mel_distance")
    SECOND = "mel_distance"  # output name of the all-category metric
else:
    METRICS = (f"{__name__}:FixturePesqWb", f"{__name__}:FixtureStoi")
    SECOND = "stoi"


class FixturePesqWb(Metric):
    """TEST FIXTURE: ITU-T P.862.2 via the pesq package (the product's is evalsuite.metrics.pesq)."""

    info = MetricInfo("pesq_wb", True, 16000, True, "pesq-package/fixture", "wb",
                      applies_to=("clean_speech", "noisy_speech"))

    def score(self, ref, deg, rate):
        from pesq import pesq

        return {"pesq_wb": float(pesq(16000, self.prepare(ref, rate), self.prepare(deg, rate), "wb"))}


class FixtureStoi(Metric):
    """TEST FIXTURE: STOI via pystoi."""

    info = MetricInfo("stoi", True, 10000, True, "pystoi/fixture", "")

    def score(self, ref, deg, rate):
        from pystoi import stoi

        return {"stoi": float(stoi(self.prepare(ref, rate), self.prepare(deg, rate), 10000))}


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
