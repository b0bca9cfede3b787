"""Filled pauses: what they are in each language, and a prompt that makes Whisper keep them.

Whisper tends to drop hesitations; an initial prompt written with them
(as OpenAI's prompting guide suggests) makes it transcribe them.
"""

from __future__ import annotations

from voli.text import normalise_words

FILLERS = {
    "fr": ("euh", "heu", "hum", "hm", "ben"),
    "es": ("eh", "em", "mm", "ehm"),
    "pt": ("é", "eh", "hum", "hã", "ãh", "né"),
    "en": ("um", "uh", "uhm", "hmm", "erm"),
}

PROMPTS = {
    "fr": "Euh, alors, euh, je travaille, hum, le soir.",
    "es": "Eh, bueno, eh, trabajo, este, en casa.",
    "pt": "É, então, é, eu trabalho, hum, em casa.",
    "en": "Um, so, uh, I work, um, at home.",
}


def is_filler(word: str, language: str | None) -> bool:
    """True if ``word`` (any case or punctuation) is a filled pause in ``language``."""
    norm = normalise_words(word)
    return len(norm) == 1 and norm[0] in FILLERS.get(language or "", ())
