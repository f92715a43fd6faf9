"""Building a MUSHRA test folder from a run: contents, BS.1534-3 checks, clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from evalsuite.audio import loudness_lufs, read_audio
from listening_test.build import BuildOptions, build_test, choose_items
from listening_test.config import ConfigError, load_config, safe_path, validate_config
from test_mushra_fixtures import RATE, fresh_test, make_run, mushra_run, mushra_test_dir  # noqa: F401


def test_build_contents(mushra_test_dir):
    cfg = load_config(mushra_test_dir)
    assert len(cfg.trials) == 4
    assert {t.category for t in cfg.trials} == {"clean_speech", "noisy_speech", "music", "general"}
    for t in cfg.trials:
        ids = [c.id for c in t.conditions]
        assert set(ids) == {"reference", "anchor_lp35", "anchor_lp70", "opus@6", "opus@12"}
        shapes = set()
        louds = []
        for c in t.conditions:
            info = sf.info(str(mushra_test_dir / c.path))
            assert info.subtype == "PCM_16" and info.samplerate == RATE and info.channels == 1
            shapes.add(info.frames)
            x, r = read_audio(mushra_test_dir / c.path)
            louds.append(loudness_lufs(x, r))
        assert len(shapes) == 1
        # one loudness for all signals of the trial (16-bit rounding only)
        assert max(louds) - min(louds) < 0.05, louds
        assert abs(np.mean(louds) - t.loudness_lufs) < 0.05
        # hidden reference is the open reference
        assert t.condition("reference").path == t.reference


def test_anchor_is_standard_lowpass(mushra_test_dir):
    """The 3.5 kHz anchor keeps < 0.1 % of its energy above 4 kHz; the reference has more there."""
    cfg = load_config(mushra_test_dir)
    t = next(t for t in cfg.trials if t.category == "music")
    def hf_fraction(path, f0):
        x, r = read_audio(mushra_test_dir / path)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / r)
        return spec[f > f0].sum() / spec.sum()
    assert hf_fraction(t.condition("anchor_lp35").path, 4500) < 1e-3
    assert hf_fraction(t.condition("anchor_lp70").path, 8500) < 1e-3
    assert hf_fraction(t.reference, 4500) > 1e-2


def test_clip_cut_at_most_max(tmp_path, mushra_run):
    out = tmp_path / "t"
    cfg = build_test(mushra_run.root, out, BuildOptions(codecs=["opus"], kbps=[12], n_items=2, max_clip_s=1.5,
                                                        clip_start_s=0.5, seed=3))
    for t in cfg.trials:
        assert t.duration_s == pytest.approx(1.5) and t.clip_start_s == pytest.approx(0.5)
        n = {sf.info(str(out / c.path)).frames for c in t.conditions}
        assert n == {int(1.5 * RATE)}


def test_balanced_choice():
    items = pd.DataFrame({"item": [f"s{i}" for i in range(6)] + ["m0", "m1", "g0"],
                          "category": ["speech"] * 6 + ["music"] * 2 + ["general"]})
    chosen = choose_items(items, 6, seed=0)
    cats = pd.Series(chosen).str[0].value_counts().to_dict()
    assert cats == {"s": 3, "m": 2, "g": 1}
    assert choose_items(items, 6, seed=0) == chosen  # reproducible


def test_too_many_signals(tmp_path, mushra_run):
    with pytest.raises(ConfigError, match="at most 12"):
        build_test(mushra_run.root, tmp_path / "t", BuildOptions(codecs=["opus", "x", "y", "z"], kbps=[3, 6, 12], n_items=1))


def test_missing_audio_is_clear(tmp_path, mushra_run):
    with pytest.raises(ConfigError, match=r"no decoded audio for any of soundstream@3"):
        build_test(mushra_run.root, tmp_path / "t", BuildOptions(codecs=["soundstream"], kbps=[3], n_items=1))
    with pytest.raises(ConfigError, match="not an evalsuite run"):
        build_test(tmp_path, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6]))


def test_mismatched_length_rejected(tmp_path, data_dir):
    run = make_run(tmp_path / "run", data_dir, items={"robin": ("general/robin.ogg", "general")}, seconds=1.0)
    x, r = read_audio(run.decoded_audio("opus", 6, "robin"))
    sf.write(str(run.decoded_audio("opus", 6, "robin")), x[:-100], r, subtype="FLOAT")
    with pytest.raises(Exception, match="samples, the reference"):
        build_test(run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6], n_items=1))


def test_validate_rejects_bad_config(fresh_test):
    data = yaml.safe_load((fresh_test / "mushra.yaml").read_text())
    data["trials"][0]["conditions"] = [c for c in data["trials"][0]["conditions"] if c["id"] != "anchor_lp35"]
    data["trials"][1]["conditions"][0]["path"] = "../../etc/passwd"
    (fresh_test / "mushra.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as e:
        load_config(fresh_test)
    assert "low anchor" in str(e.value) and "escapes the test folder" in str(e.value)


def test_validate_detects_audio_mismatch(fresh_test):
    cfg = load_config(fresh_test)
    t = cfg.trials[0]
    p = fresh_test / t.condition("opus@6").path
    x, r = read_audio(p)
    sf.write(str(p), x, 44100, subtype="PCM_16")
    with pytest.raises(ConfigError, match="differ in rate, length or channels"):
        validate_config(cfg, fresh_test, check_audio=True)


def test_safe_path(tmp_path):
    assert safe_path(tmp_path, "audio/x.wav") == (tmp_path / "audio/x.wav").resolve()
    for bad in ("/etc/passwd", "../x.wav", "audio/../../x"):
        with pytest.raises(ConfigError):
            safe_path(tmp_path, bad)
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(ConfigError):
        safe_path(tmp_path, "link/passwd")


def test_unsupported_bitrate_left_out(tmp_path, mushra_run):
    """A bitrate the run has no audio for at all (e.g. SoundStream at 12 kbps) is left out with a
    note instead of failing the whole build; a codec with no audio at any bitrate still fails."""
    cfg = build_test(mushra_run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6, 24], n_items=2))
    assert {c.id for c in cfg.trials[0].conditions} == {"reference", "anchor_lp35", "anchor_lp70", "opus@6"}
    assert any("left out opus@24" in n for n in cfg.notes)
    with pytest.raises(ConfigError, match="no decoded audio for any"):
        build_test(mushra_run.root, tmp_path / "u", BuildOptions(codecs=["nosuch"], kbps=[6], n_items=2))


def test_partly_missing_condition_is_an_error(tmp_path, data_dir):
    items = {"robin": ("general/robin.ogg", "general"), "castanets48": ("music/castanets48_stereo.wav", "music")}
    run = make_run(tmp_path / "run", data_dir, items=items, seconds=1.0)
    run.decoded_audio("opus", 12, "robin").unlink()
    with pytest.raises(ConfigError, match=r"lacks 1 audio file.*audio/opus/12/robin.wav"):
        build_test(run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=2))
