"""Training: a tiny config learns to reconstruct one clip on CPU with the full recipe (quantiser
dropout, multi-scale mel, hinge adversarial + feature matching), and runs resume."""
from __future__ import annotations

import json

import pytest
import torch

from evalsuite.soundstream.checkpoint import load_model
from evalsuite.soundstream.losses import MultiScaleMel
from evalsuite.soundstream.trainer import TrainConfig, Trainer

CLIP = "LJ001-0002.flac"


@pytest.fixture(scope="module")
def clip_dir(data_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    (d / CLIP).symlink_to(data_dir / "train" / "ljspeech-24k" / CLIP)
    return d


def _config(clip_dir, out, steps):
    return TrainConfig(data=str(clip_dir), out=str(out), model="tiny", steps=steps, batch_size=2, segment_s=0.3,
                       lr=2e-3, gan_start=120, wave_channels=2, stft_channels=2, log_every=25, ckpt_every=100,
                       progress=False)


def _eval_loss(model, trainer) -> float:
    """Reconstruction loss on a fixed 1 s stretch of the clip, all quantisers."""
    x = torch.from_numpy(trainer.data.clips[0][: 320 * 75])[None, None]
    model.eval()
    with torch.no_grad():
        y, _, _ = model(x, model.cfg.num_quantizers)
        return float(MultiScaleMel(model.cfg.sample_rate)(x, y))


@pytest.mark.slow
def test_tiny_model_learns_one_clip(clip_dir, tmp_path):
    torch.manual_seed(0)
    tr = Trainer(_config(clip_dir, tmp_path / "run", 300))
    before = _eval_loss(tr.model, tr)
    history = tr.run()
    after = _eval_loss(load_model(tmp_path / "run" / "model.safetensors"), tr)
    assert after < 0.75 * before, (before, after)
    assert any("adv" in m and "feat" in m and "disc" in m for m in history)  # the GAN losses ran
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 299


def test_resume_continues(clip_dir, tmp_path):
    out = tmp_path / "run"
    Trainer(_config(clip_dir, out, 4)).run()
    tr = Trainer(_config(clip_dir, out, 6))
    assert tr.resume() and tr.step == 4
    tr.run()
    assert tr.step == 6
    assert load_model(out / "model.safetensors").cfg.name == "tiny"


def test_cli_train_help():
    from evalsuite.cli import build_parser

    p = build_parser()
    args = p.parse_args(["soundstream", "train", "--config", "tiny", "--data", "D", "--out", "O", "--steps", "3"])
    assert args.steps == 3 and callable(args.func)
