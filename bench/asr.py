"""Transcription speed and accuracy: voli (VAD windows, batched) vs openai-whisper's transcribe.

Builds a long interview by joining corpora_sample's recordings of one language (repeated),
transcribes it with the same model four ways in one run (openai-whisper's transcribe; voli with
batch 1 and batched, on openai-whisper; voli on faster-whisper's CTranslate2 int8 backend), and
prints time, real-time factor, WER against the truth and the speed ratio:

    .venv/bin/python bench/asr.py --language es --repeat 4 [--model base] [--device cpu]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpora_sample"


def build(language: str, repeat: int, out: Path) -> tuple[Path, list[str], float]:
    from voli.io import audio

    rec = pd.read_csv(SAMPLE / "recordings.csv", keep_default_na=False)
    rec = rec[rec.language == language]
    truth = pd.read_parquet(SAMPLE / "truth" / "words.parquet")
    pieces, words = [], []
    for _ in range(repeat):
        for r in rec.itertuples():
            pieces.append(audio.load(SAMPLE / r.audio, sample_rate=16000))
            words.extend(truth[truth.recording_id == r.recording_id].sort_values("start").word)
    x = np.concatenate(pieces)
    sf.write(out, x, 16000)
    return out, words, len(x) / 16000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--language", default="es")
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--model", default="base")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args()

    from voli import languages
    from voli.asr.transcribe import get_model, transcribe_recording
    from voli.config import AsrConfig
    from voli.device import resolve_device
    from voli.evaluate import wer
    from voli.io.audio import probe, scan
    from voli.schema import Recording, RecordingSpeaker

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        path, ref, duration = build(args.language, args.repeat, Path(tmp) / "long.wav")
        info, stats = probe(path), scan(path)
        rec = Recording("long", str(path), info.format, args.language, info.sample_rate, info.channels, info.n_frames,
                        info.duration_s, stats.peak_dbfs, stats.rms_dbfs, stats.clipped_fraction, stats.sha256, None, None)
        speakers = [RecordingSpeaker("long", "A", "interviewer", None), RecordingSpeaker("long", "B", "interviewee", None)]
        model = get_model(args.model, device)
        rows = []
        t0 = time.perf_counter()
        out = model.transcribe(str(path), language=args.language, temperature=0.0, condition_on_previous_text=False,
                               word_timestamps=True, fp16=device.type == "cuda")
        rows.append(("openai-whisper transcribe", time.perf_counter() - t0, out["text"]))
        for name, config in (("voli, batch 1", AsrConfig(model=args.model, batch_size=1, backend="openai-whisper")),
                             (f"voli, batch {args.batch_size}",
                              AsrConfig(model=args.model, batch_size=args.batch_size, backend="openai-whisper")),
                             ("voli, faster-whisper int8", AsrConfig(model=args.model, backend="faster-whisper"))):
            if config.backend != "openai-whisper":
                get_model(args.model, device, config.backend)  # loading is not timed, as for the others
            t0 = time.perf_counter()
            tables = transcribe_recording(rec, speakers, config, device)
            words = tables["words"].to_pandas().sort_values("start").word
            rows.append((name, time.perf_counter() - t0, " ".join(words)))
    print(f"{duration / 60:.1f} min of {args.language} speech, Whisper {args.model} on {device}")
    base_time = rows[0][1]
    for name, seconds, text in rows:
        r = wer(ref, text, fillers=languages.get(args.language).fillers)
        print(f"{name:28s} {seconds:7.1f} s  RTF {seconds / duration:.3f}  WER {r.wer:6.1%}  speed x{base_time / seconds:.2f}")
    print(f"peak memory (this process, all runs): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
