"""The content-keyed store: atomic records, replacement by key, nothing served for other content."""
import sqlite3

import pytest

from evalsuite.store import ResultStore, ScoreRow, StoreError, TranscodeRecord


def _score(audio_sha="a1", value=1.0, output="m", status="ok", metric_key="k1"):
    return ScoreRow("x", "s1", "opus@6", audio_sha, "m", metric_key, output, value, status)


def test_score_rows_of_a_task_are_atomic(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as s:
        s.put_scores([_score(output="o1"), _score(output="o2")])
        bad = _score(output="o3")
        bad.value = object()  # not storable: the whole task's rows must be rolled back
        with pytest.raises((sqlite3.Error, StoreError)):
            s.put_scores([_score(output="o4"), bad])
        idx = s.score_index()
    assert {r.output for rows in idx.values() for r in rows} == {"o1", "o2"}


def test_same_key_replaces_other_content_is_another_key(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as s:
        s.put_scores([_score(value=1.0)])
        s.put_scores([_score(value=2.0)])  # recomputed (e.g. --retry-errors): replaced, never duplicated
        s.put_scores([_score(audio_sha="a2", value=3.0)])  # other decoded audio: a separate row
        s.put_scores([_score(metric_key="k2", value=4.0)])  # other metric version/options: separate
        idx = s.score_index()
    assert [r.value for r in idx[("x", "s1", "opus@6", "a1", "m", "k1")]] == [2.0]
    assert [r.value for r in idx[("x", "s1", "opus@6", "a2", "m", "k1")]] == [3.0]
    assert [r.value for r in idx[("x", "s1", "opus@6", "a1", "m", "k2")]] == [4.0]


def test_transcode_records_are_keyed_on_item_content_and_codec_settings(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as s:
        s.put_transcode(TranscodeRecord("x", "s1", "opus@6", "c1", "ok", measured_kbps=5.5, audio_sha="a1"))
        s.put_transcode(TranscodeRecord("x", "s2", "opus@6", "c1", "ok", measured_kbps=5.6, audio_sha="a2"))
        recs = s.transcodes()
    assert recs[("x", "s1", "opus@6", "c1")].measured_kbps == 5.5
    assert recs[("x", "s2", "opus@6", "c1")].audio_sha == "a2"


def test_a_corrupt_store_is_a_clear_error(tmp_path):
    p = tmp_path / "results.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable evalsuite results store"):
        ResultStore(p)
