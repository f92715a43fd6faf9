"""Building a MUSHRA test folder from a run: contents, BS.1534-3 checks (both anchors, training
on set-aside items, excerpt length), lossless FLAC, mono, clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from evalsuite.anchors import get_anchor
from evalsuite.audio import loudness_lufs, read_audio
from listening_test.build import BuildOptions, build_test, choose_items
from listening_test.config import ConfigError, load_config, safe_path, validate_config
from tests.support.mushra import RATE, make_run


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


def test_audio_changed_after_the_run_is_refused(tmp_path, data_dir):
    """The build uses only audio the run's table vouches for (sha256): a file changed or
    truncated since the run wrote it is never put in front of listeners."""
    run = make_run(tmp_path / "run", data_dir, items={"robin": ("general/robin.ogg", "general")}, seconds=1.0)
    x, r = read_audio(run.decoded_audio("opus", 6, "robin"))
    sf.write(str(run.decoded_audio("opus", 6, "robin")), x[:-100], r, subtype="FLOAT")
    with pytest.raises(Exception, match="changed since the run wrote it"):
        build_test(run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6], n_items=1, training_from_rated=True))


def test_audio_left_from_another_command_is_not_used(tmp_path, data_dir):
    """The run folder keeps opus@12's files after a later command ran only opus@6: the build
    follows the run's table, not the files lying in the folder."""
    from evalsuite.cli import main

    run = make_run(tmp_path / "run", data_dir, items={"robin": ("general/robin.ogg", "general"),
                                                      "castanets48": ("music/castanets48_stereo.wav", "music")},
                   seconds=1.0)
    assert main(["run", "--corpus", str(tmp_path / "run-corpus"), "--codecs", "opus", "--kbps", "6", "--metrics",
                 "si_sdr", "--segment-s", "1", "--out", str(run.root), "--jobs", "1", "--no-progress"]) == 0
    assert run.decoded_audio("opus", 12, "robin").is_file()  # still there, from the first command
    cfg = build_test(run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=1))
    assert {c.id for c in cfg.trials[0].conditions} == {"opus@6", "reference", "anchor_lp35", "anchor_lp70"}
    assert any("left out opus@12" in n for n in cfg.notes)


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
    with pytest.raises(Exception, match=r"audio/opus/12/robin.wav is missing"):
        build_test(run.root, tmp_path / "t", BuildOptions(codecs=["opus"], kbps=[6, 12], n_items=2,
                                                          training_from_rated=True))


