"""Crash safety and scale-out on the sample: every stage survives SIGKILL, Ray gives local's tables.

Every run is a fresh `voli` process with a fixed thread count (conftest.voli_process), like the
session fixtures it is compared with, byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time

from pathlib import Path

import pandas as pd
import pytest

from conftest import run_voli, voli_process
from voli.workdir import STAGE_ORDER, dirname

STAGE_DIRS = {name: dirname(name) for name in STAGE_ORDER}


def compared_files(stage_dir):
    """The files a stage's result is: its tables (combined and per recording) and its TextGrids."""
    return sorted(p.relative_to(stage_dir) for p in stage_dir.rglob("*")
                  if p.suffix in (".parquet", ".TextGrid", ".csv") and "model" not in p.parts)


def assert_same_files(reference, work):
    names = compared_files(reference)
    assert names and names == compared_files(work)
    for rel in names:
        assert (work / rel).read_bytes() == (reference / rel).read_bytes(), rel


def stage_inputs(stage, request):
    """(workdir of the uninterrupted run, holding the stage and those before it; corpus; extra arguments)."""
    if stage in ("prepare", "transcribe"):
        _, work, corpus = request.getfixturevalue("transcribed")
        return work, corpus, []
    config = request.getfixturevalue("aligned")[3]  # align iterations, profile permutations
    if stage == "align":
        _, work, corpus, _ = request.getfixturevalue("aligned")
        return work, corpus, ["--config", config]
    _, work, corpus = request.getfixturevalue("featured" if stage == "features" else "profiled")
    return work, corpus, ["--config", config]


REDONE = 2  # recordings whose parts a resume test removes (the suite's time: the others are kept, as a
# resumed run keeps them); align keeps its trained model (the one the local run trained, reused as when resuming)


def undo_recordings(stage_dir, n: int = REDONE) -> list[str]:
    """Remove ``n`` finished recordings' parts and the stage's .done (the first n, sorted): a run must redo them."""
    parts = sorted(p.parent for p in (stage_dir / "parts").glob("*/.done"))[:n]
    for part in parts:
        shutil.rmtree(part)
    (stage_dir / ".done").unlink()
    return [p.name for p in parts]


def counts(output, stage):
    m = re.search(rf"{stage}: (\d+) processed, (\d+) already done, (\d+) failed", output)
    assert m, output[-3000:]
    return tuple(int(x) for x in m.groups())


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGE_DIRS))
def test_sigkill_mid_stage_then_resume_gives_identical_tables(stage, request, tmp_path):
    """Kill `voli STAGE` part-way (SIGKILL), rerun: only unfinished recordings are redone and every
    table and TextGrid equals, byte for byte, that of the uninterrupted run. Per-recording stages
    start with REDONE recordings to do (the others' parts kept, as after an earlier interruption);
    prepare and profile start from nothing."""
    reference, corpus, extra = stage_inputs(stage, request)
    later = [d for name, d in STAGE_DIRS.items() if list(STAGE_DIRS).index(name) > list(STAGE_DIRS).index(stage)]
    work = tmp_path / "exp"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(*later, ".lock"))
    stage_dir = work / STAGE_DIRS[stage]
    if stage in ("prepare", "profile"):
        shutil.rmtree(stage_dir)
    else:
        undo_recordings(stage_dir)
    done_at_start = len(list((stage_dir / "parts").glob("*/.done")))
    args = (stage, corpus, "--workdir", work, "--device", "cpu", *extra)

    proc = voli_process(*args, "-q")
    parts = stage_dir / "parts"
    deadline = time.time() + 600
    while True:  # per-recording stages: kill after the first finished recording; profile: while it writes
        if stage == "profile":
            started = (stage_dir / "figures").is_dir() and any((stage_dir / "figures").iterdir())
        else:
            started = len(list(parts.glob("*/.done"))) > done_at_start
        if started:
            break
        assert proc.poll() is None and time.time() < deadline, f"{stage} ended or stalled before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (stage_dir / ".done").exists(), "the stage finished before the kill"
    done_before = len(list(parts.glob("*/.done")))
    assert stage == "profile" or done_before > done_at_start

    code, output = run_voli(*args)
    failures = pd.read_parquet(reference / STAGE_DIRS[stage] / "failures.parquet")
    assert code == (1 if len(failures) else 0), output[-3000:]  # transcribe: the noise-only file fails
    if stage != "profile":
        planned = len(list((reference / STAGE_DIRS[stage] / "parts").glob("*/.done"))) + len(failures)
        processed, skipped, failed = counts(output, stage)
        assert skipped == done_before >= 1 and processed + failed == planned - done_before >= 1
    assert_same_files(reference / STAGE_DIRS[stage], stage_dir)


