"""Pronunciation lexicon for forced alignment: one pronunciation per written word.

The aligner needs, for every word of an utterance, a sequence of phone labels
(and a stress level per phone). :class:`Lexicon` gives them, in this order of
precedence:

1. the user's dictionary (Montreal Forced Aligner format, first variant);
2. fillers ("euh", "um", ...): :data:`voli.simulate.scripts.FILLER_PHONES`,
   then :data:`FILLER_OVERRIDES`, else espeak-ng;
3. :data:`OVERRIDES`: words espeak-ng gets wrong;
4. espeak-ng's G2P on the whole clause, as :func:`voli.simulate.text.spoken_words`
   does (French liaison, unstressed function words), word by word when espeak-ng
   reports a different number of words; then :data:`RULES` (pt "lh" -> ʎ).

Digits ("100", "25%", "3,5", "1er") and the abbreviations of
:data:`ABBREVIATIONS` are expanded to words before G2P; all the phones of the
expansion belong to the one written word.

Labels are espeak-ng's IPA with its "-" (syllable-boundary marker) removed,
and two of its pt-br symbols respelt (:data:`voli.espeak.RESPELLINGS`: the
reduced final a [æ] -> ɐ, the raised final e [y] -> ɪ), exactly the labels
of the simulated corpus truth; :data:`PHONES` lists every label the lexicon
can emit per language.

Tables at the top of this module (edit them, keep the reason):

OVERRIDES / RULES (espeak-ng 1.51 gaps found by auditing common interview words)

====  ==========  =================  ===================================================
lang  word        espeak-ng          voli, and why
====  ==========  =================  ===================================================
pt    *lh*        l j                ʎ: Brazilian "lh" is the palatal lateral
                                     (trabalho t r a b a ʎ ʊ, mulher m u ʎ ɛ r)
fr    fils        f i l              f i s: "son", far commoner in speech than "threads"
en    yeah        j ɛ h              j ɛ ə: espeak-ng ends it with a spurious [h]
====  ==========  =================  ===================================================

FILLER_OVERRIDES (fillers of voli.asr.fillers.FILLERS without FILLER_PHONES whose
espeak-ng reading is wrong): fr "hm" and es "mm" are spelled out letter by letter
(a ʃ ɛ m, e m e ɛ m e) -> mː; fr "ben" is read b ɛ n -> b ɛ̃; en "uhm" is read
uː m -> ʌ mː like "um".
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from voli import espeak
from voli.asr.fillers import FILLERS
from voli.text import NUM2WORDS_LANG, spell_number
from voli.errors import VoliError
from voli.simulate.scripts import FILLER_PHONES

LANGUAGES = tuple(espeak.VOICES)  # fr, es, pt, en

VOWEL_CHARS = frozenset("aeiouyɑɐɒæɔəɘɚɛɜɞɤɨɪʉʊʌʏøœɶɯɵᵻ")  # IPA vowel letters of voli's phone sets


def is_vowel(phone: str) -> bool:
    """Is this phone a vowel, i.e. a syllable nucleus? Diphthongs and nasal vowels count (first letter)."""
    return bool(phone) and phone[0] in VOWEL_CHARS


SPOKEN_NOISE = "spn"  # MFA's label for a token nothing can be said of ("♪", "—"): any sound or none
STRESS_MARKS = espeak.STRESS_MARKS  # ˈ primary, ˌ secondary

# ---------------------------------------------------------------------------------------------
# Phone sets.
# Derived with derive_phone_sets() (run `python -m voli.align.lexicon`): every label espeak-ng
# 1.51 emits, in its own voice for the language (no switch to another language), at least
# twice over ~29,000 Latin-script words (Whisper's multilingual vocabulary, >= 3 letters), the
# sample interview scripts, num2words 0-100 and thousands, and AUDIT_WORDS (every label of these
# last three is kept, whatever its count); minus the labels
# folded by PHONE_VARIANTS, plus the labels they fold onto; plus filler phones, the override phones
# (pt ʎ) and SPOKEN_NOISE.
# ---------------------------------------------------------------------------------------------
PHONES: dict[str, tuple[str, ...]] = {
    "fr": (
        "a", "aː", "b", "d", "dʒ", "e", "f", "i", "j", "k", "l", "m", "mː", "n", "o", "oː", "p", "s", "spn",
        "t", "tʃ", "u", "v", "w", "y", "yː", "z", "ø", "øː", "ŋ", "œ", "œ̃", "ɑ̃", "ɔ", "ɔ̃", "ə", "ɛ",
        "ɛ̃", "ɡ", "ɲ", "ʁ", "ʃ", "ʒ",
    ),
    "es": (
        "a", "aɪ", "aʊ", "b", "d", "e", "eɪ", "eʊ", "eː", "f", "i", "j", "k", "l", "m", "mː", "n", "o",
        "oɪ", "p", "pː", "r", "s", "spn", "t", "ts", "tʃ", "u", "w", "x", "ð", "ŋ", "ɛ", "ɟ", "ɡ", "ɣ", "ɲ",
        "ɾ", "ʃ", "ʎ", "ʝ", "β", "θ",
    ),
    "pt": (
        "a", "aɪ", "aʊ", "aː", "b", "d", "dʒ", "e", "eɪ", "eʊ", "f", "i", "iʊ", "j", "k", "l", "m", "n",
        "o", "oɪ", "õ", "p", "r", "s", "spn", "t", "ts", "tʃ", "u", "uɪ", "ũ", "v", "w", "x", "z",
        "ŋ", "ũː", "ɐ", "ɐ̃", "ɐ̃ʊ̃", "ɔ", "ɔɪ", "ə", "ɛ", "ɛɪ", "ɛʊ", "ɛː", "ɡ", "ɪ", "ɲ", "ɾ", "ʃ", "ʊ", "ʎ",
        "ʒ",
    ),
    "en": (
        "aɪ", "aɪə", "aɪɚ", "aʊ", "b", "d", "dʒ", "eɪ", "f", "h", "i", "iə", "iː", "j", "k", "l", "m", "mː",
        "n", "n̩", "oʊ", "oː", "oːɹ", "p", "s", "spn", "t", "tʃ", "uː", "v", "w", "x", "z", "æ", "ð", "ŋ",
        "ɐ", "ɑː", "ɑːɹ", "ɔ", "ɔɪ", "ɔː", "ɔːɹ", "ə", "əl", "ɚ", "ɛ", "ɛɹ", "ɜː", "ɡ", "ɪ", "ɪɹ", "ɹ", "ɾ",
        "ʃ", "ʊ", "ʊɹ", "ʌ", "ʌː", "ʒ", "ʔ", "θ", "ᵻ",
    ),
}

_PHONE_SET = {language: frozenset(labels) for language, labels in PHONES.items()}

# espeak-ng labels folded onto a label of the set: rare ones (from spellings that look foreign,
# like fr "dream", or from letter runs like en "aaaa"), and the pt-br symbols that voli respells
# (voli.espeak.RESPELLINGS: æ -> ɐ, y -> ɪ). Also accepted in user dictionaries.
PHONE_VARIANTS: dict[str, dict[str, str]] = {
    "fr": {"ɪː": "i", "ɪ": "i", "iː": "i"},
    "es": {"ə": "e", "dʒ": "ʝ", "h": "x"},
    "pt": {"iː": "i", "ɹ": "r", "h": "x", **espeak.RESPELLINGS["pt"]},
    "en": {"ææ": "æ", "ɐɐ": "ɐ", "iːː": "iː", "ɑ̃": "ɑː", "r": "ɹ"},
}

# When espeak-ng decides a word is English (fr "week-end", "mail") it switches voice and emits
# English labels between "(en)" ... "(fr)" markers. Those labels are mapped onto the language's
# set, one English label to zero or more labels; the word is listed in Lexicon.unknown.
_EN_TO_ROMANCE = {
    "ɪ": ("i",), "iː": ("i",), "ɪː": ("i",), "i": ("i",), "ᵻ": ("i",), "uː": ("u",), "u": ("u",),
    "ʊ": ("u",), "ɑː": ("a",), "ɑ": ("a",), "æ": ("a",), "ææ": ("a",), "a": ("a",), "aː": ("a",),
    "ʌ": ("a",), "ɒ": ("o",), "ɔ": ("o",), "ɔː": ("o",), "o": ("o",), "oː": ("o",), "oʊ": ("o",),
    "əʊ": ("o",), "e": ("e",), "ɛ": ("e",), "ɛː": ("e",), "eɪ": ("e", "j"), "aɪ": ("a", "j"),
    "aʊ": ("a", "w"), "ɔɪ": ("o", "j"), "iə": ("i", "e"), "eə": ("e",), "ʊə": ("u", "e"),
    "aɪə": ("a", "j", "e"), "ɐ": ("a",), "ə": ("e",), "əl": ("e", "l"), "n̩": ("n",), "ɫ": ("l",),
    "ɬ": ("l",), "ʔ": (), "h": (), "ç": ("x",), "kh": ("k",), "ph": ("p",),
}
FOREIGN_PHONES: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {**_EN_TO_ROMANCE, "ɛ": ("ɛ",), "ɛː": ("ɛ",), "ɔ": ("ɔ",), "ɔː": ("ɔ",), "ɒ": ("ɔ",),
           "ʌ": ("œ",), "ə": ("ə",), "ɐ": ("ə",), "əl": ("ə", "l"), "ɚ": ("œ", "ʁ"), "ɜː": ("œ", "ʁ"),
           "eɪ": ("ɛ", "j"), "aʊ": ("a", "u"), "ɔɪ": ("ɔ", "j"), "iə": ("i", "ə"), "eə": ("ɛ", "ʁ"),
           "ʊə": ("u", "ʁ"), "aɪə": ("a", "j", "ə"), "aɪɚ": ("a", "j", "œ", "ʁ"), "ɑːɹ": ("a", "ʁ"),
           "ɔːɹ": ("ɔ", "ʁ"), "oːɹ": ("ɔ", "ʁ"), "ɛɹ": ("ɛ", "ʁ"), "ɪɹ": ("i", "ʁ"), "ʊɹ": ("u", "ʁ"),
           "ɹ": ("ʁ",), "r": ("ʁ",), "ɾ": ("t",), "θ": ("s",), "ð": ("z",), "x": ("ʁ",), "ç": ("ʃ",)},
    "es": {**_EN_TO_ROMANCE, "ɚ": ("e", "ɾ"), "ɜː": ("e", "ɾ"), "aɪɚ": ("a", "j", "e", "ɾ"),
           "ɑːɹ": ("a", "ɾ"), "ɔːɹ": ("o", "ɾ"), "oːɹ": ("o", "ɾ"), "ɛɹ": ("e", "ɾ"), "ɪɹ": ("i", "ɾ"),
           "ʊɹ": ("u", "ɾ"), "ɹ": ("ɾ",), "z": ("s",), "v": ("b",), "ʒ": ("ʝ",), "dʒ": ("ʝ",),
           "h": ("x",), "ɾ": ("ɾ",)},
    "pt": {**_EN_TO_ROMANCE, "ɛ": ("ɛ",), "ɛː": ("ɛ",), "ɔ": ("ɔ",), "ɔː": ("ɔ",), "ʊ": ("ʊ",),
           "æ": ("ɛ",), "ə": ("ə",), "ɚ": ("e", "r"), "ɜː": ("e", "r"), "aɪɚ": ("aɪ", "e", "r"),
           "eɪ": ("eɪ",), "aɪ": ("aɪ",), "aʊ": ("aʊ",), "ɔɪ": ("ɔɪ",), "oʊ": ("o", "w"),
           "ɑːɹ": ("a", "r"), "ɔːɹ": ("ɔ", "r"), "oːɹ": ("ɔ", "r"), "ɛɹ": ("ɛ", "r"), "ɪɹ": ("i", "r"),
           "ʊɹ": ("u", "r"), "ɹ": ("r",), "θ": ("t",), "ð": ("d",), "h": ("x",)},
    "en": {"ʁ": ("ɹ",), "ɾ": ("ɾ",), "y": ("uː",), "ø": ("ɜː",), "œ": ("ɜː",), "ɑ̃": ("ɑː", "n"),
           "ɔ̃": ("ɔ", "n"), "ɛ̃": ("æ", "n"), "œ̃": ("ʌ", "n"), "a": ("æ",), "e": ("eɪ",), "o": ("oʊ",),
           "u": ("uː",), "β": ("b",), "ð": ("ð",), "ɣ": ("ɡ",), "x": ("h",), "ɲ": ("n", "j"),
           "ʎ": ("l", "j"), "ʝ": ("j",), "ɐ̃": ("ʌ", "n"), "ɐ̃ʊ̃": ("aʊ", "n")},
}

# ---------------------------------------------------------------------------------------------
# Overrides (see the table in the module docstring).
# ---------------------------------------------------------------------------------------------
OVERRIDES: dict[str, dict[str, str]] = {  # word -> phones, space separated, ˈ marks primary stress
    "fr": {"fils": "f ˈi s"},
    "es": {},
    "pt": {},
    "en": {"yeah": "j ˈɛ ə"},
}

FILLER_OVERRIDES: dict[str, dict[str, tuple[str, ...]]] = {  # used after FILLER_PHONES
    "fr": {"hm": ("mː",), "ben": ("b", "ɛ̃")},
    "es": {"mm": ("mː",)},
    "pt": {},
    "en": {"uhm": ("ʌ", "mː")},
}

# Common abbreviations, expanded before G2P (looked up lower-cased). A trailing "." is optional
# except where the bare form is a word or a letter (fr "m."), so "Sr" and "Sr." both expand.
ABBREVIATIONS: dict[str, dict[str, str]] = {
    "fr": {"m.": "monsieur", "mm.": "messieurs", "mme": "madame", "mmes": "mesdames",
           "mlle": "mademoiselle", "mlles": "mesdemoiselles", "dr": "docteur", "pr": "professeur",
           "etc.": "etcétéra"},
    "es": {"sr.": "señor", "sra.": "señora", "srta.": "señorita", "dr.": "doctor", "dra.": "doctora",
           "ud.": "usted", "uds.": "ustedes", "etc.": "etcétera", "ee.uu.": "estados unidos"},
    "pt": {"sr.": "senhor", "sra.": "senhora", "srta.": "senhorita", "dr.": "doutor", "dra.": "doutora",
           "etc.": "etcétera"},
    "en": {"mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "etc.": "etcetera",
           "vs.": "versus"},
}
_NEEDS_DOT = {"fr": {"m."}}  # bare "m" is not expanded (except the capital "M" of "M Dupont")

# words whose espeak-ng output was checked for the overrides above, also part of the phone-set
# derivation (the common words of interviews about platform work)
AUDIT_WORDS = {
    "fr": "travail travaille plateforme argent heures tâche annotation famille étude payer internet "
          "ordinateur semaine mois jour entreprise client de que pas vous je ne les des est avec pour "
          "dans tout fait plus très aussi mais cent deux vingt monsieur madame docteur oui femme fils "
          "salaire boulot collègues patron contrat enfants maison temps toujours beaucoup "
          "aujourd'hui hier demain chez ils leur août cinq sept huit neuf quand comment pourquoi "
          "écran application mail données sûr sûre dû bien contrôle grâce gagner montagne",
    "es": "trabajo trabaja plataforma dinero horas tarea anotación familia estudio estudiar pagar pago "
          "internet computadora ordenador semana mes día empresa cliente de que no usted también muy "
          "mucho para señor señora doctora etcétera sueldo jefe compañeros contrato hijos padres casa "
          "tiempo siempre nunca poco hoy ayer mañana nosotros ellos pues bueno este entonces gente "
          "dólares pantalla correo aplicación datos llamar calle yo ciudad año niño",
    "pt": "trabalho trabalha dinheiro tarefa semana plataforma também muito não você que de filho mulher "
          "melhor computador empresa cliente família estudar pagamento internet hora dia mês anotação "
          "tempo emprego celular salário chefe colegas contrato filhos pais casa sempre nunca pouco hoje "
          "ontem amanhã nós eles gente então porque bom tá pra assim coisa ruim bem mãe aplicativo dados "
          "anos pessoa conheço ideia milhões informações senhor doutor às",
    "en": "work working platform money hours task annotation family study pay payment internet computer "
          "week month day company client the of and to a in that it you is was for with they have this "
          "from doctor mister salary boss coworkers contract kids parents house time always never enough "
          "today yesterday tomorrow because okay yeah really screen keyboard email app data",
}


class LexiconError(VoliError):
    """A pronunciation dictionary is malformed, or a word cannot be pronounced at all."""


@dataclass(frozen=True)
class Pron:
    """One pronunciation: phone labels and, in parallel, their stress (0 none, 1 primary, 2 secondary)."""

    phones: tuple[str, ...]
    stress: tuple[int, ...]

    def __post_init__(self):
        if len(self.phones) != len(self.stress):
            raise LexiconError(f"a pronunciation needs one stress level per phone: {self.phones} has {self.stress}")

    def __str__(self) -> str:
        return " ".join(self.phones)


# --- phone labels -----------------------------------------------------------------------------


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise LexiconError(f"no lexicon for language {language!r}; voli's languages are {', '.join(LANGUAGES)}")


def _base(label: str) -> str:
    """A label without length marks and diacritics, for finding near labels."""
    return "".join(c for c in unicodedata.normalize("NFD", label) if not unicodedata.combining(c)).replace("ː", "")


def nearest_phones(label: str, language: str, n: int = 5) -> list[str]:
    """The ``n`` labels of ``PHONES[language]`` that look most like ``label`` (for error messages)."""
    _check_language(language)
    base = _base(label)

    def score(p: str) -> tuple:
        return (_base(p) == base, base in _base(p) or _base(p) in base, difflib.SequenceMatcher(None, label, p).ratio())

    return sorted(PHONES[language], key=score, reverse=True)[:n]


def _split_label(label: str) -> tuple[str, int]:
    """("ˈa" -> ("a", 1)): a label without its stress marks, and its stress level."""
    stress = 0
    for mark, level in STRESS_MARKS.items():
        if mark in label:
            stress = max(stress, level)
            label = label.replace(mark, "")
    return label, stress


def normalise_phone(label: str, language: str) -> str:
    """Map an espeak-ng or user-dictionary label onto ``PHONES[language]``.

    Removes espeak-ng's "-" (syllable-boundary marker) and stress marks, folds the
    rare labels of :data:`PHONE_VARIANTS` and returns a label of the set, written as
    espeak-ng writes it (nasal vowels decomposed: "o" + U+0303, whichever form is
    given). Raises
    :class:`LexiconError`, naming the nearest valid labels, for anything else.
    """
    _check_language(language)
    clean, _ = _split_label(label.strip().replace("-", ""))
    for form in (clean, unicodedata.normalize("NFD", clean)):  # espeak-ng writes õ as o + U+0303
        if form in _PHONE_SET[language]:
            return form
        if form in PHONE_VARIANTS[language]:
            return PHONE_VARIANTS[language][form]
    raise LexiconError(f"phone {label!r} is not in voli's {language} phone set; nearest: "
                       f"{' '.join(nearest_phones(clean, language))} (all: voli.align.lexicon.PHONES[{language!r}])")


# --- dictionary files (Montreal Forced Aligner format) ----------------------------------------


def _parse_phones(labels: list[str], language: str) -> Pron:
    phones, stress = [], []
    for label in labels:
        clean, level = _split_label(label)
        phones.append(normalise_phone(clean, language))
        stress.append(level)
    return Pron(tuple(phones), tuple(stress))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_dictionary(path: str | Path, language: str) -> dict[str, list[Pron]]:
    """Read a pronunciation dictionary in Montreal Forced Aligner format.

    One pronunciation per line: ``word phone phone ...`` separated by spaces or tabs.
    Up to four numbers between the word and the phones (MFA's pronunciation and
    silence probabilities) are skipped. Several lines for one word are variants,
    kept in file order (the first is the one :class:`Lexicon` uses). Words are
    lower-cased. A phone may carry a stress mark (``ˈa``). Blank lines are skipped.

    Returns
    -------
    dict
        word -> list of :class:`Pron` (stress 0 where not marked).

    Raises
    ------
    LexiconError
        The file is missing or not UTF-8, or a line has no phones or a phone that is
        not in ``PHONES[language]``; the message names the file and line.
    """
    _check_language(language)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise LexiconError(f"pronunciation dictionary {path} does not exist; check the path "
                           "(AlignConfig or --dictionary)") from err
    except UnicodeDecodeError as err:
        raise LexiconError(f"{path} is not UTF-8 text ({err}); save it as UTF-8") from err
    entries: dict[str, list[Pron]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        word, rest = unicodedata.normalize("NFC", tokens[0]).lower(), tokens[1:]
        skipped = 0
        while rest and skipped < 4 and _is_number(rest[0]):
            rest, skipped = rest[1:], skipped + 1
        if not rest:
            raise LexiconError(f"{path}, line {number}: {word!r} has no phones; write it as "
                               f"`{word} phone phone ...` (MFA dictionary format)")
        try:
            pron = _parse_phones(rest, language)
        except LexiconError as err:
            raise LexiconError(f"{path}, line {number} ({word!r}): {err}; fix the label or drop the line") from None
        if pron not in entries.setdefault(word, []):
            entries[word].append(pron)
    return entries


def write_dictionary(path: str | Path, entries: dict[str, list[Pron]]) -> Path:
    """Write ``entries`` as an MFA dictionary: ``word<TAB>phone phone ...``, one variant a line.

    Words are sorted; variants keep their order. MFA dictionaries have no stress,
    so stress is not written (variants that differ only in stress are written once).
    The file is written atomically.
    """
    from voli.io.tables import write_text

    lines = []
    for word in sorted(entries):
        if not word or any(c.isspace() for c in word):
            raise LexiconError(f"cannot write word {word!r} in an MFA dictionary: "
                               "words cannot be empty or contain spaces")
        seen = []
        for pron in entries[word]:
            if pron.phones and pron.phones not in seen:
                seen.append(pron.phones)
                lines.append(f"{word}\t{' '.join(pron.phones)}")
    return write_text("".join(line + "\n" for line in lines), path)


# --- text normalisation -----------------------------------------------------------------------

_EDGE_PUNCTUATION = " ,.;:!?¿¡\"“”«»()[]{}…"  # stripped from both ends of a written word
_CLAUSE_END = set(",.?!;:")  # as voli.simulate.text.KEPT_PUNCTUATION: a clause ends after these
_VOWEL_LETTERS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")


def _expand_abbreviation(written: str, language: str) -> str | None:
    table = ABBREVIATIONS[language]
    lower = written.lower()
    if lower in table:
        return table[lower]
    if not lower.endswith(".") and lower + "." in table and lower + "." not in _NEEDS_DOT.get(language, ()):
        return table[lower + "."]
    if language == "fr" and written == "M":  # "M Dupont", once ASR punctuation is stripped
        return table["m."]
    return None


def _digit_runs(token: str, language: str) -> str | None:
    """Mixed letters and digits ("covid19", "mp3"): each digit run in words, letters left to espeak-ng."""
    if not re.search(r"\d", token):
        return None
    parts = []
    for run in re.findall(r"\d+|\D+", token):
        if run.isdigit():
            parts.append(spell_number(run, language) or run)
        elif run.strip("-'’"):
            parts.append(run.strip("-'’"))
    return " ".join(parts)


# --- the lexicon ------------------------------------------------------------------------------


@dataclass
class _Item:
    """One written word of an utterance, on its way to a pronunciation."""

    written: str  # as given
    key: str  # lower-cased, edge punctuation stripped, NFC, ’ -> ': the dictionary key
    g2p_text: str  # what espeak-ng reads (the expansion for digits and abbreviations)
    source: str = ""  # user, filler, override, g2p
    pron: Pron | None = None
    ends_clause: bool = False


class Lexicon:
    """Pronunciations for the words of one language, one per written word.

    Parameters
    ----------
    language : str
        "fr", "es", "pt" or "en".
    user_dictionary : str or Path, optional
        An MFA-format dictionary (:func:`read_dictionary`) whose entries win over
        everything else.

    Attributes
    ----------
    unknown : dict
        word -> reason, for words without a trustworthy pronunciation (no G2P
        output, symbols, letters spelled out, espeak-ng switching to another
        language). They still get one; a user can fix them in a dictionary.
    overridden : set
        Words whose pronunciation came from :data:`OVERRIDES`, :data:`RULES` or
        :data:`FILLER_OVERRIDES` rather than espeak-ng's plain output.
    """

    def __init__(self, language: str, user_dictionary: str | Path | None = None):
        _check_language(language)
        self.language = language
        self.user = read_dictionary(user_dictionary, language) if user_dictionary is not None else {}
        self.unknown: dict[str, str] = {}
        self.overridden: set[str] = set()
        self._used: dict[str, list[Pron]] = {}
        self._overrides = {w: _parse_phones(p.split(), language) for w, p in OVERRIDES[language].items()}

    # -- public --

    def pronounce(self, words: list[str]) -> list[Pron]:
        """One pronunciation per written word of one utterance, in order.

        Order of precedence: user dictionary entry (first variant) > filler
        pronunciation (FILLER_PHONES, FILLER_OVERRIDES, else espeak-ng) > OVERRIDES
        > clause-level espeak-ng G2P (a clause ends at , . ? ! ; : after a word),
        word by word where espeak-ng reports a different number of words; then
        RULES. Digits and ABBREVIATIONS are expanded before G2P; the expansion's
        phones all belong to the one written word. Words without a usable
        pronunciation are recorded in :attr:`unknown` and get one anyway (letters
        read one by one, else :data:`SPOKEN_NOISE`). The phones tuple is never empty.
        """
        items = [self._item(w) for w in words]
        clause: list[_Item] = []
        for item in items:
            clause.append(item)
            if item.ends_clause:
                self._g2p_clause(clause)
                clause = []
        self._g2p_clause(clause)
        for item in items:
            if item.key and item.pron is not None:
                used = self._used.setdefault(item.key, [])
                if item.pron not in used:
                    used.append(item.pron)
        return [item.pron for item in items]

    def entries(self) -> dict[str, list[Pron]]:
        """Every word pronounced so far -> the pronunciations used (all variants for user-dictionary words).

        Write it with :func:`write_dictionary` (02_align/lexicon.dict) so users can
        correct it and pass it back as ``user_dictionary``.
        """
        out = {word: list(prons) for word, prons in self._used.items()}
        for word in out:
            if word in self.user:
                out[word] = list(self.user[word])
        return out

    # -- steps --

    def _item(self, written: str) -> _Item:
        stripped = written.strip(_EDGE_PUNCTUATION)
        trailing = written[len(written.rstrip(_EDGE_PUNCTUATION)):]
        key = unicodedata.normalize("NFC", stripped).lower().replace("’", "'")
        with_dot = written.strip(_EDGE_PUNCTUATION.replace(".", ""))  # "Sr.," -> "Sr."
        abbreviation = _expand_abbreviation(with_dot, self.language)
        if abbreviation is not None:
            key = unicodedata.normalize("NFC", with_dot).lower()  # "m." stays "m.": bare "m" is another word
            if with_dot.endswith("."):
                trailing = trailing.replace(".", "", 1)  # the abbreviation's dot does not end the clause
        item = _Item(written, key, stripped.lower(), ends_clause=any(c in _CLAUSE_END for c in trailing))
        if not key:
            item.pron = self._spoken_noise(written, "no letters or digits")
            item.source = "noise"
        elif key in self.user:
            item.pron, item.source = self.user[key][0], "user"
        elif key in FILLERS[self.language]:
            item.pron, item.source = self._filler(key), "filler"
        elif key in self._overrides:
            item.pron, item.source = self._overrides[key], "override"
            self.overridden.add(key)
        else:
            item.source = "g2p"
            item.g2p_text = self._expand(item, stripped, abbreviation)
        return item

    def _expand(self, item: _Item, stripped: str, abbreviation: str | None) -> str:
        """What espeak-ng reads for a word: its abbreviation or number in words, else the word itself."""
        if abbreviation is not None:
            return abbreviation
        if re.search(r"\d", stripped):
            number = spell_number(stripped, self.language)
            if number is not None:
                return number
            self.unknown[item.key] = "mixes letters and digits; digit runs read as numbers, the rest by espeak-ng"
            return _digit_runs(stripped, self.language)
        self._flag_spelling(item)
        return stripped.lower()

    def _flag_spelling(self, item: _Item) -> None:
        """Record in self.unknown a word that espeak-ng can only read symbol by symbol or letter by letter."""
        symbols = sorted({c for c in item.key if not (c.isalnum() or c in "'-")})
        if symbols:
            self.unknown[item.key] = f"contains {' '.join(symbols)}, which espeak-ng reads by name or skips"
        elif item.key.isalpha() and len(item.key) > 1 and not set(item.key) & _VOWEL_LETTERS:
            self.unknown[item.key] = "has no vowel letter: espeak-ng spells it out letter by letter"

    def _filler(self, key: str) -> Pron:
        phones = FILLER_PHONES.get(self.language, {}).get(key)
        if phones is None and key in FILLER_OVERRIDES[self.language]:
            phones = FILLER_OVERRIDES[self.language][key]
            self.overridden.add(key)
        if phones is None:
            phones = self._espeak_word(key, key).phones
        if not phones:
            return self._spoken_noise(key, "espeak-ng gives no phones for this filler")
        return Pron(tuple(phones), (1,) + (0,) * (len(phones) - 1))  # as voli.simulate.text does

    def _g2p_clause(self, clause: list[_Item]) -> None:
        """Phonemise a clause as one phrase, as voli.simulate.text.spoken_words does.

        User-dictionary words and overrides stay in the phrase, so that their
        neighbours are read in the same context; their espeak-ng reading is dropped.
        Fillers are left out of the phrase, as in spoken_words.
        """
        lexical = [it for it in clause if it.source in ("g2p", "override", "user")]
        if not any(it.source == "g2p" for it in lexical):
            return
        sizes = [len(it.g2p_text.split()) for it in lexical]
        chunks = espeak.phonemize_text(" ".join(it.g2p_text for it in lexical), self.language)
        if len(chunks) == sum(sizes) and all(c.phones for c in chunks):
            start = 0
            for it, size in zip(lexical, sizes):
                part = chunks[start:start + size]
                start += size
                if it.source == "g2p":
                    raw = espeak.Pronunciation(tuple(p for c in part for p in c.phones),
                                               tuple(s for c in part for s in c.stress))
                    it.pron = self._finish(it, raw)
        else:
            for it in lexical:
                if it.source == "g2p":
                    it.pron = self._finish(it, espeak.phonemize(it.g2p_text, self.language))

    def _espeak_word(self, key: str, text: str) -> Pron:
        return self._to_phone_set(key, espeak.phonemize(text, self.language))

    def _finish(self, item: _Item, raw: espeak.Pronunciation) -> Pron:
        """espeak-ng's output -> labels of the set, RULES applied, never empty."""
        pron = self._to_phone_set(item.key, raw)
        for rule in RULES[self.language]:
            changed = rule(item.key, pron)
            if changed != pron:
                pron = changed
                self.overridden.add(item.key)
        if not pron.phones:
            self.unknown[item.key] = "espeak-ng gives no phones"
            spelled = [self._to_phone_set(item.key, espeak.phonemize(c, self.language))
                       for c in item.key if c.isalnum()]
            phones = tuple(p for s in spelled for p in s.phones)
            if phones:
                self.unknown[item.key] += "; its letters are read one by one"
                return Pron(phones, tuple(s for sp in spelled for s in sp.stress))
            return self._spoken_noise(item.key, "espeak-ng gives no phones")
        return pron

    def _to_phone_set(self, key: str, raw: espeak.Pronunciation) -> Pron:
        """espeak-ng labels -> PHONES[language]: "-" removed, variants folded, foreign labels mapped."""
        phones, stress = [], []
        pending = 0  # stress of a dropped label, given to the next phone
        foreign = None  # the language espeak-ng switched to, inside "(en)" ... "(fr)"
        for label, level in zip(raw.phones, raw.stress):
            switch = re.fullmatch(r"\(([a-z-]+)\)", label)
            if switch:
                foreign = None if switch.group(1) == espeak.VOICES[self.language] or \
                    switch.group(1) == self.language else switch.group(1)
                if foreign:
                    self.unknown[key] = (f"espeak-ng reads it as {foreign} (a loanword?); its phones were mapped "
                                         f"onto {self.language} labels: check them")
                continue
            mapped = self._map_label(label, key, foreign is not None)
            for k, phone in enumerate(mapped):
                phones.append(phone)
                stress.append(max(level, pending) if k == 0 else 0)
                pending = 0
            if not mapped:
                pending = max(pending, level)
        return Pron(tuple(phones), tuple(stress))

    def _map_label(self, label: str, key: str, foreign: bool) -> tuple[str, ...]:
        clean = label.replace("-", "")
        if not clean:
            return ()
        table = FOREIGN_PHONES[self.language]
        if foreign and clean in table:
            return table[clean]
        try:
            return (normalise_phone(clean, self.language),)
        except LexiconError:
            pass
        if clean in table:
            return table[clean]
        base = _base(clean)
        if base in _PHONE_SET[self.language]:
            return (base,)
        self.unknown.setdefault(key, f"espeak-ng gives phone {clean!r}, which has no {self.language} "
                                     "counterpart; dropped")
        return ()

    def _spoken_noise(self, key: str, reason: str) -> Pron:
        self.unknown[key] = f"{reason}; aligned as spoken noise ({SPOKEN_NOISE})"
        return Pron((SPOKEN_NOISE,), (0,))


