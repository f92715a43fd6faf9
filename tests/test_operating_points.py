"""Codecs run at their real operating points (issue 10, §1): the main job's `--kbps native:3-12`
gives every codec at least three of its own modes in the range, and `--kbps 3,6,12` still runs
exactly the requests typed, each mapped to the mode that fits with a note."""
import json

import pandas as pd
import pytest

from evalsuite.cli import main

GRID = ["--categories", "clean_speech", "--max-items", "1", "--codecs", "soundstream,opus", "--metrics", "lsd",
        "--no-anchors", "--no-progress", "--jobs", "1", "--segment-s", "3"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("points")
    assert main(["run", *GRID, "--kbps", "native:3-12", "--out", str(d / "native")]) == 0
    assert main(["run", *GRID, "--kbps", "3,6,12", "--out", str(d / "typed")]) == 0
    return d


def test_native_points_in_the_range(runs):
    df = pd.read_parquet(runs / "native" / "results.parquet")
    pts = df.groupby("codec")["requested_kbps"].unique().to_dict()
    # Lyra v2's three modes (lyra_config.cc: 64/120/184 bits per 20 ms frame) and Opus's points
    assert sorted(pts["soundstream"]) == [3.2, 6.0, 9.2]
    assert sorted(pts["opus"]) == [6.0, 8.0, 12.0]
    ss = df[df.codec == "soundstream"].drop_duplicates("condition").set_index("requested_kbps")
    assert ss.loc[3.2, "measured_kbps"] == pytest.approx(3.2, abs=1e-9)  # 16 codebooks, 8 whole bytes
    assert json.loads(ss.loc[3.2, "codec_info"])["quantizers"] == 16
    assert json.loads(ss.loc[9.2, "codec_info"])["quantizers"] == 46
    meta = json.loads((runs / "native" / "run.json").read_text())
    assert meta["codecs"]["soundstream"]["operating_points"] == [3.2, 6.0, 9.2]


def test_typed_bitrates_run_as_typed(runs):
    df = pd.read_parquet(runs / "typed" / "results.parquet").drop_duplicates("condition").set_index("condition")
    assert set(df.index) == {"soundstream@3", "soundstream@6", "soundstream@12", "opus@3", "opus@6", "opus@12"}
    s3 = df.loc["soundstream@3"]
    assert s3.status == "ok" and s3.kbps_used == pytest.approx(3.2) and s3.measured_kbps == pytest.approx(3.2)
    assert "16 quantizers" in s3.note and "64 of 64 bits" in s3.note  # no padding bits
    s12 = df.loc["soundstream@12"]
    assert s12.status == "unsupported" and "above the highest mode (9.2 kbps" in s12.error
