"""The SoundStream model: encoder -> residual VQ -> decoder, optional FiLM at a bottleneck.

Offline use: ``codes = model.encode(audio, n_q)`` and ``audio = model.decode(codes)`` on whole
signals (a multiple of ``cfg.hop`` samples). Streaming use::

    with model.streaming():
        for chunk in chunks:            # any whole number of frames
            out.append(model.decode(model.encode(chunk, n_q)))

gives the same result as offline, bit for bit on CPU; state is cleared when the block is entered
and left. The encoder needs one frame of input per code (latency = one frame, ``cfg.hop``).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .config import SoundStreamConfig
from .decoder import Decoder
from .encoder import Encoder
from .film import FiLM
from .rvq import ResidualVQ
from .streaming import streaming as _streaming


class SoundStream(nn.Module):
    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVQ(cfg.emb_dim, cfg.num_quantizers, cfg.codebook_size)
        self.decoder = Decoder(cfg)
        self.film = FiLM(cfg.emb_dim) if cfg.film != "none" else None

    @property
    def hop(self) -> int:
        return self.cfg.hop

    def _film(self, where: str, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.film(x, condition) if self.film is not None and self.cfg.film == where else x

    def embed(self, audio: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if audio.dim() == 2:
            audio = audio.unsqueeze(1)
        if audio.shape[-1] % self.hop:
            raise ValueError(f"audio length {audio.shape[-1]} is not a whole number of {self.hop}-sample frames")
        return self._film("encoder", self.encoder(audio), condition)

    def forward(self, audio: torch.Tensor, n_q: torch.Tensor | int | None = None,
                condition: torch.Tensor | None = None):
        """Training pass: returns (reconstruction [B,1,L], codes [B,N_q,T], commitment loss)."""
        z = self.embed(audio, condition)
        zq, codes, commit = self.quantizer(z, n_q)
        return self.decoder(self._film("decoder", zq, condition)), codes, commit

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, n_q: int | None = None, condition: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L] or [B, 1, L] -> codes [B, N_q, L/hop] (-1 beyond ``n_q``)."""
        n_q = self.cfg.num_quantizers if n_q is None else n_q
        if not 1 <= n_q <= self.cfg.num_quantizers:
            raise ValueError(f"n_q must be in 1..{self.cfg.num_quantizers}, got {n_q}")
        return self.quantizer.encode(self.embed(audio, condition), n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """codes [B, N, T] -> audio [B, T*hop]."""
        z = self.quantizer.decode(codes)
        return self.decoder(self._film("decoder", z, condition)).squeeze(1)

    @contextmanager
    def streaming(self) -> Iterator[SoundStream]:
        with _streaming(self):
            yield self
