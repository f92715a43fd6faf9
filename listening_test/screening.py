"""Headphone screening before a crowd test: stimuli generated in code, 3-AFC, 6 trials, pass at
5 correct (the criterion both papers use).

* ``huggins`` (default): Milne et al. (2021), "An online headphone screening test based on
  dichotic pitch", Behav. Res. Methods 53:1551-1562. Three 1 s white-noise intervals; two are
  diotic (the same noise in both ears), the target has the noise's phase inverted (180 deg) in a
  narrow band around 600 Hz (+-6 %) in the right ear only. Over headphones the target holds a
  faint tone (Huggins pitch); each ear alone has no cue, and over loudspeakers the two channels
  mix, so the tone is not heard. Question: which noise contains a faint tone?
* ``antiphase``: Woods et al. (2017), "Headphone screening to facilitate web-based auditory
  experiments", Atten. Percept. Psychophys. 79:2064-2072. Three 1 s 200 Hz tones; one is 6 dB
  softer (the target), one is in antiphase across the channels (left = -right). Over
  loudspeakers the antiphase tone cancels in the air and sounds softest; over headphones the
  -6 dB one does. Question: which tone is the quietest?

Each listener's trials (target position, noise seed) are drawn from the OS random source and
stored with the answers; the stimulus of a trial is a pure function of what is stored.
"""
from __future__ import annotations

import io
import json
import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

RATE = 48000
INTERVAL_S = 1.0
GAP_S = 0.5
N_TRIALS = 6
PASS_MARK = 5
N_CHOICES = 3


@dataclass(frozen=True)
class ScreeningTrial:
    target: int  # 0, 1 or 2: the interval with the cue
    seed: int  # the noise / foil order of this trial


@dataclass(frozen=True)
class ScreeningPlan:
    kind: str
    trials: tuple[ScreeningTrial, ...]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "trials": [asdict(t) for t in self.trials]})

    @classmethod
    def from_json(cls, text: str) -> ScreeningPlan:
        d = json.loads(text)
        return cls(d["kind"], tuple(ScreeningTrial(**t) for t in d["trials"]))


def _ramp(n: int, ramp_s: float, rate: int) -> np.ndarray:
    """Raised-cosine onset and offset (identical on both channels)."""
    m = int(ramp_s * rate)
    env = np.ones(n)
    r = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, m))
    env[:m], env[n - m:] = r, r[::-1]
    return env


class HeadphoneTest(ABC):
    """A 3-AFC headphone check: ``interval`` makes one stereo interval, ``stimulus`` a trial."""

    name: ClassVar[str]
    title: ClassVar[str]
    question: ClassVar[str]
    instructions: ClassVar[str]
    citation: ClassVar[str]

    @abstractmethod
    def intervals(self, trial: ScreeningTrial, rate: int) -> list[np.ndarray]:
        """The three (n, 2) intervals of ``trial``, target at ``trial.target``."""

    def stimulus(self, trial: ScreeningTrial, rate: int = RATE) -> np.ndarray:
        """(n, 2) float audio: interval, gap, interval, gap, interval."""
        gap = np.zeros((int(GAP_S * rate), 2))
        parts = []
        for i, x in enumerate(self.intervals(trial, rate)):
            parts += ([gap] if i else []) + [x]
        return np.concatenate(parts)


class HugginsPitch(HeadphoneTest):
    name = "huggins"
    title = "Headphone check"
    question = "Which noise contains a faint tone?"
    instructions = ("You will hear three noises, separated by short silences. One of them contains a faint "
                    "tone. Play the sound (as often as you like) and choose the noise with the tone.")
    citation = "Milne et al. (2021), Behav. Res. Methods 53:1551-1562 (Huggins pitch)"
    center_hz = 600.0
    half_width = 0.06  # +-6 % around the centre
    rms = 0.05  # about -26 dBFS per channel, the level of the test material
    ramp_s = 0.02

    def band(self) -> tuple[float, float]:
        return self.center_hz * (1 - self.half_width), self.center_hz * (1 + self.half_width)

    def intervals(self, trial: ScreeningTrial, rate: int) -> list[np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        n = int(INTERVAL_S * rate)
        env = _ramp(n, self.ramp_s, rate)
        lo, hi = self.band()
        f = np.fft.rfftfreq(n, 1 / rate)
        flip = np.where((f >= lo) & (f <= hi), -1.0, 1.0)
        out = []
        for i in range(N_CHOICES):
            noise = rng.standard_normal(n)
            noise *= self.rms / np.sqrt(np.mean(noise ** 2))
            right = np.fft.irfft(np.fft.rfft(noise) * flip, n) if i == trial.target else noise
            out.append(np.stack([noise * env, right * env], axis=1))
        return out


class Antiphase(HeadphoneTest):
    name = "antiphase"
    title = "Headphone check"
    question = "Which tone is the quietest?"
    instructions = ("You will hear three low tones, separated by short silences. Play the sound (as often as "
                    "you like) and choose the quietest tone.")
    citation = "Woods et al. (2017), Atten. Percept. Psychophys. 79:2064-2072 (antiphase tones)"
    freq_hz = 200.0
    amplitude = 0.07  # about -26 dBFS RMS
    quiet_db = -6.0
    ramp_s = 0.1

    def intervals(self, trial: ScreeningTrial, rate: int) -> list[np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        n = int(INTERVAL_S * rate)
        tone = self.amplitude * np.sin(2 * np.pi * self.freq_hz * np.arange(n) / rate) * _ramp(n, self.ramp_s, rate)
        others = [i for i in range(N_CHOICES) if i != trial.target]
        antiphase = others[int(rng.integers(2))]
        out = []
        for i in range(N_CHOICES):
            if i == trial.target:
                g = 10 ** (self.quiet_db / 20)
                out.append(np.stack([g * tone, g * tone], axis=1))
            elif i == antiphase:
                out.append(np.stack([tone, -tone], axis=1))
            else:
                out.append(np.stack([tone, tone], axis=1))
        return out


_TESTS: dict[str, HeadphoneTest] = {t.name: t for t in (HugginsPitch(), Antiphase())}


def get_test(name: str) -> HeadphoneTest:
    try:
        return _TESTS[name]
    except KeyError:
        raise KeyError(f"unknown headphone test {name!r}; known: {', '.join(_TESTS)}") from None


def headphone_test_names() -> list[str]:
    return list(_TESTS)


def draw_plan(kind: str, rng: random.Random) -> ScreeningPlan:
    """A listener's screening: N_TRIALS trials, each target position uniform over the three."""
    get_test(kind)
    return ScreeningPlan(kind, tuple(ScreeningTrial(rng.randrange(N_CHOICES), rng.getrandbits(63))
                                     for _ in range(N_TRIALS)))


def score(plan: ScreeningPlan, answers: list[int]) -> tuple[int, bool]:
    """(correct answers, passed): passed with at least PASS_MARK of N_TRIALS correct."""
    correct = sum(int(a) == t.target for a, t in zip(answers, plan.trials))
    return correct, correct >= PASS_MARK


def stimulus_wav(kind: str, trial: ScreeningTrial, rate: int = RATE) -> bytes:
    """The trial's sound as 16-bit stereo WAV bytes (what the browser plays)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, get_test(kind).stimulus(trial, rate).astype(np.float32), rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()
