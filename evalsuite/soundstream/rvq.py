"""Residual vector quantiser (SoundStream Sec. 3.3, Algorithm 1).

Each of ``num_quantizers`` layers quantises the residual left by the previous ones with its own
codebook of ``codebook_size`` vectors (nearest neighbour in L2). Training follows the paper:
codebooks are exponential moving averages of their assigned vectors, initialised by k-means on
the first batch; codes whose usage falls below ``dead_ratio`` x the mean usage are replaced by
random current inputs (a threshold relative to the mean, because the paper's absolute threshold
of 2 would replace almost every code at small batch sizes); gradients pass the quantiser
straight through, with the residual detached per layer; quantiser dropout draws ``n_q`` uniformly
from 1..N_q for every example. Unused quantisers get code -1 (as Lyra does).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def nearest(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row (L2) for each row of ``x``."""
    d = (x * x).sum(1, keepdim=True) - 2 * x @ codebook.t() + (codebook * codebook).sum(1)[None]
    return d.argmin(1)


def kmeans(x: torch.Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding (random rows, with repeats when too few rows)."""
    n = x.shape[0]
    if n <= k:
        return x[torch.randint(n, (k,), generator=generator)].clone()
    c = x[torch.randint(n, (1,), generator=generator)].clone()
    for _ in range(1, k):
        d = torch.cdist(x, c).min(1).values ** 2
        p = d / d.sum() if d.sum() > 0 else torch.full_like(d, 1.0 / n)
        c = torch.cat([c, x[torch.multinomial(p, 1, generator=generator)]])
    for _ in range(iters):
        a = nearest(x, c)
        s = torch.zeros_like(c).index_add_(0, a, x)
        cnt = torch.bincount(a, minlength=k).to(x.dtype)
        c = torch.where(cnt[:, None] > 0, s / cnt.clamp(min=1)[:, None], c)
    return c


class VectorQuantizer(nn.Module):
    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, dead_ratio: float = 0.03,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.decay, self.dead_ratio, self.eps = decay, dead_ratio, eps
        self.register_buffer("codebook", torch.randn(codebook_size, dim) * 0.01)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initted", torch.zeros((), dtype=torch.bool))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return nearest(x, self.codebook)

    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx.clamp(min=0), self.codebook) * (idx >= 0).unsqueeze(-1).to(self.codebook.dtype)

    @torch.no_grad()
    def update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        """EMA codebook update from rows ``x`` assigned to ``idx``; k-means init; dead-code reset."""
        if x.shape[0] == 0:
            return
        k = self.codebook.shape[0]
        if not bool(self.initted):
            c = kmeans(x, k)
            self.codebook.copy_(c)
            self.embed_sum.copy_(c)
            self.cluster_size.fill_(1.0)
            self.initted.fill_(True)
            idx = self.encode(x)
        counts = torch.bincount(idx, minlength=k).to(x.dtype)
        sums = torch.zeros_like(self.codebook).index_add_(0, idx, x)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + k * self.eps) * n
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_ratio * self.cluster_size.mean()
        nd = int(dead.sum())
        if nd:
            pick = x[torch.randint(x.shape[0], (nd,), device=x.device)]
            self.codebook[dead] = pick
            self.embed_sum[dead] = pick
            self.cluster_size[dead] = 1.0


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, num_quantizers: int, codebook_size: int, **vq_kw) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size, **vq_kw) for _ in range(num_quantizers))

    @property
    def num_quantizers(self) -> int:
        return len(self.layers)

    def encode(self, z: torch.Tensor, n_q: int) -> torch.Tensor:
        """[B, D, T] -> codes [B, N_q, T] (int64; -1 beyond ``n_q``)."""
        b, d, t = z.shape
        r = z.permute(0, 2, 1).reshape(-1, d)
        codes = torch.full((len(self.layers), b * t), -1, dtype=torch.long, device=z.device)
        for i, layer in enumerate(self.layers[:n_q]):
            idx = layer.encode(r)
            codes[i] = idx
            r = r - layer.decode(idx)
        return codes.reshape(-1, b, t).permute(1, 0, 2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, N, T] (N <= N_q, -1 = unused) -> [B, D, T]."""
        b, n, t = codes.shape
        out = 0
        for i in range(n):
            out = out + self.layers[i].decode(codes[:, i].reshape(-1))
        return out.reshape(b, t, -1).permute(0, 2, 1)

    def forward(self, z: torch.Tensor, n_q: torch.Tensor | int | None = None):
        """Training/inference pass. ``n_q``: int, or [B] tensor of per-example quantiser counts
        (quantiser dropout). Returns (z_q with straight-through gradient, codes, commitment loss)."""
        b, d, t = z.shape
        nq = len(self.layers)
        if n_q is None:
            n_q = nq
        per_ex = torch.as_tensor(n_q, device=z.device).expand(b) if not torch.is_tensor(n_q) else n_q.to(z.device)
        x = z.permute(0, 2, 1).reshape(-1, d)
        active_rows = per_ex.repeat_interleave(t)  # [B*T]
        residual = x.detach()
        quant = torch.zeros_like(x)
        codes = torch.full((nq, b * t), -1, dtype=torch.long, device=z.device)
        commit = z.new_zeros(())
        for i, layer in enumerate(self.layers):
            on = active_rows > i
            if not bool(on.any()):
                break
            if self.training:
                layer.update(residual[on], layer.encode(residual[on]))
            idx = layer.encode(residual)
            q = layer.decode(idx) * on[:, None]
            codes[i] = torch.where(on, idx, torch.full_like(idx, -1))
            quant = quant + q
            residual = residual - q  # detached: each layer sees only what the previous left
        commit = F.mse_loss(x, quant.detach())
        zq = x + (quant - x).detach()
        return zq.reshape(b, t, d).permute(0, 2, 1), codes.reshape(nq, b, t).permute(1, 0, 2), commit
