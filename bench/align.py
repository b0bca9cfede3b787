"""Alignment accuracy and speed: voli's HMM aligner vs Whisper's word timestamps vs pocketsphinx.

On a simulated corpus with truth (default corpora_sample), in one run on the same audio:

* Whisper's own word timestamps (cross-attention DTW, from `voli transcribe`);
* voli align: HMM training on the corpus + Viterbi alignment, on one CPU thread, timed;
* pocketsphinx's en-us aligner on the English recordings (same utterances, same words).

It prints word- and phone-boundary errors per method and language, the accuracy ratio against
Whisper, and the time of voli's training + alignment scaled to one hour of speech:

    .venv/bin/python bench/align.py [--corpus corpora_sample] [--workdir exp/bench-align] [--device cpu]
                                    [--save-model models/align-sample]

On espeak-ng speech (exact truth) with the true words as user transcripts:

    .venv/bin/voli simulate exp/espeak --engine espeak --transcripts -q
    .venv/bin/python bench/align.py --corpus exp/espeak --workdir exp/bench-align-espeak

``--save-model DIR`` keeps the trained model with its card, the card extended
by the boundary errors measured here (``scores``).

The transcription (prepare + transcribe) is run first when the work directory lacks it; it is
not part of the timings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def boundary_table(truth: pd.DataFrame, pred: pd.DataFrame, label: str) -> pd.DataFrame:
    from voli.evaluate import boundary_errors_by_language, summarise_boundaries

    return pd.DataFrame([{"language": lang, **summarise_boundaries(np.concatenate(errs))}
                         for lang, errs in boundary_errors_by_language(truth, pred, label).items() if errs])


def run_pocketsphinx(work: Path, languages: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """Align the English recordings' transcribed utterances with pocketsphinx."""
    from peers import pocketsphinx_align

    from voli.io.segments import SegmentReader
    from voli.schema import Recording, from_table
    from voli.io.tables import read_table
    from voli.workdir import Workdir

    recs = {r.recording_id: r for r in from_table(read_table(Workdir(work).table("prepare", "recordings")), Recording)}
    speakers = pd.read_parquet(Workdir(work).table("prepare", "recording_speakers"))
    words = pd.read_parquet(Workdir(work).table("transcribe", "words"))
    wrows, prows, elapsed, speech = [], [], 0.0, 0.0
    for rid in sorted(languages[languages == "en"].index):
        channel = {s.speaker_id: s.channel for s in speakers[speakers.recording_id == rid].itertuples()
                   if pd.notna(s.channel)}
        reader = SegmentReader(recs[rid])
        for uid, u in words[words.recording_id == rid].groupby("utterance_id", sort=False):
            u = u.sort_values("start")
            a = max(0.0, u.start.min() - 0.4)
            b = min(recs[rid].duration_s, u.end.max() + 0.4)
            x = reader.read(a, b, int(channel[u.speaker_id.iloc[0]]) if u.speaker_id.iloc[0] in channel else None)
            t0 = time.perf_counter()
            ws, ps = pocketsphinx_align(x, list(u.word))
            elapsed += time.perf_counter() - t0
            speech += b - a
            wrows += [{"recording_id": rid, "start": s + a, "end": e + a, "word": w} for s, e, w in ws]
            prows += [{"recording_id": rid, "start": s + a, "end": e + a, "phone": p} for s, e, p in ps]
        reader.close()
    return pd.DataFrame(wrows), pd.DataFrame(prows), elapsed, speech


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpora_sample")
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-align")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for voli align (default: one core)")
    parser.add_argument("--save-model", type=Path, help="copy the trained model here, its card with these scores")
    args = parser.parse_args(argv)

    import torch

    from voli.config import VoliConfig
    from voli.evaluate import truth_phones
    from voli.stages import run_pipeline
    from voli.workdir import Workdir

    if not Workdir(args.workdir).done("transcribe").is_file():
        print("transcribing first (not timed) ...", flush=True)
        run_pipeline(args.corpus, args.workdir, VoliConfig(), device=args.device, start="prepare", stop="transcribe",
                     progress=False)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    run_pipeline(args.corpus, args.workdir, VoliConfig(), device=args.device, start="align", force=True, progress=False)
    voli_s = time.perf_counter() - t0
    card = __import__("json").loads((Workdir(args.workdir).model() / "card.json").read_text(encoding="utf-8"))
    hours = card["speech_hours"]

    truth_dir = args.corpus / "truth"
    twords = pd.read_parquet(truth_dir / "words.parquet")
    tphones = truth_phones(truth_dir, twords)
    languages = twords.groupby("recording_id").language.first()
    whisper_words = pd.read_parquet(Workdir(args.workdir).table("transcribe", "words"))
    # with user transcripts, a word Whisper did not hear has shared-out times, not Whisper's
    whisper_words = whisper_words[whisper_words.probability.notna()]
    voli_words = pd.read_parquet(Workdir(args.workdir).table("align", "words"))
    voli_phones = pd.read_parquet(Workdir(args.workdir).table("align", "phones"))

    tables = {
        "words: Whisper timestamps": boundary_table(twords, whisper_words, "word"),
        "words: voli align": boundary_table(twords, voli_words, "word"),
        "phones: voli align": boundary_table(tphones, voli_phones, "phone"),
    }
    ps_note = ""
    try:
        ps_words, ps_phones, ps_s, ps_speech = run_pocketsphinx(args.workdir, languages)
        en = languages[languages == "en"].index
        tables["words: pocketsphinx (en)"] = boundary_table(twords[twords.recording_id.isin(en)], ps_words, "word")
        tables["phones: pocketsphinx (en)"] = boundary_table(tphones[tphones.recording_id.isin(en)], ps_phones, "phone")
        ps_note = f"pocketsphinx: {ps_s:.1f} s for {ps_speech:.0f} s of English utterances (alignment only, pretrained model)"
    except ImportError:
        ps_note = "pocketsphinx not installed: .venv/bin/pip install --no-deps pocketsphinx==5.1.1"
    for name, table in tables.items():
        print(f"== {name}")
        print(table.round(3).to_string(index=False))
    w = tables["words: Whisper timestamps"].set_index("language").mean_ms
    v = tables["words: voli align"].set_index("language").mean_ms
    print("== word-boundary mean error, Whisper / voli (>1: voli more accurate)")
    print((w / v).round(2).to_string())
    opts = card["options"]
    print(f"== speed: voli align (training {opts['first_pass_iterations']} + {opts['iterations']} iterations, then "
          f"alignment) took {voli_s:.1f} s "
          f"for {hours * 3600:.0f} s of speech on {args.threads} thread(s): "
          f"{voli_s / hours / 60:.1f} min per hour of speech (target < 10)")
    print(ps_note)
    if args.save_model:
        save_model(Workdir(args.workdir).model(), args.save_model, card, args.corpus, tables, voli_s / hours / 60,
                   f"{args.threads} thread(s) on {args.device}")


def save_model(source: Path, target: Path, card: dict, corpus: Path, tables: dict, minutes_per_hour: float,
               where: str) -> None:
    import json
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "model.pt", target / "model.pt")
    card["scores"] = {
        "corpus": corpus.name,
        "measured_by": f"bench/align.py (boundary errors against the corpus truth; speed on {where})",
        "training_and_alignment_min_per_hour": round(minutes_per_hour, 2),
        **{name: {r["language"]: {"n": int(r["n"]), "mean_ms": round(float(r["mean_ms"]), 1),
                                   "within_20ms": round(float(r["within_20ms"]), 3)} for _, r in table.iterrows()}
           for name, table in tables.items()},
    }
    (target / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"model and card -> {target}")


if __name__ == "__main__":
    main()
