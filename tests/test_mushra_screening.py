"""Headphone screening: the stimuli have the physical properties the two papers rely on
(measured on the generated audio), scoring follows the 5-of-6 rule, and the app stores the
answers and ends the test for a listener who fails."""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from streamlit.testing.v1 import AppTest

from listening_test.screening import (
    GAP_S,
    INTERVAL_S,
    N_TRIALS,
    RATE,
    ScreeningPlan,
    ScreeningTrial,
    draw_plan,
    get_test,
    score,
    stimulus_wav,
)
from listening_test.storage import RatingStore
from tests.support.mushra import APP


def intervals(wav: bytes) -> tuple[list[np.ndarray], int]:
    """The three (n, 2) intervals of a served stimulus, cut at the documented timing."""
    x, rate = sf.read(io.BytesIO(wav))
    n, g = int(INTERVAL_S * rate), int(GAP_S * rate)
    assert x.shape == (3 * n + 2 * g, 2)
    assert not x[n:n + g].any() and not x[2 * n + g:2 * n + 2 * g].any()  # silent gaps
    return [x[i * (n + g):i * (n + g) + n] for i in range(3)], rate


def band_energy(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(np.sum(np.abs(np.fft.rfft(x)[(f >= lo) & (f <= hi)]) ** 2))


@pytest.mark.parametrize("target", [0, 1, 2])
def test_huggins_stimulus(target):
    """Milne et al. 2021: the foils are diotic; the target's right ear is the left ear's noise
    with the 564-636 Hz band phase-inverted. Each ear alone carries no cue (same magnitude
    spectrum); summed as loudspeakers would (L+R), the band cancels."""
    ivs, rate = intervals(stimulus_wav("huggins", ScreeningTrial(target, 1234 + target)))
    for i, x in enumerate(ivs):
        L, R = x[:, 0], x[:, 1]
        assert 0.04 < np.sqrt(np.mean(L ** 2)) < 0.06  # about -26 dBFS
        if i != target:
            assert np.array_equal(L, R)
            continue
        FL, FR = np.fft.rfft(L), np.fft.rfft(R)
        f = np.fft.rfftfreq(len(L), 1 / rate)
        inband = (f > 580) & (f < 620)
        outband = ((f > 100) & (f < 530)) | ((f > 670) & (f < 8000))
        ipd_in = np.abs(np.abs(np.angle(FL[inband] * np.conj(FR[inband]))) - np.pi)
        ipd_out = np.abs(np.angle(FL[outband] * np.conj(FR[outband])))
        # antiphase in the band, in phase elsewhere (the 20 ms onset ramp smears a little)
        assert np.median(ipd_in) < 0.1 and np.mean(ipd_in < 0.5) > 0.9, ipd_in
        assert np.median(ipd_out) < 0.05
        # monaural: each ear alone has the same spectrum (1/6-octave band energies within 0.5 dB)
        edges = 100 * 2 ** (np.arange(0, 6 * np.log2(10000 / 100) + 1) / 6)
        for lo, hi in zip(edges, edges[1:]):
            assert abs(10 * np.log10(band_energy(L, rate, lo, hi) / band_energy(R, rate, lo, hi))) < 0.5, (lo, hi)
        # over loudspeakers (acoustic sum) the band vanishes: no tone, a faint notch at most
        s = L + R
        assert band_energy(s, rate, 575, 625) < 0.01 * band_energy(2 * L, rate, 575, 625)


@pytest.mark.parametrize("target", [0, 1, 2])
def test_antiphase_stimulus(target):
    """Woods et al. 2017: three 200 Hz tones; the target is 6 dB softer (diotic), one other is in
    antiphase (left = -right), one is in phase; summed as loudspeakers would, the antiphase tone
    cancels and sounds softest, so only headphone listeners find the target."""
    ivs, rate = intervals(stimulus_wav("antiphase", ScreeningTrial(target, 99)))
    rms = [np.sqrt(np.mean(x ** 2, axis=0)) for x in ivs]
    full = max(r[0] for r in rms)
    for i, x in enumerate(ivs):
        f = np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(np.abs(np.fft.rfft(x[:, 0])))]
        assert f == pytest.approx(200, abs=1.5)
        if i == target:
            assert 20 * np.log10(rms[i][0] / full) == pytest.approx(-6.0, abs=0.05)
            assert np.array_equal(x[:, 0], x[:, 1])
    others = [i for i in range(3) if i != target]
    anti = [i for i in others if np.allclose(ivs[i][:, 0], -ivs[i][:, 1], atol=1e-4)]
    assert len(anti) == 1
    diotic = [i for i in others if i not in anti]
    assert np.array_equal(ivs[diotic[0]][:, 0], ivs[diotic[0]][:, 1])
    summed = [np.sqrt(np.mean((x[:, 0] + x[:, 1]) ** 2)) for x in ivs]
    assert np.argmin(summed) == anti[0]  # loudspeakers: the antiphase tone is the quietest


