"""The baseline of bench_run.py: the work of `evalsuite run` done by a plain script.

It takes the prepared items of a finished run folder and, for every item x codec condition,
calls the same codec classes (evalsuite.codecs.transcode.transcode: encode, bitstream container,
decode, alignment) and the same metric packages through the metric classes' ``score``, with no
run engine around them: no store, no planning, no resume, no processes, no export. It prints
every value as JSON so the benchmark can check that both produce the same numbers.

    python benchmarks/plain_script.py RUN_DIR CODEC@KBPS[,...] METRIC[,...] [--workers N --worker K]

``--workers N --worker K`` does the K-th of N interleaved shares of the items (the script as N
processes, the baseline of the engine's parallel speed-up).
"""
from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(v, "1")  # one thread, as the run's workers
    run_dir, conds, metrics = argv[0], argv[1].split(","), argv[2].split(",")
    n = int(argv[argv.index("--workers") + 1]) if "--workers" in argv else 1
    k = int(argv[argv.index("--worker") + 1]) if "--worker" in argv else 0

    import numpy as np
    import pandas as pd

    from evalsuite.audio import read_audio
    from evalsuite.codecs import get_codec
    from evalsuite.codecs.transcode import transcode
    from evalsuite.context import context_from_env
    from evalsuite.metrics import get_metric

    ctx = context_from_env()
    items = pd.read_csv(os.path.join(run_dir, "items.csv"), keep_default_na=False)
    items = items[items["error"] == ""].reset_index(drop=True)
    codecs = {c: get_codec(c.split("@")[0], ctx) for c in conds}
    mets = {m: get_metric(m, ctx) for m in metrics}
    out = {}
    for i, it in items.iterrows():
        if i % n != k:
            continue
        ref, rate = read_audio(os.path.join(run_dir, "audio", "reference", f"{it['item']}.wav"))
        for cid, codec in codecs.items():
            t = transcode(codec, ref, rate, float(cid.split("@")[1]))
            for m in mets.values():
                info = m.describe()
                if info.applies_to is not None and it["category"] not in info.applies_to:
                    continue
                if info.waveform and t.waveform_note:
                    continue
                for o, v in m.score(ref if info.needs_reference else None, t.audio, rate).items():
                    out[f"{it['item']}|{cid}|{o}"] = float(v) if np.isfinite(v) else None
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
