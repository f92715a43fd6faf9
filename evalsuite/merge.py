"""Combine a run's finished shards into the run: ``evalsuite run <the same options> --merge``.

The merge is the unsharded command itself, run on the folder after one extra step: under the run
folder's exclusive lock (no shard can be running) it checks that every shard 1..N has finished
and was run by this very command (what each shard's run.json records: options, conditions, codec
and metric versions and settings, corpus content hash, software versions; only how and where a
shard ran may differ), then copies the shards' store records into the run's store. The run then
finds everything computed and exports the table exactly as an unsharded run does, so the two
tables are equal. Records are content-keyed and copied only when missing or different, so a
second merge changes nothing (idempotent). Audio and bitstreams are already in the run's folders:
shards write them there (evalsuite.layout.ShardLayout).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .layout import RunLayout, ShardLayout, shard_layouts
from .runner import RunError

#: run.json config keys that say how or where a shard ran, not what it computed
LOCAL_KEYS = ("jobs", "data", "shard", "merge", "retry_errors")


class MergeError(RunError):
    """Shards that cannot be merged (missing, unfinished, or of another command)."""


def check_complete(root: str | Path) -> list[ShardLayout]:
    """The shards of the run in ``root`` if all N have finished; otherwise a MergeError naming
    each one that is missing, still running or did not finish."""
    root = Path(root).expanduser().absolute()
    found = shard_layouts(root)
    if not found:
        raise MergeError(f"{root} holds no shards to merge: run this command with --shard 1/N ... --shard N/N "
                         "(on any machines that see this folder) first")
    counts = sorted({s.count for s in found})
    if len(counts) > 1:
        raise MergeError(f"{root / 'shards'} holds shards of {' and '.join(f'{n}-way' for n in counts)} splits; "
                         f"remove the folders of the split you do not want (e.g. shards/*-of-{counts[0]})")
    n = counts[0]
    shards = [ShardLayout(root, i, n) for i in range(1, n + 1)]
    problems = []
    from .lock import holder

    for s in shards:
        who = holder(s.lock)
        meta = _read(s.run_json)
        if who:
            problems.append(f"{s.index}/{n} is still running ({who})")
        elif meta is None:
            problems.append(f"{s.index}/{n} has not run (no {s.run_json.relative_to(root)})")
        elif not meta.get("finished"):
            problems.append(f"{s.index}/{n} did not finish (started {_last(meta).get('started', '?')}; run its "
                            "command again to resume it)")
    if problems:
        raise MergeError(f"cannot merge {root.name} yet: shard {'; shard '.join(problems)}")
    return shards


def merge_shards(lay: RunLayout, meta: dict, notes: list[str]) -> list[dict]:
    """Check the shards against this command (``meta``: the run.json it is about to write) and
    copy their records into the run's store; return what run.json records about them."""
    if isinstance(lay, ShardLayout):
        raise MergeError("--merge and --shard exclude each other: run the shards, then the same command with --merge")
    from .store import ResultStore

    shards = check_complete(lay.root)
    here = fingerprint(meta)
    metas = []
    for s in shards:
        m = _read(s.run_json) or {}
        diff = difference(fingerprint(m), here)
        if diff:
            raise MergeError(f"shard {s.index}/{s.count} in {lay.root.name} was not run by this command: {diff}; merge "
                             "only shards of one command (same options, corpus and software), or run that shard again")
        if not s.store.is_file():
            raise MergeError(f"shard {s.index}/{s.count} has no store ({s.store}); run its command again")
        metas.append((s, m))
    out, copied_t, copied_s = [], 0, 0
    with ResultStore(lay.store) as dst:
        have_t = dst.transcodes()
        have_s = dst.score_index()
        for s, m in metas:
            with ResultStore(s.store) as src:
                recs = src.transcodes()
                index = src.score_index()
            for key, rec in recs.items():
                if have_t.get(key) != rec:
                    dst.put_transcode(rec)
                    have_t[key] = rec
                    copied_t += 1
            rows = [r for k, rs in index.items() for r in rs if r not in have_s.get(k, [])]
            dst.put_scores(rows)
            for r in rows:
                have_s.setdefault((r.item, r.item_sha, r.condition, r.audio_sha, r.metric, r.metric_key), []).append(r)
            copied_s += len(rows)
            out.append({"shard": f"{s.index}/{s.count}", "folder": s.dir.relative_to(lay.root).as_posix(),
                        "started": m.get("started"), "finished": m.get("finished"),
                        "command": _last(m).get("command"), "executor": m.get("executor"),
                        "transcode_records": len(recs), "score_rows": sum(len(v) for v in index.values())})
    notes.append(f"merged {len(shards)} shards: {copied_t} transcode record(s) and {copied_s} score row(s) copied into "
                 f"{lay.store.name}" + ("" if copied_t or copied_s else " (nothing new: merged before)"))
    return out


# ---------------------------------------------------------------------------------------------
# what must be equal


def fingerprint(meta: dict) -> dict[str, str]:
    """What a run.json says about *what* was computed, flattened to ``key -> canonical JSON``."""
    cfg = {k: v for k, v in (meta.get("config") or {}).items() if k not in LOCAL_KEYS}
    codecs = {n: {k: c.get(k) for k in ("spec", "options", "available", "version", "settings", "operating_points")}
              for n, c in (meta.get("codecs") or {}).items()}
    metrics = {n: {k: c.get(k) for k in ("spec", "options", "version", "mode")}
               for n, c in (meta.get("metrics") or {}).items()}
    d = {"config": cfg, "conditions": meta.get("conditions"), "codecs": codecs, "metrics": metrics,
         "metrics unavailable": sorted(meta.get("metrics_skipped") or {}), "corpus content": meta.get("corpus_hash"),
         "corpus preparation": meta.get("corpus_preparation_version"), "versions": meta.get("versions")}
    flat: dict[str, str] = {}
    _flatten(json.loads(json.dumps(d, default=str)), "", flat)
    return flat


def difference(shard: dict[str, str], here: dict[str, str]) -> str:
    """The first difference, in words (empty if none); options before what follows from them."""
    order = ("config", "codecs", "metrics", "conditions", "corpus", "versions")
    for k in sorted(set(shard) | set(here), key=lambda k: (next((i for i, o in enumerate(order) if k.startswith(o)),
                                                                len(order)), k)):
        a, b = shard.get(k, "(none)"), here.get(k, "(none)")
        if a != b:
            return f"{k} is {_short(a)} there but {_short(b)} here"
    return ""


def _flatten(v: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(v, dict) and v:
        for k, x in v.items():
            _flatten(x, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = json.dumps(v, sort_keys=True)


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _read(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _last(meta: dict) -> dict:
    inv = meta.get("invocations") or [{}]
    return inv[-1] or {}
