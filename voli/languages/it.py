"""Italian (espeak-ng "it"): Whisper "it"; fillers ehm / eh / mm. The mid vowels e/ɛ and o/ɔ
contrast in standard Italian and vary by region: their overlap is a sociolinguistic variable.
"""

from voli.languages import Language, Vowel
from voli.languages._shared import ENGLISH_TO_ROMANCE

LANGUAGE = Language(
    code="it",
    name="Italian",
    aliases=("ita", "italiano"),
    whisper="it",
    espeak_voice="it",
    num2words="it",
    decimal_mark=",",
    percent="per cento",
    ordinal="(\\d+)\\.?([ºª°])",
    abbreviations={
        "sig.": "signor", "sig.ra": "signora", "sigg.": "signori", "dott.": "dottor", "dott.ssa": "dottoressa",
        "prof.": "professor", "prof.ssa": "professoressa", "ing.": "ingegner", "avv.": "avvocato", "ecc.": "eccetera",
    },
    fillers=("ehm", "eh", "mm", "mmh"),
    filler_phones={"eh": ("ɛː",), "ehm": ("ɛ", "mː")},
    filler_prompt="Ehm, allora, eh, lavoro, ehm, la sera.",
    question_starts=(
        "come", "quanto", "quanti", "quante", "quanta", "perché", "dove", "quando", "chi", "che", "cosa", "quale",
        "quali", "da quanto", "in che",
    ),
    phones=(
        "a", "aɪ", "aː", "b", "bː", "d", "dz", "dzː", "dʒ", "dʒː", "dː", "e", "eɪ", "eː", "f", "fː", "h",
        "i", "iː", "j", "k", "kː", "l", "m", "mː", "n", "o", "oː", "p", "pː", "r", "s", "spn", "sː", "t", "ts",
        "tsː", "tʃ", "tʃː", "tː", "u", "uɪ", "uː", "v", "w", "z", "ŋ", "ɔ", "ɔː", "ə", "ɛ", "ɛɪ", "ɛː", "ɡ",
        "ɡː", "ɪ", "ɲ", "ɾ", "ʃ", "ʊ", "ʎ", "ʒ",
    ),
    phone_variants={"d̪": "d", "t̪": "t", "t̪ː": "tː", "əː": "ə", "ʊː": "u", "θ": "t"},  # rare: loanwords
    respellings={"ss": "sː"},  # espeak-ng writes the geminate s (posso) "ss", every other geminate Cː
    foreign_phones={**ENGLISH_TO_ROMANCE, "ɛ": ("ɛ",), "ɔ": ("ɔ",), "ɔː": ("ɔ",), "ɒ": ("ɔ",), "ɚ": ("e", "r"),
                    "ɜː": ("e", "r"), "ɹ": ("r",), "θ": ("t",), "ð": ("d",), "h": (), "x": ("k",), "ç": ("ʃ",)},
    audit_words=(
        "lavoro lavora piattaforma soldi ore compito annotazione famiglia studio pagare pagamento internet "
        "computer settimana mese giorno azienda cliente di che non lei anche molto per signore signora dottore "
        "stipendio capo colleghi contratto figli genitori casa tempo sempre mai poco oggi ieri domani noi loro "
        "allora quindi gente euro schermo posta applicazione dati chiamare città anno bambino gli gnocchi "
        "sciopero perché così già più può però"
    ),
    vowels={
        "a": Vowel("open", "central"),
        "aɪ": Vowel("open", "central", diphthong=True),
        "aː": Vowel("open", "central"),
        "e": Vowel("close-mid", "front"),
        "eɪ": Vowel("close-mid", "front", diphthong=True),
        "eː": Vowel("close-mid", "front"),
        "i": Vowel("close", "front"),
        "iː": Vowel("close", "front"),
        "o": Vowel("close-mid", "back", rounded=True),
        "oː": Vowel("close-mid", "back", rounded=True),
        "u": Vowel("close", "back", rounded=True),
        "uɪ": Vowel("close", "back", rounded=True, diphthong=True),
        "uː": Vowel("close", "back", rounded=True),
        "ɔ": Vowel("open-mid", "back", rounded=True),
        "ɔː": Vowel("open-mid", "back", rounded=True),
        "ə": Vowel("mid", "central"),
        "ɛ": Vowel("open-mid", "front"),
        "ɛɪ": Vowel("open-mid", "front", diphthong=True),
        "ɛː": Vowel("open-mid", "front"),
        "ɪ": Vowel("near-close", "front"),
        "ʊ": Vowel("near-close", "back", rounded=True),
    },
    vowel_space=("i", "e", "ɛ", "a", "ɔ", "o", "u"),  # the seven stressed vowels, around the space
    pillai_pairs=(("e", "ɛ"), ("o", "ɔ")),
    country="Italy",
    interviews=(
        (
            ("interviewer", "Da quanto tempo fa questo lavoro sulle piattaforme?"),
            ("interviewee", "Ehm, da circa due anni. Annoto immagini la sera, dopo l'altro lavoro."),
            ("interviewer", "E quanto guadagna al mese con questi compiti?"),
            ("interviewee", "Dipende, eh, alcuni mesi duecento euro, altri quasi niente."),
            ("interviewer", "Parla con altri annotatori?"),
            ("interviewee", "Sì, in un forum. Ci diamo consigli, ehm, soprattutto sui compiti pagati male."),
        ),
        (
            ("interviewer", "Cosa le piace di questo tipo di lavoro?"),
            ("interviewee", "Posso lavorare da casa e scegliere gli orari. Eh, per me è importante."),
            ("interviewer", "E cosa cambierebbe?"),
            ("interviewee", "La paga, certo, e i compiti che spariscono senza nessun avviso."),
            ("interviewer", "Quante ore lavora ogni settimana?"),
            ("interviewee", "Circa trenta ore, ehm, ma dipende da quanti compiti ci sono."),
        ),
    ),
)