def test_plan_and_score():
    plan = draw_plan("huggins", random.SystemRandom())
    assert len(plan.trials) == N_TRIALS == 6 and ScreeningPlan.from_json(plan.to_json()) == plan
    right = [t.target for t in plan.trials]
    assert score(plan, right) == (6, True)
    assert score(plan, right[:5] + [(right[5] + 1) % 3]) == (5, True)
    assert score(plan, [(r + 1) % 3 for r in right[:2]] + right[2:]) == (4, False)
    targets = [t.target for _ in range(200) for t in draw_plan("antiphase", random.SystemRandom()).trials]
    assert {0, 1, 2} == set(targets) and all(300 < targets.count(k) < 500 for k in range(3))
    with pytest.raises(KeyError, match="unknown headphone test"):
        get_test("nosuch")
    assert RATE == 48000


@pytest.fixture
def antiphase_test(fresh_test, monkeypatch):
    p = fresh_test / "mushra.yaml"
    d = yaml.safe_load(p.read_text())
    d["screening"] = "antiphase"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    monkeypatch.setenv("EVALSUITE_MUSHRA_TEST", str(fresh_test))
    monkeypatch.delenv("EVALSUITE_MUSHRA_DB", raising=False)
    return fresh_test


def _to_screening(test_dir: Path) -> tuple[AppTest, str, str]:
    at = AppTest.from_file(APP, default_timeout=30).run()
    next(b for b in at.button if b.label == "Start").click().run()
    lid, tok = (v[0] if isinstance(v, list) else v for v in (at.query_params["listener"], at.query_params["token"]))
    at.checkbox(key="agree").check().run()
    next(b for b in at.button if b.label == "Continue").click().run()
    at.checkbox(key="chk_headphones").check().run()
    at.checkbox(key="chk_volume").check().run()
    next(b for b in at.button if b.label == "Continue").click().run()
    assert at.title[0].value == "Headphone check" and "quietest" in at.radio[0].label
    return at, lid, tok


@pytest.mark.parametrize("passing", [True, False])
def test_app_screening_stores_answers_and_gates_the_test(antiphase_test, passing):
    at, lid, tok = _to_screening(antiphase_test)
    store = RatingStore.for_test(antiphase_test)
    plan = ScreeningPlan.from_json(store.screening(lid, tok).plan)
    given = []
    for k, t in enumerate(plan.trials):
        assert f"Sound {k + 1} of 6" in at.get("progress")[0].proto.text
        answer = t.target if passing or k == 0 else (t.target + 1) % 3  # failing: 1 of 6 right
        at.radio(key=f"screening.{k}").set_value(str(answer + 1)).run()
        next(b for b in at.button if b.label == "Next").click().run()
        given.append(answer)
    row = store.screening(lid, tok)
    assert json.loads(row.answers) == given and row.kind == "antiphase"
    assert row.passed is passing and row.correct == (6 if passing else 1)
    if passing:
        assert at.title[0].value == "Training"
    else:
        assert at.title[0].value == "Thank you" and not at.slider
        again = AppTest.from_file(APP, default_timeout=30)
        again.query_params["listener"], again.query_params["token"] = lid, tok
        again.run()
        assert again.title[0].value == "Thank you" and not at.slider  # no way back into the test
    assert store.trial_counts() == ({t: 1 for t in store.assignment(lid, tok).trials} if passing else {})
