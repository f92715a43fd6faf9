"""The MUSHRA test folder contract: ``mushra.yaml`` plus the audio of every trial.

    tests/<test>/
      mushra.yaml                          TestConfig (this module)
      audio/<trial>/<condition>.flac       16-bit FLAC, mono, one rate/length per trial
      audio/p01/<condition>.flac           training trials (items not rated afterwards)
      ratings.sqlite                       the ratings store (listening_test.storage)

Condition ids are those of :mod:`evalsuite.conditions` (``reference`` for the hidden reference,
``anchor_lp35`` / ``anchor_lp70`` for the BS.1534-3 anchors, ``<codec>@<kbps:g>``). Every path in
the file is relative to the test folder and may not escape it. Nothing in the folder is served
to listeners except the audio, under opaque per-session names; the blinding (which letter is
which condition) is drawn per listener and kept in the ratings database only.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalsuite.conditions import LOW_ANCHOR, MID_ANCHOR, REFERENCE, Condition

CONFIG_NAME = "mushra.yaml"
DB_NAME = "ratings.sqlite"

#: the old name of the hidden reference (the definitions live in evalsuite.conditions and evalsuite.anchors)
HIDDEN_REFERENCE = REFERENCE
#: BS.1534-3 §5.1 recommends no more than 12 signals under test per trial (hidden reference and
#: anchors included; the open reference is not counted).
MAX_SIGNALS = 12
MAX_CLIP_S = 12.0
#: BS.1534-3 excerpts are typically about 10 s; much shorter ones give listeners little to judge
#: (and make the anchors easy to spot), so the build warns below this length.
SHORT_EXCERPT_S = 5.0
#: the continuous quality scale of BS.1534-3 §5.3: five equal intervals
BANDS = [(0, 20, "Bad"), (20, 40, "Poor"), (40, 60, "Fair"), (60, 80, "Good"), (80, 100, "Excellent")]
SCREENING_KINDS = ("none", "huggins", "antiphase")
PROLIFIC_COMPLETE_URL = "https://app.prolific.com/submissions/complete"


class ConfigError(ValueError):
    """A MUSHRA test folder or config that cannot be used (message says what and where)."""


def parse_condition(cond: str) -> tuple[str, float]:
    """(codec, kbps) of a condition id, NaN kbps for the reference and anchors (kept for
    listening_test.analysis; new code uses evalsuite.conditions.Condition.parse)."""
    c = Condition.parse(cond)
    return c.codec, c.requested_kbps


@dataclass
class TrialCondition:
    """One signal of a trial as stored in the test folder."""

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
    conditions: list[TrialCondition]
    clip_start_s: float = 0.0
    duration_s: float = 0.0
    sample_rate: int = 48000
    channels: int = 1
    loudness_lufs: float = -26.0

    def condition(self, cid: str) -> TrialCondition:
        for c in self.conditions:
            if c.id == cid:
                return c
        raise KeyError(f"trial {self.id}: no condition {cid!r}")

    @property
    def condition_ids(self) -> list[str]:
        return [c.id for c in self.conditions]


@dataclass
class ProlificSettings:
    """A Prolific study: listeners arrive with ?PROLIFIC_PID=..&STUDY_ID=..&SESSION_ID=.. and are
    sent back to ``completion_url?cc=<code>`` at the end (or with the screen-out code)."""

    completion_code: str = ""
    screenout_code: str = ""
    study_id: str = ""  # when set, links of other studies are refused
    completion_url: str = PROLIFIC_COMPLETE_URL

    @property
    def enabled(self) -> bool:
        return bool(self.completion_code)


@dataclass
class TestConfig:
    __test__ = False  # not a pytest test class

    name: str
    trials: list[Trial]
    training: list[Trial] = field(default_factory=list)  # practice trials, grades discarded
    training_trial: str = ""  # legacy configs: a rated trial replayed as training
    seed: int = 0  # item choice at build time only; never used for blinding
    trials_per_listener: int = 0  # K of N trials per listener, balanced; 0 = every trial
    require_play: bool = False  # each signal must be played before the trial can be submitted
    lock_to_playing: bool = False  # only the slider of the signal being heard can be moved
    screening: str = "none"  # headphone screening before the test: none | huggins | antiphase
    prolific: ProlificSettings = field(default_factory=ProlificSettings)
    loudness_lufs: float = -26.0
    max_clip_s: float = MAX_CLIP_S
    source_run: str = ""
    created: str = ""
    instructions: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def trial(self, tid: str) -> Trial:
        for t in list(self.trials) + list(self.training):
            if t.id == tid:
                return t
        raise KeyError(f"no trial {tid!r} in test {self.name!r}")

    @property
    def trial_ids(self) -> list[str]:
        return [t.id for t in self.trials]

    @property
    def training_trials(self) -> list[Trial]:
        """The practice trials: the dedicated ones, or (legacy) the rated trial named."""
        if self.training:
            return list(self.training)
        return [self.trial(self.training_trial)] if self.training_trial else []

    @property
    def k(self) -> int:
        """Rated trials per listener."""
        n = len(self.trials)
        return n if self.trials_per_listener <= 0 else min(n, self.trials_per_listener)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TestConfig:
        def trial(t: dict) -> Trial:
            return Trial(**{**t, "conditions": [TrialCondition(**c) for c in t["conditions"]]})

        try:
            return cls(**{**d, "trials": [trial(t) for t in d["trials"]],
                          "training": [trial(t) for t in d.get("training") or []],
                          "prolific": ProlificSettings(**(d.get("prolific") or {}))})
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


def _trial_problems(t: Trial, test_dir: Path) -> list[str]:
    problems = []
    ids = t.condition_ids
    if len(set(ids)) != len(ids):
        problems.append(f"trial {t.id}: duplicate condition ids {ids}")
    for cid in ids:
        try:
            Condition.parse(cid)
        except ValueError as e:
            problems.append(f"trial {t.id}: {e}")
    if REFERENCE not in ids:
        problems.append(f"trial {t.id}: no hidden reference (condition '{REFERENCE}')")
    if LOW_ANCHOR not in ids:
        problems.append(f"trial {t.id}: no 3.5 kHz low anchor ('{LOW_ANCHOR}'), mandatory in BS.1534-3")
    if MID_ANCHOR not in ids:
        problems.append(f"trial {t.id}: no 7 kHz mid anchor ('{MID_ANCHOR}'), mandatory in BS.1534-3 "
                        "(the post-screening rule on the mid anchor needs it)")
    if len(ids) > MAX_SIGNALS:
        problems.append(
            f"trial {t.id}: {len(ids)} signals under test; BS.1534-3 allows at most {MAX_SIGNALS} "
            "(hidden reference and anchors included): choose fewer codecs or bitrates"
        )
    for rel in [t.reference] + [c.path for c in t.conditions]:
        try:
            safe_path(test_dir, rel)
        except ConfigError as e:
            problems.append(f"trial {t.id}: {e}")
    return problems


def validate_config(cfg: TestConfig, test_dir: Path, check_audio: bool = True) -> None:
    """The BS.1534-3 rules a test must satisfy; raises ConfigError listing every problem.

    Structure: unique trial ids; the hidden reference and both anchors (3.5 and 7 kHz) in every
    trial; at most MAX_SIGNALS rated signals; a training that presents every condition of the
    test; a valid subset size, screening and Prolific set-up. With ``check_audio`` also: every
    file exists inside the folder, and all signals of a trial share sample rate, length and
    channel count, at most ``max_clip_s`` long.
    """
    problems: list[str] = []
    if not cfg.trials:
        problems.append("the test has no trials")
    seen: set[str] = set()
    for t in list(cfg.trials) + list(cfg.training):
        if t.id in seen:
            problems.append(f"duplicate trial id {t.id!r}")
        seen.add(t.id)
        problems += _trial_problems(t, test_dir)
    rated_ids = set(cfg.trial_ids)
    if cfg.training_trial and cfg.training_trial not in rated_ids:
        problems.append(f"training_trial {cfg.training_trial!r} is not a trial id")
    if not cfg.training_trials and cfg.trials:
        problems.append("no training trial: BS.1534-3 makes training mandatory (rebuild the test)")
    used = {c for t in cfg.trials for c in t.condition_ids}
    for t in cfg.training_trials:
        missing = sorted(used - set(t.condition_ids))
        if missing:
            problems.append(f"training trial {t.id} lacks {missing}: training must present every condition")
    if not 0 <= cfg.trials_per_listener <= len(cfg.trials):
        problems.append(f"trials_per_listener {cfg.trials_per_listener} must be between 0 (all) and {len(cfg.trials)}")
    if cfg.screening not in SCREENING_KINDS:
        problems.append(f"screening {cfg.screening!r}: choose one of {', '.join(SCREENING_KINDS)}")
    p = cfg.prolific
    if p.enabled and not p.completion_url.startswith("https://") and not p.completion_url.startswith("http://"):
        problems.append(f"prolific.completion_url {p.completion_url!r} must be an http(s) URL")
    if p.screenout_code and not p.enabled:
        problems.append("prolific.screenout_code without a completion_code")
    if check_audio and not problems:
        for t in list(cfg.trials) + list(cfg.training):
            problems += _check_trial_audio(t, test_dir, cfg.max_clip_s)
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


def short_excerpt_warning(trials: list[Trial]) -> str | None:
    """One warning naming the excerpts much shorter than BS.1534's ~10 s, or None."""
    short = [t for t in trials if t.duration_s < SHORT_EXCERPT_S]
    if not short:
        return None
    which = ", ".join(f"{t.id} {t.item} {t.duration_s:.2f} s" for t in short)
    return (f"{len(short)} excerpt(s) shorter than {SHORT_EXCERPT_S:g} s ({which}); BS.1534-3 excerpts are typically "
            "about 10 s: use longer items, or a longer --max-clip-s if the items allow")
