"""A long interview through every stage on the CPU: time and peak memory per stage.

Builds a corpus of corpora_sample's eight interviews plus one long recording (es_01's speech
tiled to --minutes, its interviewer and interviewee), then runs `voli prepare`, `transcribe`,
`align`, `features` and `profile` one after another, each in a fresh process, and prints per
stage the wall time, the process's peak resident memory, and the peak minus the memory held
once torch and the stage's models are loaded (the target of the scale-out issue: at most
4 GB beyond the model weights on a 2-hour interview):

    .venv/bin/python bench/long_interview.py --minutes 120 [--workdir /tmp/long]
    .venv/bin/python bench/long_interview.py --workdir /tmp/long --redo features profile  # measure again

A temporary work directory is deleted at the end; one given with --workdir is kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["prepare", "transcribe", "align", "features", "profile"]

# Runs one stage in this fresh process. The baseline is the resident memory once torch, voli
# and the stage's model (Whisper for transcribe; Silero VAD and the speaker encoder load later
# and are small) are in memory; the stage's own growth is measured above it.
CHILD = r"""
import json, resource, sys, time
import torch
from voli.cli import main
from voli.config import load_config
stage, corpus, work, config, *extra = sys.argv[1:]
if stage == "transcribe":
    from voli.asr.transcribe import get_model
    from voli.device import resolve_device
    cfg = load_config(config).transcribe
    backend = "faster-whisper" if cfg.backend == "auto" else cfg.backend
    get_model(cfg.model, resolve_device("cpu"), backend)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
code = main([stage, corpus, "--workdir", work, "--config", config, "--device", "cpu", "-q", *extra])
print(json.dumps({"code": code, "seconds": time.perf_counter() - t0, "base_mb": base,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_corpus(root: Path, minutes: float) -> Path:
    """corpora_sample plus `long_es`: es_01 tiled to ``minutes`` as one recording."""
    from vad_memory import write_tiled_flac

    from voli.io import audio

    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpora_sample", corpus, ignore=shutil.ignore_patterns("truth"))
    piece = audio.load(corpus / "audio/es_01.flac", sample_rate=16000)
    write_tiled_flac(corpus / "audio/long_es.flac", piece, minutes)
    rec = pd.read_csv(corpus / "recordings.csv", keep_default_na=False)
    long_row = {**rec.loc[rec.recording_id == "es_01"].iloc[0].to_dict(), "recording_id": "long_es",
                "audio": "audio/long_es.flac"}
    pd.concat([rec, pd.DataFrame([long_row])]).to_csv(corpus / "recordings.csv", index=False)
    return corpus


def audio_minutes(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration / 60


def main() -> None:
    from voli.workdir import Workdir

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=120)
    p.add_argument("--redo", nargs="+", choices=STAGES, default=None,
                   help="with --workdir of an earlier run: run only these stages again (--force) and measure them")
    p.add_argument("--workdir", type=Path, help="where to build the corpus and run, kept (default: a temporary directory)")
    args = p.parse_args()

    root = args.workdir or Path(tempfile.mkdtemp(prefix="voli-long-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        config = root / "config.yaml"
        if args.redo:
            if not (root / "corpus").is_dir():
                sys.exit(f"--redo needs the --workdir of an earlier run; {root / 'corpus'} not found")
            corpus = root / "corpus"
        else:
            corpus = build_corpus(root, args.minutes)
            config.write_text((ROOT / "recipes/interviews/conf/cpu.yaml").read_text())
        minutes = audio_minutes(corpus / "audio/long_es.flac")
        print(f"corpus: 8 sample interviews + one of {minutes:.0f} min; stages on the CPU, one process each",
              flush=True)
        print(f"{'stage':>10} {'time s':>8} {'peak MB':>8} {'models MB':>9} {'beyond MB':>9}", flush=True)
        worst = 0.0
        for stage in args.redo or STAGES:
            out = subprocess.run([sys.executable, "-c", CHILD, stage, str(corpus), str(root / "exp"), str(config),
                                  *(["--force"] if args.redo else [])],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"stage {stage} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if r["code"] != 0:
                sys.exit(f"stage {stage} exited {r['code']}:\n{out.stderr[-3000:]}")
            beyond = r["peak_mb"] - r["base_mb"]
            worst = max(worst, beyond)
            print(f"{stage:>10} {r['seconds']:8.0f} {r['peak_mb']:8.0f} {r['base_mb']:9.0f} {beyond:9.0f}", flush=True)
        words = pd.read_parquet(Workdir(root / "exp").table("align", "words"))
        vowels = pd.read_parquet(Workdir(root / "exp").table("features", "vowels"))
        long_words = int((words.recording_id == "long_es").sum())
        print(f"long recording: {long_words} aligned words, {int((vowels.recording_id == 'long_es').sum())} vowel tokens")
        print(f"largest memory beyond torch and the models: {worst / 1024:.2f} GB (target <= 4 GB)")
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
