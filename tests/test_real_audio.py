"""Real speech in the shapes real interviews take: transcription never crashes and keeps the words.

Built from a real recording (LibriVox, Sonnet 1, read by a human; tests/data/librivox_sonnet1):
speech with no pause for a minute, the telephone band at 8 kHz, clipping, music and noise
between lines, long silences around a very short utterance (parts of the sonnet, to keep it short).
Each is one recording of one corpus, run through voli's CLI (prepare, transcribe).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voli import languages
from voli.evaluate import wer
from voli.text import strip_punctuation
from voli.workdir import Workdir

DATA = Path(__file__).parent / "data" / "librivox_sonnet1"
SR = 16000
FILLERS = languages.get("en").fillers


def _sonnet():
    from voli.io.audio import load

    audio = load(DATA / "sonnet1.mp3")
    lines = pd.read_csv(DATA / "sonnet1_lines.csv", header=None, names=["id", "start", "end", "text"]).iloc[1:]
    return audio, lines


def _speech_only(audio: np.ndarray) -> np.ndarray:
    """The sonnet's speech with every pause taken out (Silero's regions, tightly cut)."""
    import torch
    from silero_vad import get_speech_timestamps

    from voli.asr import vad

    stamps = get_speech_timestamps(torch.from_numpy(audio), vad._load(), sampling_rate=SR, threshold=0.5,
                                   min_silence_duration_ms=50, speech_pad_ms=20)
    return np.concatenate([audio[s["start"]: s["end"]] for s in stamps])


def _telephone(audio: np.ndarray) -> np.ndarray:
    """8 kHz, 300-3400 Hz, as a phone line carries it."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    band = sosfiltfilt(butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos"), audio)
    return resample_poly(band, 1, 2).astype(np.float32)


