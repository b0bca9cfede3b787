"""Turn text into words with pronunciations, for the synthesis engines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voli import espeak, languages

_TOKEN_RE = re.compile(r"[\w'’-]+|[^\w\s]+")
_WORD_RE = re.compile(r"[\w'’-]+")
KEPT_PUNCTUATION = ",.?!;:"


@dataclass(frozen=True)
class SpokenWord:
    word: str  # as written, without punctuation
    phones: tuple[str, ...]
    stress: tuple[int, ...]
    punct: str  # punctuation right after the word ("" if none)
    is_filler: bool


def _clean(pron: espeak.Pronunciation) -> tuple[tuple[str, ...], tuple[int, ...]]:
    return tuple(p.replace("-", "") for p in pron.phones), pron.stress


def spoken_words(text: str, language: str) -> list[SpokenWord]:
    """Split a turn into words, each with its pronunciation, and trailing punctuation.

    Each clause (text between punctuation marks) is phonemised as a whole, so
    espeak-ng's phrase-level processes apply (French liaison, unstressed
    function words). Where espeak-ng reports a different number of words than
    the clause has, its words are phonemised one by one instead. Fillers get
    their own pronunciation (the language file's ``filler_phones``).
    """
    words: list[list] = []
    clause: list[int] = []  # indices into words of the current clause

    def close_clause():
        if not clause:
            return
        lexical = [i for i in clause if not words[i][4]]
        if lexical:
            phrase = " ".join(words[i][0].lower() for i in lexical)
            chunks = espeak.phonemize_text(phrase, language)
            if len(chunks) != len(lexical) or not all(c.phones for c in chunks):
                chunks = [espeak.phonemize(words[i][0].lower(), language) for i in lexical]
            for i, pron in zip(lexical, chunks):
                if not pron.phones:
                    raise ValueError(f"espeak-ng gives no phones for {words[i][0]!r} ({language})")
                words[i][1], words[i][2] = _clean(pron)
        clause.clear()

    spec = languages.get(language)
    for token in _TOKEN_RE.findall(text):
        if _WORD_RE.fullmatch(token):
            filler = token.lower() in spec.fillers
            phones = spec.filler_phones.get(token.lower()) if filler else None
            if filler and phones is None:
                phones = _clean(espeak.phonemize(token.lower(), language))[0]
            stress = (1,) + (0,) * (len(phones) - 1) if phones else ()
            words.append([token, phones or (), stress, "", filler])
            clause.append(len(words) - 1)
        elif words:
            punct = "".join(c for c in token if c in KEPT_PUNCTUATION)
            words[-1][3] += punct
            if punct:
                close_clause()
    close_clause()
    return [SpokenWord(w, tuple(p), tuple(s), punct, f) for w, p, s, punct, f in words]
