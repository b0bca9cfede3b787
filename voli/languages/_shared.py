"""Labels shared by several language files (modules starting with "_" are not languages)."""

# When espeak-ng decides a word is English (fr "week-end", "mail") it switches voice and emits
# English labels between "(en)" ... "(fr)" markers. A Romance language maps them onto its own
# labels, one English label to zero or more labels; each language file adds its own exceptions.
ENGLISH_TO_ROMANCE = {
    "ɪ": ("i",), "iː": ("i",), "ɪː": ("i",), "i": ("i",), "ᵻ": ("i",), "uː": ("u",), "u": ("u",),
    "ʊ": ("u",), "ɑː": ("a",), "ɑ": ("a",), "æ": ("a",), "ææ": ("a",), "a": ("a",), "aː": ("a",),
    "ʌ": ("a",), "ɒ": ("o",), "ɔ": ("o",), "ɔː": ("o",), "o": ("o",), "oː": ("o",), "oʊ": ("o",),
    "əʊ": ("o",), "e": ("e",), "ɛ": ("e",), "ɛː": ("e",), "eɪ": ("e", "j"), "aɪ": ("a", "j"),
    "aʊ": ("a", "w"), "ɔɪ": ("o", "j"), "iə": ("i", "e"), "eə": ("e",), "ʊə": ("u", "e"),
    "aɪə": ("a", "j", "e"), "ɐ": ("a",), "ə": ("e",), "əl": ("e", "l"), "n̩": ("n",), "ɫ": ("l",),
    "ɬ": ("l",), "ʔ": (), "h": (), "ç": ("x",), "kh": ("k",), "ph": ("p",),
}
