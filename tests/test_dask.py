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


def test_a_dask_local_run_leaves_the_process_dask_config_as_it_was(tmp_path):
    """In a fresh process whose first use of Dask is a dask-local run (a notebook calling the
    runner, say), the run's settings are undone at its end and Distributed's defaults stay:
    a Client made afterwards in the same process needs them."""
    import subprocess
    import sys

    script = tmp_path / "after_run.py"
    script.write_text(
        "import copy, json, sys\n"
        "import dask\n"
        "from evalsuite.cli import main\n"
        "if __name__ == '__main__':\n"
        "    before = copy.deepcopy(dask.config.config)\n"
        f"    rc = main(['run', '--categories', 'clean_speech', '--max-items', '1', '--codecs', 'opus', '--kbps', '6',"
        f" '--metrics', 'si_sdr', '--no-anchors', '--no-progress', '--executor', 'dask-local', '--workers', '1',"
        f" '--out', {str(tmp_path / 'run')!r}])\n"
        "    added = {k: v for k, v in dask.config.config.items() if k not in before}\n"
        "    print(json.dumps({'rc': rc, 'connect': dask.config.get('distributed.comm.timeouts.connect', None),\n"
        "                      'keys': sorted(added)}))\n")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    import json

    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["rc"] == 0 and got["connect"] is not None, (got, p.stderr[-2000:])
    assert got["keys"] == ["distributed"]  # Distributed's own defaults, loaded by importing it; nothing of the run's
