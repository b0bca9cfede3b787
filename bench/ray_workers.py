"""Speed-up of the Ray executor from 1 to 2 workers on this machine, with the local executor beside it.

Runs corpora_sample through align once (the inputs), then times `voli features` (Ray tasks) and
`voli transcribe` (Whisper on Ray actors) with --force: the local executor, Ray with one worker,
Ray with two. Every run is a fresh process with one torch/CTranslate2 thread per worker
(OMP_NUM_THREADS=1), so the workers, not the threads, are what changes; times include start-up
(imports, Ray's start, model loading), as a user sees them:

    .venv/bin/python bench/ray_workers.py [--stages features transcribe] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def voli(*args) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "voli", *map(str, args), "--device", "cpu", "-q"],
                         env=ENV, capture_output=True, text=True)
    if out.returncode not in (0, 1):  # 1: some recording failed, which the benchmark does not mind
        sys.exit(f"voli {' '.join(map(str, args))} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stages", nargs="+", default=["features", "transcribe"], choices=["features", "transcribe"])
    p.add_argument("--workdir", type=Path, help="default: a temporary directory, deleted at the end")
    args = p.parse_args()

    root = args.workdir or Path(tempfile.mkdtemp(prefix="voli-ray-"))
    try:
        corpus, work = ROOT / "corpora_sample", root / "exp"
        print(f"inputs: corpora_sample through align ({voli('run', corpus, '--workdir', work, '--stop-stage', 'align'):.0f} s)",
              flush=True)
        print(f"{'stage':>10} {'local s':>8} {'ray x1 s':>9} {'ray x2 s':>9} {'speed-up 1->2':>13}", flush=True)
        for stage in [s for s in ("features", "transcribe") if s in args.stages]:  # features first: --force
            base = ("--workdir", work, "--force")                               # on transcribe voids align
            local = voli(stage, corpus, *base)
            one = voli(stage, corpus, *base, "--executor", "ray", "--jobs", 1)
            two = voli(stage, corpus, *base, "--executor", "ray", "--jobs", 2)
            print(f"{stage:>10} {local:8.1f} {one:9.1f} {two:9.1f} {one / two:13.2f}", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
