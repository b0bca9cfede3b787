"""Peak memory of a whole transcription (VAD, batched Whisper decoding, speakers) vs recording length.

For each length, writes an N-minute FLAC of corpora_sample speech (es_01 repeated), transcribes
it with `transcribe_recording` in a fresh process, and prints that process's peak resident
memory and the time. Memory that stays flat as the recording grows means nothing holds the
whole decoded waveform (a 2-hour file is 439 MB of float32 samples at 16 kHz):

    .venv/bin/python bench/asr_memory.py --minutes 5 10 20 [--model base] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from voli.asr.transcribe import transcribe_recording, get_model
from voli.config import AsrConfig
from voli.device import resolve_device
from voli.io import audio
from voli.schema import Recording, RecordingSpeaker
path, model, device = sys.argv[1], sys.argv[2], resolve_device(sys.argv[3])
info = audio.probe(path)
rec = Recording("long", path, "FLAC", "es", info.sample_rate, info.channels, info.n_frames, info.duration_s,
                0.0, 0.0, 0.0, "", None, None)
speakers = [RecordingSpeaker("long", "INT_ES", "interviewer", None), RecordingSpeaker("long", "ES01", "interviewee", None)]
get_model(model, device)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
tables = transcribe_recording(rec, speakers, AsrConfig(model=model), device)
print(json.dumps({"seconds": time.perf_counter() - t0, "words": tables["words"].num_rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "model_loaded_mb": base}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20])
    p.add_argument("--model", default="base")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    from vad_memory import write_tiled_flac

    from voli.io import audio

    piece = audio.load(ROOT / "corpora_sample/audio/es_01.flac", sample_rate=16000)
    print(f"{'minutes':>7} {'words':>6} {'time s':>7} {'x real time':>11} {'model loaded MB':>15} {'peak MB':>8}")
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "long.flac"
            write_tiled_flac(path, piece, minutes)
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), args.model, args.device],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{minutes:7.0f} {r['words']:6d} {r['seconds']:7.0f} {minutes * 60 / r['seconds']:11.1f} "
              f"{r['model_loaded_mb']:15.0f} {r['peak_mb']:8.0f}", flush=True)


if __name__ == "__main__":
    main()
