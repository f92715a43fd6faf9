"""One rule for mapping a requested bitrate to a codec's native modes (issue 10 §1): a request
gets the codec's best mode that fits (the highest mode not above it), with a note when they
differ; a request below the lowest mode, or more than ``ABOVE_TOP`` above the highest, is an
UnsupportedBitrate that lists the modes (never clamped silently)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from .base import UnsupportedBitrate

#: a request up to 10% above the top mode still maps to the top mode (e.g. 24 -> AMR-WB 23.85)
ABOVE_TOP = 1.10
EPS = 1e-6


def describe_points(points: Sequence[float]) -> str:
    return ", ".join(f"{p:g}" for p in points) + " kbps"


def best_mode(codec: str, points: Sequence[float], kbps: float) -> tuple[float, str]:
    """(mode kbps, note) for a request of ``kbps`` among ascending ``points``."""
    pts = sorted(float(p) for p in points)
    if not math.isfinite(kbps) or kbps < pts[0] - EPS or kbps > pts[-1] * ABOVE_TOP + EPS:
        raise UnsupportedBitrate(
            f"{codec}: {kbps:g} kbps is outside its modes ({pts[0]:g}-{pts[-1]:g} kbps: {describe_points(pts)})")
    used = max(p for p in pts if p <= kbps + EPS)
    if abs(used - kbps) <= EPS:
        return used, ""
    return used, f"{kbps:g} kbps is not a {codec} mode; using the best mode that fits, {used:g} kbps"
