"""The run engine's two stages: re-running computes exactly what is missing, nothing stale is
ever served, and the table always holds the command's grid (issue 9, "Structure" and
"Nothing stale")."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from evalsuite.cli import main
from tests.support.runs import comparable, store_counts

# --no-reuse: these tests count what a run computes; work other tests scored must not be taken
FAST = ["--no-progress", "--jobs", "1", "--no-reuse"]


@pytest.fixture()
def corpus(tmp_path, data_dir):
    d = tmp_path / "corpus" / "clean_speech"
    d.mkdir(parents=True)
    for f in ("pesq_speech.wav", "arctic_aew_a0001.wav"):
        shutil.copy(data_dir / "corpus" / "speech" / f, d / f)
    return d.parent


def _run(corpus, out, codecs, kbps, metrics, capsys=None, *extra):
    rc = main(["run", "--corpus", str(corpus), "--codecs", codecs, "--kbps", kbps, "--metrics", metrics,
               "--out", str(out), *FAST, *extra])
    err = capsys.readouterr().err if capsys else ""
    return rc, err


def _table(out):
    return pd.read_parquet(out / "results.parquet")


def test_adding_a_metric_computes_exactly_it(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "12", "si_sdr", capsys)[0] == 0
    before = _table(out)
    t_before = store_counts(out)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "audio").rglob("*.wav")}
    rc, err = _run(corpus, out, "opus", "12", "si_sdr,lsd", capsys)
    assert rc == 0
    # one lsd score task per item (all its conditions at once); no transcode
    assert "2 of 2 tasks computed" in err
    assert store_counts(out)["transcodes"] == t_before["transcodes"]
    assert {p: p.stat().st_mtime_ns for p in (out / "audio").rglob("*.wav")} == mtimes
    after = _table(out)
    assert set(after.metric) == {"si_sdr", "lsd"} and (after.status == "ok").all()
    pd.testing.assert_frame_equal(comparable(after[after.metric == "si_sdr"]).reset_index(drop=True),
                                  comparable(before).reset_index(drop=True))
    assert list(json.loads((out / "run.json").read_text())["metrics"]) == ["si_sdr", "lsd"]


def test_adding_a_codec_or_bitrate_transcodes_only_the_new_conditions(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "6", "si_sdr", capsys)[0] == 0
    n = store_counts(out)["transcodes"]
    assert n == 2 * 4  # 2 items x (opus@6 + reference + 2 anchors)
    assert _run(corpus, out, "opus,codec2", "6,12", "si_sdr", capsys)[0] == 0
    # new: opus@12 per item (codec2 supports neither bitrate: unsupported rows, no work)
    assert store_counts(out)["transcodes"] == n + 2
    df = _table(out)
    assert set(df.condition) == {"opus@6", "opus@12", "codec2@6", "codec2@12", "reference", "anchor_lp35", "anchor_lp70"}
    assert (df[df.codec == "codec2"].status == "unsupported").all()


def test_the_table_is_the_commands_grid_and_run_json_says_what_else_is_stored(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "6", "si_sdr", capsys)[0] == 0
    rc, err = _run(corpus, out, "opus", "12", "si_sdr", capsys, "--no-anchors")
    assert rc == 0
    df = _table(out)
    assert set(df.condition) == {"opus@12"}
    meta = json.loads((out / "run.json").read_text())
    assert meta["conditions"] == ["opus@12"]
    assert set(meta["stored_conditions_not_in_this_table"]) == {"opus@6", "reference", "anchor_lp35", "anchor_lp70"}
    assert "does not show" in err and "opus@6" in err
    rc, err = _run(corpus, out, "opus", "6,12", "si_sdr", capsys)  # everything stored: nothing computed
    assert rc == 0 and "0 of 0 tasks computed" in err
    assert len(_table(out)) == 2 * 5


def test_changed_source_content_under_the_same_path_is_prepared_and_scored_again(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "6", "si_sdr,lsd", capsys)[0] == 0
    before = _table(out)
    f = corpus / "clean_speech" / "arctic_aew_a0001.wav"
    st = f.stat()
    x, r = sf.read(str(f))
    sf.write(str(f), np.roll(x, r // 3) * 0.5, r, subtype="PCM_16")  # other content, same path
    import os

    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old time stamp
    rc, err = _run(corpus, out, "opus", "6", "si_sdr,lsd", capsys)
    assert rc == 0 and "0 of 0" not in err
    after = _table(out)
    changed = after.item == "arctic_aew_a0001"
    # the changed item's coded conditions were computed again: other values
    a = before[(before.item == "arctic_aew_a0001") & (before.condition == "opus@6")].value.to_numpy()
    b = after[changed & (after.condition == "opus@6")].value.to_numpy()
    assert not np.allclose(a, b)
    # the untouched item kept its rows
    pd.testing.assert_frame_equal(comparable(before[before.item == "pesq_speech"]).reset_index(drop=True),
                                  comparable(after[~changed]).reset_index(drop=True))
    # and its reference in the run folder is the new content
    ref, _ = sf.read(str(out / "audio" / "reference" / "arctic_aew_a0001.wav"))
    items = pd.read_csv(out / "items.csv")
    import hashlib

    assert hashlib.sha256((out / "audio" / "reference" / "arctic_aew_a0001.wav").read_bytes()).hexdigest() == \
        items.set_index("item").loc["arctic_aew_a0001", "sha256"]


def test_unavailable_is_not_permanent(corpus, tmp_path, capsys, monkeypatch):
    from tests.test_robustness import FAKE_EVS

    out = tmp_path / "run"
    monkeypatch.delenv("EVALSUITE_EVS_BIN", raising=False)
    assert _run(corpus, out, "evs", "13.2", "si_sdr", capsys, "--no-anchors")[0] == 0
    assert (_table(out).status == "unavailable").all()
    monkeypatch.setenv("EVALSUITE_EVS_BIN", str(FAKE_EVS))  # the environment is fixed
    rc, err = _run(corpus, out, "evs", "13.2", "si_sdr", capsys, "--no-anchors")
    assert rc == 0 and "0 of 0" not in err
    assert (_table(out).status == "ok").all()


@pytest.mark.parametrize("target", ["reference", "decoded"])
def test_truncated_files_are_detected_and_replaced(corpus, tmp_path, capsys, target):
    """A kill or a full disk mid-copy must never leave a truncated file that is then scored."""
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "6", "si_sdr,lsd", capsys)[0] == 0
    good = _table(out)
    p = out / "audio" / ("reference" if target == "reference" else "opus/6") / "pesq_speech.wav"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    rc, err = _run(corpus, out, "opus", "6", "si_sdr,lsd", capsys)
    assert rc == 0
    assert p.read_bytes() == data if target == "reference" else len(p.read_bytes()) == len(data)
    pd.testing.assert_frame_equal(comparable(good), comparable(_table(out)))


def test_bitstream_file_holds_what_was_decoded(corpus, tmp_path, capsys):
    """Decoding reads only the container file: decoding it again gives the run's audio."""
    from evalsuite import bitstream
    from evalsuite.codecs import get_codec

    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "6", "si_sdr", capsys, "--no-anchors")[0] == 0
    df = _table(out)
    row = df[df.item == "pesq_speech"].iloc[0]
    header, enc = bitstream.loads((out / "bitstreams" / "opus" / "6" / "pesq_speech.esb").read_bytes())
    assert header.codec == "opus" and header.codec_version == row.codec_version
    assert enc.total_bits / (enc.num_samples / enc.sample_rate) / 1000 == pytest.approx(row.measured_kbps, rel=1e-12)
    y = get_codec("opus", **header.options).decode(enc)
    assert len(y) > 0 and np.isfinite(y).all()


