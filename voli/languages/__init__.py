"""Languages: everything voli knows about a language, one file each.

Each module of this package (``fr.py``, ``es.py``, ``pt.py``, ``en.py``, ``it.py``, ...) defines
``LANGUAGE = Language(...)``; the registry below finds every such module, so a language is added by
adding its file (README, "Adding a language"). Nothing else in voli names a language: the
recogniser, the lexicon, the measures, the statistics and the simulator ask this registry.

    >>> from voli import languages
    >>> languages.get("pt").whisper, languages.get("pt").espeak_voice
    ('pt', 'pt-br')
    >>> languages.resolve("French")
    'fr'
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from voli.errors import VoliError

VOWEL_CHARS = frozenset("aeiouyɑɐɒæɔəɘɚɛɜɞɤɨɪʉʊʌʏøœɶɯɵᵻ")  # IPA vowel letters of voli's phone sets


def is_vowel(phone: str) -> bool:
    """Is this phone label a vowel, i.e. a syllable nucleus? Diphthongs and nasal vowels count (the
    first letter decides; a precomposed nasal vowel such as "ũ" is read as u + tilde)."""
    return bool(phone) and unicodedata.normalize("NFD", phone)[0] in VOWEL_CHARS


HEIGHTS = ("close", "near-close", "close-mid", "mid", "open-mid", "near-open", "open")
BACKNESS = ("front", "central", "back")


@dataclass(frozen=True)
class Vowel:
    """Where a vowel phone sits in the vowel space, for vowel charts and vowel-space polygons."""

    height: str  # one of HEIGHTS
    backness: str  # one of BACKNESS
    rounded: bool = False
    nasal: bool = False
    diphthong: bool = False  # a gliding vowel: its midpoint is not a target


@dataclass(frozen=True)
class Language:
    """What voli needs to transcribe, align, measure, model and simulate one language.

    Phone labels are espeak-ng's IPA as voli writes them (see ``respellings``).
    """

    code: str  # ISO 639-1, as in recordings.csv and every table's ``language`` column
    name: str  # in English, for messages
    aliases: tuple[str, ...]  # other spellings accepted in recordings.csv (ISO 639-2, names); "pt-BR" -> "pt" is automatic
    whisper: str  # Whisper's language code
    espeak_voice: str  # espeak-ng voice for G2P and synthesis
    num2words: str  # num2words' language code
    # -- written words --
    decimal_mark: str  # "," or "."; the other one groups thousands
    percent: str  # "10%" is read "<ten> <percent>"
    ordinal: str  # regular expression: digits + ordinal suffix (group 1: the digits, group 2: a feminine mark)
    abbreviations: dict[str, str]  # lower-cased written form -> words, expanded before G2P
    fraction_by_digit: bool = False  # en "1.50" -> one point five zero; else fr "3,50" -> trois virgule cinquante
    fraction_by_num2words: bool = False  # ru "3,5" -> три целых пять десятых: num2words reads the whole decimal
    abbreviations_need_dot: frozenset[str] = frozenset()  # forms that are words without their dot ("m.")
    capital_abbreviations: dict[str, str] = field(default_factory=dict)  # "M" (Dupont) -> the key of "m."
    # -- filled pauses --
    fillers: tuple[str, ...] = ()  # how they are written (lower case)
    filler_phones: dict[str, tuple[str, ...]] = field(default_factory=dict)  # how they are said (long vowels)
    filler_prompt: str = ""  # a Whisper prompt written with fillers, so that Whisper keeps them
    espeak_filler_spellings: dict[str, str] = field(default_factory=dict)  # for espeak-ng's synthesis only
    # -- who asks --
    question_starts: tuple[str, ...] = ()  # first words of a question without its question mark
    # -- pronunciation --
    phones: tuple[str, ...] = ()  # every label the lexicon emits (derive_phone_sets())
    phone_variants: dict[str, str] = field(default_factory=dict)  # rare espeak-ng labels folded onto the set
    foreign_phones: dict[str, tuple[str, ...]] = field(default_factory=dict)  # labels of a voice espeak-ng
    # switched to mid-word (English in "week-end") -> this language's labels
    respellings: dict[str, str] = field(default_factory=dict)  # espeak-ng symbol -> the IPA voli writes
    g2p_overrides: dict[str, str] = field(default_factory=dict)  # word -> phones ("f ˈi s"): espeak-ng's errors
    filler_overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fillers espeak-ng misreads
    g2p_rules: tuple[Callable, ...] = ()  # (word, Pron) -> Pron, after espeak-ng (pt "lh" -> ʎ)
    rule_phones: frozenset[str] = frozenset()  # labels only the rules emit
    audit_words: str = ""  # common interview words whose espeak-ng output was checked
    # -- vowels --
    vowels: dict[str, Vowel] = field(default_factory=dict)  # every vowel label of ``phones``
    corner_vowels: tuple[str, str, str] = ("i", "a", "u")  # high front, low, high back (Watt-Fabricius)
    vowel_space: tuple[str, ...] = ()  # the vowel-space polygon: peripheral monophthongs in order around it
    # (front high -> low -> back high); empty: the corner vowels. Also the fixed set Lobanov 2.0 and Nearey
    # centre each speaker on (voli.profile.normalise), so list vowels every speaker says often
    pillai_pairs: tuple[tuple[str, str], ...] = ()  # vowel pairs whose overlap is a sociolinguistic variable
    # -- simulated interviews --
    country: str = ""  # where the simulator's speakers of this language live
    interviews: tuple[tuple[tuple[str, str], ...], ...] = ()  # scripts: ((role, text), ...) per interview

    def __post_init__(self):
        if not self.vowel_space:
            object.__setattr__(self, "vowel_space", tuple(self.corner_vowels))
        if len(self.vowel_space) < 3:
            raise VoliError(f"language {self.code!r}: vowel_space {self.vowel_space} needs at least 3 vowels "
                            "(a polygon); list the peripheral monophthongs in order around the space")
        if self.vowels:
            for what in ("corner_vowels", "vowel_space"):
                missing = [v for v in getattr(self, what) if v not in self.vowels]
                if missing:
                    raise VoliError(f"language {self.code!r}: {what} names {missing}, which are not in its vowels=; "
                                    f"use labels of vowels= ({', '.join(sorted(self.vowels))})")

    @cached_property
    def ordinal_re(self) -> re.Pattern:
        return re.compile(self.ordinal)


_REGISTRY: dict[str, Language] | None = None


def _registry() -> dict[str, Language]:
    global _REGISTRY
    if _REGISTRY is None:
        found = {}
        for info in pkgutil.iter_modules(__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            language = getattr(module, "LANGUAGE", None)
            if not isinstance(language, Language):
                raise VoliError(f"voli/languages/{info.name}.py defines no LANGUAGE = Language(...)")
            if language.code != info.name:
                raise VoliError(f"voli/languages/{info.name}.py: its code is {language.code!r}; name the file "
                                f"{language.code}.py")
            found[language.code] = language
        _REGISTRY = found
    return _REGISTRY


def codes() -> tuple[str, ...]:
    """The codes of every language voli knows, in alphabetical order."""
    return tuple(sorted(_registry()))


def all_languages() -> list[Language]:
    return [_registry()[code] for code in codes()]


def get(code: str) -> Language:
    """The language of this ISO 639-1 code; VoliError naming the known ones otherwise."""
    try:
        return _registry()[code]
    except KeyError:
        raise VoliError(f"unknown language {code!r}; voli knows {', '.join(codes())} "
                        "(add one as a file in voli/languages/, see the README)") from None


def resolve(value: str) -> str | None:
    """A language as users write it ("pt-BR", "French", "fra", "") -> voli's code, or None if empty.

    Raises ValueError naming the languages voli knows.
    """
    v = value.strip().lower().replace("_", "-")
    if not v:
        return None
    names = {}
    for language in all_languages():
        for name in (language.code, language.name.lower(), *language.aliases):
            names[name.lower()] = language.code
    for candidate in (v, v.split("-")[0]):
        if candidate in names:
            return names[candidate]
    raise ValueError(f"unknown language {value!r}; voli supports {', '.join(codes())} (or leave it empty to detect "
                     "it; a new language is one file in voli/languages/)")
