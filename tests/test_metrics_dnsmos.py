"""DNSMOS: clean speech beats its 0 dB babble version; no network is touched."""
from __future__ import annotations

import socket

import pytest

from evalsuite.audio import read_audio
from evalsuite.metrics.dnsmos import Dnsmos


@pytest.fixture(scope="module")
def scores(data_dir):
    clean, r1 = read_audio(data_dir / "corpus/speech/pesq_speech.wav")
    noisy, r2 = read_audio(data_dir / "corpus/noisy/pesq_speech_bab_0dB.wav")
    m = Dnsmos()
    return m.score(None, clean, r1), m.score(None, noisy, r2)


def test_outputs_and_range(scores):
    for s in scores:
        assert set(s) == set(Dnsmos.info.output_names)
        assert all(1.0 <= v <= 5.0 for v in s.values()), s


def test_clean_beats_babble(scores):
    clean, noisy = scores
    assert clean["dnsmos_ovrl"] > noisy["dnsmos_ovrl"] + 1.0
    assert clean["dnsmos_bak"] > noisy["dnsmos_bak"]
    assert clean["dnsmos_p808"] > noisy["dnsmos_p808"]


def test_no_network_access(data_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("DNSMOS tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    x, rate = read_audio(data_dir / "corpus/speech/arctic_aew_a0001.wav")
    out = Dnsmos().score(None, x, rate)  # a fresh instance: models are loaded under the guard
    assert 1.0 <= out["dnsmos_ovrl"] <= 5.0


def test_reference_is_ignored(data_dir):
    x, rate = read_audio(data_dir / "corpus/speech/arctic_aew_a0001.wav")
    m = Dnsmos()
    assert m.score(None, x, rate) == m.score(x[::-1].copy(), x, rate)