# --- rules: small fixes applied to espeak-ng's output (see the module docstring) ---------------


def _pt_lh(key: str, pron: Pron) -> Pron:
    """pt: the k-th "lh" of the spelling is the k-th "l j" of espeak-ng's output -> ʎ."""
    n = key.count("lh")
    if not n:
        return pron
    pairs = [i for i in range(len(pron.phones) - 1) if pron.phones[i:i + 2] == ("l", "j")]
    if len(pairs) != n:  # cannot tell which "l j" is the "lh": leave it
        return pron
    phones, stress, i = [], [], 0
    while i < len(pron.phones):
        if i in pairs:
            phones.append("ʎ")
            stress.append(max(pron.stress[i], pron.stress[i + 1]))
            i += 2
        else:
            phones.append(pron.phones[i])
            stress.append(pron.stress[i])
            i += 1
    return Pron(tuple(phones), tuple(stress))


RULES = {"fr": [], "es": [], "pt": [_pt_lh], "en": []}


# --- phone-set derivation ---------------------------------------------------------------------


def phone_inventory(words: list[str], language: str) -> Counter:
    """How often espeak-ng emits each label (without "-") for ``words``, read one by one in its own voice.

    Words for which espeak-ng switches to another language are left out.
    """
    counts: Counter = Counter()
    for word in words:
        for chunk in espeak.phonemize_text(word, language):
            if any(p.startswith("(") for p in chunk.phones):
                continue
            counts.update(p.replace("-", "") for p in chunk.phones if p.replace("-", ""))
    return counts