def test_an_unchanged_table_is_not_exported_again(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(corpus, out, "opus", "12", "si_sdr,lsd", capsys)[0] == 0
    files = [out / "results.parquet", out / "results.csv", out / "curves.csv", *sorted((out / "plots").glob("*"))]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert len(files) > 3
    assert _run(corpus, out, "opus", "12", "si_sdr,lsd", capsys)[0] == 0  # nothing new: nothing rewritten
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert _run(corpus, out, "opus", "12", "si_sdr", capsys)[0] == 0  # another grid: another table
    assert set(_table(out).metric) == {"si_sdr"} and not (out / "plots" / "lsd.png").exists()


def test_identical_work_is_reused_across_runs_and_code_changes_invalidate_it(corpus, tmp_path, capsys, monkeypatch):
    """A second run over the same corpus pays only for what is new; the shared scores are keyed on
    content and on the metric's code, so an edited metric (same version string) is computed again."""
    plugin = tmp_path / "plug"
    plugin.mkdir()
    src = ("from evalsuite.metrics.spectral import SiSdr\n\n\n"
           "class MySdr(SiSdr):\n    pass  # VARIANT\n")
    (plugin / "mysdr.py").write_text(src)
    monkeypatch.syspath_prepend(str(plugin))
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"

    def _run(corpus, out, codecs, kbps, metrics, capsys, *extra):  # this test is about reuse: allow it
        rc = main(["run", "--corpus", str(corpus), "--codecs", codecs, "--kbps", kbps, "--metrics", metrics,
                   "--out", str(out), "--no-progress", "--jobs", "1", *extra])
        return rc, capsys.readouterr().err

    assert _run(corpus, a, "opus", "12", "mysdr:MySdr", capsys)[0] == 0
    rc, err = _run(corpus, b, "opus,codec2", "12,3.2", "mysdr:MySdr", capsys)
    assert rc == 0 and "8 item x condition x metric score(s) were identical work" in err  # 2 items x 4 conditions
    ta, tb = _table(a), _table(b)
    m = ta.merge(tb, on=["item", "condition", "metric"])
    assert len(m) == 8 and (m.value_x == m.value_y).all()
    # the metric's code changes (its version string does not): nothing may be taken from before
    import importlib
    import sys

    (plugin / "mysdr.py").write_text(src.replace("pass  # VARIANT", "pass  # another implementation"))
    sys.modules.pop("mysdr", None)
    importlib.invalidate_caches()
    rc, err = _run(corpus, c, "opus", "12", "mysdr:MySdr", capsys)
    assert rc == 0 and "score(s) were identical work" not in err  # (its transcodes are: the codec did not change)
    rc, err = _run(corpus, tmp_path / "d", "opus", "12", "si_sdr", capsys, "--no-reuse")
    assert rc == 0 and "identical work" not in err


def test_a_run_into_a_new_folder_transcodes_only_what_is_new(corpus, tmp_path, capsys, monkeypatch):
    """Transcodes are shared like scores (keyed on the item's content and the codec key): one more
    codec into a new folder codes only that codec; the other files are put in place verified by
    sha256, and the table equals that of a run that computed everything. A damaged cache entry is
    never used: that transcode is computed again."""
    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))  # this test counts what the cache holds

    def run(out, codecs, kbps, *extra):
        rc = main(["run", "--corpus", str(corpus), "--codecs", codecs, "--kbps", kbps, "--metrics", "si_sdr,lsd",
                   "--out", str(out), "--no-progress", "--jobs", "1", *extra])
        return rc, capsys.readouterr().err

    def units(out):
        return json.loads((out / "run.json").read_text())["units"]

    a, b, c, d = (tmp_path / k for k in "abcd")
    assert run(a, "opus", "6")[0] == 0
    rc, err = run(b, "opus,codec2", "6,3.2")
    assert rc == 0 and "6 item x condition transcode(s) were identical work" in err
    # new: opus@3.2 and codec2@3.2 for 2 items (+ the 2 references: each run records its items as
    # they are); opus@6 and the 2 anchors were coded by run a
    assert units(b)["transcodes_computed"] == 4 + 2 and units(b)["transcodes_reused"] == 6
    assert run(c, "opus,codec2", "6,3.2", "--no-reuse")[0] == 0
    assert units(c)["transcodes_computed"] == 10 + 2
    tb, tc = _table(b), _table(c)
    pd.testing.assert_frame_equal(comparable(tb), comparable(tc))
    assert (tb.audio_sha256 == tc.audio_sha256).all()
    for p in b.rglob("*.wav"):  # every file in place is what the table says it is
        assert p.stat().st_size > 44
    # a damaged cache entry (another file under its name) is never served: that transcode is done again
    from evalsuite.context import context_from_env

    sha = tb[(tb.condition == "opus@6") & (tb.metric == "lsd")].audio_sha256.iloc[0]
    entry = context_from_env().cache_root() / "audio" / sha[:2] / f"{sha}.wav"
    data = bytearray(entry.read_bytes())
    data[-100:] = bytes(100)
    entry.unlink()
    entry.write_bytes(bytes(data))
    rc, err = run(d, "opus", "6")
    assert rc == 0 and units(d)["transcodes_computed"] == 1 + 2 and units(d)["transcodes_reused"] == 5
    pd.testing.assert_frame_equal(comparable(_table(d)), comparable(_table(a)))