@pytest.mark.slow
def test_ray_executor_gives_the_local_executor_tables(request, tmp_path):
    """`voli run --executor ray --jobs 2` (Whisper and the aligner on two Ray actors, prepare and
    features as Ray tasks) writes the same tables and TextGrids as the local executor. Each stage
    runs on Ray for one recording (the local run's parts of the others are kept, as a resumed run
    would, and align's model: the suite's time); the stages' tables hold both."""
    pytest.importorskip("ray")
    _, _, _, config = request.getfixturevalue("aligned")
    local_code, local, corpus = request.getfixturevalue("featured")
    work = tmp_path / "exp"
    shutil.copytree(local, work, ignore=shutil.ignore_patterns(STAGE_DIRS["profile"], ".lock"))
    for stage in ("prepare", "transcribe", "align", "features"):
        undo_recordings(work / STAGE_DIRS[stage], 1)
    code, output = run_voli("run", corpus, "--workdir", work, "--stop-stage", "features", "--config", config,
                            "--executor", "ray", "--jobs", "2", "--device", "cpu", "-q")
    assert code == 1, output[-3000:]  # the noise-only recording fails transcription, as in the local run
    for stage in ("prepare", "transcribe", "align", "features"):
        processed, skipped, failed = counts(output, stage)
        assert processed == 1 and skipped >= 6, (stage, output[-3000:])
    for stage in ("prepare", "transcribe", "align", "features"):
        assert_same_files(local / STAGE_DIRS[stage], work / STAGE_DIRS[stage])


def test_ray_options_are_checked(tmp_path):
    from voli.errors import VoliError
    from voli.runner import make_executor

    with pytest.raises(VoliError, match="--ray-address needs --executor ray"):
        make_executor("local", 1, "auto")
    with pytest.raises(VoliError, match="unknown executor 'spark'; use local or ray"):
        make_executor("spark", 1)
    with pytest.raises(VoliError, match="--jobs must be at least 1"):
        make_executor("ray", 0)


@pytest.mark.slow
def test_a_dead_ray_worker_costs_only_its_recording(tmp_path, monkeypatch):
    """A Ray worker that dies (here: exits mid-recording, as when it runs out of memory) becomes a
    failure of that recording, naming the cause and the fix; the other recordings finish, on
    tasks and on actors (whose dead member is replaced)."""
    import dataclasses

    import stage_fixture
    from voli.runner import RayExecutor, run_stage

    pytest.importorskip("ray")
    monkeypatch.setenv("VOLI_TEST_CRASH", "rec2")  # before Ray starts: its workers inherit it,
    monkeypatch.setenv("PYTHONPATH", str(Path(stage_fixture.__file__).parent))  # and import the toy stage
    executor = RayExecutor(2)
    try:
        for keeps_model in (False, True):
            work = tmp_path / f"keeps_model_{keeps_model}"
            stage = dataclasses.replace(stage_fixture.TOY, keeps_model=keeps_model)
            ctx = stage_fixture.StageContext(work, work, stage_fixture.VoliConfig())
            result = run_stage(stage, ctx, executor=executor, progress=False)
            assert result.processed == 4 and [f.recording_id for f in result.failures] == ["rec2"]
            assert "the Ray worker processing it was lost" in result.failures[0].message
            assert "check the node's memory" in result.failures[0].message
            rows = pd.read_parquet(work / "07_toy" / "rows.parquet")
            assert rows.recording_id.tolist() == ["rec0", "rec1", "rec3", "rec4"]
    finally:
        executor.close()
