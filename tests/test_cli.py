"""The `voli` command end to end on corpora_sample."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from voli.cli import main
from voli.runner import STAGES


@pytest.mark.parametrize("command", [*STAGES, "run", "report"])
def test_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    options = ("--workdir", "--quiet") if command == "report" else ("--workdir", "--device", "--jobs", "--force", "--config")
    for option in options:
        assert option in out


def test_run_on_sample(sample_copy, tmp_path, capsys):
    workdir = tmp_path / "exp"
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stop-stage", "prepare", "-q"]) == 0
    out = capsys.readouterr().out
    assert "prepare: 8 processed" in out and f"outputs: {workdir}" in out
    rec = pq.read_table(workdir / "00_prepare/recordings.parquet").to_pandas()
    assert sorted(rec.language.unique()) == ["en", "es", "fr", "pt"]
    assert (workdir / "00_prepare/.done").exists() and (workdir / "00_prepare/config.yaml").exists()
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stop-stage", "prepare", "-q"]) == 0
    assert "0 processed, 8 already done" in capsys.readouterr().out


def test_run_with_one_bad_recording_finishes_the_others(sample_copy, tmp_path, capsys):
    (sample_copy / "audio/pt_02.flac").write_bytes(b"not audio at all" * 100)
    workdir = tmp_path / "exp"
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stop-stage", "prepare", "-q"]) == 1
    err = capsys.readouterr().err
    assert "recording pt_02 failed" in err and "pt_02.flac" in err and "failed recordings: pt_02" in err
    done = pq.read_table(workdir / "00_prepare/recordings.parquet").column("recording_id").to_pylist()
    assert len(done) == 7 and "pt_02" not in done
    failures = pq.read_table(workdir / "00_prepare/failures.parquet").to_pandas()
    assert failures.recording_id.tolist() == ["pt_02"] and failures.stage.tolist() == ["prepare"]


def test_a_stage_before_its_input_is_a_clear_error(sample_copy, tmp_path, capsys):
    workdir = tmp_path / "exp"
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stage", "prepare", "--stop-stage", "prepare", "-q"]) == 0
    # a stage whose input is missing names the command to run first, and writes nothing
    assert main(["align", str(sample_copy), "--workdir", str(workdir), "-q"]) == 2
    assert "run `voli transcribe" in capsys.readouterr().err
    assert main(["profile", str(sample_copy), "--workdir", str(workdir), "-q"]) == 2
    assert "run `voli features" in capsys.readouterr().err
    assert (workdir / "00_prepare/.done").exists()  # the stages before it kept their work
    assert not (workdir / "04_profile" / ".done").exists()


def test_missing_corpus_dir(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nowhere")]) == 2
    assert "corpus directory not found" in capsys.readouterr().err


def test_console_script_runs(tmp_path):
    """The installed `voli` entry point, as a user calls it."""
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "voli"), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("voli ")
