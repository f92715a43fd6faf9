"""The BS.1534-3 anchors, measured through the product: `evalsuite run` writes the anchors of a
white-noise item, and the test estimates each anchor's frequency response from the run's own
files (reference in, anchor out) against the mask of BS.1534-3 section 5.1, at several item
rates. The mask's numbers are written here, not taken from the implementation."""
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import csd, welch

from evalsuite.cli import main

# (cut-off, passband ripple dB, [(frequency, minimum attenuation dB)])
MASKS = {
    "anchor_lp35": (3500.0, 0.1, [(4000.0, 25.0), (4500.0, 50.0)]),
    "anchor_lp70": (7000.0, 0.1, [(8000.0, 25.0), (9000.0, 50.0)]),
}


def response_db(x: np.ndarray, y: np.ndarray, rate: int):
    """|H(f)| in dB of a linear system y = h * x from white-noise input (H1 estimator)."""
    n = 1 << 14
    f, pxy = csd(x, y, rate, nperseg=n)
    _, pxx = welch(x, rate, nperseg=n)
    return f, 20 * np.log10(np.abs(pxy) / pxx + 1e-30)


def tone_gain_db(name: str, freq: float, rate: int) -> float:
    """Gain of the product's anchor for a steady tone (Nyquist included), away from the edges."""
    from evalsuite.anchors import get_anchor

    t = np.arange(rate * 2) / rate
    x = np.cos(2 * np.pi * freq * t).astype(np.float32) * 0.5
    y = get_anchor(name).process(x, rate)
    mid = slice(rate // 2, -rate // 2)
    return 20 * np.log10(np.sqrt(np.mean(y[mid].astype(np.float64) ** 2)) / np.sqrt(np.mean(x[mid].astype(np.float64) ** 2)))


@pytest.fixture(scope="module")
def noise_corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("noise_corpus") / "general"
    d.mkdir()
    rng = np.random.default_rng(7)
    sf.write(str(d / "white.wav"), (0.1 * rng.standard_normal(96000 * 8)).astype(np.float32), 96000, subtype="FLOAT")
    return d.parent


@pytest.mark.parametrize("rate", [48000, 44100, 32000, 16000])
def test_anchors_meet_the_bs1534_mask_at_every_item_rate(noise_corpus, tmp_path, rate):
    out = tmp_path / "run"
    assert main(["run", "--corpus", str(noise_corpus), "--codecs", "", "--metrics", "si_sdr", "--rate", str(rate),
                 "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    ref, r = sf.read(str(out / "audio" / "reference" / "white.wav"))
    assert r == rate
    for name, (fc, ripple, stops) in MASKS.items():
        if fc >= rate / 2:
            continue
        y, _ = sf.read(str(out / "audio" / name / "white.wav"))
        assert len(y) == len(ref)
        f, h = response_db(ref, y, rate)
        band = (f >= 50) & (f <= fc)
        assert np.abs(h[band]).max() <= ripple, f"{name} at {rate} Hz: passband {h[band].min():.3f}..{h[band].max():.3f} dB"
        # the resampled white-noise item has power up to ~0.9 x Nyquist (the resampler's band edge)
        measurable = f <= 0.9 * rate / 2
        for f_stop, atten in stops:
            if f_stop <= 0.9 * rate / 2:
                sel = (f >= f_stop) & measurable
                assert h[sel].max() <= -atten, f"{name} at {rate} Hz: {-h[sel].max():.1f} dB above {f_stop:g} Hz"
            elif f_stop <= rate / 2:  # at the band edge the item has no power: send a tone instead
                assert tone_gain_db(name, f_stop, rate) <= -atten
        # zero phase: the anchor is not delayed (cross-correlation peak at lag 0)
        c = np.correlate(y[10000:20000], ref[10000:20000], mode="full")
        assert np.argmax(c) - (10000 - 1) == 0


def test_anchor_rows_have_no_bitrate(noise_corpus, tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    assert main(["run", "--corpus", str(noise_corpus), "--codecs", "", "--metrics", "si_sdr",
                 "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert set(df.condition) == {"reference", "anchor_lp35", "anchor_lp70"}
    assert df.requested_kbps.isna().all() and df.measured_kbps.isna().all()
    assert set(df.condition_kind) == {"reference", "anchor"}
