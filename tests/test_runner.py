"""The runner: resume, crash safety, failures, parallel jobs, determinism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import stage_fixture
from voli.cli import main
from voli.io import tables
from voli.runner import LocalExecutor
from voli.workdir import Workdir

TESTS = Path(__file__).resolve().parent


def processed(workdir: Path) -> list[str]:
    log = workdir / "processed.log"
    return log.read_text().split() if log.exists() else []


def test_resume_skips_finished_recordings(tmp_path):
    first = stage_fixture.run(tmp_path)
    assert first.processed == 5 and first.skipped == 0
    second = stage_fixture.run(tmp_path)
    assert second.processed == 0 and second.skipped == 5
    assert processed(tmp_path) == stage_fixture.RECORDINGS  # nothing ran twice


def test_changed_inputs_or_force_redo_work(tmp_path, monkeypatch):
    stage_fixture.run(tmp_path)
    monkeypatch.setenv("VOLI_TEST_VERSION", "2")  # new fingerprints: e.g. a changed config
    assert stage_fixture.run(tmp_path).processed == 5
    assert stage_fixture.run(tmp_path, force=True).processed == 5
    assert len(processed(tmp_path)) == 15


def test_one_failure_does_not_stop_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLI_TEST_FAIL", "rec2")
    result = stage_fixture.run(tmp_path)
    assert [f.recording_id for f in result.failures] == ["rec2"]
    assert "broken on purpose" in result.failures[0].message
    stage_dir = tmp_path / "07_toy"
    assert pq.read_table(stage_dir / "rows.parquet").column("recording_id").to_pylist() == ["rec0", "rec1", "rec3", "rec4"]
    assert pq.read_table(stage_dir / "failures.parquet").column("recording_id").to_pylist() == ["rec2"]
    monkeypatch.delenv("VOLI_TEST_FAIL")
    again = stage_fixture.run(tmp_path)  # the fixed recording alone is redone
    assert again.processed == 1 and again.skipped == 4 and again.ok
    assert pq.read_table(stage_dir / "failures.parquet").num_rows == 0


def test_a_bug_is_said_to_be_a_bug(tmp_path, monkeypatch, capsys):
    """An exception voli did not raise on purpose fails its recording only, and says it is voli's
    fault, naming the stage and the recording; failures.parquet keeps the traceback."""
    monkeypatch.setenv("VOLI_TEST_BUG", "rec1")
    monkeypatch.setenv("VOLI_TEST_FAIL", "rec3")
    result = stage_fixture.run(tmp_path)
    assert result.processed == 3
    failures = pq.read_table(tmp_path / "07_toy/failures.parquet").to_pandas().set_index("recording_id")
    bug, fault = failures.loc["rec1"], failures.loc["rec3"]
    assert bug.bug and bug.error_type == "KeyError"
    assert bug.message.startswith("KeyError: 'no such key'; this is a bug in voli")
    assert "stage_fixture.py" in bug.traceback and "{}[\"no such key\"]" in bug.traceback
    assert not fault.bug and fault.message == "rec3: broken on purpose" and pd.isna(fault.traceback)


def test_problems_are_collected_and_kept_on_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLI_TEST_PROBLEM", "rec2")
    result = stage_fixture.run(tmp_path)
    assert result.ok and [(p.recording_id, p.kind) for p in result.problems] == [("rec2", "toy_fallback")]
    table = pq.read_table(tmp_path / "07_toy/problems.parquet")
    assert table.to_pylist() == [{"stage": "toy", "recording_id": "rec2", "speaker_id": None,
                                         "kind": "toy_fallback", "message": "a fallback that changes the result"}]
    monkeypatch.delenv("VOLI_TEST_PROBLEM")
    again = stage_fixture.run(tmp_path)  # rec2 is not redone, and its problem still stands
    assert again.skipped == 5 and [p.recording_id for p in again.problems] == ["rec2"]


def test_sigkill_mid_stage_then_resume_gives_identical_tables(tmp_path):
    reference = tmp_path / "reference"
    stage_fixture.run(reference)
    killed = tmp_path / "killed"
    killed.mkdir()
    env = dict(os.environ, VOLI_TEST_HANG="rec3", PYTHONPATH=os.pathsep.join([str(TESTS), *sys.path]))
    proc = subprocess.Popen([sys.executable, str(TESTS / "stage_fixture.py"), str(killed)], env=env)
    deadline = time.time() + 60
    while not (killed / "hanging").exists():
        assert proc.poll() is None and time.time() < deadline, "the stage never reached rec3"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stage_dir = killed / "07_toy"
    assert not (stage_dir / ".done").exists()  # nothing vouches for the unfinished stage
    assert not (stage_dir / "rows.parquet").exists()
    assert sorted(p.name for p in (stage_dir / "parts").iterdir() if (p / ".done").exists()) == ["rec0", "rec1", "rec2"]
    result = stage_fixture.run(killed)
    assert result.skipped == 3 and result.processed == 2  # only unfinished recordings are redone
    assert processed(killed) == ["rec0", "rec1", "rec2", "rec3", "rec3", "rec4"]  # rec3 started, was killed, then redone
    for name in ("rows.parquet", "failures.parquet"):
        assert (stage_dir / name).read_bytes() == (reference / "07_toy" / name).read_bytes()


def test_crash_mid_write_leaves_no_table(tmp_path, monkeypatch):
    target = tmp_path / "t.parquet"
    table = stage_fixture.to_table([stage_fixture.Row("a", 1.0)], stage_fixture.Row)
    tables.write_table(table, target)
    good = target.read_bytes()

    def broken_write(tbl, path, **kw):
        Path(path).write_bytes(b"PAR1 half a table")
        raise OSError("disk full")

    monkeypatch.setattr(tables.pq, "write_table", broken_write)
    with pytest.raises(OSError):
        tables.write_table(table, target)
    assert target.read_bytes() == good  # the old table is intact, never half-replaced
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary left behind


def test_parallel_jobs_give_the_same_tables(tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    stage_fixture.run(serial)
    # spawned workers import stage_fixture from the tests directory
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    try:
        result = stage_fixture.run(parallel, executor=LocalExecutor(jobs=2))
    finally:
        os.environ["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep, 1)[1]
    assert result.processed == 5
    assert (parallel / "07_toy/rows.parquet").read_bytes() == (serial / "07_toy/rows.parquet").read_bytes()


def test_prepare_is_deterministic_and_resumes(sample_copy, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["prepare", str(sample_copy), "--workdir", str(a), "-q"]) == 0
    assert main(["prepare", str(sample_copy), "--workdir", str(b), "-q", "--jobs", "2"]) == 0
    for name in ("recordings", "recording_speakers", "speakers", "failures"):
        assert Workdir(a).table("prepare", name).read_bytes() == Workdir(b).table("prepare", name).read_bytes()
    os.utime(sample_copy / "audio/fr_01.flac")  # touched audio: that recording is checked again
    from voli.config import VoliConfig
    from voli.stages import run_pipeline

    (result,) = run_pipeline(sample_copy, a, VoliConfig(), progress=False)
    assert (result.processed, result.skipped) == (1, 7)


def test_workdir_lock(tmp_path):
    from voli.errors import VoliError
    from voli.runner import WorkdirLock

    with WorkdirLock(tmp_path):
        with pytest.raises(VoliError, match="another voli run is using this work directory"):
            with WorkdirLock(tmp_path):
                pass
