"""SoundStream in PyTorch behind the codec interface (``soundstream`` with ``backend=torch``).

Two models: the Lyra v2 port (default; weights read from the ``.tflite`` files in
``model_dir``, 16 kHz, 46 codebooks x 4 bits, 0.2 kbps steps up to 9.2 kbps) or a paper-config
checkpoint (``checkpoint=path.safetensors`` with its JSON config beside it; 24 kHz, 10-bit codes,
0.75 kbps per quantiser). Encoding produces real bytes: one packet per 20 ms/13.3 ms frame with
the frame's codes bit-packed (see ``evalsuite.soundstream.bitpack``); decoding reads only those.

Both models reconstruct at lag 0 (measured), so ``delay_samples`` is 0; the signal is padded to
whole frames and trimmed back by the caller.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate


class TorchSoundStream(Codec):
    name = "soundstream"
    description = "SoundStream in PyTorch: Google's Lyra v2 weights (int8-exact port) or a paper-config checkpoint"
    options = {"model_dir": "", "backend": "torch", "checkpoint": "", "threads": 1}

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return False, "PyTorch is not installed (pip install torch)"
        return True, "ok"

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        if self.opts["backend"] != "torch":
            raise ValueError(f"TorchSoundStream runs backend=torch, not {self.opts['backend']!r}")

    # --- the model ----------------------------------------------------------------------
    @cached_property
    def model(self):
        ckpt = self.opts["checkpoint"]
        if ckpt:
            from ..soundstream.checkpoint import load_model

            return load_model(ckpt)
        from ..soundstream.lyra_port import load_lyra_v2

        try:
            return load_lyra_v2(self._model_dir())
        except FileNotFoundError as e:
            raise CodecUnavailable(str(e)) from e

    def _model_dir(self) -> Path:
        from ..data import data_root, lyra_model_dir

        d = self.opts["model_dir"]
        return Path(d) if d else lyra_model_dir(data_root())

    @cached_property
    def cfg(self):
        if self.opts["checkpoint"]:
            from ..soundstream.checkpoint import config_path
            from ..soundstream.config import SoundStreamConfig

            p = config_path(self.opts["checkpoint"])
            if not p.is_file():
                raise CodecUnavailable(f"checkpoint config {p} not found (a checkpoint is NAME.safetensors + NAME.json)")
            return SoundStreamConfig.load(p)
        from ..soundstream.config import lyra_v2_config

        return lyra_v2_config()

    # --- description --------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def delay_samples(self) -> int:
        return 0

    def bitrates(self) -> BitrateSupport:
        step = self.cfg.kbps_per_quantizer
        return BitrateSupport(min_kbps=step, max_kbps=round(step * self.cfg.num_quantizers, 6), step_kbps=step)

    def settings(self) -> dict[str, Any]:
        return {**self.opts, "model": self.cfg.name, "sample_rate": self.sample_rate,
                "bits_per_code": self.cfg.bits_per_code, "max_quantizers": self.cfg.num_quantizers}

    def _n_q(self, kbps: float) -> int:
        return int(math.floor(kbps / self.cfg.kbps_per_quantizer + 1e-6))

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        b = self.bitrates()
        if kbps < b.min_kbps - 1e-9 or kbps > b.max_kbps + 1e-9:
            raise UnsupportedBitrate(f"soundstream ({self.cfg.name}) supports {b.describe()}, not {kbps:g} kbps")
        n = self._n_q(kbps)
        used = round(n * self.cfg.kbps_per_quantizer, 6)
        note = "" if abs(used - kbps) < 1e-6 else f"{kbps:g} kbps -> {used:g} kbps ({n} quantizers)"
        return used, note

    # --- the work -----------------------------------------------------------------------
    @contextmanager
    def _threads(self):
        """Run with ``threads`` torch CPU threads, restoring the caller's setting afterwards."""
        import torch

        before = torch.get_num_threads()
        n = int(self.opts["threads"])
        if n > 0:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        import torch

        from ..soundstream.bitpack import pack

        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        used, _ = self.resolve_kbps(kbps)
        n = self._n_q(used)
        hop = self.cfg.hop
        frames = max(1, -(-len(x) // hop))
        xp = np.zeros(frames * hop, np.float32)
        xp[: len(x)] = x
        with self._threads():
            codes = self.model.encode(torch.from_numpy(xp)[None], n)[0, :n].T.numpy()  # [T, n]
        packets = pack(codes, self.cfg.bits_per_code)
        return Encoded(packets=packets, num_samples=len(x), sample_rate=self.sample_rate, kbps_used=used,
                       info={"quantizers": n, "frames": frames, "backend": "torch", "model": self.cfg.name})

    def decode(self, encoded: Encoded) -> np.ndarray:
        import torch

        from ..soundstream.bitpack import unpack

        n = int(encoded.info["quantizers"])
        codes = unpack(encoded.packets, n, self.cfg.bits_per_code)  # [T, n]
        full = np.full((self.cfg.num_quantizers, codes.shape[0]), -1, dtype=np.int64)
        full[:n] = codes.T
        with self._threads():
            y = self.model.decode(torch.from_numpy(full)[None])[0].numpy()
        return y.astype(np.float32)
