"""Options of codecs and metrics: declared with defaults on the class, given on the command line
as ``--codec-opt name.key=value`` / ``--metric-opt name.key=value`` (strings), validated and
coerced to the default's type. Unknown options are an error, never ignored."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def resolve_options(kind: str, name: str, declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(declared)
    if unknown:
        raise ValueError(f"{kind} {name!r}: unknown option(s) {sorted(unknown)}; known: {sorted(declared) or 'none'}")
    out = {}
    for k, default in declared.items():
        v = given.get(k, default)
        try:
            out[k] = coerce(v, default)
        except ValueError as e:
            raise ValueError(f"{kind} {name!r}: option {k}={v!r}: {e}") from None
    return out


def coerce(value: Any, default: Any) -> Any:
    """Options from the command line arrive as strings; coerce to the default's type."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean (true/false), got {value!r}")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {value!r}")
        return v
    return value


def options_hash(opts: dict[str, Any]) -> str:
    """A short stable digest of options (part of result keys: other options, other results)."""
    return hashlib.sha256(json.dumps(opts, sort_keys=True, default=str).encode()).hexdigest()[:16]
