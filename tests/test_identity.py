"""One identity per item: unique, file-name-safe ids assigned before anything is written, and
each item scored against its own audio (issue 9, "One identity model")."""
import numpy as np
import pandas as pd
import soundfile as sf

from evalsuite.audio import read_audio, resample, to_mono
from evalsuite.cli import main

RUN = ["--codecs", "opus", "--kbps", "12", "--metrics", "si_sdr", "--no-progress", "--jobs", "1"]


def _tone(freq: float, seconds: float = 2.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t)
    return (0.3 * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _corr_with_source(run, item, source_path) -> float:
    ref, r = read_audio(run / "audio" / "reference" / f"{item}.wav")
    src, rs = read_audio(source_path)
    src = resample(to_mono(src), rs, r)[: len(ref)]
    return float(np.corrcoef(ref[: len(src)], src)[0, 1])


def _check_each_item_is_its_own(run, sources: dict[str, str]) -> pd.DataFrame:
    items = pd.read_csv(run / "items.csv")
    assert items.item.is_unique and len(items) == len(sources)
    by_source = dict(zip(items.source_file, items.item))
    for path in sources:
        item = by_source[path]
        assert (run / "audio" / "reference" / f"{item}.wav").is_file()
        assert abs(_corr_with_source(run, item, path)) > 0.99, f"{item} does not hold {path}"
    df = pd.read_parquet(run / "results.parquet")
    assert (df[df.condition == "reference"].value > 150).all()  # each scored against its own reference
    return items


def test_same_file_name_in_two_folders(tmp_path):
    corpus = tmp_path / "c"
    for cat, f in (("music", 440.0), ("general", 1250.0)):
        (corpus / cat).mkdir(parents=True)
        sf.write(str(corpus / cat / "a.wav"), _tone(f), 16000)
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus), *RUN, "--out", str(out)]) == 0
    items = _check_each_item_is_its_own(out, {str(corpus / c / "a.wav"): c for c in ("music", "general")})
    assert set(items.item) == {"music_a", "general_a"}


def test_names_that_clean_to_the_same_id(tmp_path):
    corpus = tmp_path / "c" / "music"
    corpus.mkdir(parents=True)
    sf.write(str(corpus / "a b.wav"), _tone(440.0), 16000)
    sf.write(str(corpus / "a_b.wav"), _tone(900.0), 16000)
    sf.write(str(corpus / "A_B.flac"), _tone(1500.0), 16000)  # differs only in case from a_b
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus.parent), *RUN, "--out", str(out)]) == 0
    items = _check_each_item_is_its_own(out, {str(corpus / n): n for n in ("a b.wav", "a_b.wav", "A_B.flac")})
    assert len({i.casefold() for i in items.item}) == 3  # unique on case-insensitive file systems too


def test_a_legal_250_byte_file_name(tmp_path):
    corpus = tmp_path / "c" / "music"
    corpus.mkdir(parents=True)
    name = "x" * 246 + ".wav"  # 250 bytes: legal on every common file system
    sf.write(str(corpus / name), _tone(440.0), 16000)
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(corpus.parent), *RUN, "--out", str(out)]) == 0
    items = _check_each_item_is_its_own(out, {str(corpus / name): "music"})
    assert len(items.item.iloc[0]) <= 64


def test_a_run_folder_inside_the_corpus_is_never_read_as_items(tmp_path, monkeypatch):
    """`cd corpus && evalsuite run --corpus .`: the run's own audio must not become items (it grew
    4 -> 24 -> 104 rows over three runs), whether --out is named or the default."""
    corpus = tmp_path / "c"
    (corpus / "music").mkdir(parents=True)
    for i, f in enumerate((440.0, 900.0)):
        sf.write(str(corpus / "music" / f"t{i}.wav"), _tone(f), 16000)
    monkeypatch.chdir(corpus)
    rows = []
    for _ in range(3):
        assert main(["run", "--corpus", ".", *RUN, "--out", "myrun"]) == 0
        items = pd.read_csv(corpus / "myrun" / "items.csv")
        assert sorted(items.source_file.map(lambda p: p.rsplit("/", 1)[-1])) == ["t0.wav", "t1.wav"]
        df = pd.read_parquet(corpus / "myrun" / "results.parquet")
        assert set(df["item"]) == set(items.item)
        rows.append(len(df))
    assert rows[0] == rows[1] == rows[2] > 0
    # a second run folder beside the first, its results read back: still the two sources
    assert main(["run", "--corpus", ".", *RUN, "--out", "music/other"]) == 0
    assert len(pd.read_csv(corpus / "music" / "other" / "items.csv")) == 2
