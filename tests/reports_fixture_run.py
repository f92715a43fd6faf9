"""TEST FIXTURE for the report tests: a small real run made with the real runner.

Until the product's codec and metric adapters are in main, the runner is given test-fixture
classes registered under ``fx_*`` names: libopus through opuslib (real encode to bytes and
decode from them), PESQ wideband through the ``pesq`` package and STOI through ``pystoi``.
Anchors come from the product when available, else from fixture classes using
evalsuite.audio.lowpass. Everything else (corpus preparation, planning, storage, export,
run.json) is the product's own code, so the run folder follows the layout contract exactly.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from evalsuite.codecs.base import BitrateSupport, Codec, Encoded
from evalsuite.metrics.base import Metric, MetricInfo

ITEMS = [  # (shared corpus file, category)
    ("speech/pesq_speech.wav", "clean_speech"),
    ("speech/vctk_p286_011.wav", "clean_speech"),
    ("noisy/pesq_speech_bab_0dB.wav", "noisy_speech"),
    ("music/guitar48_stereo.wav", "music"),
]
CODECS = ("fx_opus", "fx_opus_voip")
KBPS = (6.0, 10.0, 16.0, 24.0)
METRICS = ("fx_pesq_wb", "fx_stoi")
FRAME = 960  # 20 ms at 48 kHz


class _FixtureOpus(Codec):
    """TEST FIXTURE: libopus 20 ms frames via opuslib (the product's adapter is evalsuite.codecs.opus)."""

    options = {"complexity": 10}
    application = "audio"

    @property
    def sample_rate(self) -> int:
        return 48000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(min_kbps=6, max_kbps=510)

    @property
    def delay_samples(self) -> int:
        return self._encoder().lookahead

    def _encoder(self):
        import opuslib

        app = opuslib.APPLICATION_AUDIO if self.application == "audio" else opuslib.APPLICATION_VOIP
        return opuslib.Encoder(48000, 1, app)

    def settings(self):
        return {**self.opts, "application": self.application, "frame_ms": 20, "fixture": True}

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        enc = self._encoder()
        enc.bitrate = int(kbps * 1000)
        enc.complexity = int(self.opts["complexity"])
        pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME + FRAME, "<i2")])  # flush the lookahead
        packets = [enc.encode(pcm[i:i + FRAME].tobytes(), FRAME) for i in range(0, len(pcm), FRAME)]
        return Encoded(packets, len(audio), 48000, kbps, {"frames": len(packets)})

    def decode(self, encoded: Encoded) -> np.ndarray:
        import opuslib

        dec = opuslib.Decoder(48000, 1)
        out = [np.frombuffer(dec.decode(p, FRAME), "<i2") for p in encoded.packets]
        return (np.concatenate(out).astype(np.float32) / 32768.0)


class FixtureOpus(_FixtureOpus):
    name = "fx_opus"
    description = "TEST FIXTURE: libopus (audio mode) via opuslib"


class FixtureOpusVoip(_FixtureOpus):
    name = "fx_opus_voip"
    description = "TEST FIXTURE: libopus (VoIP mode) via opuslib"
    application = "voip"


class _FixtureAnchor(Codec):
    is_anchor = True
    cutoff_hz: float | None = None

    @property
    def sample_rate(self) -> int:
        return 48000

    def bitrates(self) -> BitrateSupport:
        return BitrateSupport(values=(0.0,))

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        from evalsuite.audio import lowpass

        y = audio if self.cutoff_hz is None else lowpass(audio, 48000, self.cutoff_hz)
        return Encoded([np.asarray(y, np.float32).tobytes()], len(audio), 48000, float("nan"))

    def decode(self, encoded: Encoded) -> np.ndarray:
        return np.frombuffer(encoded.packets[0], np.float32).copy()


class FixtureReference(_FixtureAnchor):
    name = "reference"
    description = "TEST FIXTURE: hidden reference"


class FixtureLowPass35(_FixtureAnchor):
    name = "anchor_lp35"
    description = "TEST FIXTURE: 3.5 kHz low-pass anchor"
    cutoff_hz = 3500.0


class FixtureLowPass70(_FixtureAnchor):
    name = "anchor_lp70"
    description = "TEST FIXTURE: 7 kHz low-pass anchor"
    cutoff_hz = 7000.0


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


def _registrations() -> tuple[dict[str, str], dict[str, str]]:
    mod = __name__
    codecs = {"fx_opus": f"{mod}:FixtureOpus", "fx_opus_voip": f"{mod}:FixtureOpusVoip"}
    if importlib.util.find_spec("evalsuite.codecs.anchors") is None:
        codecs.update(reference=f"{mod}:FixtureReference", anchor_lp35=f"{mod}:FixtureLowPass35",
                      anchor_lp70=f"{mod}:FixtureLowPass70")
    metrics = {"fx_pesq_wb": f"{mod}:FixturePesqWb", "fx_stoi": f"{mod}:FixtureStoi"}
    return codecs, metrics


@contextlib.contextmanager
def fixture_registry():
    """Temporarily add the fixture codecs and metrics to the product's registries."""
    import evalsuite.codecs as C
    import evalsuite.metrics as M

    codecs, metrics = _registrations()
    saved_c, saved_m = dict(C._REGISTRY), dict(M._REGISTRY)
    C._REGISTRY.update(codecs)
    M._REGISTRY.update(metrics)
    try:
        yield
    finally:
        C._REGISTRY.clear()
        C._REGISTRY.update(saved_c)
        M._REGISTRY.clear()
        M._REGISTRY.update(saved_m)


def make_run(data_dir: Path, work: Path, out_name: str, codec_opts: dict | None = None) -> Path:
    """Run the real runner (in-process, one job) on a 4-item corpus cut to 3 s segments."""
    from evalsuite.corpus import CorpusConfig
    from evalsuite.runner import RunConfig, run

    csv = work / "corpus.csv"
    if not csv.exists():
        csv.write_text("path,category,license\n" + "".join(
            f"{data_dir / 'corpus' / f},{c},see SOURCES.csv\n" for f, c in ITEMS))
    os.environ["EVALSUITE_CACHE"] = str(work / "cache")
    cfg = RunConfig(codecs=CODECS, kbps=KBPS, metrics=METRICS, codec_opts=codec_opts or {},
                    corpus=CorpusConfig(max_segment_s=3.0, noisy_mixes=0), corpus_spec=str(csv), jobs=1)
    with fixture_registry():
        s = run(cfg, work / out_name, progress=False)
    return s.out_dir
