"""libespeak-ng through ctypes: grapheme-to-phoneme and synthesis with exact timings.

Two uses:

* :func:`phonemize` turns a word into espeak-ng's phonemes, in IPA, one
  label per phoneme (espeak-ng's own segmentation: ``eɪ`` and ``ɑ̃`` are one
  phoneme each). Stress marks are returned apart from the labels.
* :func:`synthesize` speaks text and reports every word and phoneme with the
  sample index at which espeak-ng started it: timings exact to the sample.

libespeak-ng keeps global state, so calls are serialised with a lock. The
library is Debian's ``libespeak-ng1`` (installed with ``espeak-ng``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

from voli import languages
from voli.errors import ModelError

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED, _EVENT_PHONEME = 0, 1, 5, 6, 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_PHONEME_MODE_IPA = 0x02

STRESS_MARKS = {"ˈ": 1, "ˌ": 2}


def respell(label: str, language: str) -> str:
    """An espeak-ng phone label as voli writes it: the language file's ``respellings`` (espeak-ng's
    own symbols in the IPA a phonetician expects, e.g. pt-br [æ] -> ɐ). The lexicon and simulated
    truth use the respelt labels; the synthesisers (espeak-ng, Kokoro) still get espeak-ng's."""
    return languages.get(language).respellings.get(label, label)


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()
_lib = None
_sample_rate = 0
_collect: dict | None = None
# espeak_TextToPhonemes leaves state behind that swallows the first WORD event
# of the next synthesis; a throwaway synthesis clears it.
_after_phonemize = False


def _load():
    global _lib, _sample_rate, _callback_ref
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as err:
        raise ModelError("libespeak-ng is not installed: sudo apt-get install espeak-ng libespeak-ng1") from err
    lib.espeak_Initialize.restype = ctypes.c_int
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
    if rate <= 0:
        raise ModelError(f"libespeak-ng failed to initialise (returned {rate}); is espeak-ng-data installed?")
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    _callback_ref = _CALLBACK(_on_audio)
    lib.espeak_SetSynthCallback(_callback_ref)
    _lib, _sample_rate = lib, rate
    return lib


def version() -> str | None:
    """libespeak-ng's version (espeak_Info), or None where it is not installed."""
    try:
        lib = _load()
    except ModelError:
        return None
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    info = lib.espeak_Info(None)
    return info.decode("utf-8", "replace") if info else None


def _on_audio(wav, n, events):
    if _collect is None:
        return 0
    if n > 0:
        _collect["audio"].append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    i = 0
    while events[i].type != _EVENT_LIST_TERMINATED:
        e = events[i]
        if e.type == _EVENT_WORD:
            _collect["events"].append(("word", e.sample, e.text_position, e.length))
        elif e.type == _EVENT_PHONEME:
            _collect["events"].append(("phoneme", e.sample, bytes(e.id.string).split(b"\0")[0].decode("utf-8", "replace"), 0))
        elif e.type in (_EVENT_END, _EVENT_MSG_TERMINATED):
            _collect["events"].append(("end", e.sample, None, 0))
        i += 1
    return 0


def _set_voice(lib, language: str, variant: str | None):
    name = languages.get(language).espeak_voice + (f"+{variant}" if variant else "")
    if lib.espeak_SetVoiceByName(name.encode()) != 0:
        raise ModelError(f"espeak-ng has no voice {name!r}; list them with `espeak-ng --voices`")


@dataclass(frozen=True)
class Pronunciation:
    phones: tuple[str, ...]  # IPA labels without stress marks
    stress: tuple[int, ...]  # 0 none, 1 primary, 2 secondary, per phone


def _split_stress(labels: list[str]) -> Pronunciation:
    phones, stress = [], []
    for label in labels:
        s = 0
        for mark, level in STRESS_MARKS.items():
            if mark in label:
                s = level
                label = label.replace(mark, "")
        if label:
            phones.append(label)
            stress.append(s)
        elif phones is not None and s:  # a lone stress mark: give it to the next phone
            stress.append(-s)
    # resolve lone marks (negative entries) onto the following phone
    out_p, out_s, pending = [], [], 0
    pi = 0
    for s in stress:
        if s < 0:
            pending = -s
            continue
        out_p.append(phones[pi])
        out_s.append(max(s, pending))
        pending = 0
        pi += 1
    return Pronunciation(tuple(out_p), tuple(out_s))


def phonemize(word: str, language: str) -> Pronunciation:
    """espeak-ng's pronunciation of one word, in IPA, one label per phoneme."""
    chunks = phonemize_text(word, language)
    return Pronunciation(tuple(p for c in chunks for p in c.phones), tuple(s for c in chunks for s in c.stress))


def phonemize_text(text: str, language: str) -> list[Pronunciation]:
    """espeak-ng's pronunciation of a phrase, one :class:`Pronunciation` per word it reports.

    Phrase-level processing applies (French liaison attaches the linking
    consonant to the word before; function words lose their stress), and
    espeak-ng may join or split words, so the count can differ from the
    number of written words.
    """
    with _lock:
        lib = _load()
        _set_voice(lib, language, None)
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        chunks = []
        separator = ord("_") << 8
        while ptr.value:
            out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEME_MODE_IPA | separator)
            if out:
                chunks.append(out.decode("utf-8"))
        global _after_phonemize
        _after_phonemize = True
    return [_split_stress([p for p in w.split("_") if p]) for chunk in chunks for w in chunk.split()]


@dataclass(frozen=True)
class SynthEvent:
    kind: str  # "word" or "phoneme"
    sample: int  # sample index where it starts
    value: object  # word: (text_position, length) in characters; phoneme: IPA label


@dataclass(frozen=True)
class Synthesis:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    events: list[SynthEvent]


def synthesize(text: str, language: str, *, variant: str | None = None, rate_wpm: int = 175,
               pitch: int = 50, pitch_range: int = 50) -> Synthesis:
    """Speak ``text`` with espeak-ng; every word and phoneme comes with its start sample."""
    global _collect, _after_phonemize
    with _lock:
        lib = _load()
        if _after_phonemize:
            lib.espeak_Synth(b".", 2, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            _after_phonemize = False
        _set_voice(lib, language, variant)
        for param, value in ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range)):
            lib.espeak_SetParameter(param, int(value), 0)
        _collect = {"audio": [], "events": []}
        try:
            data = text.encode("utf-8")
            err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            if err != 0:
                raise ModelError(f"espeak-ng failed to synthesise (error {err})")
            chunks, raw = _collect["audio"], _collect["events"]
        finally:
            _collect = None
    audio = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
    events = [SynthEvent(kind, sample, value if kind == "phoneme" else (value, length))
              for kind, sample, value, length in raw if kind in ("word", "phoneme")]
    return Synthesis(audio, _sample_rate, events)
