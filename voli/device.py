"""Compute-device resolution: the only module that asks torch about GPUs.

The device is resolved once at the entry point (CLI or recipe) and passed on
explicitly; tensors and models carry it from there.
"""

from __future__ import annotations

import re

from voli.errors import DeviceError

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


def resolve_device(spec: str = "auto"):
    """Turn a device string into a :class:`torch.device`.

    Parameters
    ----------
    spec : str
        ``"auto"`` (first CUDA GPU if torch sees one, else the CPU), ``"cpu"``,
        ``"cuda"`` / ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        If the string is malformed or names a device this machine lacks.
    """
    spec = str(spec).strip().lower()
    if not _DEVICE_RE.match(spec):
        raise DeviceError(
            f"unknown device {spec!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' (N = GPU index) or 'mps'"
        )
    import torch

    if spec == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("device 'mps' was requested but torch sees no Apple GPU: use --device cpu")
        return torch.device("mps")
    index = int(spec.split(":")[1]) if ":" in spec else 0
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        seen = ", ".join(f"cuda:{i}" for i in range(count)) or "no CUDA GPU"
        raise DeviceError(
            f"device {spec!r} was requested but torch sees {seen} "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}): "
            "use --device cpu or --device auto"
        )
    return torch.device(f"cuda:{index}")


def describe_device(device) -> str:
    """A one-line human description of a resolved device, for logs."""
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
