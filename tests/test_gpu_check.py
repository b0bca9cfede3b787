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
def test_gpu_bench_kernel_sections_run_on_the_cpu():
    """The kernel sections of bench/gpu_bench.py, small, with the CPU as the 'device'. This checks the
    script, not a GPU: every section runs and prints its figures, and the same CPU kernels run twice
    on the same inputs give the same result (run-to-run determinism: gross differences 0, every frame
    on the same path position). CPU against GPU is measured only on a GPU machine (bench/gpu_check.sh:
    the requires_cuda parity tests and this script with --device cuda); none has been lent yet."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--device", "cpu", "--minutes", "0.2",
                          "--tokens", "40", "--utterances", "8", "--repeat", "1", "--skip", "whisper"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    for line in ("pitch:", "intensity:", "formants:", "alignment:", "summary:"):
        assert line in out, out
    assert "gross differences (> 20 %)        0.0000%" in out
    assert "frames on the same path position  100.0000%" in out


def test_gpu_bench_agreement_counts_planted_differences():
    """The agreement figures the GPU run will print count differences where there are some: on a track
    with known disagreements planted (1 % of the voiced frames an octave off, 10 cents on the rest, 2 %
    of the frames unvoiced on one side), and on a state path with 3 frames of 200 moved."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_bench import path_agreement, pitch_agreement

    a = np.full(1000, 200.0)
    a[:100] = np.nan  # unvoiced on both sides
    b = a * 2 ** (10 / 1200)
    b[100:109] *= 2  # 9 octave errors among the 900 voiced in both
    b[-20:] = np.nan  # 20 frames voiced on the CPU only
    gross, cents, voicing = pitch_agreement(a, b)
    assert gross == pytest.approx(9 / 880) and cents == pytest.approx(10) and voicing == pytest.approx(0.02)
    assert pitch_agreement(a, a.copy()) == (0.0, 0.0, 0.0)
    path = np.arange(200)
    moved = path.copy()
    moved[[5, 50, 150]] += 1
    assert path_agreement([(path,), None], [(moved,), (path,)]) == pytest.approx(197 / 200)


def test_packed_whisper_weights_rebuild_the_model():
    """bench/gpu_pack.py's int8 weights come back within half a quantisation step of each row's
    values, for matrices and for Whisper's 3-D convolution kernels; small tensors stay float16."""
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_pack import pack, unpack_state

    rng = torch.Generator().manual_seed(0)
    state = {"w": torch.randn(64, 128, generator=rng) * torch.linspace(0.1, 3, 64)[:, None],
             "conv": torch.randn(32, 80, 3, generator=rng), "b": torch.randn(64, generator=rng)}
    packed = pack({"dims": {}, "model_state_dict": state})["state"]
    rebuilt = unpack_state(packed)
    for name in ("w", "conv"):
        step = packed[name]["scale"].float().reshape(-1, *[1] * (state[name].dim() - 1))
        assert rebuilt[name].shape == state[name].shape
        assert ((rebuilt[name] - state[name]).abs() <= 0.5 * step * 1.01).all(), name
    assert packed["b"].dtype == torch.float16


@pytest.mark.slow
def test_gpu_bench_whisper_section_on_the_cpu(tmp_path):
    """The Whisper section of bench/gpu_bench.py end to end on the CPU, with tiny.en packed as
    bench/gpu_pack.py packs it for the GPU machine (one window, batched and through whisper.transcribe)."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_pack.py"), str(tmp_path / "tiny.pt")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--device", "cpu", "--skip",
                          "pitch,formants,alignment", "--whisper", str(tmp_path / "tiny.pt"), "--windows", "1",
                          "--batch-sizes", "1", "--repeat", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for line in ("voli decode_windows, batch 1, cpu", "whisper.transcribe, one window at a time, cpu",
                 "summary: whisper_x_real_time"):
        assert line in out.stdout, out.stdout
    differ = float(out.stdout.split("whisper.transcribe, cpu")[1].split("%")[0])
    assert differ < 15, out.stdout  # the same weights on the same window: voli's batch path and Whisper's own
