"""What voli pins so that a CPU's vector extensions do not change results, and what it records."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from voli.reproducibility import PINS, cpu_flags
from voli.workdir import Workdir


def environment_after_import(**env) -> dict:
    """os.environ of a fresh process after `import voli`, with ``env`` set (None removes a variable)."""
    base = {k: v for k, v in os.environ.items() if k not in PINS and k != "VOLI_NATIVE_CPU"}
    base.update({k: v for k, v in env.items() if v is not None})
    code = "import json, os, voli; print(json.dumps(dict(os.environ)))"
    out = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.skipif("avx2" not in cpu_flags(), reason="the pins apply to x86-64 CPUs with AVX2")
def test_importing_voli_pins_every_library_to_its_avx2_kernels():
    after = environment_after_import()
    assert {k: after.get(k) for k in PINS} == PINS
    assert after["ONEDNN_MAX_CPU_ISA"] == "AVX2" and after["CT2_USE_MKL"] == "0"


def test_a_users_setting_wins_and_the_pins_can_be_turned_off():
    assert environment_after_import(CT2_FORCE_CPU_ISA="GENERIC")["CT2_FORCE_CPU_ISA"] == "GENERIC"
    native = environment_after_import(VOLI_NATIVE_CPU="1")
    assert not set(PINS) & set(native)


def test_each_stage_records_the_machine_it_ran_on(tiny, tmp_path):
    from voli.cli import main

    assert main(["prepare", str(tiny.save()), "--workdir", str(tmp_path / "exp"), "-q"]) == 0
    machine = yaml.safe_load(Workdir(tmp_path / "exp").config("prepare").read_text())["machine"]
    assert machine["cpu"] and machine["cpu_count"] >= 1
    assert set(machine["vector_extensions"]) <= cpu_flags()
    if "avx2" in cpu_flags():
        assert "avx2" in machine["vector_extensions"] and machine["pins"] == PINS
    assert any(lib["internal_api"] for lib in machine["blas"])  # numpy's BLAS and the kernels it picked


def test_each_stage_says_what_computed_its_output():
    """config.yaml's versions: the libraries every stage uses, and each stage's own, programs
    included (libespeak-ng for align's G2P, R and its packages for the profile's models)."""
    import importlib.metadata

    from voli.runner import library_versions
    from voli.stages import STAGES

    transcribe = library_versions(STAGES["transcribe"])
    assert transcribe["ctranslate2"] == importlib.metadata.version("ctranslate2")
    assert {"faster-whisper", "openai-whisper", "silero-vad", "torch", "numpy"} <= set(transcribe)
    align = library_versions(STAGES["align"])
    assert align["libespeak-ng"] not in ("", "not found") and "pympi-ling" in align
    profile = library_versions(STAGES["profile"])
    assert profile["statsmodels"] == importlib.metadata.version("statsmodels")
    # R is one of make test's system dependencies (scripts/system-deps.sh): missing, this fails
    assert profile["R"][0].isdigit() and profile["lme4"][0].isdigit() and profile["lmerTest"][0].isdigit()
