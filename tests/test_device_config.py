"""Device resolution and configuration files."""

from __future__ import annotations

import pytest
import torch

from voli.config import PrepareConfig, load_config
from voli.device import resolve_device
from voli.errors import ConfigError, DeviceError


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_missing_gpu_is_named():
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=rf"'cuda:{n}' was requested but torch sees .*use --device cpu"):
        resolve_device(f"cuda:{n}")


def test_malformed_device():
    with pytest.raises(DeviceError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


@pytest.mark.requires_cuda
def test_cuda_resolves_to_a_real_gpu():
    device = resolve_device("cuda")
    assert torch.ones(3, device=device).sum().item() == 3.0


def test_config_defaults_and_override(tmp_path):
    assert load_config(None).prepare == PrepareConfig()
    path = tmp_path / "c.yaml"
    path.write_text("prepare:\n  clip_level: 0.98\n")
    assert load_config(path).prepare.clip_level == 0.98


@pytest.mark.parametrize("text, message", [
    ("prepare:\n  clip_levle: 0.9\n", r"c.yaml.prepare: unknown key 'clip_levle'; did you mean 'clip_level'\?"),
    ("prepar:\n  clip_level: 0.9\n", r"unknown key 'prepar'; did you mean 'prepare'\?"),
    ("prepare:\n  clip_level: loud\n", r"c.yaml.prepare.clip_level: 'loud' is not a valid float"),
    ("prepare: [1, 2\n", r"c.yaml: not valid YAML"),
    ("align:\n  early_slack_s: -0.5\n", r"c.yaml.align.early_slack_s = -0.5: must be at least 0.0 \(the default is 0.3\)"),
    ("align:\n  window_min_probability: 2\n", r"align.window_min_probability = 2.0: must be between 0.0 and 1.0"),
    ("align:\n  frame_shift_ms: 0\n", r"align.frame_shift_ms = 0.0: must be between 1.0 and 50.0"),
])
def test_config_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
