"""Build a small synthetic interview corpus with espeak-ng: ``corpora_sample``.

Run ``python -m voli.simulate.sample corpora_sample`` to regenerate it. The
same seed and espeak-ng version give identical files. Each recording is an
interview (interviewer and interviewee alternating turns, with silences of
known length); ``truth/<recording_id>.TextGrid`` holds the exact turn
boundaries and texts per speaker.

This is a stand-in until ``voli simulate`` (issue #3) generates natural
speech with phone-level truth and planted effects.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voli.errors import VoliError
from voli.io import audio
from voli.io.textgrid import Interval, speaker_tiers, write_textgrid
from voli.simulate.scripts import INTERVIEWS

SAMPLE_RATE = 22050  # Hz, espeak-ng's native rate
ESPEAK_VOICE = {"fr": "fr", "es": "es", "pt": "pt-br", "en": "en-us"}


@dataclass(frozen=True)
class SimSpeaker:
    speaker_id: str
    variant: str  # espeak-ng voice variant (m1..m7 male, f1..f5 female)
    pitch: int  # espeak-ng pitch, 0-99
    rate: int  # words per minute
    survey: dict


SPEAKERS = [
    SimSpeaker("INT_FR", "m3", 40, 160, {"gender": "man", "age": "", "education": "", "country": "France", "income_usd_month": "", "platform_dependence": ""}),
    SimSpeaker("INT_ES", "f2", 55, 160, {"gender": "woman", "age": "", "education": "", "country": "Venezuela", "income_usd_month": "", "platform_dependence": ""}),
    SimSpeaker("INT_PT", "m1", 45, 160, {"gender": "man", "age": "", "education": "", "country": "Brazil", "income_usd_month": "", "platform_dependence": ""}),
    SimSpeaker("INT_EN", "f3", 60, 160, {"gender": "woman", "age": "", "education": "", "country": "Madagascar", "income_usd_month": "", "platform_dependence": ""}),
    SimSpeaker("FR01", "f4", 65, 150, {"gender": "woman", "age": "34", "education": "bachelor", "country": "France", "income_usd_month": "1500", "platform_dependence": "30"}),
    SimSpeaker("FR02", "m2", 35, 175, {"gender": "man", "age": "27", "education": "secondary", "country": "France", "income_usd_month": "900", "platform_dependence": "70"}),
    SimSpeaker("ES01", "m4", 30, 140, {"gender": "man", "age": "41", "education": "master", "country": "Venezuela", "income_usd_month": "250", "platform_dependence": "90"}),
    SimSpeaker("ES02", "f1", 70, 165, {"gender": "woman", "age": "23", "education": "secondary", "country": "Venezuela", "income_usd_month": "180", "platform_dependence": "100"}),
    SimSpeaker("PT01", "f5", 60, 155, {"gender": "woman", "age": "30", "education": "bachelor", "country": "Brazil", "income_usd_month": "400", "platform_dependence": "60"}),
    SimSpeaker("PT02", "m5", 40, 170, {"gender": "man", "age": "45", "education": "primary", "country": "Brazil", "income_usd_month": "300", "platform_dependence": "80"}),
    SimSpeaker("EN01", "m6", 38, 150, {"gender": "man", "age": "29", "education": "bachelor", "country": "Madagascar", "income_usd_month": "200", "platform_dependence": "85"}),
    SimSpeaker("EN02", "f2", 68, 160, {"gender": "woman", "age": "36", "education": "master", "country": "Madagascar", "income_usd_month": "450", "platform_dependence": "40"}),
]

# recording_id, language, interviewer, interviewee, script index, file type, stereo
RECORDINGS = [
    ("fr_01", "fr", "INT_FR", "FR01", 0, ".flac", False),
    ("fr_02", "fr", "INT_FR", "FR02", 1, ".wav", False),
    ("es_01", "es", "INT_ES", "ES01", 0, ".flac", False),
    ("es_02", "es", "INT_ES", "ES02", 1, ".mp3", False),
    ("pt_01", "pt", "INT_PT", "PT01", 0, ".flac", False),
    ("pt_02", "pt", "INT_PT", "PT02", 1, ".flac", False),
    ("en_01", "en", "INT_EN", "EN01", 0, ".flac", False),
    ("en_02", "en", "INT_EN", "EN02", 1, ".flac", True),
]


def synthesize(text: str, language: str, speaker: SimSpeaker) -> np.ndarray:
    """Speak ``text`` with espeak-ng; float32 mono at SAMPLE_RATE."""
    voice = f"{ESPEAK_VOICE[language]}+{speaker.variant}"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "turn.wav"
        cmd = ["espeak-ng", "-v", voice, "-p", str(speaker.pitch), "-s", str(speaker.rate), "-w", str(out), text]
        try:
            subprocess.run(cmd, check=True, capture_output=True)
        except FileNotFoundError as err:
            raise VoliError("espeak-ng is not installed: sudo apt-get install espeak-ng") from err
        samples, rate = sf.read(str(out), dtype="float32")
    if rate != SAMPLE_RATE:
        raise VoliError(f"espeak-ng wrote {rate} Hz audio; expected {SAMPLE_RATE} Hz")
    # espeak pads each utterance with silence; trim it so turn times are exact.
    voiced = np.flatnonzero(np.abs(samples) > 1e-4)
    return samples[voiced[0]: voiced[-1] + 1] if len(voiced) else samples


def build_recording(rid: str, language: str, interviewer: SimSpeaker, interviewee: SimSpeaker,
                    script: list[tuple[str, str]], rng: np.random.Generator, stereo: bool):
    """Returns (samples (frames, channels), truth rows for speaker_tiers)."""
    by_role = {"interviewer": interviewer, "interviewee": interviewee}
    turns = [(by_role[role], text, synthesize(text, language, by_role[role])) for role, text in script]
    lead = int(0.5 * SAMPLE_RATE)
    gaps = [int(round(rng.uniform(0.4, 1.0), 3) * SAMPLE_RATE) for _ in turns]
    total = lead + sum(len(s) for _, _, s in turns) + sum(gaps)
    channels = np.zeros((total, 2 if stereo else 1), dtype=np.float32)
    rows = []
    pos = lead
    for (speaker, text, samples), gap in zip(turns, gaps):
        ch = (0 if speaker is interviewer else 1) if stereo else 0
        channels[pos: pos + len(samples), ch] += samples
        if stereo:  # a little crosstalk, as with two lapel microphones
            channels[pos: pos + len(samples), 1 - ch] += 0.05 * samples
        rows.append((speaker.speaker_id, "utterances", pos / SAMPLE_RATE, (pos + len(samples)) / SAMPLE_RATE, text))
        pos += len(samples) + gap
    return channels, rows


def make_sample(out_dir: str | Path, *, seed: int = 20261123) -> Path:
    """Write the sample corpus (audio, recordings.csv, speakers.csv, truth/) to ``out_dir``."""
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    speakers = {s.speaker_id: s for s in SPEAKERS}
    rng = np.random.default_rng(seed)
    rec_rows = []
    for rid, language, int_id, ee_id, index, ext, stereo in RECORDINGS:
        samples, truth = build_recording(rid, language, speakers[int_id], speakers[ee_id],
                                         INTERVIEWS[language][index], rng, stereo)
        audio_rel = f"audio/{rid}{ext}"
        audio.write(out / audio_rel, samples if stereo else samples[:, 0], SAMPLE_RATE)
        duration = len(samples) / SAMPLE_RATE
        write_textgrid(out / "truth" / f"{rid}.TextGrid", speaker_tiers(truth), duration_s=duration)
        rec_rows.append({
            "recording_id": rid, "audio": audio_rel, "language": language,
            "interviewer": int_id, "interviewee": ee_id,
            "channels": f"1={int_id};2={ee_id}" if stereo else "",
        })
    with open(out / "recordings.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rec_rows[0]))
        writer.writeheader()
        writer.writerows(rec_rows)
    survey_cols = list(SPEAKERS[0].survey)
    with open(out / "speakers.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["speaker_id", *survey_cols])
        for s in SPEAKERS:
            writer.writerow([s.speaker_id, *(s.survey[c] for c in survey_cols)])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    print(make_sample(args.out_dir, seed=args.seed))


if __name__ == "__main__":
    main()
