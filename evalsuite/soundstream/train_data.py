"""Training audio: every audio file under a folder, mono at the model's rate, held in memory;
batches are random fixed-length segments (whole frames)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..audio import read_audio, resample, to_mono

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class SegmentSampler:
    def __init__(self, folder: str | Path, sample_rate: int, segment: int, max_files: int | None = None) -> None:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if max_files:
            files = files[:max_files]
        if not files:
            raise FileNotFoundError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {folder}")
        self.clips = []
        for p in files:
            x, sr = read_audio(p)
            x = to_mono(x) if x.ndim > 1 else x
            x = resample(x, sr, sample_rate).astype(np.float32)
            if len(x) >= segment:
                self.clips.append(x)
        if not self.clips:
            raise ValueError(f"all audio under {folder} is shorter than one training segment ({segment} samples)")
        self.segment = segment
        self.weights = np.array([len(c) for c in self.clips], dtype=np.float64)
        self.weights /= self.weights.sum()

    def batch(self, size: int, rng: np.random.Generator) -> torch.Tensor:
        out = np.empty((size, 1, self.segment), np.float32)
        for i in range(size):
            c = self.clips[rng.choice(len(self.clips), p=self.weights)]
            s = rng.integers(0, len(c) - self.segment + 1)
            out[i, 0] = c[s: s + self.segment]
        return torch.from_numpy(out)
