"""What the metric benchmarks share: one thread everywhere (importing this module sets it, so
import it before numpy/torch/numba/onnxruntime), the checkout on sys.path, and the material."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

RATE = 48000
SECONDS = 10.0
#: real 10-s items from the data location: speech for the speech metrics, music for ViSQOL audio
ITEMS = {
    "speech": "corpus/speech/librispeech_198-209-0000.ogg",
    "music": "corpus/music/guitar48_stereo.wav",
}
