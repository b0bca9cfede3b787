"""Written words: punctuation, normalisation for scoring, and numbers spelt out.

Used by transcription (Whisper writes digits and attaches punctuation), the lexicon (which must
pronounce what Whisper wrote), the evaluator and the simulator, so that all of them read a word
the same way.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w']+")

NUM2WORDS_LANG = {"fr": "fr", "es": "es", "pt": "pt_BR", "en": "en"}  # num2words' code per voli language
PERCENT = {"fr": "pour cent", "es": "por ciento", "pt": "por cento", "en": "percent"}
DECIMAL_MARK = {"fr": ",", "es": ",", "pt": ",", "en": "."}  # the other of , and . groups thousands
ORDINAL_RE = {  # digits + ordinal suffix
    "fr": re.compile(r"(\d+)(?:er|re|ère|e|ème|eme|è)"),
    "es": re.compile(r"(\d+)\.?([ºª°])"),
    "pt": re.compile(r"(\d+)\.?([ºª°])"),
    "en": re.compile(r"(\d+)(?:st|nd|rd|th)"),
}


def strip_punctuation(token: str) -> str:
    """A word as written, without the punctuation ASR attaches to it ("¿Cuántas" -> "Cuántas")."""
    return token.strip(" ,.;:!?¿¡\"“”«»")


def normalise_words(text: str) -> list[str]:
    """Lower case, NFC, apostrophes unified, punctuation and hyphens to spaces."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'").replace("-", " ")
    return [w.strip("'") for w in _NON_WORD.sub(" ", text).split() if w.strip("'")]


def spell_number(token: str, language: str) -> str | None:
    """Digits in words, as the language reads them, or None if ``token`` is not a number.

    "25" -> "vingt-cinq" (hyphens as spaces), "3,5" (fr) -> "trois virgule cinq", "1.5" (en) ->
    "one point five", "2.000" (es) -> "dos mil", "10%" (pt) -> "dez por cento", "1st" -> "first".
    A group of three digits after the language's thousands separator is a thousand; the decimal
    mark is ',' in fr/es/pt and '.' in en.
    """
    from num2words import num2words

    lang = NUM2WORDS_LANG[language]
    ordinal = ORDINAL_RE[language].fullmatch(token)
    if ordinal:
        words = num2words(int(ordinal.group(1)), lang=lang, to="ordinal")
        if len(ordinal.groups()) > 1 and ordinal.group(2) == "ª":  # es/pt feminine: primero -> primera
            words = re.sub(r"o\b", "a", words)
        return words.replace("-", " ")
    percent = token.endswith("%")
    number = token.rstrip("%").strip()
    decimal = DECIMAL_MARK[language]
    thousands = "." if decimal == "," else ","
    if re.fullmatch(rf"\d{{1,3}}(?:[{re.escape(thousands)}\u00a0\u202f ]\d{{3}})+", number):
        value: float | int = int(re.sub(r"\D", "", number))
    elif re.fullmatch(r"\d+", number):
        value = int(number)
    elif re.fullmatch(rf"\d+{re.escape(decimal)}\d+", number):
        value = float(number.replace(decimal, "."))
    else:
        return None
    words = num2words(value, lang=lang).replace("-", " ")
    return f"{words} {PERCENT[language]}" if percent else words
