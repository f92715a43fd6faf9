"""SoundStream as Google released it: the Lyra v2 models (TFLite), run frame by frame.

Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec", IEEE/ACM TASLP 2021;
models from github.com/google/lyra v1.3.2 (lyra/model_coeffs, Apache-2.0).

Pipeline per 20 ms frame (320 samples at 16 kHz), as in Lyra's C++ encoder/decoder:
``soundstream_encoder`` (stateful) -> residual vector quantizer ``encode`` signature with
``num_quantizers`` -> codes (4 bits each) packed into bytes like Lyra's packetiser -> (decode
side, from those bytes) codes -> quantizer ``decode`` (-1 for unused codebooks) -> ``lyragan``
(stateful) -> 320 samples. 46 codebooks x 4 bits x 50 frames/s: 0.2-9.2 kbps in 0.2 kbps steps.

The encoder and decoder keep state across frames, so each file gets fresh interpreters built
from model bytes read once per instance (measured: ~3-10 ms per file;
``Interpreter.reset_all_variables`` does *not* restore the initial state of these models).
Measured delay (cross-correlation on real speech): 0 samples, so ``delay_samples`` is 0.
"""
from __future__ import annotations

import importlib
import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate
from .packing import from_int16, pack_codes, to_int16, unpack_codes

SAMPLE_RATE = 16000
FRAME = 320  # samples per frame (20 ms)
FRAMES_PER_S = SAMPLE_RATE // FRAME
N_CODEBOOKS = 46
BITS_PER_CODE = 4
KBPS_PER_CODEBOOK = BITS_PER_CODE * FRAMES_PER_S / 1000.0  # 0.2
MODEL_FILES = ("soundstream_encoder.tflite", "quantizer.tflite", "lyragan.tflite")


def codebooks_for(kbps: float) -> int:
    """Number of codebooks for a requested bitrate: round(kbps / 0.2); 3 kbps -> 15."""
    return int(round(kbps * 1000.0 / (BITS_PER_CODE * FRAMES_PER_S)))


def bytes_per_frame(n_codebooks: int) -> int:
    return (n_codebooks * BITS_PER_CODE + 7) // 8


