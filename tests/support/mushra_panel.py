"""Test signals for the MUSHRA panel browser test: one pure tone per signal, so the test can tell
from the captured output which signal is audible, plus a faint seeded noise, so a few hundred
captured samples identify the exact position in the signal. Written as 16-bit PCM, half as FLAC
and half as WAV (the app serves FLAC; both must decode)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 48000
SECONDS = 4.0
AMPLITUDE = 0.25
NOISE = 0.002
LETTERS = "ABCDEFGHIJKL"


def tone_hz(index: int) -> float:
    """index 0 is the reference, 1.. the letters: 400 Hz apart (resolved in 256-sample windows);
    the extra 2.5 Hz keeps 0.1 s from holding a whole number of periods, so a loop of whole
    tenths of a second would click at its wrap without a fade."""
    return 502.5 + 400.0 * index


def signal_path(folder: Path, trial: int, index: int) -> Path:
    name = "ref" if index == 0 else LETTERS[index - 1]
    return Path(folder) / f"t{trial}" / f"{name}.{'flac' if index % 2 else 'wav'}"


def make_signals(folder: Path, trials: int = 2, n: int = 12) -> None:
    import soundfile

    t = np.arange(int(RATE * SECONDS)) / RATE
    for trial in range(1, trials + 1):
        for i in range(n + 1):
            rng = np.random.default_rng(1000 * trial + i)
            x = AMPLITUDE * np.sin(2 * np.pi * tone_hz(i) * t + 0.3 * trial) + rng.uniform(-NOISE, NOISE, t.size)
            p = signal_path(folder, trial, i)
            p.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(p, x, RATE, subtype="PCM_16")


def load_signal(folder: Path, trial: int, index: int) -> np.ndarray:
    """The samples bit for bit as Chromium decodes them: its 16-bit to float conversion is
    asymmetric, in float32 (n * (1/32768f) below zero, n * (1/32767f) above;
    media/base/audio_sample_types.h)."""
    import soundfile

    n = soundfile.read(signal_path(folder, trial, index), dtype="int16")[0].astype(np.float32)
    return np.where(n < 0, n * np.float32(1 / 32768), n * np.float32(1 / 32767)).astype(np.float32)