def _music(seconds: float, rng) -> np.ndarray:
    """Chords of harmonic tones with note onsets: music between two answers."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for k, start in enumerate(np.arange(0, seconds, 0.5)):
        f0 = 220 * 2 ** (rng.integers(0, 12) / 12)
        env = np.clip(t - start, 0, None) * np.exp(-4 * np.clip(t - start, 0, None)) * (t >= start)
        out += sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3, 4)) * env
    return (0.2 * out / np.abs(out).max()).astype(np.float32)


def _line(audio, lines, i) -> np.ndarray:
    row = lines.iloc[i]
    return audio[int(row.start * SR): int(row.end * SR)]


@pytest.fixture(scope="module")
def hard_corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    audio, lines = _sonnet()
    corpus = tmp_path_factory.mktemp("hard") / "corpus"
    (corpus / "audio").mkdir(parents=True)
    quiet = lambda s: (rng.standard_normal(int(s * SR)) * 1e-4).astype(np.float32)  # noqa: E731  a room, not zeros
    noise = lambda s: (rng.standard_normal(int(s * SR)) * 0.03).astype(np.float32)  # noqa: E731
    first, last = slice(0, 4), slice(10, 14)  # lines 1-4 and 11-14 of the sonnet
    text = lambda part: " ".join(lines.text.iloc[part])  # noqa: E731
    span = lambda part: audio[int(lines.start.iloc[part].iloc[0] * SR): int(lines.end.iloc[part].iloc[-1] * SR)]  # noqa: E731
    between = []
    for i in range(4):  # lines 5-8, music or noise after each
        between += [_line(audio, lines, 4 + i), _music(2.0, rng) if i % 2 else noise(2.0)]
    # the 14 lines and lines 1-4 again, each without its pauses: close to a minute without a pause
    again = list(range(14)) + list(range(4))
    continuous = np.concatenate([_speech_only(_line(audio, lines, i)) for i in again])
    recordings = {
        "continuous": (continuous, SR, " ".join(lines.text.iloc[i] for i in again)),
        "telephone": (_telephone(span(first)), SR // 2, text(first)),
        "clipped": (np.clip(span(last) * 12, -1, 1), SR, text(last)),
        "music_noise": (np.concatenate(between), SR, text(slice(4, 8))),
        "silences": (np.concatenate([quiet(30), _line(audio, lines, 0)[: int(0.9 * SR)], quiet(20),
                                     _line(audio, lines, 1), quiet(10)]), SR, "from fairest " + lines.text.iloc[1]),
    }
    for name, (x, sr, _) in recordings.items():
        sf.write(corpus / "audio" / f"{name}.wav", x, sr, subtype="PCM_16")
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewee\n" + "".join(
        f"{name},audio/{name}.wav,en,READER\n" for name in recordings))
    (corpus / "speakers.csv").write_text("speaker_id\nREADER\n")
    exp = corpus.parent / "exp"
    run = subprocess.run([sys.executable, "-m", "voli", "run", str(corpus), "--workdir", str(exp), "--stop-stage",
                          "transcribe", "-q", "--device", "cpu"], capture_output=True, text=True)
    return {"corpus": corpus, "exp": exp, "run": run, "texts": {k: v[2] for k, v in recordings.items()},
            "music_noise_gaps": [(sum(len(b) for b in between[: 2 * i + 1]) / SR,
                                  sum(len(b) for b in between[: 2 * i + 2]) / SR) for i in range(len(between) // 2)]}


@pytest.mark.slow
def test_continuous_speech_longer_than_a_window_is_transcribed(hard_corpus):
    """A minute with no pause: Silero finds one region longer than Whisper's 30 s, which is cut
    at its quietest points; every word is kept, in order, to the end."""
    from voli.asr import vad
    from voli.io.audio import iter_resampled

    path = hard_corpus["corpus"] / "audio" / "continuous.wav"
    regions = vad.speech_regions(iter_resampled(path, sample_rate=SR))
    assert max(r.end - r.start for r in regions) >= 45  # the case this test is for
    assert hard_corpus["run"].returncode == 0, hard_corpus["run"].stderr
    words = pd.read_parquet(Workdir(hard_corpus["exp"]).table("transcribe", "words"))
    mine = words[words.recording_id == "continuous"].sort_values("start")
    r = wer(hard_corpus["texts"]["continuous"], list(mine.word), fillers=FILLERS)
    print(f"continuous speech ({max(r.end - r.start for r in regions):.0f} s without a pause): WER {r.wer:.1%}")
    assert r.wer <= 0.2  # measured 12.6 %
    duration = sf.info(path).duration
    assert mine.end.max() >= duration - 3 and mine.start.min() <= 3
    assert np.diff(mine.start.to_numpy()).max() < 3.0  # no window lost at a cut


@pytest.mark.slow
# measured (Whisper base, CPU): telephone 21.4 % (28 words), clipped 21.9 % (32), music and noise 21.9 % (32),
# silences 22 % (2 errors in 9 words: the fragment "cre" of a word cut short); the whole sonnet as read, 9.3 %;
# on so few words one word is 3-4 points: the limits leave two or three words of room
@pytest.mark.parametrize("name,limit", [("telephone", 0.3), ("clipped", 0.3), ("music_noise", 0.32),
                                        ("silences", 0.34)])
def test_hard_audio_keeps_its_words(hard_corpus, name, limit):
    assert hard_corpus["run"].returncode == 0, hard_corpus["run"].stderr
    words = pd.read_parquet(Workdir(hard_corpus["exp"]).table("transcribe", "words"))
    mine = words[words.recording_id == name].sort_values("start")
    r = wer(hard_corpus["texts"][name], list(mine.word), fillers=FILLERS)
    print(f"{name}: WER {r.wer:.1%} over {r.words} words")
    assert r.wer <= limit
    if name == "silences":  # nothing is heard in 30 s of room tone; the 0.9 s fragment is
        assert mine.start.min() >= 29.5 and "fairest" in " ".join(mine.word).lower()
    if name == "music_noise":  # music and noise are not heard as words (a word next to them may
        # stretch into them: Whisper's and the aligner's times do, by up to 2 s)
        inside = [(a <= w.start and w.end <= b) for w in mine.itertuples() for a, b in
                  [(g[0] + 0.2, g[1] - 0.2) for g in hard_corpus["music_noise_gaps"]]]
        assert sum(inside) == 0


@pytest.mark.slow
def test_no_recording_fails_and_every_word_is_a_word(hard_corpus):
    """Each hard recording is transcribed; no word token begins or ends with punctuation or a
    hyphen. (bench/asr_real.py aligns real recordings of minutes with and without pauses.)"""
    assert hard_corpus["run"].returncode == 0, hard_corpus["run"].stderr
    failures = pd.read_parquet(Workdir(hard_corpus["exp"]).table("transcribe", "failures"))
    assert failures.empty, failures.to_dict("records")
    words = pd.read_parquet(Workdir(hard_corpus["exp"]).table("transcribe", "words"))
    assert set(words.recording_id) == set(hard_corpus["texts"])
    bad = [w for w in words.word if not w or strip_punctuation(w) != w]
    assert not bad
