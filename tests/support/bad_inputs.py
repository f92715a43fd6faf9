"""Generate a suite of awkward and broken audio files (test data only)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf


def _tone(n: int, rate: int, f: float = 440.0, amp: float = 0.3, noise: float = 0.01) -> np.ndarray:
    t = np.arange(n) / rate
    # a tone with a slow envelope and a little noise: something every metric can score
    rng = np.random.default_rng(n)
    return (amp * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))
            + noise * rng.standard_normal(n)).astype(np.float32)


def make_bad_inputs(d: Path) -> dict[str, str]:
    """Write the files into ``d``; return {file name: 'ok' | 'bad'} (what the run should conclude)."""
    d.mkdir(parents=True, exist_ok=True)
    r = 16000
    expect: dict[str, str] = {}

    def w(name, x, rate=r, subtype="PCM_16", fmt=None, want="ok"):
        sf.write(str(d / name), x, rate, subtype=subtype, **({"format": fmt} if fmt else {}))
        expect[name] = want

    w("empty.wav", np.zeros(0, np.float32), want="bad")
    w("one_sample.wav", np.array([0.5], np.float32), want="bad")
    w("short_0p1s.wav", _tone(r // 10, r), want="bad")
    w("short_0p3s.wav", _tone(int(r * 0.3), r), want="bad")  # under BS.1770's 0.4 s block: aborted runs once
    nan = _tone(r * 2, r); nan[100:200] = np.nan
    w("nan.wav", nan, subtype="FLOAT", want="bad")
    inf = _tone(r * 2, r); inf[5] = np.inf
    w("inf.wav", inf, subtype="FLOAT", want="bad")
    w("silence.wav", np.zeros(r * 2, np.float32), want="bad")
    w("dc_only.wav", np.full(r * 2, 0.25, np.float32), want="bad")
    sq = np.sign(np.sin(2 * np.pi * 200 * np.arange(r * 2) / r)).astype(np.float32)
    w("clipped_square.wav", sq, subtype="FLOAT")
    w("pcm_u8.wav", _tone(r * 2, r), subtype="PCM_U8")
    w("pcm_24.wav", _tone(r * 2, r), subtype="PCM_24")
    w("pcm_32.wav", _tone(r * 2, r), subtype="PCM_32")
    w("float32.wav", _tone(r * 2, r), subtype="FLOAT")
    w("float64.wav", _tone(r * 2, r), subtype="DOUBLE")
    w("six_channels.wav", np.stack([_tone(r * 2, r, 200 + 100 * k) for k in range(6)], axis=1))
    w("stereo_one_silent.wav", np.stack([_tone(r * 2, r), np.zeros(r * 2, np.float32)], axis=1))
    w("rate_8k.wav", _tone(8000 * 2, 8000), rate=8000)
    w("rate_96k.wav", _tone(96000 * 2, 96000), rate=96000)
    w("rate_11025.wav", _tone(11025 * 2, 11025), rate=11025)
    w("ultrasonic_only_96k.wav", _tone(96000 * 2, 96000, f=30000, noise=0.0), rate=96000, want="bad")
    w("very_quiet.wav", _tone(r * 2, r, amp=1e-4), subtype="FLOAT")
    w("denormal_tiny.wav", np.full(r * 2, 1e-39, np.float32), subtype="FLOAT", want="bad")
    w("flac_named_wav.wav", _tone(r * 2, r), fmt="FLAC")
    w("real.flac", _tone(r * 2, r))
    w("real.ogg", _tone(r * 2, r), subtype="VORBIS")
    one_click = np.zeros(r * 2, np.float32); one_click[r] = 0.9
    w("single_click.wav", one_click)
    w("long_13s.wav", _tone(r * 13, r))
    # truncated header: the first 20 bytes of a real WAV
    good = d / "pcm_24.wav"
    (d / "truncated_header.wav").write_bytes(good.read_bytes()[:20]); expect["truncated_header.wav"] = "bad"
    # header claims far more data than the file has
    data = bytearray((d / "float32.wav").read_bytes())
    idx = data.find(b"data")
    data[idx + 4:idx + 8] = struct.pack("<I", 10 ** 8)
    (d / "lying_data_size.wav").write_bytes(bytes(data[: idx + 8 + 4000])); expect["lying_data_size.wav"] = "bad"
    (d / "not_audio.wav").write_bytes(b"<html>this is not a wav file</html>" * 20); expect["not_audio.wav"] = "bad"
    (d / "zero_bytes.wav").write_bytes(b""); expect["zero_bytes.wav"] = "bad"
    (d / "random_bytes.wav").write_bytes(np.random.default_rng(0).bytes(5000)); expect["random_bytes.wav"] = "bad"
    # an hour-long file (8 kHz, 16-bit: 58 MB), written in blocks
    with sf.SoundFile(str(d / "hour_long.wav"), "w", 8000, 1, "PCM_16") as f:
        block = _tone(8000 * 60, 8000)
        for _ in range(60):
            f.write(block)
    expect["hour_long.wav"] = "ok"
    return expect