def test_mid_anchor_is_mandatory(fresh_test):
    """BS.1534-3 asks for the 7 kHz mid anchor too; without it the mid-anchor screening rule
    would silently never fire."""
    data = yaml.safe_load((fresh_test / "mushra.yaml").read_text())
    data["trials"][2]["conditions"] = [c for c in data["trials"][2]["conditions"] if c["id"] != "anchor_lp70"]
    (fresh_test / "mushra.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"trial t03: no 7 kHz mid anchor \('anchor_lp70'\), mandatory"):
        load_config(fresh_test)


def test_training_is_set_aside_and_complete(mushra_test_dir):
    """Training presents every condition, on an item that is not rated afterwards."""
    cfg = load_config(mushra_test_dir)
    rated = {t.item for t in cfg.trials}
    assert [t.id for t in cfg.training] == ["p01"] and cfg.training[0].item not in rated
    assert set(cfg.training[0].condition_ids) == {c for t in cfg.trials for c in t.condition_ids}
    assert not any("training uses rated" in w for w in cfg.warnings)
    data = yaml.safe_load((mushra_test_dir / "mushra.yaml").read_text())
    data["training"][0]["conditions"] = [c for c in data["training"][0]["conditions"] if c["id"] != "opus@6"]
    with pytest.raises(ConfigError, match=r"training trial p01 lacks \['opus@6'\]: training must present every"):
        validate_config(type(cfg).from_dict(data), mushra_test_dir, check_audio=False)


def test_training_needs_an_item_or_consent(tmp_path, mushra_run):
    """All items rated: a clear error, unless training on rated items is asked for (then said)."""
    with pytest.raises(ConfigError, match="0 are left for training.*--training-from-rated"):
        build_test(mushra_run.root, tmp_path / "a", BuildOptions(codecs=["opus"], kbps=[6], n_items=5, max_clip_s=1))
    cfg = build_test(mushra_run.root, tmp_path / "b", BuildOptions(codecs=["opus"], kbps=[6], n_items=5, max_clip_s=1,
                                                                  training_from_rated=True))
    assert cfg.training[0].item in {t.item for t in cfg.trials}
    assert any("training uses rated item(s)" in w for w in cfg.warnings)
    cfg = build_test(mushra_run.root, tmp_path / "c", BuildOptions(codecs=["opus"], kbps=[6], n_items=3, max_clip_s=1,
                                                                  n_training=2))
    assert len(cfg.training) == 2 and not {t.item for t in cfg.training} & {t.item for t in cfg.trials}


def test_short_excerpts_warned(tmp_path, mushra_run, mushra_test_dir):
    """The fixture's 3 s items are far below BS.1534's ~10 s: the config says so."""
    w = [w for w in load_config(mushra_test_dir).warnings if "shorter than 5 s" in w]
    assert len(w) == 1 and "5 excerpt(s)" in w[0] and "castanets48 3.00 s" in w[0]


def test_flac_holds_the_wav_samples(tmp_path, mushra_run):
    """The FLAC files decode to exactly the 16-bit samples the WAV build writes, and are smaller."""
    opts = dict(codecs=["opus"], kbps=[6, 12], n_items=2, seed=4)
    flac = build_test(mushra_run.root, tmp_path / "f", BuildOptions(**opts))
    wav = build_test(mushra_run.root, tmp_path / "w", BuildOptions(**opts, audio_format="wav"))
    sizes = [0, 0]
    for tf, tw in zip(flac.trials + flac.training, wav.trials + wav.training):
        for cf, cw in zip(tf.conditions, tw.conditions):
            pf, pw = tmp_path / "f" / cf.path, tmp_path / "w" / cw.path
            assert pf.suffix == ".flac" and sf.info(str(pf)).format == "FLAC" and sf.info(str(pf)).subtype == "PCM_16"
            a, _ = sf.read(str(pf), dtype="int16")
            b, _ = sf.read(str(pw), dtype="int16")
            assert a.shape == b.shape and np.array_equal(a, b), cf.id
            assert np.abs(a.astype(int)).max() > 1000  # real signal, not silence
            sizes[0] += pf.stat().st_size
            sizes[1] += pw.stat().st_size
    assert sizes[0] < 0.8 * sizes[1], sizes


def test_anchors_are_the_runs_definition(mushra_test_dir):
    """Each anchor is evalsuite.anchors' filter of the trial's (clipped, faded) reference, up to
    the loudness gain and 16-bit rounding."""
    cfg = load_config(mushra_test_dir)
    for t in cfg.trials[:2]:
        ref, r = read_audio(mushra_test_dir / t.reference)
        for name in ("anchor_lp35", "anchor_lp70"):
            x, _ = read_audio(mushra_test_dir / t.condition(name).path)
            y = get_anchor(name).process(ref, r).astype(np.float64)
            g = float(np.dot(x, y) / np.dot(y, y))
            assert 0.5 < g < 4
            resid = x - g * y
            assert np.sqrt(np.mean(resid ** 2)) < 3e-4, (t.id, name)  # ~16-bit rounding of both files


def test_tests_are_mono(mushra_run, mushra_test_dir):
    """The run prepares mono items (castanets48 is a stereo recording) and every signal of the
    test is mono; the config says so."""
    items = pd.read_csv(mushra_run.items_csv).set_index("item")
    assert "downmixed from 2 channels" in items.loc["castanets48", "note"]
    cfg = load_config(mushra_test_dir)
    assert any(n.startswith("mono:") for n in cfg.notes)
    for t in cfg.trials + cfg.training:
        assert {sf.info(str(mushra_test_dir / c.path)).channels for c in t.conditions} == {1}


def test_crowd_settings_are_written(crowd_test_dir):
    """A Prolific study gets Huggins-pitch screening by default; K and the codes are stored."""
    cfg = load_config(crowd_test_dir)
    assert cfg.screening == "huggins" and cfg.k == 2 and cfg.trials_per_listener == 2
    assert cfg.prolific.enabled and cfg.prolific.screenout_code and cfg.prolific.study_id
    assert any("2 of 4 trials per listener (balanced" in n for n in cfg.notes)
    assert not cfg.require_play and not cfg.lock_to_playing
