"""Bit packing (Lyra packetiser layout) and G.192 parsing."""
import numpy as np
import pytest

from evalsuite.codecs.packing import G192Frame, g192_coded_bits, g192_read, g192_write
from evalsuite.soundstream.bitpack import pack_frame as pack_codes
from evalsuite.soundstream.bitpack import unpack_frame as unpack_codes


def test_pack_codes_lyra_layout():
    # first code in the most significant bits, MSB-first bytes, last byte zero-padded
    assert pack_codes(np.array([0xA, 0xB, 0xC]), 4) == bytes([0xAB, 0xC0])
    rng = np.random.default_rng(0)
    for n in (1, 15, 16, 30, 46):
        codes = rng.integers(0, 16, n)
        data = pack_codes(codes, 4)
        assert len(data) == (4 * n + 7) // 8
        assert np.array_equal(unpack_codes(data, n, 4), codes)


def test_pack_codes_rejects_bad_input():
    with pytest.raises(ValueError):
        pack_codes(np.array([16]), 4)
    with pytest.raises(ValueError, match="bytes"):
        unpack_codes(b"\x00", 15, 4)


def test_g192_round_trip_and_counts():
    frames = [G192Frame(True, np.array([1, 0, 1], np.uint8)), G192Frame(True, np.zeros(0, np.uint8)),
              G192Frame(False, np.ones(5, np.uint8))]
    data = g192_write(frames)
    words = np.frombuffer(data, "<u2")
    assert words[0] == 0x6B21 and words[1] == 3 and list(words[2:5]) == [0x81, 0x7F, 0x81]
    back = g192_read(data)
    assert [len(f.bits) for f in back] == [3, 0, 5] and [f.good for f in back] == [True, True, False]
    assert g192_coded_bits(data) == (8, 3)


def test_g192_malformed():
    good = g192_write([G192Frame(True, np.array([1, 0], np.uint8))])
    with pytest.raises(ValueError, match="sync"):
        g192_read(b"\x00\x00" + good)
    with pytest.raises(ValueError, match="truncated"):
        g192_read(good[:-2])
    with pytest.raises(ValueError, match="neither"):
        g192_read(good[:-2] + b"\x01\x00")
