import shutil

import numpy as np
import pytest

from evalsuite.audio import loudness_lufs, read_audio, write_audio
from evalsuite.corpus import CorpusConfig, active_segments, balanced_subset, mix_at_snr, prepare
from evalsuite.data import DataError, data_root, read_sources, verify_corpus
from evalsuite.sources import CorpusError, shared_sources, user_sources


def test_data_root_requires_a_location(monkeypatch):
    monkeypatch.delenv("EVALSUITE_DATA", raising=False)
    with pytest.raises(DataError, match="EVALSUITE_DATA"):
        data_root(None)
    with pytest.raises(DataError, match="not a directory"):
        data_root("/nonexistent/place")


def test_shared_corpus_checksums_verified(data_dir):
    entries = read_sources(data_dir / "corpus" / "SOURCES.csv")
    assert len(entries) == 31
    verify_corpus(data_dir / "corpus", entries)  # real sha256 of every file


def test_checksum_mismatch_and_missing_file_are_reported(data_dir, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "speech").mkdir(parents=True)
    shutil.copy(data_dir / "corpus" / "SOURCES.csv", corpus / "SOURCES.csv")
    entries = read_sources(corpus / "SOURCES.csv")
    (corpus / "speech" / "pesq_speech.wav").write_bytes(b"RIFF not really")
    with pytest.raises(DataError) as e:
        verify_corpus(corpus, entries)
    msg = str(e.value)
    assert "sha256 mismatch" in msg and "pesq_speech.wav" in msg
    assert "missing" in msg and "ludlows/python-pesq" in msg  # names the upstream source


def test_active_segment_picks_the_loud_part():
    rate = 1000
    x = np.zeros(30 * rate, np.float32)
    rng = np.random.default_rng(0)
    x[17 * rate:27 * rate] = rng.standard_normal(10 * rate) * 0.3
    (s,) = active_segments(x, rate, 10.0, 1)
    assert abs(s - 17 * rate) <= rate


def test_mix_at_snr_hits_the_requested_snr():
    rng = np.random.default_rng(1)
    speech = rng.standard_normal(16000).astype(np.float32)
    noise = rng.standard_normal(50000).astype(np.float32) * 3
    for snr in (0, 5, 10):
        y = mix_at_snr(speech, noise, snr, np.random.default_rng(2))
        n = y - speech
        got = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(n.astype(np.float64) ** 2))
        assert abs(got - snr) < 1e-3


def test_prepare_is_deterministic_and_normalised(data_dir, tmp_path):
    sources = shared_sources(data_dir)
    cfg = CorpusConfig(categories=("noisy_speech", "general"), noisy_mixes=2)
    a = prepare(sources, cfg, tmp_path / "a")
    b = prepare(sources, cfg, tmp_path / "b")
    assert [i.item for i in a.items] == [i.item for i in b.items]
    assert [i.sha256 for i in a.items] == [i.sha256 for i in b.items]  # content hashes are reproducible
    assert {i.category for i in a.items} == {"noisy_speech", "general"}
    assert sum("+" in i.item for i in a.items) == 2  # two generated noisy mixes
    for i in a.items:
        x, r = read_audio(a.audio[i.item])
        y, _ = read_audio(b.audio[i.item])
        assert r == 48000 and x.ndim == 1 and len(x) <= 10 * 48000
        np.testing.assert_array_equal(x, y)
        assert abs(loudness_lufs(x, r) - (-26.0)) < 0.6 or "peak-limited" in i.note


def test_bad_user_files_become_items_with_errors(tmp_path):
    d = tmp_path / "mine"
    (d / "music").mkdir(parents=True)
    write_audio(d / "music" / "ok.wav", 0.1 * np.sin(np.arange(48000) / 7).astype(np.float32), 48000)
    write_audio(d / "silent.wav", np.zeros(48000, np.float32), 48000)
    (d / "broken.wav").write_bytes(b"this is not audio")
    nan = np.full(8000, np.nan, np.float32)
    write_audio(d / "nan.wav", nan, 8000)
    items = prepare(user_sources(d), CorpusConfig(), tmp_path / "prep").items
    by = {i.item: i for i in items}
    assert by["ok"].category == "music" and not by["ok"].error
    assert "silent" in by["silent"].error
    assert "cannot be read" in by["broken"].error
    assert "NaN" in by["nan"].error


def test_corpus_csv_needs_path_and_category(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("file,kind\na.wav,music\n")
    with pytest.raises(CorpusError, match="path"):
        user_sources(p)


def test_balanced_subset_covers_categories(data_dir):
    from evalsuite.corpus import Item

    items = [Item(f"{c}{k}", c, f"{c}{k}", "", 0, 1, 48000, -26, "", "", "", "") for c in ("a", "b", "c") for k in range(5)]
    sub = balanced_subset(items, 4)
    assert {i.category for i in sub} == {"a", "b", "c"} and len(sub) == 4
