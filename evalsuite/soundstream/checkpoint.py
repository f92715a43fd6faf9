"""Model checkpoints: one ``.safetensors`` file (weights and codebooks) plus the JSON config
beside it (same name, ``.json``)."""
from __future__ import annotations

from pathlib import Path

from .config import SoundStreamConfig
from .model import SoundStream


def config_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_model(model: SoundStream, path: str | Path) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={"format": "evalsuite-soundstream", "config": model.cfg.name})
    tmp.replace(path)
    model.cfg.save(config_path(path))
    return path


def load_model(path: str | Path, map_location: str = "cpu") -> SoundStream:
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SoundStream checkpoint {path} not found")
    cfg_file = config_path(path)
    if not cfg_file.is_file():
        raise FileNotFoundError(f"SoundStream checkpoint {path} has no config beside it ({cfg_file.name})")
    model = SoundStream(SoundStreamConfig.load(cfg_file))
    state = load_file(str(path), device=map_location)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


__all__ = ["save_model", "load_model", "config_path"]
