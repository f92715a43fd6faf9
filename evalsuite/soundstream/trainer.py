"""SoundStream training: reconstruction (multi-scale mel) + hinge adversarial + feature matching
losses with the waveform and STFT discriminators, quantiser dropout, EMA codebooks.

Writes to ``out``: ``model.safetensors`` + ``model.json`` (the checkpoint the codec loads),
``train_state.pt`` (optimisers, discriminators, step, RNG: ``resume=True`` continues from it)
and ``metrics.jsonl`` (one line per logged step).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model, save_model
from .config import PRESETS, SoundStreamConfig
from .discriminators import STFTDiscriminator, WaveDiscriminator
from .losses import MultiScaleMel, feature_matching, hinge_d, hinge_g
from .model import SoundStream
from .train_data import SegmentSampler


@dataclass
class TrainConfig:
    data: str
    out: str
    model: str = "paper"  # preset name (paper, tiny) or a config .json
    model_overrides: dict = field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 8
    segment_s: float = 1.0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    adversarial: bool = True
    gan_start: int = 0  # first step with adversarial losses
    quantizer_dropout: bool = True
    w_rec: float = 1.0
    w_adv: float = 1.0
    w_feat: float = 100.0
    w_commit: float = 1.0
    wave_channels: int = 16
    stft_channels: int = 32
    log_every: int = 10
    ckpt_every: int = 500
    seed: int = 0
    max_files: int | None = None
    device: str = "cpu"
    progress: bool = True


def model_config(tc: TrainConfig) -> SoundStreamConfig:
    if tc.model.endswith(".json"):
        cfg = SoundStreamConfig.load(tc.model)
        return SoundStreamConfig.from_dict({**cfg.to_dict(), **tc.model_overrides}) if tc.model_overrides else cfg
    if tc.model not in ("paper", "tiny"):
        raise ValueError(f"train --config must be paper, tiny or a config .json, not {tc.model!r} "
                         "(lyra_v2 is a port of released weights, not a training recipe here)")
    return PRESETS[tc.model](**tc.model_overrides)


class Trainer:
    def __init__(self, tc: TrainConfig) -> None:
        self.tc = tc
        self.out = Path(tc.out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(tc.seed)
        self.rng = np.random.default_rng(tc.seed)
        self.step = 0
        dev = torch.device(tc.device)
        self.model = SoundStream(model_config(tc)).to(dev)
        self.cfg = self.model.cfg
        self.discs = torch.nn.ModuleList([WaveDiscriminator(channels=tc.wave_channels, max_channels=tc.wave_channels * 64),
                                          STFTDiscriminator(channels=tc.stft_channels)]).to(dev)
        self.mel = MultiScaleMel(self.cfg.sample_rate).to(dev)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=tc.lr, betas=tc.betas)
        self.opt_d = torch.optim.Adam(self.discs.parameters(), lr=tc.lr, betas=tc.betas)
        seg = max(1, round(tc.segment_s * self.cfg.sample_rate / self.cfg.hop)) * self.cfg.hop
        self.data = SegmentSampler(tc.data, self.cfg.sample_rate, seg, tc.max_files)
        self.device = dev

    # --- checkpoints --------------------------------------------------------------------
    def save(self) -> None:
        save_model(self.model, self.out / "model.safetensors")
        state = {"step": self.step, "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                 "discs": self.discs.state_dict(), "rng": self.rng.bit_generator.state,
                 "torch_rng": torch.get_rng_state(), "train_config": asdict(self.tc)}
        tmp = self.out / "train_state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / "train_state.pt")

    def resume(self) -> bool:
        f = self.out / "train_state.pt"
        if not f.is_file():
            return False
        state = torch.load(f, weights_only=False)
        loaded = load_model(self.out / "model.safetensors")
        if loaded.cfg.to_dict() != self.cfg.to_dict():
            raise ValueError(f"{self.out} holds a different model config; use another --out or the same --config")
        self.model.load_state_dict(loaded.state_dict())
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.discs.load_state_dict(state["discs"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        return True

    # --- one step -----------------------------------------------------------------------
    def _disc(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [f for d in self.discs for f in d(x)]

    def train_step(self) -> dict:
        tc = self.tc
        self.model.train()
        x = self.data.batch(tc.batch_size, self.rng).to(self.device)
        nq = self.cfg.num_quantizers
        n_q = torch.from_numpy(self.rng.integers(1, nq + 1, tc.batch_size)) if tc.quantizer_dropout else nq
        y, _, commit = self.model(x, n_q)
        rec = self.mel(x, y)
        loss = tc.w_rec * rec + tc.w_commit * commit
        m = {"step": self.step, "rec": float(rec.detach()), "commit": float(commit.detach())}
        gan = tc.adversarial and self.step >= tc.gan_start
        if gan:
            fake = self._disc(y)
            with torch.no_grad():
                real = self._disc(x)
            adv, feat = hinge_g(fake), feature_matching(real, fake)
            loss = loss + tc.w_adv * adv + tc.w_feat * feat
            m.update(adv=float(adv), feat=float(feat))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if gan:
            d_loss = hinge_d(self._disc(x), self._disc(y.detach()))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            m["disc"] = float(d_loss)
        m["loss"] = float(loss)
        self.step += 1
        return m

    def run(self) -> list[dict]:
        from tqdm import tqdm

        tc = self.tc
        history = []
        log = (self.out / "metrics.jsonl").open("a")
        bar = tqdm(total=tc.steps, initial=self.step, disable=not tc.progress, desc="soundstream train")
        t0 = time.time()
        try:
            while self.step < tc.steps:
                m = self.train_step()
                history.append(m)
                bar.update(1)
                if self.step % tc.log_every == 0 or self.step == tc.steps:
                    m["elapsed_s"] = round(time.time() - t0, 2)
                    log.write(json.dumps(m) + "\n")
                    log.flush()
                    bar.set_postfix(rec=f"{m['rec']:.3f}", loss=f"{m['loss']:.3f}")
                if self.step % tc.ckpt_every == 0 or self.step == tc.steps:
                    self.save()
        finally:
            bar.close()
            log.close()
        return history
