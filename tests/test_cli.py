"""The `voli` command end to end on corpora_sample."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from voli.cli import main
from voli.stages import STAGES
from voli.workdir import Workdir


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
    rec = pq.read_table(Workdir(workdir).table("prepare", "recordings")).to_pandas()
    assert sorted(rec.language.unique()) == ["en", "es", "fr", "pt"]
    assert Workdir(workdir).done("prepare").exists() and Workdir(workdir).config("prepare").exists()
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stop-stage", "prepare", "-q"]) == 0
    assert "0 processed, 8 already done" in capsys.readouterr().out


def test_run_with_one_bad_recording_finishes_the_others(sample_copy, tmp_path, capsys):
    (sample_copy / "audio/pt_02.flac").write_bytes(b"not audio at all" * 100)
    workdir = tmp_path / "exp"
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stop-stage", "prepare", "-q"]) == 1
    err = capsys.readouterr().err
    assert "recording pt_02 failed" in err and "pt_02.flac" in err and "failed recordings: pt_02" in err
    done = pq.read_table(Workdir(workdir).table("prepare", "recordings")).column("recording_id").to_pylist()
    assert len(done) == 7 and "pt_02" not in done
    failures = pq.read_table(Workdir(workdir).table("prepare", "failures")).to_pandas()
    assert failures.recording_id.tolist() == ["pt_02"] and failures.stage.tolist() == ["prepare"]


def test_a_bug_reaches_the_user_as_a_bug_not_as_internals(tiny, tmp_path, capsys, monkeypatch):
    """A crash inside one recording fails that recording, with a message naming the stage, the
    recording and voli as the culprit; a crash outside any recording stops the run the same way.
    Neither shows a traceback unless -v."""
    import voli.corpus

    corpus, workdir = tiny.save(), tmp_path / "exp"
    real = voli.corpus.check_recording

    def broken(row, **kw):
        if row.recording_id == "r2":
            raise ZeroDivisionError("division by zero")
        return real(row, **kw)

    monkeypatch.setattr(voli.corpus, "check_recording", broken)
    assert main(["prepare", str(corpus), "--workdir", str(workdir)]) == 1
    err = capsys.readouterr().err
    assert ("prepare: recording r2 failed: ZeroDivisionError: division by zero; this is a bug in voli, "
            "please report it") in err
    assert "prepare: r2 failed on a bug in voli" in err and "Traceback" not in err
    assert "failed recordings: r2" not in err  # nothing in the recording for the user to fix
    monkeypatch.setattr(voli.corpus, "read_speakers", lambda corpus_dir: {}["speakers"])
    assert main(["prepare", str(corpus), "--workdir", str(workdir), "--force"]) == 2
    err = capsys.readouterr().err
    assert "voli error: prepare: KeyError: 'speakers'; this is a bug in voli" in err and "Traceback" not in err
    assert main(["prepare", str(corpus), "--workdir", str(workdir), "--force", "-v"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_stage_before_its_input_is_a_clear_error(sample_copy, tmp_path, capsys):
    workdir = tmp_path / "exp"
    assert main(["run", str(sample_copy), "--workdir", str(workdir), "--stage", "prepare", "--stop-stage", "prepare", "-q"]) == 0
    # a stage whose input is missing names the command to run first, and writes nothing
    assert main(["align", str(sample_copy), "--workdir", str(workdir), "-q"]) == 2
    assert "run `voli transcribe" in capsys.readouterr().err
    assert main(["profile", str(sample_copy), "--workdir", str(workdir), "-q"]) == 2
    assert "run `voli features" in capsys.readouterr().err
    assert Workdir(workdir).done("prepare").exists()  # the stages before it kept their work
    assert not Workdir(workdir).done("profile").exists()


def test_missing_corpus_dir(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nowhere")]) == 2
    assert "corpus directory not found" in capsys.readouterr().err


def test_console_script_runs(tmp_path):
    """The installed `voli` entry point, as a user calls it."""
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "voli"), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("voli ")


@pytest.mark.slow
def test_stderr_holds_voli_lines_only(transcribed, aligned, featured, profiled):
    """Every stage on corpora_sample (MP3 es_02 included) writes only voli's own lines on standard
    error: no decoder chatter (libmpg123), no library warnings, no tracebacks."""
    import re

    from conftest import FIXTURE_STDERR

    own = re.compile(rf"^(voli (ERROR|WARNING|INFO|DEBUG|error): |({'|'.join(STAGES)}): )")
    assert set(FIXTURE_STDERR) == {"transcribed", "aligned", "featured", "profiled"}
    for fixture, err in FIXTURE_STDERR.items():
        foreign = [line for line in err.splitlines() if line.strip() and not own.match(line)]
        assert not foreign, (fixture, foreign[:5])