def checked_words(language: str) -> list[str]:
    """Native words whose every label belongs in PHONES: the sample interview scripts, AUDIT_WORDS
    and num2words' number words."""
    from num2words import num2words

    from voli.simulate.scripts import INTERVIEWS

    words = set(AUDIT_WORDS[language].split())
    for turns in INTERVIEWS[language]:
        for _, text in turns:
            words.update(re.findall(r"[\w'’-]+", text.lower()))
    for n in list(range(101)) + [200, 1000, 2000, 1000000]:
        words.update(num2words(n, lang=NUM2WORDS_LANG[language]).replace("-", " ").split())
    return sorted(words)


def vocabulary_words() -> list[str]:
    """Latin-script words of >= 3 letters from Whisper's multilingual vocabulary (needs openai-whisper)."""
    import whisper.tokenizer

    tokenizer = whisper.tokenizer.get_tokenizer(True)
    words = set()
    for i in range(50257):  # the text tokens of the vocabulary
        token = tokenizer.decode([i]).strip().lower()
        if len(token) >= 3 and re.fullmatch(r"[a-zà-öø-ÿœ]+", token):
            words.add(token)
    return sorted(words)


def derive_phone_sets(min_count: int = 2) -> dict[str, tuple[str, ...]]:
    """Recompute PHONES (see the comment above PHONES); print with `python -m voli.align.lexicon`."""
    vocabulary = vocabulary_words()
    sets = {}
    for language in LANGUAGES:
        checked = checked_words(language)
        counts = phone_inventory(sorted(set(vocabulary) | set(checked)), language)
        labels = {p for p, n in counts.items() if n >= min_count} | set(phone_inventory(checked, language))
        labels -= set(PHONE_VARIANTS[language])
        labels |= set(PHONE_VARIANTS[language].values())
        labels |= {p for phones in FILLER_PHONES.get(language, {}).values() for p in phones}
        labels |= {p for phones in FILLER_OVERRIDES[language].values() for p in phones}
        labels |= {_split_label(p)[0] for phones in OVERRIDES[language].values() for p in phones.split()}
        labels |= _RULE_PHONES[language] | {SPOKEN_NOISE}
        sets[language] = tuple(sorted(labels))
    return sets


_RULE_PHONES = {"fr": set(), "es": set(), "pt": {"ʎ"}, "en": set()}

if __name__ == "__main__":  # print PHONES, to paste above
    for lang, labels in derive_phone_sets().items():
        quoted = ", ".join(f'"{p}"' for p in labels)
        print(f'    "{lang}": ({quoted}),')
