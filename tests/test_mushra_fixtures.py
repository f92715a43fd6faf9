"""The MUSHRA tests' run is real runner output (see tests/support/mushra.py and conftest.py)."""
import numpy as np

from evalsuite.audio import read_audio


def test_fixture_run_is_real_opus(mushra_run):
    """The fixture's opus conditions differ from the reference as real coding does (not copies)."""
    import pandas as pd

    df = pd.read_parquet(mushra_run.results_parquet)
    assert {"opus@6", "opus@12", "reference", "anchor_lp35", "anchor_lp70"} <= set(df.condition)
    assert (df[df.codec == "opus"].measured_kbps > 3).all()  # real bitstreams, measured
    ref, _ = read_audio(mushra_run.reference_audio("castanets48"))
    y6, _ = read_audio(mushra_run.decoded_audio("opus", 6, "castanets48"))
    y12, _ = read_audio(mushra_run.decoded_audio("opus", 12, "castanets48"))
    err6 = np.mean((ref - y6) ** 2) / np.mean(ref ** 2)
    err12 = np.mean((ref - y12) ** 2) / np.mean(ref ** 2)
    assert 0 < err12 < err6 < 2
