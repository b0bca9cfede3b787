"""bench/gpu_check.sh's parts run here on the CPU, so that the one run a GPU machine gets works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_scripts_parse():
    for script in ("gpu_check.sh", "gpu_pack.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "bench" / script)], check=True)


@pytest.mark.slow
def test_gpu_bench_kernels_on_the_cpu():
    """The kernel sections of bench/gpu_bench.py, small, with the CPU as the 'device': every number
    is printed and CPU and 'device' agree exactly."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--device", "cpu", "--minutes", "0.2",
                          "--tokens", "40", "--utterances", "8", "--repeat", "1", "--skip", "whisper"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    for line in ("pitch:", "intensity:", "formants:", "alignment:", "summary:"):
        assert line in out, out
    assert "gross differences (> 20 %)        0.0000%" in out
    assert "frames on the same path position  100.0000%" in out


def test_packed_whisper_weights_rebuild_the_model():
    """bench/gpu_pack.py's int8 weights: within half a quantisation step of the original, per row."""
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_pack import pack

    rng = torch.Generator().manual_seed(0)
    state = {"w": torch.randn(64, 128, generator=rng), "b": torch.randn(64, generator=rng)}
    packed = pack({"dims": {}, "model_state_dict": state})["state"]
    q, scale = packed["w"]["int8"], packed["w"]["scale"].float()
    rebuilt = q.float() * scale[:, None]
    assert (rebuilt - state["w"]).abs().max() <= 0.5 * scale.max() * 1.01
    assert packed["b"].dtype == torch.float16
