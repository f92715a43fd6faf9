"""SoundStream (Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec", IEEE/ACM TASLP
2021): one codec, two backends.

* ``backend=tflite`` (default): Google's released Lyra v2 models (github.com/google/lyra v1.3.2,
  lyra/model_coeffs, Apache-2.0) run frame by frame with ai-edge-litert, as Lyra's C++ does:
  ``soundstream_encoder`` (stateful) -> quantizer ``encode`` (``num_quantizers``) -> codes ->
  quantizer ``decode`` (-1 for unused codebooks) -> ``lyragan`` (stateful).
* ``backend=torch``: the PyTorch implementation (evalsuite.soundstream) with the Lyra v2 weights
  ported from the same .tflite files, or a paper-configuration checkpoint (``checkpoint=``).

Shared by both: the kbps -> quantizers mapping (evalsuite.soundstream.modes: bits sent are codes,
never padding), the packer (evalsuite.soundstream.bitpack: one packet per frame, Lyra's layout),
the info schema, and the operating points (Lyra v2: 3.2, 6 and 9.2 kbps). Delay: 0 samples for
both (measured by cross-correlation on real speech); frames are padded and trimmed back.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .base import BitrateSupport, Codec, CodecUnavailable, Encoded, UnsupportedBitrate

MODEL_FILES = ("soundstream_encoder.tflite", "quantizer.tflite", "lyragan.tflite")
BACKENDS = ("tflite", "torch")
#: Lyra v2's released modes (lyra_config.cc, GetSupportedQuantizedBits: 64/120/184 bits per frame)
LYRA_QUANTIZERS = (16, 30, 46)
#: the paper's bitrates (3, 6, 12, 18 kbps at 0.75 kbps per quantizer)
PAPER_KBPS = (3.0, 6.0, 12.0, 18.0)
_INSTALL = {"tflite": "pip install ai-edge-litert", "torch": "pip install torch==2.13.0"}


def _model_dir(ctx, opts: dict[str, Any]) -> Path:
    from ..data import DataError, lyra_model_dir

    if opts.get("model_dir"):
        return Path(opts["model_dir"]).expanduser()
    try:
        return lyra_model_dir(ctx.data_root())
    except DataError as e:
        raise CodecUnavailable(f"soundstream: {e}") from e


class SoundStreamCodec(Codec):
    name = "soundstream"
    description = "Google SoundStream (Lyra v2 release; TFLite or PyTorch backend)"
    options = {"backend": "tflite", "model_dir": "", "checkpoint": "", "threads": 1}

    def __init__(self, ctx=None, **opts: Any) -> None:
        super().__init__(ctx, **opts)
        if self.opts["backend"] not in BACKENDS:
            raise ValueError(f"soundstream: backend must be one of {BACKENDS}, got {self.opts['backend']!r}")
        if self.opts["checkpoint"] and self.opts["backend"] != "torch":
            raise ValueError("soundstream: checkpoint= needs backend=torch")
        if int(self.opts["threads"]) < 1:
            raise ValueError("soundstream: threads must be at least 1")

    # --- availability (per backend) --------------------------------------------------------
    @classmethod
    def availability(cls, ctx=None, opts=None) -> tuple[bool, str]:
        from ..context import RunContext

        ctx = ctx or RunContext()
        opts = opts or {}
        backend = opts.get("backend", "tflite")
        module = {"tflite": "ai_edge_litert", "torch": "torch"}.get(backend)
        if module is None:
            return True, "ok"  # the constructor reports the bad option
        if importlib.util.find_spec(module) is None:
            return False, f"soundstream backend={backend} needs {module}: {_INSTALL[backend]}"
        if opts.get("checkpoint"):
            from ..soundstream.checkpoint import config_path

            ck = Path(opts["checkpoint"]).expanduser()
            if not ck.is_file() or not config_path(ck).is_file():
                return False, f"soundstream checkpoint {ck} (+ its .json config) not found"
            return True, "ok"
        try:
            d = _model_dir(ctx, opts)
        except CodecUnavailable as e:
            return False, str(e)
        missing = [f for f in MODEL_FILES if not (d / f).is_file()]
        if missing:
            return False, (f"Lyra v2 model files missing in {d}: {', '.join(missing)} "
                           "(github.com/google/lyra v1.3.2, lyra/model_coeffs)")
        return True, "ok"

    # --- the backend and its configuration -------------------------------------------------
    @cached_property
    def backend(self):
        if self.opts["backend"] == "torch":
            from .soundstream_torch import TorchBackend

            return TorchBackend(self.ctx, self.opts)
        return TFLiteBackend(_model_dir(self.ctx, self.opts), int(self.opts["threads"]))

    @cached_property
    def cfg(self):
        if self.opts["checkpoint"]:
            from ..soundstream.checkpoint import config_path
            from ..soundstream.config import SoundStreamConfig

            return SoundStreamConfig.load(config_path(Path(self.opts["checkpoint"]).expanduser()))
        from ..soundstream.config import lyra_v2_config

        return lyra_v2_config()

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    def bitrates(self) -> BitrateSupport:
        """The wire rates of whole-byte frames (what any request maps to)."""
        from ..soundstream.modes import packet_bytes

        c = self.cfg
        rates = sorted({round(b * 8 * c.frame_rate / 1000.0, 6)
                        for b in range(1, packet_bytes(c.num_quantizers, c.bits_per_code) + 1)
                        if (b * 8) // c.bits_per_code >= 1})
        steps = {round(b - a, 6) for a, b in zip(rates, rates[1:])}
        if len(steps) == 1:
            return BitrateSupport(min_kbps=rates[0], max_kbps=rates[-1], step_kbps=steps.pop())
        return BitrateSupport(values=tuple(rates))

    def operating_points(self) -> tuple[float, ...]:
        if self.cfg.name == "lyra_v2":
            return tuple(round(n * self.cfg.kbps_per_quantizer, 6) for n in LYRA_QUANTIZERS)
        top = self.cfg.num_quantizers * self.cfg.kbps_per_quantizer
        return tuple(k for k in PAPER_KBPS if k <= top + 1e-9)

    def mode(self, kbps: float):
        from ..soundstream.modes import mode_for

        c = self.cfg
        try:
            return mode_for(kbps, c.kbps_per_quantizer, c.bits_per_code, c.num_quantizers, c.frame_rate)
        except ValueError as e:
            raise UnsupportedBitrate(f"soundstream ({c.name}): {e}") from None

    def resolve_kbps(self, kbps: float) -> tuple[float, str]:
        m = self.mode(kbps)
        return m.kbps, m.note

    def version(self) -> str:
        return self.backend.version()

    def settings(self) -> dict[str, Any]:
        c = self.cfg
        return {**self.opts, "model": c.name, "sample_rate": c.sample_rate, "frame_samples": c.hop,
                "bits_per_code": c.bits_per_code, "max_quantizers": c.num_quantizers,
                "latency_ms": round(1000 * c.hop / c.sample_rate, 3), "runtime": self.backend.version()}

    # --- the work (shared) -----------------------------------------------------------------
    def encode(self, audio: np.ndarray, kbps: float) -> Encoded:
        from ..soundstream.bitpack import pack

        m = self.mode(kbps)
        hop = self.cfg.hop
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        frames = max(1, -(-len(x) // hop))
        xp = np.zeros(frames * hop, np.float32)
        xp[: len(x)] = x
        codes = self.backend.encode(xp, m.quantizers)  # [frames, n]
        return Encoded(packets=pack(codes, self.cfg.bits_per_code), num_samples=frames * hop, sample_rate=self.sample_rate,
                       kbps_used=m.kbps,
                       info={"quantizers": m.quantizers, "bits_per_code": self.cfg.bits_per_code, "frames": frames,
                             "bytes_per_frame": m.bytes_per_frame, "backend": self.opts["backend"],
                             "model": self.cfg.name})

    def decode(self, encoded: Encoded) -> np.ndarray:
        from ..soundstream.bitpack import unpack

        n = int(encoded.info["quantizers"])
        codes = unpack(encoded.packets, n, int(encoded.info["bits_per_code"]))  # [frames, n]
        y = self.backend.decode(codes, self.cfg.num_quantizers)
        return np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)


class TFLiteBackend:
    """Lyra v2's TFLite models, one 20 ms frame at a time, as Lyra's encoder/decoder run them.

    The encoder and decoder keep state across frames, so each call builds fresh interpreters from
    model bytes read once (``reset_all_variables`` does not restore these models' initial state)."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        self.dir = Path(model_dir)
        self.threads = threads
        self._bytes: dict[str, bytes] | None = None
        self._quantizer = None
        self._version: str | None = None

    def _models(self) -> dict[str, bytes]:
        if self._bytes is None:
            missing = [f for f in MODEL_FILES if not (self.dir / f).is_file()]
            if missing:
                raise CodecUnavailable(f"soundstream: model files missing in {self.dir}: {', '.join(missing)} "
                                       "(github.com/google/lyra v1.3.2, lyra/model_coeffs)")
            self._bytes = {f: (self.dir / f).read_bytes() for f in MODEL_FILES}
        return self._bytes

    def version(self) -> str:
        if self._version is None:  # recorded with every transcode: the models are hashed once
            from importlib.metadata import PackageNotFoundError, version

            try:
                v = version("ai-edge-litert")
            except PackageNotFoundError:
                v = "?"
            h = hashlib.sha256(b"".join(self._models()[f] for f in MODEL_FILES)).hexdigest()[:12]
            self._version = f"ai-edge-litert {v}; lyra-v2 models sha256:{h}"
        return self._version

    def _interpreter(self, fname: str):
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_content=self._models()[fname], num_threads=self.threads)
        it.allocate_tensors()
        return it

    def _q(self):
        if self._quantizer is None:
            self._quantizer = self._interpreter("quantizer.tflite")
        return self._quantizer

    def encode(self, x: np.ndarray, n_q: int) -> np.ndarray:
        from .packing import from_int16, to_int16

        hop = 320
        pcm = from_int16(to_int16(x))  # Lyra codes 16-bit PCM (its Int16ToUnitScalar path)
        enc = self._interpreter("soundstream_encoder.tflite")
        e_in, e_out = enc.get_input_details()[0]["index"], enc.get_output_details()[0]["index"]
        q_encode = self._q().get_signature_runner("encode")
        nq = np.array(n_q, dtype=np.int32)
        out = []
        for i in range(len(pcm) // hop):
            enc.set_tensor(e_in, pcm[None, i * hop:(i + 1) * hop])
            enc.invoke()
            out.append(q_encode(input_frames=enc.get_tensor(e_out), num_quantizers=nq)["output_0"].ravel()[:n_q])
        return np.stack(out).astype(np.int64)

    def decode(self, codes: np.ndarray, max_q: int) -> np.ndarray:
        hop = 320
        dec = self._interpreter("lyragan.tflite")
        d_in, d_out = dec.get_input_details()[0]["index"], dec.get_output_details()[0]["index"]
        q_decode = self._q().get_signature_runner("decode")
        idx = np.full((max_q, 1, 1), -1, dtype=np.int32)
        n = codes.shape[1]
        out = np.empty(len(codes) * hop, dtype=np.float32)
        for i, frame in enumerate(codes):
            idx[:n, 0, 0] = frame
            dec.set_tensor(d_in, q_decode(encoding_indices=idx)["output_0"])
            dec.invoke()
            out[i * hop:(i + 1) * hop] = dec.get_tensor(d_out).ravel()
        return out
