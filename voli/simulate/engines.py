"""Two synthesis engines behind one interface.

* :class:`KokoroEngine` — natural-sounding speech (Kokoro-82M), phone times on
  a 25 ms grid from the model's own durations, and the true F0 track. The
  default for corpora.
* :class:`EspeakEngine` — robotic speech whose word and phoneme times are
  exact to the sample (libespeak-ng's events). For unit tests of alignment.

``speak(words, language, voice)`` returns a :class:`Speech` either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voli import espeak
from voli.errors import ModelError
from voli.simulate.kokoro import Kokoro, TimedPhone, TimedWord, Voice
from voli.simulate.text import SpokenWord


@dataclass(frozen=True)
class VoiceParams:
    """How one simulated speaker sounds, in each engine's terms."""

    kokoro: Voice = field(default_factory=lambda: Voice.of(jf_alpha=1.0))
    espeak_variant: str = "f2"
    espeak_pitch: int = 50  # espeak-ng pitch, 0-99
    rate: float = 1.0  # speaking-rate multiplier (1 = the voice's own rate)
    f0_gain: float = 1.0  # F0 level multiplier
    f0_range: float = 1.0  # F0 excursions in log frequency are multiplied by this


@dataclass
class Speech:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    words: list[TimedWord]
    phones: list[TimedPhone]
    f0_times: np.ndarray | None = None  # s
    f0_hz: np.ndarray | None = None  # NaN where unvoiced


class KokoroEngine:
    name = "kokoro"
    sample_rate = 24000

    def __init__(self, threads: int = 2):
        self.model = Kokoro(threads=threads)
        self._median_f0: dict[Voice, float] = {}

    def median_f0(self, voice: Voice) -> float:
        """The voice's own median F0 (Hz): the fixed point of the F0 range transform."""
        if voice not in self._median_f0:
            from voli.simulate.text import spoken_words

            probe = spoken_words("Hello, this is my usual voice, speaking calmly.", "en")
            speech = self.model.speak([(w.word, w.phones, w.stress, w.punct) for w in probe], voice)
            self._median_f0[voice] = float(np.nanmedian(speech.f0_hz))
        return self._median_f0[voice]

    def speak(self, words: list[SpokenWord], language: str, voice: VoiceParams) -> Speech:
        s = self.model.speak([(w.word, w.phones, w.stress, w.punct) for w in words], voice.kokoro,
                             speed=voice.rate, f0_gain=voice.f0_gain, f0_range=voice.f0_range,
                             f0_ref=self.median_f0(voice.kokoro))
        return Speech(s.audio, self.sample_rate, s.words, s.phones, s.f0_times, s.f0_hz)


class EspeakEngine:
    name = "espeak"
    sample_rate = 22050

    def speak(self, words: list[SpokenWord], language: str, voice: VoiceParams) -> Speech:
        text = " ".join(w.word + w.punct for w in words)
        offsets, pos = [], 1  # 1-based character offset of each word, as espeak counts
        for w in words:
            offsets.append(pos)
            pos += len(w.word) + len(w.punct) + 1
        syn = espeak.synthesize(text, language, variant=voice.espeak_variant, rate_wpm=int(round(175 * voice.rate)),
                                pitch=int(np.clip(voice.espeak_pitch * voice.f0_gain, 0, 99)),
                                pitch_range=int(np.clip(50 * voice.f0_range, 0, 99)))
        if syn.sample_rate != self.sample_rate:
            raise ModelError(f"libespeak-ng runs at {syn.sample_rate} Hz, expected {self.sample_rate}")
        return _espeak_timings(syn, words, offsets)


def _espeak_timings(syn: espeak.Synthesis, words: list[SpokenWord], offsets: list[int]) -> Speech:
    """Words and phones from espeak's events: each phoneme lasts until the next phoneme event.

    A phoneme that lasts zero samples (espeak emits "w" and "a" of French
    "trois" at one sample) is merged into the following one ("wa").
    """
    sr = syn.sample_rate
    phonemes = [e for e in syn.events if e.kind == "phoneme"]
    # WORD events name the word by its character offset; clause ends add empty ones
    by_offset = {e.value[0]: e.sample for e in syn.events if e.kind == "word" and e.value[1] > 0}
    missing = [w.word for w, o in zip(words, offsets) if o not in by_offset]
    if missing:
        raise ModelError(f"espeak-ng gave no word event for {missing} in {' '.join(w.word for w in words)!r}")
    word_starts = [by_offset[o] for o in offsets]
    bounds = word_starts[1:] + [len(syn.audio) + 1]
    phones: list[TimedPhone] = []
    timed_words: list[TimedWord] = []
    pending = ""
    for k, e in enumerate(phonemes):
        label = e.value.replace("-", "").replace("ˈ", "").replace("ˌ", "")
        end = phonemes[k + 1].sample if k + 1 < len(phonemes) else len(syn.audio)
        if not label:  # a pause
            continue
        w = next(i for i, b in enumerate(bounds) if e.sample < b)
        if end == e.sample:
            pending += label
            continue
        phones.append(TimedPhone(e.sample / sr, end / sr, pending + label, 0, w))
        pending = ""
    for w, word in enumerate(words):
        mine = [p for p in phones if p.word_index == w]
        if not mine:
            raise ModelError(f"espeak-ng spoke no phoneme for {word.word!r}")
        timed_words.append(TimedWord(mine[0].start, mine[-1].end, word.word))
    return Speech(syn.audio, sr, timed_words, phones)


def make_engine(name: str):
    if name == "kokoro":
        return KokoroEngine()
    if name == "espeak":
        return EspeakEngine()
    raise ModelError(f"unknown synthesis engine {name!r}; use 'kokoro' or 'espeak'")
