"""SoundStream (Zeghidour et al., 2021, arXiv:2107.03312) in PyTorch.

One concept per module: causal convolutions with streaming state (``conv``), int8 emulation for
ported quantised layers (``fakequant``), residual units (``residual``), encoder, decoder, residual
vector quantiser (``rvq``), FiLM conditioning, the full model (``model``), discriminators, losses,
trainer, checkpoints, bit packing, and the port of Google's released Lyra-v2 weights
(``tflite_graph`` + ``lyra_port``).

Two configurations are built from the same modules: ``paper`` (24 kHz, 75 frames/s, up to 24x1024
RVQ) and ``lyra_v2`` (16 kHz, 50 frames/s, 46x16 RVQ, weights read from the ``.tflite`` files).
"""
__all__ = ["SoundStream", "SoundStreamConfig", "paper_config", "tiny_config", "lyra_v2_config"]


def __getattr__(name: str):
    # lazy: importing a submodule (e.g. the command line's) must not import torch
    if name == "SoundStream":
        from .model import SoundStream

        return SoundStream
    if name in ("SoundStreamConfig", "paper_config", "tiny_config", "lyra_v2_config"):
        from . import config

        return getattr(config, name)
    raise AttributeError(name)
