"""Model configurations: one dataclass, three presets.

``paper_config``: Zeghidour et al. 2021 -- 24 kHz, encoder strides (2, 4, 5, 8) = 320 samples per
frame (75 frames/s), channels C doubling to 16C, embedding D, up to 24 quantisers of 1024 codes
(10 bits): 0.75 kbps per quantiser.
``lyra_v2_config``: Google's released Lyra v2 SoundStream -- 16 kHz, first conv K=64 S=16, then
strides (5, 2, 2) (50 frames/s), depthwise-separable residual units, LeakyReLU(0.3), 1x1 convs in
groups of 64 channels, 46 quantisers of 16 codes (4 bits): 0.2 kbps per quantiser.
``tiny_config``: the paper layout at C=4, D=16 for tests and CPU training smoke runs.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class SoundStreamConfig:
    name: str = "paper"
    sample_rate: int = 24000
    channels: int = 32  # C
    emb_dim: int = 128  # D
    strides: tuple[int, ...] = (2, 4, 5, 8)
    first_kernel: int = 7
    first_stride: int = 1
    last_kernel: int = 7
    last_stride: int = 1
    bottleneck_kernel: int = 3
    unit_kernel: int = 7
    dilations: tuple[int, ...] = (1, 3, 9)
    separable: bool = False
    activation: str = "elu"
    slope: float = 0.3
    group_channels: int | None = None  # 1x1/resampling convs in groups of this many channels
    enc_bottleneck_groups: int = 1
    dec_bottleneck_groups: int = 1
    num_quantizers: int = 24
    codebook_size: int = 1024
    film: str = "none"  # none | encoder | decoder (denoising on/off conditioning)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strides", tuple(self.strides))
        object.__setattr__(self, "dilations", tuple(self.dilations))
        if self.film not in ("none", "encoder", "decoder"):
            raise ValueError(f"film must be none, encoder or decoder, not {self.film!r}")
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError("codebook_size must be a power of two (codes are packed in whole bits)")

    # --- derived facts ------------------------------------------------------------------
    @property
    def hop(self) -> int:
        """Samples per frame (one code vector)."""
        return self.first_stride * math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def bits_per_code(self) -> int:
        return int(math.log2(self.codebook_size))

    @property
    def kbps_per_quantizer(self) -> float:
        return self.bits_per_code * self.frame_rate / 1000.0

    def groups(self, cin: int, cout: int) -> int:
        if not self.group_channels:
            return 1
        return max(1, min(cin, cout) // self.group_channels)

    # --- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["strides"], d["dilations"] = list(self.strides), list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SoundStreamConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown SoundStream config keys: {sorted(unknown)}")
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SoundStreamConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def paper_config(channels: int = 32, emb_dim: int = 128, num_quantizers: int = 24, **kw) -> SoundStreamConfig:
    return SoundStreamConfig(name="paper", channels=channels, emb_dim=emb_dim, num_quantizers=num_quantizers, **kw)


def tiny_config(**kw) -> SoundStreamConfig:
    base = dict(name="tiny", channels=4, emb_dim=16, num_quantizers=4, codebook_size=64)
    base.update(kw)
    return SoundStreamConfig(**base)


def lyra_v2_config() -> SoundStreamConfig:
    return SoundStreamConfig(
        name="lyra_v2", sample_rate=16000, channels=64, emb_dim=64, strides=(5, 2, 2),
        first_kernel=64, first_stride=16, last_kernel=64, last_stride=16, bottleneck_kernel=3,
        unit_kernel=3, dilations=(1, 3, 9), separable=True, activation="leaky_relu", slope=0.3,
        group_channels=64, enc_bottleneck_groups=4, dec_bottleneck_groups=4,
        num_quantizers=46, codebook_size=16,
    )


PRESETS = {"paper": paper_config, "tiny": tiny_config, "lyra_v2": lyra_v2_config}
