"""English (espeak-ng's General American voice "en-us"): Whisper "en"; fillers um / uh. G2P
overrides: "yeah" is j ɛ ə (espeak-ng ends it with a spurious h); "uhm" is read like "um".
"""

from voli.languages import Language, Vowel

LANGUAGE = Language(
    code="en",
    name="English",
    aliases=("eng",),
    whisper="en",
    espeak_voice="en-us",
    num2words="en",
    decimal_mark=".",
    fraction_by_digit=True,
    percent="percent",
    ordinal="(\\d+)(?:st|nd|rd|th)",
    abbreviations={
        "mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "etc.": "etcetera",
        "vs.": "versus",
    },
    fillers=("um", "uh", "uhm", "hmm", "erm"),
    filler_phones={"um": ("ʌ", "mː"), "uh": ("ʌː",)},
    filler_prompt="Um, so, uh, I work, um, at home.",
    question_starts=(
        "how", "what", "why", "when", "where", "who", "which", "do", "does", "did", "is", "are", "can",
        "could", "would",
    ),
    phones=(
        "aɪ", "aɪə", "aɪɚ", "aʊ", "b", "d", "dʒ", "eɪ", "f", "h", "i", "iə", "iː", "j", "k", "l", "m", "mː",
        "n", "n̩", "oʊ", "oː", "oːɹ", "p", "s", "spn", "t", "tʃ", "uː", "v", "w", "x", "z", "æ", "ð", "ŋ",
        "ɐ", "ɑː", "ɑːɹ", "ɔ", "ɔɪ", "ɔː", "ɔːɹ", "ə", "əl", "ɚ", "ɛ", "ɛɹ", "ɜː", "ɡ", "ɪ", "ɪɹ", "ɹ", "ɾ",
        "ʃ", "ʊ", "ʊɹ", "ʌ", "ʌː", "ʒ", "ʔ", "θ", "ᵻ",
    ),
    phone_variants={"ææ": "æ", "ɐɐ": "ɐ", "iːː": "iː", "ɑ̃": "ɑː", "r": "ɹ"},
    foreign_phones={
        "ʁ": ("ɹ",), "ɾ": ("ɾ",), "y": ("uː",), "ø": ("ɜː",), "œ": ("ɜː",), "ɑ̃": ("ɑː", "n"),
        "ɔ̃": ("ɔ", "n"), "ɛ̃": ("æ", "n"), "œ̃": ("ʌ", "n"), "a": ("æ",), "e": ("eɪ",), "o": ("oʊ",),
        "u": ("uː",), "β": ("b",), "ð": ("ð",), "ɣ": ("ɡ",), "x": ("h",), "ɲ": ("n", "j"), "ʎ": ("l", "j"),
        "ʝ": ("j",), "ɐ̃": ("ʌ", "n"), "ɐ̃ʊ̃": ("aʊ", "n"),
    },
    g2p_overrides={"yeah": "j ˈɛ ə"},
    filler_overrides={"uhm": ("ʌ", "mː")},
    audit_words=(
        "work working platform money hours task annotation family study pay payment internet computer "
        "week month day company client the of and to a in that it you is was for with they have this "
        "from doctor mister salary boss coworkers contract kids parents house time always never enough "
        "today yesterday tomorrow because okay yeah really screen keyboard email app data"
    ),
    vowels={
        "aɪ": Vowel("open", "central", diphthong=True),
        "aɪə": Vowel("open", "central", diphthong=True),
        "aɪɚ": Vowel("open", "central", diphthong=True),
        "aʊ": Vowel("open", "central", diphthong=True),
        "eɪ": Vowel("close-mid", "front", diphthong=True),
        "i": Vowel("close", "front"),
        "iə": Vowel("close", "front", diphthong=True),
        "iː": Vowel("close", "front"),
        "oʊ": Vowel("close-mid", "back", rounded=True, diphthong=True),
        "oː": Vowel("close-mid", "back", rounded=True),
        "oːɹ": Vowel("close-mid", "back", rounded=True, diphthong=True),
        "uː": Vowel("close", "back", rounded=True),
        "æ": Vowel("near-open", "front"),
        "ɐ": Vowel("near-open", "central"),
        "ɑː": Vowel("open", "back"),
        "ɑːɹ": Vowel("open", "back", diphthong=True),
        "ɔ": Vowel("open-mid", "back", rounded=True),
        "ɔɪ": Vowel("open-mid", "back", rounded=True, diphthong=True),
        "ɔː": Vowel("open-mid", "back", rounded=True),
        "ɔːɹ": Vowel("open-mid", "back", rounded=True, diphthong=True),
        "ə": Vowel("mid", "central"),
        "əl": Vowel("mid", "central", diphthong=True),
        "ɚ": Vowel("mid", "central"),
        "ɛ": Vowel("open-mid", "front"),
        "ɛɹ": Vowel("open-mid", "front", diphthong=True),
        "ɜː": Vowel("open-mid", "central"),
        "ɪ": Vowel("near-close", "front"),
        "ɪɹ": Vowel("near-close", "front", diphthong=True),
        "ʊ": Vowel("near-close", "back", rounded=True),
        "ʊɹ": Vowel("near-close", "back", rounded=True, diphthong=True),
        "ʌ": Vowel("open-mid", "back"),
        "ʌː": Vowel("open-mid", "back"),
        "ᵻ": Vowel("close", "central"),
    },
    corner_vowels=("iː", "æ", "uː"),  # FLEECE, TRAP, GOOSE (Watt & Fabricius 2002)
    vowel_space=("iː", "ɛ", "æ", "ɑː", "ɔː", "uː"),  # FLEECE, DRESS, TRAP, LOT/PALM, THOUGHT, GOOSE
    pillai_pairs=(("iː", "ɪ"), ("ɛ", "æ"), ("uː", "ʊ"), ("ɑː", "ɔː")),  # FLEECE-KIT, DRESS-TRAP, GOOSE-FOOT, LOT-THOUGHT
    country="Kenya",
    interviews=(
        (
            ("interviewer", "How did you start working on these platforms?"),
            ("interviewee", "Um, a friend told me about it. I label pictures for a few hours every evening."),
            ("interviewer", "Is the money enough to live on?"),
            ("interviewee", "Not really. Um, some weeks are good, but many weeks there is almost no work."),
            ("interviewer", "Do you talk with other workers online?"),
            ("interviewee", "Yes, in a chat group. Um, we warn each other about bad tasks and late payments."),
        ),
        (
            ("interviewer", "What do you like about this kind of work?"),
            ("interviewee", "I can work from home and choose my hours. Uh, that matters a lot to me."),
            ("interviewer", "And what would you change about it?"),
            ("interviewee", "The pay, of course, and the way tasks disappear without any warning."),
            ("interviewer", "How many hours do you work each week?"),
            ("interviewee", "About thirty hours, um, but it depends on how many tasks are there."),
        ),
    ),
)
