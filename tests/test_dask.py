"""The same grid on a 2-worker Dask LocalCluster gives the identical results table."""
import pandas as pd
import pytest

from evalsuite.cli import main
from tests.support.runs import comparable

GRID = ["--categories", "clean_speech,music", "--max-items", "3", "--codecs", "opus,soundstream", "--kbps", "6,9",
        "--metrics", "si_sdr,stoi,lsd", "--no-progress"]


@pytest.mark.slow
def test_dask_local_cluster_matches_local_processes(tmp_path):
    assert main(["run", *GRID, "--out", str(tmp_path / "local"), "--jobs", "2"]) == 0
    assert main(["run", *GRID, "--out", str(tmp_path / "dask"), "--executor", "dask-local", "--workers", "2"]) == 0
    assert main(["run", *GRID, "--out", str(tmp_path / "bytes"), "--executor", "dask-local", "--workers", "2",
                 "--ship-audio"]) == 0
    a = pd.read_parquet(tmp_path / "local" / "results.parquet")
    assert len(a) > 0 and (a.status == "ok").mean() > 0.9
    for other in ("dask", "bytes"):
        b = pd.read_parquet(tmp_path / other / "results.parquet")
        pd.testing.assert_frame_equal(comparable(a), comparable(b))  # same rows, same values
    # audio shipped by value lands in the run folder like locally written audio
    assert (tmp_path / "bytes" / a.audio_path.dropna().iloc[0]).is_file()


def test_dask_executor_needs_a_scheduler(tmp_path, capsys):
    assert main(["run", *GRID, "--out", str(tmp_path / "x"), "--executor", "dask"]) == 2
    assert "--scheduler" in capsys.readouterr().err
