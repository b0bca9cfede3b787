"""French (France): Whisper "fr", espeak-ng "fr"; fillers euh / hum; liaison comes from espeak-ng
reading a clause at a time. G2P override: "fils" is f i s ("son", far commoner in speech than
"threads"). Filler overrides: espeak-ng spells "hm" out letter by letter and reads "ben" as b ɛ n.
"""

from voli.languages import Language, Vowel
from voli.languages._shared import ENGLISH_TO_ROMANCE

LANGUAGE = Language(
    code="fr",
    name="French",
    aliases=("fra", "fre", "francais", "français"),
    whisper="fr",
    espeak_voice="fr",
    num2words="fr",
    decimal_mark=",",
    percent="pour cent",
    ordinal="(\\d+)(?:er|re|ère|e|ème|eme|è)",
    abbreviations={
        "m.": "monsieur", "mm.": "messieurs", "mme": "madame", "mmes": "mesdames", "mlle": "mademoiselle",
        "mlles": "mesdemoiselles", "dr": "docteur", "pr": "professeur", "etc.": "etcétéra",
    },
    abbreviations_need_dot=frozenset({"m."}),
    capital_abbreviations={"M": "m."},  # "M Dupont", once ASR punctuation is stripped
    fillers=("euh", "heu", "hum", "hm", "ben"),
    filler_phones={"euh": ("øː",), "hum": ("œ", "mː")},
    filler_prompt="Euh, alors, euh, je travaille, hum, le soir.",
    question_starts=(
        "est-ce", "qu'est-ce", "comment", "combien", "pourquoi", "quand", "quel", "quelle", "quels",
        "quelles", "où", "qui",
    ),
    phones=(
        "a", "aː", "b", "d", "dʒ", "e", "f", "i", "j", "k", "l", "m", "mː", "n", "o", "oː", "p", "s", "spn",
        "t", "tʃ", "u", "v", "w", "y", "yː", "z", "ø", "øː", "ŋ", "œ", "œ̃", "ɑ̃", "ɔ", "ɔ̃", "ə", "ɛ", "ɛ̃",
        "ɡ", "ɲ", "ʁ", "ʃ", "ʒ",
    ),
    phone_variants={"ɪː": "i", "ɪ": "i", "iː": "i"},
    foreign_phones={
        **ENGLISH_TO_ROMANCE, "ʌ": ("œ",), "ɒ": ("ɔ",), "ɔ": ("ɔ",), "ɔː": ("ɔ",), "ɛ": ("ɛ",), "ɛː": ("ɛ",),
        "eɪ": ("ɛ", "j"), "aʊ": ("a", "u"), "ɔɪ": ("ɔ", "j"), "iə": ("i", "ə"), "eə": ("ɛ", "ʁ"),
        "ʊə": ("u", "ʁ"), "aɪə": ("a", "j", "ə"), "ɐ": ("ə",), "ə": ("ə",), "əl": ("ə", "l"), "ç": ("ʃ",),
        "ɚ": ("œ", "ʁ"), "ɜː": ("œ", "ʁ"), "aɪɚ": ("a", "j", "œ", "ʁ"), "ɑːɹ": ("a", "ʁ"), "ɔːɹ": ("ɔ", "ʁ"),
        "oːɹ": ("ɔ", "ʁ"), "ɛɹ": ("ɛ", "ʁ"), "ɪɹ": ("i", "ʁ"), "ʊɹ": ("u", "ʁ"), "ɹ": ("ʁ",), "r": ("ʁ",),
        "ɾ": ("t",), "θ": ("s",), "ð": ("z",), "x": ("ʁ",),
    },
    g2p_overrides={"fils": "f ˈi s"},
    filler_overrides={"hm": ("mː",), "ben": ("b", "ɛ̃")},
    audit_words=(
        "travail travaille plateforme argent heures tâche annotation famille étude payer internet "
        "ordinateur semaine mois jour entreprise client de que pas vous je ne les des est avec pour "
        "dans tout fait plus très aussi mais cent deux vingt monsieur madame docteur oui femme fils "
        "salaire boulot collègues patron contrat enfants maison temps toujours beaucoup aujourd'hui "
        "hier demain chez ils leur août cinq sept huit neuf quand comment pourquoi écran application "
        "mail données sûr sûre dû bien contrôle grâce gagner montagne"
    ),
    vowels={
        "a": Vowel("open", "central"),
        "aː": Vowel("open", "central"),
        "e": Vowel("close-mid", "front"),
        "i": Vowel("close", "front"),
        "o": Vowel("close-mid", "back", rounded=True),
        "oː": Vowel("close-mid", "back", rounded=True),
        "u": Vowel("close", "back", rounded=True),
        "y": Vowel("close", "front", rounded=True),
        "yː": Vowel("close", "front", rounded=True),
        "ø": Vowel("close-mid", "front", rounded=True),
        "øː": Vowel("close-mid", "front", rounded=True),
        "œ": Vowel("open-mid", "front", rounded=True),
        "œ̃": Vowel("open-mid", "front", rounded=True, nasal=True),
        "ɑ̃": Vowel("open", "back", nasal=True),
        "ɔ": Vowel("open-mid", "back", rounded=True),
        "ɔ̃": Vowel("open-mid", "back", rounded=True, nasal=True),
        "ə": Vowel("mid", "central"),
        "ɛ": Vowel("open-mid", "front"),
        "ɛ̃": Vowel("open-mid", "front", nasal=True),
    },
    vowel_space=("i", "e", "ɛ", "a", "ɔ", "o", "u"),  # oral front unrounded, open, back rounded
    pillai_pairs=(("e", "ɛ"), ("o", "ɔ"), ("ø", "œ")),  # mid-vowel mergers (loi de position)
    country="France",
    interviews=(
        (
            ("interviewer", "Depuis combien de temps faites-vous ce travail sur les plateformes ?"),
            ("interviewee", "Euh, depuis trois ans à peu près. J'annote des images le soir, après mon autre travail."),
            ("interviewer", "Et combien gagnez-vous par mois avec ces tâches ?"),
            ("interviewee", "Ça dépend, euh, certains mois deux cents euros, d'autres presque rien."),
            ("interviewer", "Est-ce que vous parlez avec d'autres annotateurs ?"),
            ("interviewee", "Oui, sur un forum. On se donne des conseils, euh, surtout sur les tâches mal payées."),
        ),
        (
            ("interviewer", "Comment avez-vous trouvé cette plateforme ?"),
            ("interviewee", "Par une amie. Euh, elle faisait déjà des transcriptions pour une entreprise américaine."),
            ("interviewer", "Vous sentez-vous dépendante de ce revenu ?"),
            ("interviewee", "Oui, un peu. Sans ce travail, je ne pourrais pas payer le loyer."),
            ("interviewer", "Qu'est-ce qui est le plus difficile dans ce travail ?"),
            ("interviewee", "Euh, les règles changent tout le temps, et personne ne répond à nos questions."),
        ),
    ),
)
