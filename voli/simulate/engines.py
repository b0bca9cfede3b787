"""Two synthesis engines behind one interface.

* :class:`KokoroEngine` — natural-sounding speech (Kokoro-82M), phone times on
  a 25 ms grid from the model's own durations, and the true F0 track. The
  default for corpora.
* :class:`EspeakEngine` — robotic speech whose word and phoneme times are
  exact to the sample (libespeak-ng's events; a stop's closure moved from the
  phone before it into the stop). For unit tests of alignment.

``speak(words, language, voice)`` returns a :class:`Speech` either way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

from voli import espeak, languages
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
        respelt = languages.get(language).espeak_filler_spellings  # pt: a lone "é" is read as the letter's name
        spelled = [respelt.get(w.word.lower(), w.word) if w.is_filler else w.word for w in words]
        text = " ".join(sp + w.punct for sp, w in zip(spelled, words))
        offsets, pos = [], 1  # 1-based character offset of each word, as espeak counts
        for sp, w in zip(spelled, words):
            offsets.append(pos)
            pos += len(sp) + len(w.punct) + 1
        syn = espeak.synthesize(text, language, variant=voice.espeak_variant, rate_wpm=int(round(175 * voice.rate)),
                                pitch=int(np.clip(voice.espeak_pitch * voice.f0_gain, 0, 99)),
                                pitch_range=int(np.clip(50 * voice.f0_range, 0, 99)))
        if syn.sample_rate != self.sample_rate:
            raise ModelError(f"libespeak-ng runs at {syn.sample_rate} Hz, expected {self.sample_rate}")
        try:
            return _espeak_timings(syn, words, offsets)
        except ModelError:
            # espeak-ng spoke a word group as one lexical item whose phonemes cannot be shared out:
            # speak the turn a word at a time instead (citation forms, still sample-exact)
            return self._word_by_word(words, spelled, language, voice)

    def _word_by_word(self, words, spelled, language, voice) -> Speech:
        pieces, timed_words, phones, pos = [], [], [], 0
        for i, (w, sp) in enumerate(zip(words, spelled)):
            syn = espeak.synthesize(sp, language, variant=voice.espeak_variant, rate_wpm=int(round(175 * voice.rate)),
                                    pitch=int(np.clip(voice.espeak_pitch * voice.f0_gain, 0, 99)),
                                    pitch_range=int(np.clip(50 * voice.f0_range, 0, 99)))
            one = _espeak_timings(syn, [w], [1])
            a, b = int(round(one.words[0].start * syn.sample_rate)), int(round(one.words[0].end * syn.sample_rate))
            pause = int(0.25 * syn.sample_rate) if w.punct else 0
            pieces.append(np.concatenate([syn.audio[a:b], np.zeros(pause, np.float32)]))
            shift = (pos - a) / syn.sample_rate
            phones.extend(TimedPhone(p.start + shift, p.end + shift, p.phone, p.stress, i) for p in one.phones)
            timed_words.append(TimedWord(one.words[0].start + shift, one.words[0].end + shift, w.word))
            pos += len(pieces[-1])
        return Speech(np.concatenate(pieces), self.sample_rate, timed_words, phones)


def _espeak_timings(syn: espeak.Synthesis, words: list[SpokenWord], offsets: list[int]) -> Speech:
    """Words and phones from espeak's events: each phoneme lasts until the next phoneme event.

    A phoneme that lasts zero samples (espeak emits "w" and "a" of French
    "trois" at one sample) is merged into the following one ("wa"); a lone
    modifier letter (Russian "ʲ", which espeak speaks as its own event after
    "k" of "картинки") into the one before ("kʲ"). espeak-ng
    speaks some word groups as one lexical item (French "tout le temps") and
    reports one word event for them; their phonemes are shared out by each
    word's phone count, and a group whose counts disagree is an error.
    """
    sr = syn.sample_rate
    events = [(e.value[0], e.sample) for e in syn.events if e.kind == "word" and e.value[1] > 0]
    # espeak's character offsets can be a character or two off after accented words: take the nearest
    owner: list[int] = []  # for each word, the index of the word whose event starts its group
    group_start: dict[int, int] = {}
    for i, o in enumerate(offsets):
        near = sorted((abs(pos - o), sample) for pos, sample in events if abs(pos - o) <= 2)
        if near and (not group_start or near[0][1] > max(group_start.values())):
            group_start[i] = near[0][1]
            owner.append(i)
        elif owner:
            owner.append(owner[-1])  # spoken inside the previous word's event
        else:
            raise ModelError(f"espeak-ng gave no event for the first word {words[0].word!r}")
    starts = sorted(group_start.items())
    phones_by_group: dict[int, list] = {g: [] for g, _ in starts}
    phonemes = [e for e in syn.events if e.kind == "phoneme"]
    pending = ""
    spans: list[list] = []  # [first sample, end sample, label, group]
    for k, e in enumerate(phonemes):
        label = e.value.replace("-", "").replace("ˈ", "").replace("ˌ", "")
        end = phonemes[k + 1].sample if k + 1 < len(phonemes) else len(syn.audio)
        if not label:  # a pause
            continue
        if spans and not pending and all(unicodedata.category(c) == "Lm" for c in label):
            # a lone modifier (ru "ʲ" of a soft consonant, spoken as its own event) ends the phone before
            spans[-1][1], spans[-1][2] = end, spans[-1][2] + label
            continue
        if end == e.sample:
            pending += label
            continue
        group = max((g for g, s0 in starts if s0 <= e.sample), default=starts[0][0])
        spans.append([e.sample, end, pending + label, group])
        pending = ""
    _give_stops_their_closures(spans, syn.audio, sr)
    for a, b, label, group in spans:
        phones_by_group[group].append((a / sr, b / sr, label))
    phones: list[TimedPhone] = []
    for g, _ in starts:
        members = [i for i, o in enumerate(owner) if o == g]
        timed = phones_by_group[g]
        if not timed:
            raise ModelError(f"espeak-ng spoke no phoneme for {words[g].word!r}")
        if len(members) == 1:
            phones.extend(TimedPhone(a, b, lab, 0, g) for a, b, lab in timed)
            continue
        counts = [len(words[i].phones) for i in members]
        if sum(counts) != len(timed):
            raise ModelError(
                f"espeak-ng spoke {' '.join(words[i].word for i in members)!r} as one item of {len(timed)} phonemes, "
                f"but the words have {counts}; cannot time them separately"
            )
        pos = 0
        for i, n in zip(members, counts):
            phones.extend(TimedPhone(a, b, lab, 0, i) for a, b, lab in timed[pos: pos + n])
            pos += n
    timed_words = []
    for w, word in enumerate(words):
        mine = [p for p in phones if p.word_index == w]
        timed_words.append(TimedWord(mine[0].start, mine[-1].end, word.word))
    return Speech(syn.audio, sr, timed_words, phones)


STOP_ONSETS = set("pbtdkgɡcɟq")  # first letter of a plosive's or an affricate's label
CLOSURE_DROP_DB = 10.0  # the closure is at least this much quieter than the 10 ms before it
CLOSURE_MAX_S = 0.08  # searched for in the preceding phone's last 80 ms


def _give_stops_their_closures(spans: list[list], audio: np.ndarray, sample_rate: int) -> None:
    """Move the start of each stop that follows another phone back to its closure's start.

    espeak-ng's phoneme event for a stop marks its release: the closure before it
    (30-50 ms of silence, or of a faint voice bar) falls at the end of the
    preceding phone. Phonetic corpora (TIMIT) and aligners put the closure in the
    stop. The closure starts at the earliest millisecond after which the signal
    stays ``CLOSURE_DROP_DB`` below the 10 ms before it until the release. After
    a pause the closure cannot be told from the pause: the stop keeps its event time.
    """
    ms = max(1, sample_rate // 1000)
    n = len(audio) // ms
    peak = float(np.abs(audio).max(initial=0.0)) or 1.0
    level = 20 * np.log10(np.abs(audio[: n * ms]).reshape(n, ms).max(1) / peak + 1e-5)  # dB per millisecond
    for prev, cur in zip(spans, spans[1:]):
        if cur[2][:1] not in STOP_ONSETS or prev[1] != cur[0]:
            continue
        release = cur[0] // ms - 2  # a blip just before the release is part of it
        first = max(prev[0] // ms + 10, release - int(CLOSURE_MAX_S * 1000))
        if release - first < 5:
            continue
        after = np.maximum.accumulate(level[first:release][::-1])[::-1]  # loudest from each ms to the release
        for c in range(first, release - 5):
            if after[c - first] <= np.median(level[c - 10: c]) - CLOSURE_DROP_DB:
                prev[1] = cur[0] = c * ms
                break


def make_engine(name: str):
    if name == "kokoro":
        return KokoroEngine()
    if name == "espeak":
        return EspeakEngine()
    raise ModelError(f"unknown synthesis engine {name!r}; use 'kokoro' or 'espeak'")
