"""What each part of the aligner is worth, and the espeak-ng numbers the README quotes, in one run.

1. corpora_sample (Kokoro speech, Whisper's words; truth on Kokoro's 25 ms grid): the mean
   phone-boundary error per language with the default settings, then with one part taken out at
   a time, each training its own model on the same transcription:
   - ``variance_prior_frames: 0``: no pull of a Gaussian's variance toward the global one;
   - no word windows (``early_slack_s`` and ``late_slack_s`` of 10^4 s: no Whisper word is held
     near its ASR times);
   - ``share_phones: false``: one model per language instead of phones shared by IPA label;
   - ``min_phone_words: 0``: phones said in one or two words keep models of their own;
2. espeak-ng corpora (robotic speech, exact truth; ``voli simulate --engine espeak
   --transcripts``, seed 1) with the true words as user transcripts: phone and word errors and
   the share within 20 ms, so that alignment is judged without recognition errors; the sample's
   four languages, then Italian and Russian (no setting was chosen on them), each with the
   defaults and without the rare-phone splits.

    .venv/bin/python bench/align_ablations.py [--workdir exp/bench-ablations] [--skip-espeak]

Prepare and transcribe run once per corpus (and are reused from the work directory on a rerun);
about 12 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "default": "",
    "no variance prior": "variance_prior_frames: 0\n",
    "no word windows": "early_slack_s: 10000\n  late_slack_s: 10000\n",
    "per-language models": "share_phones: false\n",
    "no rare-phone splits": "min_phone_words: 0\n",
}


def run(corpus: Path, work: Path, start: str, stop: str, align_yaml: str = "") -> None:
    from voli.config import load_config
    from voli.stages import run_pipeline

    path = work / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"align:\n  {align_yaml}" if align_yaml else "{}\n")
    results = run_pipeline(corpus, work, load_config(path), device="cpu", start=start, stop=stop, progress=False)
    for r in results:
        if r.failures:
            print(f"  {r.stage}: {len(r.failures)} failed: {', '.join(f.recording_id for f in r.failures)}")


def transcribed(corpus: Path, work: Path) -> Path:
    """prepare + transcribe of ``corpus`` in ``work`` (kept for reruns)."""
    from voli.workdir import Workdir

    if not Workdir(work).done("transcribe").exists():
        t0 = time.perf_counter()
        run(corpus, work, "prepare", "transcribe")
        print(f"  {corpus.name}: prepare + transcribe {time.perf_counter() - t0:.0f} s")
    return work


def align_variant(corpus: Path, base: Path, work: Path, align_yaml: str) -> dict[str, pd.DataFrame]:
    from voli.evaluate import evaluate_workdir
    from voli.workdir import Workdir

    if work.exists():
        shutil.rmtree(work)
    for stage in ("prepare", "transcribe"):
        shutil.copytree(Workdir(base).stage(stage), Workdir(work).stage(stage))
    t0 = time.perf_counter()
    run(corpus, work, "align", "align", align_yaml)
    result = evaluate_workdir(corpus, work)
    result["seconds"] = time.perf_counter() - t0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-ablations")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpora_sample")
    parser.add_argument("--skip-espeak", action="store_true")
    args = parser.parse_args()
    work = args.workdir.resolve()
    base = transcribed(args.corpus.resolve(), work / "sample" / "transcribed")
    table = {}
    for name, yaml in VARIANTS.items():
        result = align_variant(args.corpus.resolve(), base, work / "sample" / name.replace(" ", "-"), yaml)
        phones = result["phones_boundaries"].set_index("language")
        table[name] = phones.mean_ms.map(lambda ms: f"{ms:.1f}") + phones.within_20ms.map(lambda x: f" ({x:.0%})")
        print(f"  {name}: aligned in {result['seconds']:.0f} s")
    print("\ncorpora_sample, mean phone-boundary error in ms (share within 20 ms), Whisper's words:")
    print(pd.DataFrame(table).to_string())

    if args.skip_espeak:
        return
    from voli.simulate.interview import SimulationConfig, simulate, write_user_transcripts

    # the sample's four languages, then two that no aligner setting was chosen on (Italian, Russian)
    for name, languages in (("espeak", ("fr", "es", "pt", "en")), ("espeak-it-ru", ("it", "ru"))):
        corpus = work / f"{name}-corpus"
        if not (corpus / "recordings.csv").exists():
            simulate(corpus, config=SimulationConfig(engine="espeak", seed=1, languages=languages), progress=False)
            write_user_transcripts(corpus)
        base = transcribed(corpus, work / name / "transcribed")
        for variant in ("default", "no rare-phone splits"):
            result = align_variant(corpus, base, work / name / variant.replace(" ", "-"), VARIANTS[variant])
            print(f"\n{name} corpus ({', '.join(languages)}), true words as user transcripts (exact truth), {variant}:")
            for level in ("phones", "words"):
                frame = result[f"{level}_boundaries"]
                print(f"{level}:")
                print(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))

if __name__ == "__main__":
    main()
