"""The PyTorch backend of the ``soundstream`` codec (``--codec-opt soundstream.backend=torch``).

Two models: the Lyra v2 port (weights read from the ``.tflite`` files in the data location's
``models/lyra-v2``, int8-exact; 16 kHz, 46 quantizers x 4 bits) or a paper-configuration
checkpoint (``checkpoint=path.safetensors`` with its JSON config beside it; 24 kHz, 10-bit
codes). It only turns frames into codes and back; bitrate modes, packing and the bitstream are
the codec's (evalsuite.codecs.soundstream), shared with the TFLite backend.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .base import CodecUnavailable


class TorchBackend:
    def __init__(self, ctx, opts: dict[str, Any]) -> None:
        self.ctx, self.opts = ctx, opts

    @cached_property
    def model(self):
        ckpt = self.opts["checkpoint"]
        if ckpt:
            from ..soundstream.checkpoint import load_model

            return load_model(ckpt)
        from ..soundstream.lyra_port import load_lyra_v2
        from .soundstream import _model_dir

        try:
            return load_lyra_v2(_model_dir(self.ctx, self.opts))
        except FileNotFoundError as e:
            raise CodecUnavailable(str(e)) from e

    def version(self) -> str:
        return self._version

    @cached_property
    def _version(self) -> str:  # recorded with every transcode: the weights are hashed once
        import torch

        if self.opts["checkpoint"]:
            p = Path(self.opts["checkpoint"]).expanduser()
            h = hashlib.sha256(p.read_bytes()).hexdigest()[:12] if p.is_file() else "missing"
            return f"torch {torch.__version__}; checkpoint sha256:{h}"
        from .soundstream import MODEL_FILES, _model_dir

        d = _model_dir(self.ctx, self.opts)
        h = hashlib.sha256(b"".join((d / f).read_bytes() for f in MODEL_FILES if (d / f).is_file())).hexdigest()[:12]
        return f"torch {torch.__version__}; lyra-v2 port of models sha256:{h}"

    @contextmanager
    def _threads(self):
        """Run with ``threads`` torch CPU threads, restoring the caller's setting afterwards."""
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(int(self.opts["threads"]))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def encode(self, x: np.ndarray, n_q: int) -> np.ndarray:
        import torch

        with self._threads():
            codes = self.model.encode(torch.from_numpy(x)[None], n_q)[0, :n_q].T.numpy()  # [T, n]
        return codes.astype(np.int64)

    def decode(self, codes: np.ndarray, max_q: int) -> np.ndarray:
        import torch

        full = np.full((max_q, codes.shape[0]), -1, dtype=np.int64)
        full[: codes.shape[1]] = codes.T
        with self._threads():
            y = self.model.decode(torch.from_numpy(full)[None])[0].numpy()
        return y.astype(np.float32)
