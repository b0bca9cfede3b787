"""Written words: punctuation, normalisation for scoring, and numbers spelt out.

Used by transcription (Whisper writes digits and attaches punctuation), the lexicon (which must
pronounce what Whisper wrote) and the evaluator, so that all of them read a word the same way. What differs between languages (fillers, decimal marks, ordinals) comes from
:mod:`voli.languages`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_NON_WORD = re.compile(r"[^\w']+")
_NON_WORD_KEEP_HYPHENS = re.compile(r"[^\w'-]+")


# stripped from both ends of a written word: a word never begins or ends with punctuation, a hyphen
# or a dash ("well-" of a false start is "well"); apostrophes stay ('cause, workers'), as do % and &
EDGE_PUNCTUATION = " ,.;:!?¿¡\"“”„«»‹›()[]{}…-‐‑‒–—―/\\*_~·•|<>"


def strip_punctuation(token: str) -> str:
    """A word as written, without the punctuation ASR attaches to it ("¿Cuántas" -> "Cuántas",
    "(25)" -> "25")."""
    return token.strip(EDGE_PUNCTUATION)


def normalise_words(text: str, *, keep_hyphens: bool = False) -> list[str]:
    """Lower case, NFC, apostrophes unified, punctuation and hyphens to spaces.

    With ``keep_hyphens`` a hyphen inside a word stays ("est-ce", ru "где-то", "э-э"); one at a
    word's edge ("well-" of a false start) still goes.
    """
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    if not keep_hyphens:
        return [w.strip("'") for w in _NON_WORD.sub(" ", text.replace("-", " ")).split() if w.strip("'")]
    return [w.strip("'-") for w in _NON_WORD_KEEP_HYPHENS.sub(" ", text).split() if w.strip("'-")]


def is_filler(word: str, language: str | None) -> bool:
    """True if ``word`` (any case or punctuation) is a filled pause in ``language`` (its language file's
    ``fillers``, which may be written with a hyphen: ru "Э-э")."""
    if not language:
        return False
    from voli import languages

    norm = normalise_words(word, keep_hyphens=True)
    return len(norm) == 1 and norm[0] in languages.get(language).fillers


def spell_number(token: str, language: str) -> str | None:
    """Digits in words, as the language reads them, or None if ``token`` is not a number.

    "25" -> "vingt cinq" (hyphens as spaces), "3,5" (fr) -> "trois virgule cinq", "3,50" (fr) ->
    "trois virgule cinquante", "3,05" -> "trois virgule zéro cinq", "1.50" (en) -> "one point five
    zero" (the language file's ``fraction_by_digit``), "2.000" (es) -> "dos mil", "10%" (pt) ->
    "dez por cento", "1st" -> "first", "3,5" (ru, the language file's ``fraction_by_num2words``) -> "три
    целых пять десятых".
    A group of three digits after the language's thousands separator is a thousand; the decimal
    mark, the word for "%" and the ordinal suffixes come from the language file.
    """
    from num2words import num2words

    from voli import languages

    spec = languages.get(language)
    lang = spec.num2words
    ordinal = spec.ordinal_re.fullmatch(token)
    if ordinal:
        words = num2words(int(ordinal.group(1)), lang=lang, to="ordinal")
        if len(ordinal.groups()) > 1 and ordinal.group(2) == "ª":  # es/pt feminine: primero -> primera
            words = re.sub(r"o\b", "a", words)
        return words.replace("-", " ")
    percent = token.endswith("%")
    number = token.rstrip("%").strip()
    decimal = spec.decimal_mark
    thousands = "." if decimal == "," else ","
    if re.fullmatch(rf"\d{{1,3}}(?:[{re.escape(thousands)}\u00a0\u202f ]\d{{3}})+", number):
        value: float | int = int(re.sub(r"\D", "", number))
    elif re.fullmatch(r"\d+", number):
        value = int(number)
    elif re.fullmatch(rf"\d+{re.escape(decimal)}\d+", number):
        whole, fraction = number.split(decimal)
        if spec.fraction_by_num2words:  # a Decimal keeps the written digits: "3,50" -> ... пятьдесят сотых
            words = num2words(Decimal(f"{whole}.{fraction}"), lang=lang).replace("-", " ")
        else:
            words = f"{num2words(int(whole), lang=lang)} {_decimal_word(lang)} {_fraction(fraction, spec)}".replace("-", " ")
        return f"{words} {spec.percent}" if percent else words
    else:
        return None
    words = num2words(value, lang=lang).replace("-", " ")
    return f"{words} {spec.percent}" if percent else words


def _decimal_word(lang: str) -> str:
    """The word num2words says for the decimal mark ("virgule", "point", "vírgula")."""
    from num2words import num2words

    said = num2words(1.5, lang=lang).split()
    return " ".join(w for w in said if w not in num2words(1, lang=lang).split() + num2words(5, lang=lang).split())


def _fraction(digits: str, spec) -> str:
    """The digits after the decimal mark as said: one by one (en "five zero"), or leading zeros one
    by one and the rest as a number (fr "50" -> "cinquante", "05" -> "zéro cinq")."""
    from num2words import num2words

    if spec.fraction_by_digit:
        return " ".join(num2words(int(d), lang=spec.num2words) for d in digits)
    rest = digits.lstrip("0")
    zeros = [num2words(0, lang=spec.num2words)] * (len(digits) - len(rest))
    return " ".join(zeros + ([num2words(int(rest), lang=spec.num2words)] if rest else []))
