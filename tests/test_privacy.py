"""Privacy: no network at run time, and no transcript text in the logs."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from voli.workdir import Workdir

BLOCK_AND_RUN = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("voli test: network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from voli.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_the_whole_pipeline_runs_with_the_network_blocked_and_logs_no_transcript(sample_copy, tmp_path):
    recordings = pd.read_csv(sample_copy / "recordings.csv", dtype=str, keep_default_na=False)
    recordings[recordings.recording_id.isin(["fr_01", "fr_02"])].to_csv(sample_copy / "recordings.csv", index=False)
    work = tmp_path / "exp"
    config = tmp_path / "config.yaml"
    config.write_text("profile:\n  permutations: 20\n")  # the default 200 only costs the suite time
    out = subprocess.run([sys.executable, "-c", BLOCK_AND_RUN, "run", str(sample_copy), "--workdir", str(work),
                          "--config", str(config), "--device", "cpu", "-v"], capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert "network access attempted" not in log
    assert out.returncode == 0, log[-3000:]
    assert Workdir(work).report().is_file()
    # the debug log names files, stages and counts, never what was said
    words = pd.read_parquet(Workdir(work).table("transcribe", "words")).word.str.strip(".,?!;:").str.lower()
    said = {w for w in words if len(w) >= 6}
    assert len(said) > 20
    leaked = sorted(w for w in said if w in log.lower())
    assert not leaked, leaked
