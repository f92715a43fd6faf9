"""The MUSHRA test folder contract: ``mushra.yaml`` plus the audio of every trial.

    tests/<test>/
      mushra.yaml                          TestConfig (this module)
      audio/<trial>/<condition>.wav        16-bit PCM WAV, the same rate/length/channels per trial
      ratings.sqlite                       the ratings store (listening_test.storage)

Condition ids (shared with the analysis and the reports): ``reference`` (the hidden reference),
``anchor_lp35`` / ``anchor_lp70`` (ITU-R BS.1534-3 low and mid anchors) and ``<codec>@<kbps:g>``.
Every path in the file is relative to the test folder and may not escape it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONFIG_NAME = "mushra.yaml"
DB_NAME = "ratings.sqlite"

HIDDEN_REFERENCE = "reference"
LOW_ANCHOR = "anchor_lp35"
MID_ANCHOR = "anchor_lp70"
ANCHORS = {LOW_ANCHOR: 3500.0, MID_ANCHOR: 7000.0}
#: BS.1534-3 §5.1 recommends no more than 12 signals under test per trial (hidden reference and
#: anchors included; the open reference is not counted).
MAX_SIGNALS = 12
MAX_CLIP_S = 12.0
#: the continuous quality scale of BS.1534-3 §5.3: five equal intervals
BANDS = [(0, 20, "Bad"), (20, 40, "Poor"), (40, 60, "Fair"), (60, 80, "Good"), (80, 100, "Excellent")]


class ConfigError(ValueError):
    """A MUSHRA test folder or config that cannot be used (message says what and where)."""


def condition_id(codec: str, kbps: float | None) -> str:
    """'reference', 'anchor_lp35', 'anchor_lp70' or '<codec>@<kbps:g>'."""
    if codec in (HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR):
        return codec
    return f"{codec}@{float(kbps):g}"


def parse_condition(cond: str) -> tuple[str, float]:
    """Inverse of condition_id: (codec, kbps) with NaN kbps for the reference and anchors."""
    if "@" not in cond:
        return cond, math.nan
    codec, kbps = cond.rsplit("@", 1)
    return codec, float(kbps)


@dataclass
class Condition:
    id: str
    codec: str
    kbps: float | None
    path: str  # relative to the test folder


@dataclass
class Trial:
    id: str
    item: str
    category: str
    reference: str  # relative path of the open reference
    conditions: list[Condition]
    clip_start_s: float = 0.0
    duration_s: float = 0.0
    sample_rate: int = 48000
    channels: int = 1
    loudness_lufs: float = -26.0

    def condition(self, cid: str) -> Condition:
        for c in self.conditions:
            if c.id == cid:
                return c
        raise KeyError(f"trial {self.id}: no condition {cid!r}")


@dataclass
class TestConfig:
    name: str
    trials: list[Trial]
    training_trial: str = ""  # id of the trial replayed (unrecorded) as training
    seed: int = 0  # base of the per-listener randomisation
    loudness_lufs: float = -26.0
    max_clip_s: float = MAX_CLIP_S
    source_run: str = ""
    created: str = ""
    instructions: str = ""
    notes: list[str] = field(default_factory=list)

    def trial(self, tid: str) -> Trial:
        for t in self.trials:
            if t.id == tid:
                return t
        raise KeyError(f"no trial {tid!r} in test {self.name!r}")

    @property
    def trial_ids(self) -> list[str]:
        return [t.id for t in self.trials]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TestConfig":
        try:
            trials = [
                Trial(**{**t, "conditions": [Condition(**c) for c in t["conditions"]]}) for t in d["trials"]
            ]
            return cls(**{**d, "trials": trials})
        except (KeyError, TypeError) as e:
            raise ConfigError(f"malformed MUSHRA config: {e}") from e


def safe_path(test_dir: Path, rel: str) -> Path:
    """Resolve ``rel`` inside ``test_dir``; refuse absolute paths and anything escaping it
    (``..``, symlinks pointing out), so a config can never make the server read other files."""
    root = Path(test_dir).resolve()
    p = Path(rel)
    if p.is_absolute():
        raise ConfigError(f"path {rel!r} in the config must be relative to the test folder")
    full = (root / p).resolve()
    if full != root and root not in full.parents:
        raise ConfigError(f"path {rel!r} in the config escapes the test folder {root}")
    return full


def save_config(cfg: TestConfig, test_dir: Path) -> Path:
    import yaml

    path = Path(test_dir) / CONFIG_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
    tmp.replace(path)
    return path


def load_config(test_dir: Path) -> TestConfig:
    """Read ``mushra.yaml`` (or ``mushra.json``) and check it against the folder."""
    import yaml

    test_dir = Path(test_dir)
    yml, js = test_dir / CONFIG_NAME, test_dir / "mushra.json"
    if yml.is_file():
        data = yaml.safe_load(yml.read_text())
    elif js.is_file():
        data = json.loads(js.read_text())
    else:
        raise ConfigError(
            f"{test_dir} is not a MUSHRA test folder (no {CONFIG_NAME}); build one with "
            "`evalsuite mushra build runs/<name> -o <folder>`"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{yml}: expected a mapping at the top level")
    cfg = TestConfig.from_dict(data)
    validate_config(cfg, test_dir, check_audio=False)
    return cfg


def validate_config(cfg: TestConfig, test_dir: Path, check_audio: bool = True) -> None:
    """The BS.1534-3 rules a test must satisfy; raises ConfigError listing every problem.

    Structure: unique trial ids, a hidden reference and the 3.5 kHz low anchor in every trial,
    at most MAX_SIGNALS rated signals. With ``check_audio`` also: every file exists inside the
    folder, and all signals of a trial share sample rate, length and channel count, at most
    ``max_clip_s`` long.
    """
    problems: list[str] = []
    if not cfg.trials:
        problems.append("the test has no trials")
    seen: set[str] = set()
    for t in cfg.trials:
        if t.id in seen:
            problems.append(f"duplicate trial id {t.id!r}")
        seen.add(t.id)
        ids = [c.id for c in t.conditions]
        if len(set(ids)) != len(ids):
            problems.append(f"trial {t.id}: duplicate condition ids {ids}")
        if HIDDEN_REFERENCE not in ids:
            problems.append(f"trial {t.id}: no hidden reference (condition '{HIDDEN_REFERENCE}')")
        if LOW_ANCHOR not in ids:
            problems.append(f"trial {t.id}: no 3.5 kHz low anchor ('{LOW_ANCHOR}'), mandatory in BS.1534-3")
        if len(ids) > MAX_SIGNALS:
            problems.append(
                f"trial {t.id}: {len(ids)} signals under test; BS.1534-3 allows at most {MAX_SIGNALS} "
                "(hidden reference and anchors included): choose fewer codecs or bitrates"
            )
        paths = [t.reference] + [c.path for c in t.conditions]
        for rel in paths:
            try:
                safe_path(test_dir, rel)
            except ConfigError as e:
                problems.append(f"trial {t.id}: {e}")
        if check_audio and not problems:
            problems += _check_trial_audio(t, test_dir, cfg.max_clip_s)
    if cfg.training_trial and cfg.training_trial not in seen:
        problems.append(f"training_trial {cfg.training_trial!r} is not a trial id")
    if problems:
        raise ConfigError("invalid MUSHRA test:\n  " + "\n  ".join(problems))


def _check_trial_audio(t: Trial, test_dir: Path, max_clip_s: float) -> list[str]:
    import soundfile as sf

    problems = []
    shapes = {}
    for name, rel in [("reference", t.reference)] + [(c.id, c.path) for c in t.conditions]:
        p = safe_path(test_dir, rel)
        if not p.is_file():
            problems.append(f"trial {t.id}: {name}: missing file {rel}")
            continue
        info = sf.info(str(p))
        shapes[name] = (info.samplerate, info.frames, info.channels)
        if info.frames > max_clip_s * info.samplerate + 1:
            problems.append(f"trial {t.id}: {name} is {info.frames / info.samplerate:.2f} s > {max_clip_s:g} s")
    if len(set(shapes.values())) > 1:
        detail = ", ".join(f"{k}: {r} Hz/{n} samples/{c} ch" for k, (r, n, c) in shapes.items())
        problems.append(f"trial {t.id}: signals differ in rate, length or channels ({detail})")
    return problems
