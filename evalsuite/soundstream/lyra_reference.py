"""The TFLite reference for the Lyra v2 port: runs Google's three model files frame by frame with
``ai_edge_litert`` (fresh interpreters per file: the encoder and decoder are stateful)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .lyra_port import DECODER_FILE, ENCODER_FILE, QUANTIZER_FILE

HOP = 320


class LyraTflite:
    def __init__(self, model_dir: str | Path, num_threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise RuntimeError("the TFLite reference needs the ai-edge-litert package (pip install ai-edge-litert)") from e
        d = Path(model_dir)
        self._interp = lambda f: Interpreter(model_path=str(d / f), num_threads=num_threads)
        q = self._interp(QUANTIZER_FILE)
        self._q_enc = q.get_signature_runner("encode")
        self._q_dec = q.get_signature_runner("decode")

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """float audio (multiple of 320 samples) -> [T, 64] encoder outputs."""
        run = self._interp(ENCODER_FILE).get_signature_runner("serving_default")
        x = np.asarray(audio, np.float32).reshape(-1, HOP)
        return np.stack([run(input_audio=f[None])["output_0"].reshape(-1) for f in x])

    def quantize(self, emb: np.ndarray, n_q: int) -> np.ndarray:
        """[T, 64] -> codes [T, 46] (-1 beyond n_q)."""
        out = []
        for e in emb:
            r = self._q_enc(input_frames=e.reshape(1, 1, -1).astype(np.float32), num_quantizers=np.int32(n_q))
            codes = next(v for v in r.values() if v.dtype == np.int32 and v.size == 46)
            out.append(codes.reshape(-1))
        return np.stack(out)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        return np.stack([self._q_dec(encoding_indices=c.reshape(-1, 1, 1).astype(np.int32))["output_0"].reshape(-1)
                         for c in codes])

    def synthesize(self, emb: np.ndarray) -> np.ndarray:
        run = self._interp(DECODER_FILE).get_signature_runner("serving_default")
        return np.concatenate([run(input_audio=e.reshape(1, 1, -1).astype(np.float32))["output_0"].reshape(-1) for e in emb])

    def codes(self, audio: np.ndarray, n_q: int) -> np.ndarray:
        return self.quantize(self.embed(audio), n_q)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self.synthesize(self.dequantize(codes))
