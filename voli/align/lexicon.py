"""Pronunciation lexicon for forced alignment: one pronunciation per written word.

The aligner needs, for every word of an utterance, a sequence of phone labels
(and a stress level per phone). :class:`Lexicon` gives them, in this order of
precedence:

1. the user's dictionary (Montreal Forced Aligner format, first variant);
2. fillers ("euh", "um", ...): the language file's ``filler_phones``, then its
   ``filler_overrides``, else espeak-ng;
3. the language file's ``g2p_overrides``: words espeak-ng gets wrong;
4. espeak-ng's G2P on the whole clause, as :func:`voli.simulate.text.spoken_words`
   does (French liaison, unstressed function words), word by word when espeak-ng
   reports a different number of words; then the language's ``g2p_rules`` (pt "lh" -> ʎ).

Digits ("100", "25%", "3,5", "1er") and the language's ``abbreviations`` are
expanded to words before G2P; all the phones of the expansion belong to the one
written word.

Labels are espeak-ng's IPA with its "-" (syllable-boundary marker) removed and
the language's ``respellings`` applied (pt-br: the reduced final a [æ] -> ɐ, the
raised final e [y] -> ɪ), exactly the labels of the simulated corpus truth; a
language file's ``phones`` lists every label the lexicon can emit for it
(:func:`derive_phone_sets`). Everything that differs between languages is in
``voli/languages/<code>.py``, with the reason for each override.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from voli import espeak
from voli import languages
from voli.text import EDGE_PUNCTUATION, spell_number
from voli.errors import VoliError

is_vowel = languages.is_vowel  # kept here for the lexicon's users

SPOKEN_NOISE = "spn"  # MFA's label for a token nothing can be said of ("♪", "—"): any sound or none
STRESS_MARKS = espeak.STRESS_MARKS  # ˈ primary, ˌ secondary

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
    if language not in languages.codes():
        raise LexiconError(f"no lexicon for language {language!r}; voli's languages are {', '.join(languages.codes())}")


def phone_set(language: str) -> tuple[str, ...]:
    """Every label the lexicon can emit for ``language`` (its language file's ``phones``)."""
    return languages.get(language).phones


@lru_cache(maxsize=None)
def _labels(language: str) -> tuple[frozenset, dict[str, str]]:
    """The language's labels, and the rare espeak-ng labels folded onto them (``phone_variants``, and
    the ``respellings`` voli writes for espeak-ng's own symbols)."""
    spec = languages.get(language)
    return frozenset(spec.phones), {**spec.phone_variants, **spec.respellings}


def _base(label: str) -> str:
    """A label without length marks and diacritics, for finding near labels."""
    return "".join(c for c in unicodedata.normalize("NFD", label) if not unicodedata.combining(c)).replace("ː", "")


def nearest_phones(label: str, language: str, n: int = 5) -> list[str]:
    """The ``n`` labels of the language's phone set that look most like ``label`` (for error messages)."""
    _check_language(language)
    base = _base(label)

    def score(p: str) -> tuple:
        return (_base(p) == base, base in _base(p) or _base(p) in base, difflib.SequenceMatcher(None, label, p).ratio())

    return sorted(phone_set(language), key=score, reverse=True)[:n]


def _split_label(label: str) -> tuple[str, int]:
    """("ˈa" -> ("a", 1)): a label without its stress marks, and its stress level."""
    stress = 0
    for mark, level in STRESS_MARKS.items():
        if mark in label:
            stress = max(stress, level)
            label = label.replace(mark, "")
    return label, stress


def normalise_phone(label: str, language: str) -> str:
    """Map an espeak-ng or user-dictionary label onto the language's phone set.

    Removes espeak-ng's "-" (syllable-boundary marker) and stress marks, folds the
    rare labels of its ``phone_variants`` and returns a label of the set, written as
    espeak-ng writes it (nasal vowels decomposed: "o" + U+0303, whichever form is
    given). Raises
    :class:`LexiconError`, naming the nearest valid labels, for anything else.
    """
    _check_language(language)
    clean, _ = _split_label(label.strip().replace("-", ""))
    for form in (clean, unicodedata.normalize("NFD", clean)):  # espeak-ng writes õ as o + U+0303
        labels, variants = _labels(language)
        if form in labels:
            return form
        if form in variants:
            return variants[form]
    raise LexiconError(f"phone {label!r} is not in voli's {language} phone set; nearest: "
                       f"{' '.join(nearest_phones(clean, language))} (all: voli/languages/{language}.py, phones)")


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
        not in the language's phone set; the message names the file and line.
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

_CLAUSE_END = set(",.?!;:")  # as voli.simulate.text.KEPT_PUNCTUATION: a clause ends after these
_VOWEL_LETTERS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ" "аеёиоуыэюя")  # Latin and Cyrillic


def _expand_abbreviation(written: str, language: str) -> str | None:
    spec = languages.get(language)
    table = spec.abbreviations
    lower = written.lower()
    if lower in table:
        return table[lower]
    if not lower.endswith(".") and lower + "." in table and lower + "." not in spec.abbreviations_need_dot:
        return table[lower + "."]
    if written in spec.capital_abbreviations:  # fr "M Dupont", once ASR punctuation is stripped
        return table[spec.capital_abbreviations[written]]
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
        A code of :mod:`voli.languages` ("fr", "es", "pt", "en", "it", ...).
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
        Words whose pronunciation came from the language file's ``g2p_overrides``, ``g2p_rules`` or
        ``filler_overrides`` rather than espeak-ng's plain output.
    """

    def __init__(self, language: str, user_dictionary: str | Path | None = None):
        _check_language(language)
        self.language = language
        self.user = read_dictionary(user_dictionary, language) if user_dictionary is not None else {}
        self.unknown: dict[str, str] = {}
        self.overridden: set[str] = set()
        self._used: dict[str, list[Pron]] = {}
        self.spec = languages.get(language)
        self._overrides = {w: _parse_phones(p.split(), language) for w, p in self.spec.g2p_overrides.items()}

    # -- public --

    def pronounce(self, words: list[str]) -> list[Pron]:
        """One pronunciation per written word of one utterance, in order.

        Order of precedence: user dictionary entry (first variant) > filler
        pronunciation (filler_phones, filler_overrides, else espeak-ng) > g2p_overrides
        > clause-level espeak-ng G2P (a clause ends at , . ? ! ; : after a word),
        word by word where espeak-ng reports a different number of words; then
        g2p_rules. Digits and abbreviations are expanded before G2P; the expansion's
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

        Write it with :func:`write_dictionary` (align's lexicon.dict) so users can
        correct it and pass it back as ``user_dictionary``.
        """
        out = {word: list(prons) for word, prons in self._used.items()}
        for word in out:
            if word in self.user:
                out[word] = list(self.user[word])
        return out

    # -- steps --

    def _item(self, written: str) -> _Item:
        stripped = written.strip(EDGE_PUNCTUATION)
        trailing = written[len(written.rstrip(EDGE_PUNCTUATION)):]
        key = unicodedata.normalize("NFC", stripped).lower().replace("’", "'")
        with_dot = written.strip(EDGE_PUNCTUATION.replace(".", ""))  # "Sr.," -> "Sr."
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
        elif key in self.spec.fillers:
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
        phones = self.spec.filler_phones.get(key)
        if phones is None and key in self.spec.filler_overrides:
            phones = self.spec.filler_overrides[key]
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
        """espeak-ng's output -> labels of the set, the language's g2p_rules applied, never empty."""
        pron = self._to_phone_set(item.key, raw)
        for rule in self.spec.g2p_rules:
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
        """espeak-ng labels -> the language's phone set: "-" removed, variants folded, foreign labels mapped."""
        phones, stress = [], []
        pending = 0  # stress of a dropped label, given to the next phone
        foreign = None  # the language espeak-ng switched to, inside "(en)" ... "(fr)"
        for label, level in zip(raw.phones, raw.stress):
            switch = re.fullmatch(r"\(([a-z-]+)\)", label)
            if switch:
                foreign = None if switch.group(1) in (self.spec.espeak_voice, self.language) else switch.group(1)
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
        table = self.spec.foreign_phones
        if foreign and clean in table:
            return table[clean]
        try:
            return (normalise_phone(clean, self.language),)
        except LexiconError:
            pass
        if clean in table:
            return table[clean]
        base = _base(clean)
        if base in _labels(self.language)[0]:
            return (base,)
        self.unknown.setdefault(key, f"espeak-ng gives phone {clean!r}, which has no {self.language} "
                                     "counterpart; dropped")
        return ()

    def _spoken_noise(self, key: str, reason: str) -> Pron:
        self.unknown[key] = f"{reason}; aligned as spoken noise ({SPOKEN_NOISE})"
        return Pron((SPOKEN_NOISE,), (0,))


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
    """Native words whose every label belongs in the phone set: the language's interview scripts,
    its audit_words and num2words' number words."""
    from num2words import num2words

    spec = languages.get(language)
    words = set(spec.audit_words.split())
    for turns in spec.interviews:
        for _, text in turns:
            words.update(re.findall(r"[\w'’-]+", text.lower()))
    for n in list(range(101)) + [200, 1000, 2000, 1000000]:
        words.update(num2words(n, lang=spec.num2words).replace("-", " ").split())
    return sorted(words)


SCRIPTS = {"latin": r"[a-zà-öø-ÿœ]+", "cyrillic": r"[а-яё]+"}  # lower-case words of each script


def script_of(language: str) -> str:
    """The script a language is written in (a key of SCRIPTS), from its audit_words: Cyrillic or Latin."""
    return "cyrillic" if re.search(SCRIPTS["cyrillic"], languages.get(language).audit_words) else "latin"


def vocabulary_words(script: str = "latin") -> list[str]:
    """Words of >= 3 letters of one script (SCRIPTS) from Whisper's multilingual vocabulary (needs
    openai-whisper)."""
    import whisper.tokenizer

    tokenizer = whisper.tokenizer.get_tokenizer(True)
    words = set()
    for i in range(50257):  # the text tokens of the vocabulary
        token = tokenizer.decode([i]).strip().lower()
        if len(token) >= 3 and re.fullmatch(SCRIPTS[script], token):
            words.add(token)
    return sorted(words)


def derive_phone_sets(min_count: int = 2, codes: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """The phone set of each language (its file's ``phones``), derived from espeak-ng: every label
    espeak-ng 1.51 emits in the language's own voice (no switch to another) at least ``min_count``
    times over the words of Whisper's multilingual vocabulary (>= 3 letters) in the language's script
    (~29,000 Latin-script words, ~2,100 Cyrillic ones), plus
    every label of :func:`checked_words`; minus the labels its ``phone_variants`` and
    ``respellings`` fold, plus those they fold onto; plus its filler, override and rule phones and
    SPOKEN_NOISE. Print them with ``python -m voli.align.lexicon [code ...]``."""
    vocabulary = {name: vocabulary_words(name) for name in SCRIPTS}
    sets = {}
    for language in codes or languages.codes():
        spec = languages.get(language)
        variants = _labels(language)[1]
        checked = checked_words(language)
        counts = phone_inventory(sorted(set(vocabulary[script_of(language)]) | set(checked)), language)
        labels = {p for p, n in counts.items() if n >= min_count} | set(phone_inventory(checked, language))
        labels -= set(variants)
        labels |= set(variants.values())
        labels |= {p for phones in spec.filler_phones.values() for p in phones}
        labels |= {p for phones in spec.filler_overrides.values() for p in phones}
        labels |= {_split_label(p)[0] for phones in spec.g2p_overrides.values() for p in phones.split()}
        labels |= set(spec.rule_phones) | {SPOKEN_NOISE}
        sets[language] = tuple(sorted(labels))
    return sets


if __name__ == "__main__":  # print the phone sets, to paste into the language files
    import sys

    for lang, labels in derive_phone_sets(codes=tuple(sys.argv[1:]) or None).items():
        quoted = ", ".join(f'"{p}"' for p in labels)
        print(f"{lang}: phones=({quoted}),")
