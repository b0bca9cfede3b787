"""The pipeline: voli's stages in order. The only module that names them all.

Each stage package defines its stage (``voli/prepare.py``, ``voli/asr/stage.py``,
``voli/align/stage.py``, ``voli/features/stage.py``, ``voli/profile/stage.py``); this module gives
each its place, in the order of :data:`voli.workdir.STAGE_ORDER` (which also names their directories),
and runs them with :mod:`voli.runner`.
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
from voli.workdir import STAGE_ORDER

DEFINED = {s.name: s for s in (PREPARE, TRANSCRIBE, ALIGN, FEATURES, PROFILE)}
# in voli.workdir's order, the one that names the work directory's stage directories (tests/test_workdir.py)
STAGES = {name: dataclasses.replace(DEFINED[name], index=i) for i, name in enumerate(STAGE_ORDER)}


def stage_names() -> list[str]:
    return list(STAGES)


def run_pipeline(corpus_dir: Path, workdir: Path, config: VoliConfig, *, start: str = "prepare",
                 stop: str | None = None, **options) -> list[StageResult]:
    """Run voli's stages ``start`` .. ``stop`` (``stop`` defaults to ``start``); the options are
    :func:`voli.runner.run_pipeline`'s (device, force, jobs, executor, ray_address, progress)."""
    return _run_pipeline(list(STAGES.values()), corpus_dir, workdir, config, start=start, stop=stop, **options)
