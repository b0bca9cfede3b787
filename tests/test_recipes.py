"""Recipes: the configs are valid, stages are gated, reruns are safe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from voli.config import load_config
from voli.workdir import Workdir

ROOT = Path(__file__).resolve().parent.parent
INTERVIEWS = ROOT / "recipes" / "interviews"


@pytest.mark.parametrize("conf", sorted((INTERVIEWS / "conf").glob("*.yaml")), ids=lambda p: p.name)
def test_recipe_configs_are_valid(conf):
    config = load_config(conf)  # unknown keys or wrong types would raise
    assert config.transcribe.model in ("base", "large-v3")


def run(*args, cwd=ROOT):
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_interview_recipe_help_and_bad_stage(sample_copy):
    out = run(INTERVIEWS / "run.sh", "--help")
    assert out.returncode == 0 and "0 prepare, 1 transcribe, 2 align, 3 features, 4 profile" in out.stdout
    out = run(INTERVIEWS / "run.sh", sample_copy, "--stage", "7")
    assert out.returncode == 2 and "unknown stage 7" in out.stderr


def test_interview_recipe_runs_a_stage_and_reruns_safely(sample_copy, tmp_path):
    work = tmp_path / "exp"
    args = (INTERVIEWS / "run.sh", sample_copy, "--conf", INTERVIEWS / "conf" / "cpu.yaml", "--workdir", work,
            "--stage", "prepare", "--stop-stage", "0", "--device", "cpu")
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "== stage 0: prepare" in first.stdout and Workdir(work).done("prepare").is_file()
    again = run(*args)
    assert again.returncode == 0 and "0 processed, 8 already done" in again.stdout
    assert not Workdir(work).stage("transcribe").exists()  # --stop-stage gates the rest


def test_interview_recipe_passes_the_executor_to_voli(sample_copy, tmp_path):
    pytest.importorskip("ray")
    work = tmp_path / "exp"
    out = run(INTERVIEWS / "run.sh", sample_copy, "--conf", INTERVIEWS / "conf" / "cpu.yaml", "--workdir", work,
              "--stop-stage", "prepare", "--device", "cpu", "--executor", "ray", "--jobs", "2")
    assert out.returncode == 0, out.stderr
    assert "prepare: 8 processed" in out.stdout and re.search(r"ray: 2 CPU\(s\), \d+ GPU\(s\), 2 worker\(s\)", out.stderr)
