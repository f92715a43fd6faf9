"""Name -> class lookup shared by the codec and metric registries."""
from __future__ import annotations

import importlib


def load_class(registry: dict[str, str], name: str, base: type, kind: str) -> type:
    """A registered name, or ``package.module:Class`` naming a subclass of ``base``."""
    spec = registry.get(name) or (name if ":" in name else None)
    if spec is None:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(registry)} (or package.module:Class)")
    mod, _, cls = spec.partition(":")
    if not mod or not cls or ":" in cls:
        raise KeyError(f"{kind} {name!r}: expected package.module:Class")
    obj = getattr(importlib.import_module(mod), cls)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise KeyError(f"{name!r} is not a {base.__name__} subclass")
    return obj


def plugin_label(spec: str) -> str:
    """A file-name-safe label for a codec spec (``pkg.mod:Class`` -> ``Class``)."""
    return spec.rsplit(":", 1)[-1] if ":" in spec else spec
