"""Streaming state for causal layers.

A layer that needs past input keeps it in ``self._state`` while streaming is on; offline it pads
with zeros instead. ``SoundStream.streaming()`` turns streaming on for every such layer and
clears all state on entry and exit, so files never leak into each other.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class StreamingLayer(nn.Module):
    """Base class: a flag and a state tensor, both reset together."""

    def __init__(self) -> None:
        super().__init__()
        self._streaming = False
        self._state: torch.Tensor | None = None

    def reset_state(self) -> None:
        self._state = None

    def set_streaming(self, on: bool) -> None:
        self._streaming = on
        self._state = None


@contextmanager
def streaming(module: nn.Module) -> Iterator[nn.Module]:
    """Context: every StreamingLayer inside ``module`` keeps state between calls."""
    layers = [m for m in module.modules() if isinstance(m, StreamingLayer)]
    for m in layers:
        m.set_streaming(True)
    try:
        yield module
    finally:
        for m in layers:
            m.set_streaming(False)
