"""``evalsuite soundstream ...``: train a paper-config model, inspect a model, check the Lyra v2
port against the TFLite reference."""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("soundstream", help="SoundStream in PyTorch: train, info, compare the Lyra v2 port with TFLite",
                       description="SoundStream (Zeghidour et al. 2021) in PyTorch.")
    ss = p.add_subparsers(dest="ss_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    t = ss.add_parser("train", help="train a paper-config (or tiny) model on a folder of audio",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                      description="Train SoundStream with the paper's losses (multi-scale mel reconstruction, hinge "
                                  "adversarial with waveform + STFT discriminators, feature matching x100), quantizer "
                                  "dropout and EMA codebooks. Writes OUT/model.safetensors + OUT/model.json (usable as "
                                  "--codec-opt soundstream.checkpoint=OUT/model.safetensors), OUT/train_state.pt "
                                  "(for --resume) and OUT/metrics.jsonl.")
    t.add_argument("--config", default="paper", help="paper, tiny, or a model config .json")
    t.add_argument("--data", required=True, help="folder of training audio (wav/flac/ogg, searched recursively)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--steps", type=int, default=1000, help="total training steps (continues to this count on --resume)")
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--segment-s", type=float, default=1.0, help="training segment length in seconds")
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--channels", type=int, help="override C")
    t.add_argument("--emb-dim", type=int, help="override D")
    t.add_argument("--quantizers", type=int, help="override N_q")
    t.add_argument("--no-adversarial", action="store_true", help="reconstruction loss only")
    t.add_argument("--gan-start", type=int, default=0, help="step from which adversarial losses are used")
    t.add_argument("--no-quantizer-dropout", action="store_true")
    t.add_argument("--ckpt-every", type=int, default=500)
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    t.set_defaults(func=_train)

    i = ss.add_parser("info", help="describe a model: preset name, a checkpoint, or 'lyra_v2' (from the model files)")
    i.add_argument("model", help="paper | tiny | lyra_v2 | PATH.safetensors")
    i.add_argument("--data", help="data location (for lyra_v2)")
    i.set_defaults(func=_info)

    c = ss.add_parser("compare-lyra", help="PyTorch port vs TFLite on the corpus speech: identical codes, SNR, PESQ-WB")
    c.add_argument("--data", help="data location (default $EVALSUITE_DATA)")
    c.add_argument("--kbps", default="3.2,6,9.2")
    c.add_argument("--json", help="also write the rows as JSON here")
    c.set_defaults(func=_compare)


def _train(a) -> int:
    from .trainer import TrainConfig, Trainer

    overrides = {k: v for k, v in (("channels", a.channels), ("emb_dim", a.emb_dim), ("num_quantizers", a.quantizers))
                 if v is not None}
    tc = TrainConfig(data=a.data, out=a.out, model=a.config, model_overrides=overrides, steps=a.steps,
                     batch_size=a.batch_size, segment_s=a.segment_s, lr=a.lr, adversarial=not a.no_adversarial,
                     gan_start=a.gan_start, quantizer_dropout=not a.no_quantizer_dropout, ckpt_every=a.ckpt_every,
                     log_every=a.log_every, seed=a.seed, device=a.device)
    tr = Trainer(tc)
    if a.resume:
        if tr.resume():
            print(f"resumed at step {tr.step}", file=sys.stderr)
        else:
            print(f"nothing to resume in {a.out}; starting fresh", file=sys.stderr)
    elif (tr.out / "train_state.pt").is_file():
        raise FileExistsError(f"{a.out} already holds a training run; pass --resume or use another --out")
    tr.run()
    print(f"checkpoint: {tr.out / 'model.safetensors'} (+ model.json); metrics: {tr.out / 'metrics.jsonl'}")
    return 0


def _load(name: str, data: str | None):
    from .config import PRESETS
    from .model import SoundStream

    if name == "lyra_v2":
        from ..data import data_root, lyra_model_dir
        from .lyra_port import load_lyra_v2

        return load_lyra_v2(lyra_model_dir(data_root(data)))
    if name in PRESETS:
        return SoundStream(PRESETS[name]())
    from .checkpoint import load_model

    return load_model(name)


def _info(a) -> int:
    m = _load(a.model, a.data)
    cfg = m.cfg
    n = sum(p.numel() for p in m.parameters())
    print(json.dumps({**cfg.to_dict(), "hop": cfg.hop, "frame_rate": cfg.frame_rate,
                      "kbps_per_quantizer": cfg.kbps_per_quantizer,
                      "max_kbps": cfg.kbps_per_quantizer * cfg.num_quantizers, "parameters": n}, indent=2))
    return 0


def _compare(a) -> int:
    from ..data import data_root, lyra_model_dir
    from .compare import compare, rows_as_dicts, summary

    root = data_root(a.data)
    items = sorted(p for p in (root / "corpus" / "speech").iterdir() if p.suffix in (".wav", ".flac", ".ogg"))
    rows = compare(lyra_model_dir(root), items, tuple(float(k) for k in a.kbps.split(",")))
    print(summary(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows_as_dicts(rows), f, indent=1)
    return 0
