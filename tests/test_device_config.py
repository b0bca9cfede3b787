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
    ("prepare:\n  clip_levle: 0.9\n", r"c.yaml: prepare: unknown key 'clip_levle'; did you mean 'clip_level'\?"),
    ("prepar:\n  clip_level: 0.9\n", r"c.yaml: unknown key 'prepar'; did you mean 'prepare'\?"),
    ("prepare:\n  clip_level: loud\n", r"c.yaml: prepare.clip_level: 'loud' is not a valid float"),
    ("prepare: [1, 2\n", r"c.yaml: not valid YAML"),
    ("align:\n  early_slack_s: -0.5\n", r"c.yaml: align.early_slack_s = -0.5: must be at least 0.0 \(the default is 0.3\)"),
    ("align:\n  window_min_probability: 2\n", r"c.yaml: align.window_min_probability = 2.0: must be between 0.0 and 1.0"),
    ("align:\n  frame_shift_ms: 0\n", r"align.frame_shift_ms = 0.0: must be between 1.0 and 50.0"),
    # every check is in voli.config, made when the file is read, before any stage runs
    ("transcribe:\n  backend: whisperx\n",
     r"c.yaml: transcribe.backend = 'whisperx': use one of auto, faster-whisper, openai-whisper \(the default is auto\)"),
    ("transcribe:\n  temperatures: [0.2, 0.0]\n", r"c.yaml: transcribe.temperatures = \[0.2, 0.0\]: must rise from 0.0"),
    ("features:\n  pitch_floor_hz: 500\n  pitch_ceiling_hz: 300\n",
     r"c.yaml: features.pitch_floor_hz = 500.0 is not below pitch_ceiling_hz = 300.0"),
    ("features:\n  min_pause_s: 0\n", r"c.yaml: features.min_pause_s = 0.0: must be above 0.0 \(the default is 0.2\)"),
    ("profile:\n  ddf: kenward\n", r"c.yaml: profile.ddf = 'kenward': use one of auto, kenward-roger, satterthwaite"),
    ("profile:\n  engine: R\n", r"c.yaml: profile.engine = 'R': use one of auto, lme4, statsmodels"),
    ("profile:\n  language: pooled\n", r"c.yaml: profile.language = 'pooled': use one of term, separate"),
    ("profile:\n  vowel_scale: bark\n", r"c.yaml: profile.vowel_scale = 'bark': use one of normalised, hz"),
    ("profile:\n  max_vowel_s: 0.02\n", r"c.yaml: profile.max_vowel_s = 0.02 s leaves no vowel above min_vowel_s"),
    ("profile:\n  pillai_pairs: [fr-e-E]\n", r"c.yaml: profile.pillai_pairs: 'fr-e-E' should read 'language:vowel-vowel'"),
    ("profile:\n  interactions: [education]\n", r"c.yaml: profile.interactions: 'education' should read 'attribute:control'"),
    ("profile:\n  roles: []\n", r"c.yaml: profile.roles = \[\]: name at least one role"),
])
def test_config_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_section_made_in_code_is_checked_too():
    """dataclasses.replace (the CLI's --retrain, the tests, a notebook) goes through the same checks."""
    import dataclasses

    from voli.config import FeatureConfig

    with pytest.raises(ConfigError, match="pitch_floor_hz = 800 is not below pitch_ceiling_hz = 700.0"):
        dataclasses.replace(FeatureConfig(), pitch_floor_hz=800)