class SoundStreamCodec(Codec):
    name = "soundstream"
    description = "Google SoundStream (Lyra v2 release, TFLite), 16 kHz, 0.2-9.2 kbps"
    options = {"model_dir": "", "backend": "tflite", "checkpoint": "", "threads": 1}

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        if self.opts["backend"] not in ("tflite", "torch"):
            raise ValueError(f"soundstream: backend must be 'tflite' or 'torch', got {self.opts['backend']!r}")
        self._torch = None
        self._models: dict[str, bytes] | None = None
        self._quantizer = None  # stateless: one per instance
        if self.opts["backend"] == "torch":
            self._torch = _load_torch_backend(self.opts)

    # --- availability ---------------------------------------------------------------------
    @classmethod
    def availability(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("ai_edge_litert") is None:
            return False, "TFLite runtime missing: pip install ai-edge-litert"
        root = os.environ.get("EVALSUITE_DATA")
        if root:
            d = Path(root) / "models" / "lyra-v2"
            missing = [f for f in MODEL_FILES if not (d / f).is_file()]
            if missing:
                return False, (f"Lyra v2 model files missing in {d}: {', '.join(missing)} "
                               "(github.com/google/lyra v1.3.2, lyra/model_coeffs)")
        return True, "ok"

    # --- description ----------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self._torch.sample_rate if self._torch else SAMPLE_RATE

    def bitrates(self) -> BitrateSupport:
        if self._torch:
            return self._torch.bitrates()
        return BitrateSupport(min_kbps=KBPS_PER_CODEBOOK, max_kbps=N_CODEBOOKS * KBPS_PER_CODEBOOK,
                              step_kbps=KBPS_PER_CODEBOOK)

    @property
    def delay_samples(self) -> int:
        return self._torch.delay_samples if self._torch else 0

    def settings(self) -> dict[str, Any]:
        if self._torch:
            return {"backend": "torch", **self._torch.settings()}
        return {**self.opts, "model_dir": str(self._model_dir()), "frame_samples": FRAME,
                "bits_per_code": BITS_PER_CODE, "max_codebooks": N_CODEBOOKS,
                "runtime": "ai_edge_litert " + _litert_version()}

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        if self._torch:
            return self._torch.resolve_kbps(kbps)
        lo, hi = KBPS_PER_CODEBOOK, N_CODEBOOKS * KBPS_PER_CODEBOOK
        if not math.isfinite(kbps) or kbps > hi + 1e-9:
            raise UnsupportedBitrate(
                f"soundstream: {kbps:g} kbps is above the maximum {hi:g} kbps "
                f"({N_CODEBOOKS} codebooks x {BITS_PER_CODE} bits x {FRAMES_PER_S} frames/s)")
        n = codebooks_for(kbps)
        if n < 1:
            raise UnsupportedBitrate(f"soundstream: {kbps:g} kbps is below the minimum {lo:g} kbps (1 codebook)")
        used = round(n * KBPS_PER_CODEBOOK, 6)
        note = "" if abs(used - kbps) < 1e-9 else f"{kbps:g} kbps -> {n} codebooks = {used:g} kbps"
        padded = bytes_per_frame(n) * 8 * FRAMES_PER_S / 1000.0
        if abs(padded - used) > 1e-9:
            note = (note + "; " if note else "") + (
                f"{n * BITS_PER_CODE} bits/frame padded to {bytes_per_frame(n)} bytes: {padded:g} kbps on the wire")
        return used, note

    # --- the work -------------------------------------------------------------------------
    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        if self._torch:
            return self._torch.encode(audio, kbps)
        n_cb = codebooks_for(kbps)
        if not 1 <= n_cb <= N_CODEBOOKS:
            raise UnsupportedBitrate(f"soundstream: {kbps:g} kbps needs {n_cb} codebooks (1..{N_CODEBOOKS})")
        x = np.asarray(audio, dtype=np.float32)
        n_frames = max(1, -(-len(x) // FRAME))
        # Lyra codes 16-bit PCM: quantise like its Int16ToUnitScalar path does.
        pcm = from_int16(to_int16(np.pad(x, (0, n_frames * FRAME - len(x)))))
        enc = self._interpreter("soundstream_encoder.tflite")
        e_in, e_out = enc.get_input_details()[0]["index"], enc.get_output_details()[0]["index"]
        q_encode = self._quantizer_runner().get_signature_runner("encode")
        nq = np.array(n_cb, dtype=np.int32)
        packets = []
        for i in range(n_frames):
            enc.set_tensor(e_in, pcm[None, i * FRAME:(i + 1) * FRAME])
            enc.invoke()
            codes = q_encode(input_frames=enc.get_tensor(e_out), num_quantizers=nq)["output_0"].ravel()[:n_cb]
            packets.append(pack_codes(codes, BITS_PER_CODE))
        return Encoded(packets=packets, num_samples=n_frames * FRAME, sample_rate=SAMPLE_RATE,
                       kbps_used=n_cb * KBPS_PER_CODEBOOK,
                       info={"n_codebooks": n_cb, "bits_per_frame": n_cb * BITS_PER_CODE,
                             "bytes_per_frame": bytes_per_frame(n_cb), "frames": n_frames})

    def decode(self, encoded: Encoded) -> np.ndarray:
        if self._torch:
            return self._torch.decode(encoded)
        n_cb = int(encoded.info["n_codebooks"])
        dec = self._interpreter("lyragan.tflite")
        d_in, d_out = dec.get_input_details()[0]["index"], dec.get_output_details()[0]["index"]
        q_decode = self._quantizer_runner().get_signature_runner("decode")
        idx = np.full((N_CODEBOOKS, 1, 1), -1, dtype=np.int32)
        out = np.empty(len(encoded.packets) * FRAME, dtype=np.float32)
        for i, pkt in enumerate(encoded.packets):
            idx[:n_cb, 0, 0] = unpack_codes(pkt, n_cb, BITS_PER_CODE)
            dec.set_tensor(d_in, q_decode(encoding_indices=idx)["output_0"])
            dec.invoke()
            out[i * FRAME:(i + 1) * FRAME] = dec.get_tensor(d_out).ravel()
        return np.clip(out, -1.0, 1.0)

    # --- model handling -------------------------------------------------------------------
    def _model_dir(self) -> Path:
        if self.opts["model_dir"]:
            return Path(self.opts["model_dir"]).expanduser()
        from ..data import DataError, data_root, lyra_model_dir

        try:
            return lyra_model_dir(data_root())
        except DataError as e:
            raise CodecUnavailable(f"soundstream: {e}") from e

    def _model_bytes(self) -> dict[str, bytes]:
        if self._models is None:
            d = self._model_dir()
            missing = [f for f in MODEL_FILES if not (d / f).is_file()]
            if missing:
                raise CodecUnavailable(
                    f"soundstream: model files missing in {d}: {', '.join(missing)} "
                    "(github.com/google/lyra v1.3.2, lyra/model_coeffs)")
            self._models = {f: (d / f).read_bytes() for f in MODEL_FILES}
        return self._models

    def _interpreter(self, fname: str):
        """A fresh interpreter (fresh recurrent/conv state) built from bytes held in memory."""
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_content=self._model_bytes()[fname], num_threads=int(self.opts["threads"]))
        it.allocate_tensors()
        return it

    def _quantizer_runner(self):
        if self._quantizer is None:
            self._quantizer = self._interpreter("quantizer.tflite")
        return self._quantizer


def _litert_version() -> str:
    try:
        from importlib.metadata import version

        return version("ai-edge-litert")
    except Exception:
        return "unknown"


def _load_torch_backend(opts: dict[str, Any]):
    try:
        mod = importlib.import_module("evalsuite.codecs.soundstream_torch")
    except ImportError as e:
        raise CodecUnavailable(
            "soundstream: torch backend not installed (evalsuite.codecs.soundstream_torch could not be "
            f"imported: {e}); use backend=tflite") from e
    return mod.TorchSoundStream(**opts)
