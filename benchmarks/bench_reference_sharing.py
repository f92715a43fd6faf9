"""What computing the reference side once per item saves, per metric (issue 13, "shared reference work").

Usage (from the repository root):
    EVALSUITE_DATA=/path/to/shared python benchmarks/bench_reference_sharing.py [--repeats 5] [--metrics a,b]

For each metric, one item is scored against N=8 conditions two ways, in the same fresh process:

* ``score``:  ``metric.score(ref, deg, rate)`` per condition (the reference side recomputed 8 times);
* ``shared``: ``metric.reference_features(ref, rate)`` once, then ``metric.score_features(features,
  deg, rate)`` per condition (what the runner's score stage does).

Material: a real 10-s item prepared as a run prepares it (mono, 48 kHz, -26 LUFS): LibriSpeech
198-209-0000 for the speech metrics, the SQAM guitar for ViSQOL's audio mode; the 8 conditions are
the two BS.1534 anchors and a real Opus bitstream at 6, 8, 12, 16, 24 and 32 kbps. Each repetition
is a fresh process (one thread everywhere) that loads the metric, warms it up on one pair (model
load, JIT), then times each way twice in ABBA order with ``time.process_time`` (process CPU),
the repetitions alternating which way goes first; every value of both ways is compared (== per
condition). Printed per metric: medians over the repetitions of the CPU seconds of each way (mean
of its two timings), of the per-repetition ratio shared/score, and of the reference side and the
per-condition time of the shared way. Metrics without a reference side of their own (PESQ, STOI)
run the same work both ways: their ratio shows the measurement's noise.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# first: it sets one thread everywhere before numpy/torch/numba/onnxruntime are imported
from metric_material import ITEMS, RATE, SECONDS  # noqa: E402

# isort: split
import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

OPUS_KBPS = (6, 8, 12, 16, 24, 32)
ANCHORS = ("anchor_lp35", "anchor_lp70")


def _item_for(metric_name: str) -> str:
    from evalsuite.metrics import metric_class

    applies = metric_class(metric_name).info.applies_to
    return "music" if applies is not None and "clean_speech" not in applies else "speech"


def prepare(root: Path, out: Path) -> dict[str, list[str]]:
    """Write each item and its 8 conditions to ``out/<item>.npz``; return the condition names."""
    from evalsuite.anchors import get_anchor
    from evalsuite.audio import normalize_loudness, read_audio, resample, to_mono
    from evalsuite.codecs import get_codec
    from evalsuite.codecs.transcode import transcode

    opus = get_codec("opus")
    names = {}
    for item, rel in ITEMS.items():
        x, rate = read_audio(root / rel)
        x = resample(to_mono(x), rate, RATE)[: int(SECONDS * RATE)]
        if len(x) < SECONDS * RATE:
            raise SystemExit(f"{rel} is shorter than {SECONDS} s")
        ref = normalize_loudness(x, RATE)
        conds = {a: get_anchor(a).process(ref, RATE) for a in ANCHORS}
        conds.update({f"opus@{k}": transcode(opus, ref, RATE, k).audio for k in OPUS_KBPS})
        np.savez(out / f"{item}.npz", reference=ref, **{k.replace("@", "_"): v for k, v in conds.items()})
        names[item] = list(conds)
    return names


def child(metric_name: str, npz: Path, shared_first: bool) -> dict:
    """One repetition in this (fresh) process: warm up, then time both ways."""
    import torch

    from evalsuite.metrics import get_metric

    torch.set_num_threads(1)
    data = np.load(npz)
    ref = data["reference"]
    conds = [data[k] for k in data.files if k != "reference"]
    metric = get_metric(metric_name)
    # warm-up on one pair, both ways: model load and JIT are once per worker, not per item
    metric.score(ref, conds[0], RATE)
    metric.score_features(metric.reference_features(ref, RATE), conds[0], RATE)

    def by_score():
        return [metric.score(ref, d, RATE) for d in conds]

    def by_shared():
        t0 = time.process_time()
        feats = metric.reference_features(ref, RATE)
        t_ref = time.process_time() - t0
        return [metric.score_features(feats, d, RATE) for d in conds], t_ref

    # ABBA: each way twice, in mirrored order, so a drift within the process cancels
    order = ("shared", "score", "score", "shared") if shared_first else ("score", "shared", "shared", "score")
    secs = {"score": 0.0, "shared": 0.0, "ref": 0.0}
    values = {"score": [], "shared": []}
    for way in order:
        t0 = time.process_time()
        if way == "score":
            got = by_score()
        else:
            got, t_ref = by_shared()
            secs["ref"] += t_ref
        secs[way] += time.process_time() - t0
        values[way].append(got)
    first = values["score"][0]
    identical = all(v == first for vs in values.values() for v in vs)
    return {"score_s": secs["score"] / 2, "shared_s": secs["shared"] / 2, "ref_s": secs["ref"] / 2,
            "identical": identical, "n": len(conds)}


def run_child(metric_name: str, npz: Path, shared_first: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", metric_name, str(npz),
           "shared" if shared_first else "score"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if p.returncode != 0:
        raise RuntimeError(f"{metric_name}: child failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="fresh-process repetitions per metric (default 3)")
    ap.add_argument("--metrics", default=None, help="comma-separated metric names (default: every metric "
                                                    "with a reference)")
    ap.add_argument("--data", default=None, help="data location (default: $EVALSUITE_DATA)")
    ap.add_argument("--child", nargs=3, metavar=("METRIC", "NPZ", "FIRST"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        name, npz, first = args.child
        print(json.dumps(child(name, Path(npz), first == "shared")))
        return 0

    from evalsuite.data import data_root
    from evalsuite.metrics import metric_class, metric_names

    names = (args.metrics.split(",") if args.metrics else
             [n for n in metric_names() if metric_class(n).info.needs_reference])
    root = data_root(args.data)
    with tempfile.TemporaryDirectory(prefix="bench-refshare-") as tmp:
        conditions = prepare(root, Path(tmp))
        print(f"one 10-s item x {len(conditions['speech'])} conditions ({', '.join(conditions['speech'])}), "
              f"48 kHz input, 1 thread; process CPU s per item, median of {args.repeats} fresh processes (ABBA); "
              f"load average at start {os.getloadavg()[0]:.1f}")
        print(f"{'metric':<14}{'item':<7}{'score()':>9}{'shared':>9}{'ratio':>7}{'saving':>8}"
              f"{'ref once':>10}{'per cond':>10}  identical")
        for name in names:
            item = _item_for(name)
            reps = [run_child(name, Path(tmp) / f"{item}.npz", shared_first=bool(i % 2)) for i in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in reps) for k in ("score_s", "shared_s", "ref_s")}
            ratio = statistics.median(r["shared_s"] / r["score_s"] for r in reps)
            per_cond = statistics.median((r["shared_s"] - r["ref_s"]) / r["n"] for r in reps)
            same = "yes" if all(r["identical"] for r in reps) else "NO"
            print(f"{name:<14}{item:<7}{med['score_s']:>9.3f}{med['shared_s']:>9.3f}{ratio:>7.3f}"
                  f"{1 - ratio:>8.1%}{med['ref_s']:>10.3f}{per_cond:>10.3f}  {same}", flush=True)
        print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
