"""Spanish (Latin American speakers in the sample; espeak-ng's "es" voice): Whisper "es"; fillers
eh / este; espeak-ng spells "mm" out letter by letter (filler override: a long m).
"""

from voli.languages import Language, Vowel
from voli.languages._shared import ENGLISH_TO_ROMANCE

LANGUAGE = Language(
    code="es",
    name="Spanish",
    aliases=("spa", "espanol", "español", "castellano"),
    whisper="es",
    espeak_voice="es",
    num2words="es",
    decimal_mark=",",
    percent="por ciento",
    ordinal="(\\d+)\\.?([ºª°])",
    abbreviations={
        "sr.": "señor", "sra.": "señora", "srta.": "señorita", "dr.": "doctor", "dra.": "doctora",
        "ud.": "usted", "uds.": "ustedes", "etc.": "etcétera", "ee.uu.": "estados unidos",
    },
    fillers=("eh", "em", "mm", "ehm"),
    filler_phones={"eh": ("eː",)},
    filler_prompt="Eh, bueno, eh, trabajo, este, en casa.",
    question_starts=(
        "cuánto", "cuántos", "cuánta", "cuántas", "cuantas", "cuantos", "cómo", "qué", "por qué", "dónde",
        "cuándo", "cuál", "quién", "tiene",
    ),
    phones=(
        "a", "aɪ", "aʊ", "b", "d", "e", "eɪ", "eʊ", "eː", "f", "i", "j", "k", "l", "m", "mː", "n", "o", "oɪ",
        "p", "pː", "r", "s", "spn", "t", "ts", "tʃ", "u", "w", "x", "ð", "ŋ", "ɛ", "ɟ", "ɡ", "ɣ", "ɲ", "ɾ",
        "ʃ", "ʎ", "ʝ", "β", "θ",
    ),
    phone_variants={"ə": "e", "dʒ": "ʝ", "h": "x"},
    foreign_phones={
        **ENGLISH_TO_ROMANCE, "h": ("x",), "ɚ": ("e", "ɾ"), "ɜː": ("e", "ɾ"), "aɪɚ": ("a", "j", "e", "ɾ"),
        "ɑːɹ": ("a", "ɾ"), "ɔːɹ": ("o", "ɾ"), "oːɹ": ("o", "ɾ"), "ɛɹ": ("e", "ɾ"), "ɪɹ": ("i", "ɾ"),
        "ʊɹ": ("u", "ɾ"), "ɹ": ("ɾ",), "z": ("s",), "v": ("b",), "ʒ": ("ʝ",), "dʒ": ("ʝ",), "ɾ": ("ɾ",),
    },
    filler_overrides={"mm": ("mː",)},
    audit_words=(
        "trabajo trabaja plataforma dinero horas tarea anotación familia estudio estudiar pagar pago "
        "internet computadora ordenador semana mes día empresa cliente de que no usted también muy "
        "mucho para señor señora doctora etcétera sueldo jefe compañeros contrato hijos padres casa "
        "tiempo siempre nunca poco hoy ayer mañana nosotros ellos pues bueno este entonces gente "
        "dólares pantalla correo aplicación datos llamar calle yo ciudad año niño"
    ),
    vowels={
        "a": Vowel("open", "central"),
        "aɪ": Vowel("open", "central", diphthong=True),
        "aʊ": Vowel("open", "central", diphthong=True),
        "e": Vowel("close-mid", "front"),
        "eɪ": Vowel("close-mid", "front", diphthong=True),
        "eʊ": Vowel("close-mid", "front", diphthong=True),
        "eː": Vowel("close-mid", "front"),
        "i": Vowel("close", "front"),
        "o": Vowel("close-mid", "back", rounded=True),
        "oɪ": Vowel("close-mid", "back", rounded=True, diphthong=True),
        "u": Vowel("close", "back", rounded=True),
        "ɛ": Vowel("open-mid", "front"),
    },
    vowel_space=("i", "e", "a", "o", "u"),  # the five vowels, around the space
    pillai_pairs=(("e", "i"), ("o", "u")),
    country="Venezuela",
    interviews=(
        (
            ("interviewer", "¿Cuántas horas trabaja cada día en la plataforma?"),
            ("interviewee", "Eh, unas seis horas. A veces más cuando hay muchas tareas disponibles."),
            ("interviewer", "¿Y le pagan en dólares?"),
            ("interviewee", "Sí, me pagan en dólares, eh, y eso ayuda mucho con la inflación en Venezuela."),
            ("interviewer", "¿Cómo aprendió a usar la plataforma?"),
            ("interviewee", "Con videos en internet. Eh, al principio me equivoqué mucho y perdí dinero."),
        ),
        (
            ("interviewer", "¿Qué tipo de tareas hace usted?"),
            ("interviewee", "Clasifico fotos y reviso textos. Eh, es un trabajo repetitivo pero lo puedo hacer en casa."),
            ("interviewer", "¿Tiene otro empleo además de este?"),
            ("interviewee", "No, ahora solo trabajo en la plataforma con mi computadora."),
            ("interviewer", "¿Qué le gustaría cambiar de este trabajo?"),
            ("interviewee", "Me gustaría tener un contrato, eh, y saber cuánto voy a ganar cada mes."),
        ),
    ),
)
