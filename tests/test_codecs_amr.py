"""AMR-NB (opencore-amrnb) and AMR-WB (vo-amrwbenc + opencore-amrwb): real round trips on corpus
speech, each checked against its standard's frame-type tables."""
from dataclasses import dataclass

import numpy as np
import pytest
from pesq import pesq

from evalsuite.audio import resample
from evalsuite.codecs import UnsupportedBitrate, codec_class, get_codec
from evalsuite.codecs.transcode import transcode
from tests.support.lag import lag_estimate


@dataclass(frozen=True)
class Spec:
    name: str
    rate: int
    modes: tuple[float, ...]
    bits: tuple[int, ...]  # codec bits per 20 ms frame of each mode
    sid_bits: int
    packages: tuple[str, str]  # Debian packages of the encoder and the decoder library
    latency_ms: float
    pesq_mode: str
    pesq_modes: tuple[float, float, float]  # three modes whose PESQ rises (vo-amrwbenc's 15.85
    # scores above its 23.85 on this item, so not simply the middle mode)
    pesq_floor: float  # PESQ of the lowest mode on clean speech is above this
    between: tuple[float, float]  # a request between two modes, and the mode it maps down to
    out_of_range: tuple[float, float]
    range_text: str


NB = Spec("amr_nb", 8000, (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2),
          (95, 103, 118, 134, 148, 159, 204, 244), 39,  # TS 26.101 Table 1a
          ("libopencore-amrnb0", "libopencore-amrnb0"), 25.0, "nb", (4.75, 7.4, 12.2), 3.0, (9.6, 7.95), (4, 14), "4.75-12.2")
WB = Spec("amr_wb", 16000, (6.6, 8.85, 12.65, 14.25, 15.85, 18.25, 19.85, 23.05, 23.85),
          (132, 177, 253, 285, 317, 365, 397, 461, 477), 40,  # TS 26.201 Table 2
          ("libvo-amrwbenc0", "libopencore-amrwb0"), 25.9375, "wb", (6.6, 12.65, 23.85), 1.5, (13.2, 12.65), (6, 32),
          "6.6-23.85")
MODES = [(s, k) for s in (NB, WB) for k in s.modes]


@pytest.fixture(params=(NB, WB), ids=lambda s: s.name)
def spec(request):
    return request.param


def test_operating_points_and_version(spec):
    c = get_codec(spec.name)
    assert c.operating_points() == spec.modes and c.sample_rate == spec.rate
    assert all(p in c.version() for p in spec.packages)
    assert c.settings()["latency_ms"] == spec.latency_ms


@pytest.mark.parametrize("spec,kbps", MODES, ids=[f"{s.name}-{k}" for s, k in MODES])
def test_every_mode_exact_rate_and_lag(speech48, spec, kbps):
    tr = transcode(get_codec(spec.name), speech48, 48000, kbps)
    enc = tr.encoded
    mode = spec.modes.index(kbps)
    assert tr.measured_kbps == pytest.approx(kbps, abs=1e-9)  # codec bits only
    assert enc.payload_bits == spec.bits[mode] * enc.info["frames"]
    # RFC 4867 storage frames: 1 header byte (FT = mode) + the bits padded to bytes
    assert {len(p) for p in enc.packets} == {1 + (spec.bits[mode] + 7) // 8}
    assert {(p[0] >> 3) & 15 for p in enc.packets} == {mode}
    assert enc.info["storage_kbps"] > kbps
    assert abs(lag_estimate(speech48, tr.audio, 48000)) <= 1
    assert len(tr.audio) == len(speech48)


def test_quality_rises_with_mode(speech48, spec):
    x = resample(speech48, 48000, spec.rate)
    c = get_codec(spec.name)
    scores = [pesq(spec.rate, x, transcode(c, x, spec.rate, k).audio, spec.pesq_mode) for k in spec.pesq_modes]
    assert scores[0] > spec.pesq_floor and scores[0] < scores[1] < scores[2]


def test_dtx_counts_sid_frames(speech48, spec):
    c = get_codec(spec.name, dtx=True)
    x = np.concatenate([resample(speech48, 48000, spec.rate), np.zeros(spec.rate, np.float32)])  # + 1 s silence
    top = spec.modes[-1]
    enc = c.encode(x, top)
    i = enc.info
    assert i["sid_frames"] > 0 and i["no_data_frames"] > 20
    assert enc.payload_bits == spec.bits[-1] * i["speech_frames"] + spec.sid_bits * i["sid_frames"]
    assert enc.measured_kbps < top
    assert len(c.decode(enc)) > 0


def test_decode_uses_the_bytes(speech48, spec):
    c = get_codec(spec.name)
    enc = c.encode(resample(speech48, 48000, spec.rate), spec.modes[-1])
    y = c.decode(enc)
    enc.packets = [p[:1] + bytes(b ^ 0x5A for b in p[1:]) for p in enc.packets]
    assert not np.allclose(c.decode(enc), y)


def test_requests_map_down_or_raise(spec):
    c = get_codec(spec.name)
    assert c.resolve_kbps(spec.modes[2]) == (spec.modes[2], "")
    asked, got = spec.between
    used, note = c.resolve_kbps(asked)
    assert used == got and "best mode that fits" in note
    assert c.resolve_kbps(spec.modes[-1] + 0.15)[0] == spec.modes[-1]
    for bad in spec.out_of_range:
        with pytest.raises(UnsupportedBitrate, match=spec.range_text):
            c.resolve_kbps(bad)


def test_unavailable_names_the_package(tmp_path, spec):
    for lib, package in zip(("encoder_lib", "decoder_lib"), spec.packages):
        ok, why = codec_class(spec.name).availability(opts={lib: str(tmp_path / "missing.so.0")})
        assert not ok and f"apt-get install {package}" in why
