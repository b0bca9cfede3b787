"""The pipeline: voli's stages in order. The only module that names them all.

Each stage package defines its stage (``voli/prepare.py``, ``voli/asr/stage.py``,
``voli/align/stage.py``, ``voli/features/stage.py``, ``voli/profile/stage.py``); this module gives
each its place (``00_prepare`` ... ``04_profile``) and runs them with :mod:`voli.runner`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from voli.align.stage import STAGE as ALIGN
from voli.asr.stage import STAGE as TRANSCRIBE
from voli.config import VoliConfig
from voli.features.stage import STAGE as FEATURES
from voli.prepare import STAGE as PREPARE
from voli.profile.stage import STAGE as PROFILE
from voli.runner import StageResult, run_pipeline as _run_pipeline

STAGES = {s.name: dataclasses.replace(s, index=i)
          for i, s in enumerate((PREPARE, TRANSCRIBE, ALIGN, FEATURES, PROFILE))}


def stage_names() -> list[str]:
    return list(STAGES)


def run_pipeline(corpus_dir: Path, workdir: Path, config: VoliConfig, *, start: str = "prepare",
                 stop: str | None = None, **options) -> list[StageResult]:
    """Run voli's stages ``start`` .. ``stop`` (``stop`` defaults to ``start``); the options are
    :func:`voli.runner.run_pipeline`'s (device, force, jobs, executor, ray_address, progress)."""
    return _run_pipeline(list(STAGES.values()), corpus_dir, workdir, config, start=start, stop=stop, **options)
