"""The Lyra v2 port: weights read from Google's .tflite files track the TFLite reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalsuite.soundstream.compare import compare_item, load_16k, snr_db
from evalsuite.soundstream.lyra_port import PortError, decoder_slots, load_graph_into, load_lyra_v2, read_codebooks
from evalsuite.soundstream.lyra_reference import LyraTflite
from evalsuite.soundstream.tflite_graph import TfliteGraph


@pytest.fixture(scope="module")
def model_dir(data_dir):
    return data_dir / "models" / "lyra-v2"


@pytest.fixture(scope="module")
def port(model_dir):
    return load_lyra_v2(model_dir)


@pytest.fixture(scope="module")
def ref(model_dir):
    return LyraTflite(model_dir)


@pytest.fixture(scope="module")
def speech(data_dir):
    return load_16k(data_dir / "corpus" / "speech" / "arctic_aew_a0001.wav")[: 16000 * 2]


def test_port_tracks_tflite_at_6kbps(port, ref, speech):
    row = compare_item(port, ref, speech, 6.0, "arctic")
    assert row.identical_codes >= 0.90
    assert row.snr_db >= 30.0
    assert abs(row.pesq_torch - row.pesq_tflite) <= 0.05
    assert row.pesq_torch > 2.5  # real speech coding, not silence


def test_float_layers_within_1e5(port, model_dir, speech):
    """The float encoder front (first conv .. first int8 boundary) against the interpreter's own
    intermediate tensors."""
    from ai_edge_litert.interpreter import Interpreter

    g = TfliteGraph(model_dir / "soundstream_encoder.tflite")
    first = next(op for op in g.ops if op.kind == "CONV_2D")
    it = Interpreter(model_path=str(model_dir / "soundstream_encoder.tflite"), experimental_preserve_all_tensors=True)
    run = it.get_signature_runner("serving_default")
    frames = speech[: 320 * 10].reshape(-1, 320)
    want = []
    for f in frames:
        run(input_audio=f[None])
        want.append(it.get_tensor(first.outputs[0])[0, :, 0, :])
    want = np.concatenate(want, 0).T
    with torch.no_grad():
        got = port.encoder.first(torch.from_numpy(frames.reshape(1, 1, -1))).numpy()[0]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_int8_emulation_matters(model_dir, ref, speech):
    """Without the int8 emulation the codes drift: the emulation is doing real work."""
    x = speech[: 16000]
    float_model = load_lyra_v2(model_dir, int8=False)
    c_ref = ref.codes(x, 46)
    c = float_model.encode(torch.from_numpy(x)[None], 46)[0].T.numpy()
    assert np.mean(c == c_ref) < 0.9


def test_codebooks_read_from_file(model_dir, ref):
    books = read_codebooks(TfliteGraph(model_dir / "quantizer.tflite", signature="decode"))
    assert books.shape == (46, 16, 64)
    codes = np.full((1, 46), -1, np.int64)
    codes[0, 5] = 7
    assert np.allclose(ref.dequantize(codes)[0], books[5, 7])


def test_loaded_port_streams_bit_exactly(port, speech):
    x = torch.from_numpy(speech[: 320 * 9])[None]
    offline = port.decode(port.encode(x, 30))
    for chunk in (1, 3):
        with port.streaming():
            parts = [port.decode(port.encode(x[:, i: i + 320 * chunk], 30)) for i in range(0, x.shape[-1], 320 * chunk)]
        assert torch.equal(torch.cat(parts, -1), offline)


def test_structure_mismatch_is_reported(model_dir, port):
    enc_graph = TfliteGraph(model_dir / "soundstream_encoder.tflite")
    with pytest.raises(PortError, match="layer sequence differs"):
        load_graph_into(decoder_slots(port), enc_graph, 0.3)


def test_snr_helper():
    a = np.ones(10)
    assert snr_db(a, a) == float("inf")
    assert snr_db(a, a * 0.9) == pytest.approx(20.0)
