"""The grid a run computes: codecs (validated and instantiated before any work), the conditions
they run at, and the metrics that score them.

Bitrates are either listed (``--kbps 3,6,12``: exactly those requests, each mapped by the codec
to the mode it will use, with a note) or the codecs' native operating points
(``--kbps native`` or ``native:3-12`` for those within 3-12 kbps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .conditions import Condition, Kind
from .context import RunContext
from .options import options_hash


class GridError(ValueError):
    """A codec, metric, option or bitrate request that cannot be used (one-line message)."""


def _missing_types() -> tuple[type[BaseException], ...]:
    from .codecs.base import CodecUnavailable
    from .data import DataError
    from .metrics.base import MetricUnavailable

    return (CodecUnavailable, MetricUnavailable, DataError, ImportError, FileNotFoundError)


@dataclass(frozen=True)
class KbpsRequest:
    values: tuple[float, ...] = ()
    native: bool = False
    lo: float = 0.0
    hi: float = math.inf

    @classmethod
    def parse(cls, text: str) -> KbpsRequest:
        t = text.strip().lower()
        if t.startswith("native"):
            rest = t[len("native"):]
            if not rest:
                return cls(native=True)
            if not rest.startswith(":") or "-" not in rest:
                raise GridError(f"--kbps {text!r}: use 'native' or 'native:LOW-HIGH' (e.g. native:3-12)")
            lo, hi = (_number(v, text, allow_zero=True) for v in rest[1:].split("-", 1))
            if lo > hi:
                raise GridError(f"--kbps {text!r}: the range must go from low to high")
            return cls(native=True, lo=lo, hi=hi)
        vals = tuple(_number(v, text) for v in t.split(",") if v.strip())
        if not vals:
            raise GridError("--kbps needs at least one bitrate (e.g. 3,6,12) or 'native'")
        return cls(values=tuple(dict.fromkeys(vals)))

    def describe(self) -> str:
        if not self.native:
            return ",".join(f"{v:g}" for v in self.values)
        return "native" + (f":{self.lo:g}-{self.hi:g}" if math.isfinite(self.hi) or self.lo > 0 else "")


def _number(v: str, text: str, allow_zero: bool = False) -> float:
    try:
        x = float(v)
    except ValueError:
        raise GridError(f"--kbps expects numbers like 3,6,12 or 'native'; got {text!r}") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise GridError(f"--kbps values must be positive finite numbers; got {v.strip()!r}")
    return x


@dataclass
class CodecEntry:
    """One codec of the run: its spec (registry name or module:Class), name, options, instance."""

    spec: str
    name: str
    opts: dict[str, Any]
    instance: Any | None
    available: bool
    reason: str
    key: str = ""  # settings key: part of every transcode record's key


@dataclass
class MetricEntry:
    spec: str
    name: str
    opts: dict[str, Any]
    cls: type
    instance: Any
    key: str
    outputs: tuple[str, ...]
    applies_to: tuple[str, ...] | None


@dataclass
class Grid:
    codecs: list[CodecEntry]
    conditions: list[tuple[Condition, CodecEntry | None]]  # None for the reference and anchors
    metrics: list[MetricEntry]
    metrics_skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_codecs(specs: tuple[str, ...], codec_opts: dict[str, dict[str, Any]], ctx: RunContext) -> list[CodecEntry]:
    from .codecs import codec_class
    from .codecs.transcode import TRANSCODE_VERSION

    MISSING = _missing_types()
    out: list[CodecEntry] = []
    names: dict[str, str] = {}
    for spec in specs:
        try:
            cls = codec_class(spec)
        except (KeyError, ImportError, AttributeError, ValueError) as e:
            raise GridError(_spec_error("codec", spec, e)) from None
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise GridError(f"codec {spec!r}: the class needs a 'name' (used for rows and folders)")
        if name in names:
            raise GridError(f"codecs {names[name]!r} and {spec!r} are both named {name!r}")
        names[name] = spec
        opts = dict(codec_opts.get(spec, {}) or codec_opts.get(name, {}))
        ok, why = cls.availability(ctx, opts)
        inst, key = None, ""
        try:
            inst = cls(ctx, **opts)  # validates options up front (unknown options are an error)
            if ok:
                from .fingerprint import code_fingerprint

                code = code_fingerprint(cls, "evalsuite.codecs.transcode", "evalsuite.bitstream")
                key = options_hash({"spec": spec, "name": name, "settings": inst.settings(), "version": inst.version(),
                                    "transcode": TRANSCODE_VERSION, "code": code})
        except ValueError as e:
            raise GridError(str(e)) from None
        except MISSING as e:  # a library, program or model file is missing: the how-to is in the message
            ok, why = False, f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - a bug in the codec is not "unavailable": stop and say so
            raise GridError(f"codec {name!r} failed to initialise: {type(e).__name__}: {e}") from e
        out.append(CodecEntry(spec, name, opts, inst, ok, why, key))
    unknown_opts = set(codec_opts) - set(names) - set(names.values())
    if unknown_opts:
        raise GridError(f"--codec-opt names {sorted(unknown_opts)}, which are not in --codecs")
    return out


def build_conditions(codecs: list[CodecEntry], kbps: KbpsRequest, anchors: bool) -> tuple[list, list[str]]:
    conds: list[tuple[Condition, CodecEntry | None]] = []
    notes: list[str] = []
    if anchors:
        from .anchors import anchor_names

        conds += [(Condition(a), None) for a in anchor_names()]
    for c in codecs:
        if kbps.native:
            if c.instance is None:
                notes.append(f"{c.name}: unavailable, so its native operating points are unknown ({c.reason})")
                continue
            points = [p for p in c.instance.operating_points() if kbps.lo - 1e-9 <= p <= kbps.hi + 1e-9]
            if not points:
                notes.append(f"{c.name}: no native operating point in {kbps.describe()}")
            conds += [(Condition(c.name, p), c) for p in points]
        else:
            conds += [(Condition(c.name, k), c) for k in kbps.values]
    return conds, notes


def anchor_key(name: str) -> str:
    from .anchors import get_anchor
    from .codecs.transcode import TRANSCODE_VERSION
    from .fingerprint import code_fingerprint

    a = get_anchor(name)
    return options_hash({"anchor": name, "spec": a.spec(), "transcode": TRANSCODE_VERSION,
                         "code": code_fingerprint(type(a))})


def build_metrics(specs: tuple[str, ...] | None, metric_opts: dict[str, dict[str, Any]], ctx: RunContext
                  ) -> tuple[list[MetricEntry], dict[str, str]]:
    from .metrics import metric_class, metric_names

    explicit = specs is not None
    out, skipped = [], {}
    for spec in (specs if explicit else tuple(metric_names())):
        try:
            cls = metric_class(spec)
        except (KeyError, ImportError, AttributeError, ValueError) as e:
            raise GridError(_spec_error("metric", spec, e)) from None
        name = cls.info.name
        opts = dict(metric_opts.get(spec, {}) or metric_opts.get(name, {}))
        ok, why = cls.availability(ctx, opts)
        if not ok:
            if explicit:
                raise GridError(f"metric {name!r} unavailable: {why}")
            skipped[name] = why
            continue
        try:
            inst = cls(ctx, **opts)
            info = inst.describe()
        except ValueError as e:
            raise GridError(str(e)) from None
        except _missing_types() as e:
            if explicit:
                raise GridError(f"metric {name!r} unavailable: {type(e).__name__}: {e}") from None
            skipped[name] = f"{type(e).__name__}: {e}"
            continue
        except Exception as e:  # noqa: BLE001 - a bug in the metric: stop and say so
            raise GridError(f"metric {name!r} failed to initialise: {type(e).__name__}: {e}") from e
        from .fingerprint import code_fingerprint

        code = code_fingerprint(cls, "evalsuite.metrics.checks", "evalsuite.audio")
        key = options_hash({"spec": spec, "opts": inst.opts, "version": info.version, "mode": info.mode, "code": code})
        out.append(MetricEntry(spec, name, inst.opts, cls, inst, key, info.output_names, info.applies_to))
    known = {m.spec for m in out} | {m.name for m in out} | set(skipped)
    unknown_opts = set(metric_opts) - known
    if unknown_opts:
        raise GridError(f"--metric-opt names {sorted(unknown_opts)}, which are not among the metrics run")
    return out, skipped


def check_applicable(metrics: list[MetricEntry], categories: set[str], explicit: bool) -> None:
    """An explicitly requested metric that applies to no item of the corpus is an error, before
    any work (it would silently produce no rows)."""
    if not explicit:
        return
    for m in metrics:
        if m.applies_to is not None and not (set(m.applies_to) & categories):
            cats = ", ".join(sorted(categories)) or "none"
            raise GridError(
                f"--metrics {m.name} applies to {', '.join(m.applies_to)} items, but this corpus has only {cats}. "
                f"For a folder of speech files pass --category clean_speech (or put them in a clean_speech/ "
                f"sub-folder); in a corpus CSV set the 'category' column")


def _spec_error(kind: str, spec: str, e: BaseException) -> str:
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else f"unknown {kind} {spec!r}"
    if ":" in spec:
        mod, _, cls = spec.partition(":")
        if isinstance(e, ModuleNotFoundError):
            return (f"{kind} {spec!r}: cannot import module {mod!r} ({e}); run from the folder that holds it "
                    "or add that folder to PYTHONPATH")
        if isinstance(e, AttributeError):
            return f"{kind} {spec!r}: module {mod!r} has no class {cls!r}"
    return f"{kind} {spec!r}: {type(e).__name__}: {e}"


def is_codec_condition(c: Condition) -> bool:
    return c.kind is Kind.CODEC
