"""Who speaks, word by word: voli's speaker attribution on two-person conversations of real voices.

The development set (voli.simulate.conversations): conversations built from real people recorded
alone, as Debian and PyPI packages ship them — Allison (en, woman) and Carlo (it, man) of the
Asterisk core sounds, Paola Dal Zot (it, woman) of asterisk-prompt-it-menardi, the LibriVox reader
of Sonnet 1 (en, man) — with short turns, gaps of 0.1-0.7 s, 15 % of turns starting 0.2-0.8 s
before the last one ends, back-channels over the other's speech, one voice 6 dB quieter in some,
8 kHz telephone band or 16 kHz. Two are between people of the same sex who speak different
languages (code-switching interviews exist; the transcript's language is then detected). The
French and Spanish Asterisk voices are held out for evaluation and are not used.

Each speaker has an enrolment clip (speakers.csv ``enrolment``): two utterances of theirs that the
conversations never use, over the same channel; they name the voices voli finds. voli runs through
its CLI (``voli run --stop-stage transcribe``, Whisper base, CPU, timed end to end); its words are
scored against the true turns (written as RTTM):

- the share of words given to the right speaker (a word in overlapped speech is right with
  either speaker), and how many of the words said in overlap voli flagged ``overlap``;
- the diarization error rate with pyannote.metrics, without a collar and with ``collar=0.25``,
  voli's turns being its words' speakers (voli.evaluate.turns_from_words).

Then the speaker attribution alone (sliding-window embeddings, clustering, smoothing) is timed
in this process on the same audio, beside the transcription's time. ``--hours 2`` also runs it on a
recording of that length (the conversations repeated) in a child process and prints its peak
memory. ``--voli-src DIR`` runs the CLI of another source tree (e.g. a worktree of an older
commit, for a before/after table).

    sudo apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en asterisk-core-sounds-it-wav \\
        asterisk-core-sounds-it asterisk-prompt-it-menardi-wav
    .venv/bin/python bench/speakers.py [--seconds 120] [--hours 2] [--workdir exp/bench-speakers]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# id: (voice a, voice b, language ('' = detect), telephone band, level of b in dB)
CONVERSATIONS = {
    "en_allison_librivox_16k": ("allison", "librivox", "en", False, 0.0),
    "en_allison_librivox_8k_quiet": ("allison", "librivox", "en", True, -6.0),
    "it_carlo_menardi_8k": ("carlo", "menardi", "it", True, 0.0),
    "it_carlo_menardi_16k_quiet": ("carlo", "menardi", "it", False, -6.0),
    "xx_allison_menardi_8k": ("allison", "menardi", "", True, 0.0),
    "xx_carlo_librivox_16k": ("carlo", "librivox", "", False, -6.0),
}


def build(corpus: Path, seconds: float) -> dict[str, float]:
    """The development corpus (audio, recordings.csv, speakers.csv, truth/turns.rttm); returns durations."""
    import soundfile as sf

    from voli.simulate import conversations as cv

    voices, clips = {}, {}
    for name in sorted({v for c in CONVERSATIONS.values() for v in c[:2]}):
        utterances = cv.voice_utterances(name)
        held = [u for u in utterances if len(u.audio) >= 2 * cv.SR][-2:]  # the enrolment clip: never in a conversation
        voices[name] = [u for u in utterances if not any(u is h for h in held)]
        gap = np.zeros(cv.SR // 3, np.float32)
        clips[name] = np.concatenate([held[0].audio, gap, held[1].audio])
    for d in ("audio", "truth", "enrol"):
        (corpus / d).mkdir(parents=True, exist_ok=True)
    rttm, rows, durations = [], [], {}
    for k, (rid, (a, b, language, phone, level)) in enumerate(CONVERSATIONS.items()):
        x, turns = cv.build_conversation(voices[a], voices[b], (f"{rid}_{a}", f"{rid}_{b}"), np.random.default_rng(k),
                                         seconds=seconds, level_b_db=level)
        x, sr = cv.telephone(x) if phone else (x, cv.SR)
        sf.write(corpus / "audio" / f"{rid}.flac", x, sr)
        for v in (a, b):  # a clip of each speaker alone, over the same channel as the conversation
            clip, rate = cv.telephone(clips[v]) if phone else (clips[v], cv.SR)
            sf.write(corpus / "enrol" / f"{rid}_{v}.flac", clip, rate)
        cv.write_rttm(corpus / "truth" / f"{rid}.rttm", rid, turns)
        rttm.append((corpus / "truth" / f"{rid}.rttm").read_text())
        # a is listed as the interviewer, but in these prompts neither asks more questions than the
        # other: the enrolment clips name the voices (as a study would with a clip of each speaker)
        rows.append(f"{rid},audio/{rid}.flac,{language},{rid}_{a},{rid}_{b}\n")
        durations[rid] = len(x) / sr
    (corpus / "truth" / "turns.rttm").write_text("".join(rttm))
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewer,interviewee\n" + "".join(rows))
    (corpus / "speakers.csv").write_text("speaker_id,enrolment\n" + "".join(
        f"{rid}_{v},enrol/{rid}_{v}.flac\n" for rid, c in CONVERSATIONS.items() for v in c[:2]))
    return durations


def attribution_only(corpus: Path) -> dict[str, tuple[float, int]]:
    """Seconds the speaker attribution takes per recording (VAD regions given), and windows."""
    from voli.asr import diarize, vad
    from voli.asr.speakers import SpeakerEncoder
    from voli.io.audio import load

    encoder = SpeakerEncoder()
    out = {}
    for rid in CONVERSATIONS:
        x = load(corpus / "audio" / f"{rid}.flac")
        regions = vad.speech_regions([x])
        t0 = time.perf_counter()
        windows = diarize.embed_regions(encoder, regions, lambda s, e: x[int(s * 16000): int(e * 16000)])
        diarize.diarize(windows, 2)
        out[rid] = (time.perf_counter() - t0, len(windows.start))
    return out


def long_recording(corpus: Path, hours: float) -> None:
    """Child process: speaker attribution over ``hours`` of the conversations repeated; prints time and peak memory."""
    from voli.asr import diarize, vad
    from voli.asr.speakers import SpeakerEncoder
    from voli.io.audio import load

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pieces = [load(corpus / "audio" / f"{rid}.flac") for rid in CONVERSATIONS]
    one = np.concatenate(pieces)
    reps = int(np.ceil(hours * 3600 * 16000 / len(one)))
    regions_one = vad.speech_regions([one])
    span = len(one) / 16000
    regions = [vad.Region(r.start + k * span, r.end + k * span) for k in range(reps) for r in regions_one
               if r.end + k * span <= hours * 3600]

    def read(s, e):  # the audio is read region by region, as from a file: one copy of an hour is never made
        k = int(s // span)
        return one[int((s - k * span) * 16000): int((e - k * span) * 16000)]

    t0 = time.perf_counter()
    windows = diarize.embed_regions(SpeakerEncoder(), regions, read)
    d = diarize.diarize(windows, 2)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{hours:g} h: {len(regions)} speech regions, {len(windows.start)} windows, speaker attribution "
          f"{took:.0f} s ({took / (hours * 3600):.3f} x real time); peak memory {peak / 1024:.0f} MB "
          f"(the audio itself {one.nbytes / 2**20:.0f} MB; {(peak - base) / 1024:.0f} MB above the start); "
          f"separation {d.separation:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each conversation (default: 120)")
    parser.add_argument("--hours", type=float, default=0.0, help="also time a recording this long (child process)")
    parser.add_argument("--voli-src", type=Path, default=ROOT, help="source tree whose CLI is run (default: this one)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-speakers")
    parser.add_argument("--long-only", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.workdir.resolve()
    corpus = work / "corpus"
    if args.long_only:
        long_recording(corpus, args.long_only)
        return
    import pandas as pd

    from voli.evaluate import evaluate_turns
    from voli.workdir import Workdir

    durations = build(corpus, args.seconds)
    exp = work / ("exp" if args.voli_src.resolve() == ROOT else f"exp-{args.voli_src.resolve().name}")
    env = dict(os.environ, PYTHONPATH=str(args.voli_src.resolve()))
    cli = [sys.executable, "-m", "voli", "run", str(corpus), "--workdir", str(exp), "--stop-stage", "transcribe",
           "--force", "-q", "--device", "cpu"]
    t0 = time.perf_counter()
    subprocess.run(cli, check=True, capture_output=True, env=env, cwd=args.voli_src.resolve())
    t_cli = time.perf_counter() - t0
    result = evaluate_turns(corpus / "truth" / "turns.rttm", exp)["speakers"].set_index("recording_id")
    pd.set_option("display.width", 200)
    print(f"speaker attribution on {len(CONVERSATIONS)} conversations of real voices "
          f"({sum(durations.values()) / 60:.1f} min), voli from {args.voli_src}")
    cols = ["words", "speaker_accuracy", "overlap_words", "flagged_overlap", "false_overlap", "der", "der_collar",
            "missed", "false_alarm", "confusion"]
    print(result[[c for c in cols if c in result]].round(3).to_string())
    words = result.words.sum()
    print(f"all: {(result.speaker_accuracy * result.words).sum() / words:.1%} of {words} words to the right speaker; "
          f"DER {result.der.mean():.1%} (collar 0.25: {result.der_collar.mean():.1%}; missed {result.missed.mean():.1%}, "
          f"false alarm {result.false_alarm.mean():.1%}, confusion {result.confusion.mean():.1%}), mean over recordings; "
          f"overlap: {(result.flagged_overlap * result.overlap_words).sum() / result.overlap_words.sum():.0%} of "
          f"{result.overlap_words.sum()} words said in overlap flagged, {result.false_overlap.mean():.1%} of the others")
    summary = Workdir(exp).table("transcribe", "speaker_summary")
    if summary.is_file():
        print(pd.read_parquet(summary).set_index("recording_id").round(3).to_string())
    alone = attribution_only(corpus)
    t_attr = sum(t for t, _ in alone.values())
    print(f"time: voli CLI (prepare + transcribe, model load included) {t_cli:.1f} s; speaker attribution alone "
          f"{t_attr:.1f} s ({sum(n for _, n in alone.values())} windows) = {t_attr / t_cli:.2f} of it")
    if args.hours:
        subprocess.run([sys.executable, __file__, "--workdir", str(work), "--long-only", str(args.hours)], check=True)


if __name__ == "__main__":
    main()
