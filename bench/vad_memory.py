"""Peak memory of the streaming part of transcription on a long recording.

Writes an N-minute FLAC (corpora_sample speech and pauses, repeated) block by block, then runs
the voice-activity pass over it as `voli transcribe` does (16 kHz stream, 10-minute VAD blocks)
and windows the speech. Prints the resident memory before and after, and the time:

    .venv/bin/python bench/vad_memory.py --minutes 120
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_tiled_flac(path: Path, piece: np.ndarray, minutes: float) -> int:
    """Write ``piece`` (16 kHz) repeated to ``minutes`` of FLAC, a block at a time; returns the sample count."""
    total = int(minutes * 60 * 16000)
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, format="FLAC") as fh:
        written = 0
        while written < total:
            block = piece[: total - written]
            fh.write(block)
            written += len(block)
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=120)
    args = p.parse_args()

    from voli.asr import vad
    from voli.io import audio

    piece = audio.load(ROOT / "corpora_sample/audio/es_01.flac", sample_rate=16000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        total = write_tiled_flac(path, piece, args.minutes)
        vad._load()  # the model, so that its memory is in the baseline
        before = rss_mb()
        t0 = time.perf_counter()
        frames: list[float] = []  # kept, as the transcription keeps them for the word starts
        regions = vad.speech_regions(audio.iter_resampled(path, sample_rate=16000), frames=frames)
        wins = vad.windows(regions)
        seconds = time.perf_counter() - t0
        after = rss_mb()
    print(f"{args.minutes:.0f} min of audio: {len(regions)} speech regions, {len(wins)} windows in {seconds:.0f} s")
    print(f"resident memory: {before:.0f} MB before the pass, {after:.0f} MB after "
          f"(+{after - before:.0f} MB; the decoded audio alone would be {total * 4 / 2**20:.0f} MB)")
    print(f"peak resident memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
