"""Brazilian Portuguese (espeak-ng "pt-br"): Whisper "pt"; fillers é / hum / né.

espeak-ng's pt-br voice writes the reduced final a (casa, semana) as [æ] and the raised final e
(cidade, noite) as [y]: voli writes them ɐ and ɪ (``respellings``), in the lexicon and in simulated
truth; the synthesisers still get espeak-ng's symbols. espeak-ng reads "lh" as l j: the rule below
makes it the palatal lateral ʎ (trabalho t r a b a ʎ ʊ, mulher m u ʎ ɛ r). A lone "é" is read as the
letter's name, so the filler gets its own pronunciation (and is spelt "éé" for espeak-ng's
synthesis).
"""

from voli.languages import Language, Vowel
from voli.languages._shared import ENGLISH_TO_ROMANCE


def _lh(key: str, pron):
    """The k-th "lh" of the spelling is the k-th "l j" of espeak-ng's output -> ʎ."""
    n = key.count("lh")
    if not n:
        return pron
    pairs = [i for i in range(len(pron.phones) - 1) if pron.phones[i:i + 2] == ("l", "j")]
    if len(pairs) != n:  # cannot tell which "l j" is the "lh": leave it
        return pron
    phones, stress, i = [], [], 0
    while i < len(pron.phones):
        if i in pairs:
            phones.append("ʎ")
            stress.append(max(pron.stress[i], pron.stress[i + 1]))
            i += 2
        else:
            phones.append(pron.phones[i])
            stress.append(pron.stress[i])
            i += 1
    return type(pron)(tuple(phones), tuple(stress))




LANGUAGE = Language(
    code="pt",
    name="Brazilian Portuguese",
    aliases=("por", "portuguese", "portugues", "português"),
    whisper="pt",
    espeak_voice="pt-br",
    num2words="pt_BR",
    decimal_mark=",",
    percent="por cento",
    ordinal="(\\d+)\\.?([ºª°])",
    abbreviations={
        "sr.": "senhor", "sra.": "senhora", "srta.": "senhorita", "dr.": "doutor", "dra.": "doutora",
        "etc.": "etcétera",
    },
    fillers=("é", "eh", "hum", "hã", "ãh", "né"),
    filler_phones={"é": ("ɛː",), "hum": ("ũː",)},
    filler_prompt="É, então, é, eu trabalho, hum, em casa.",
    espeak_filler_spellings={"é": "éé"},
    question_starts=(
        "quanto", "quantos", "quantas", "como", "o que", "por que", "onde", "quando", "qual", "quem", "você",
    ),
    phones=(
        "a", "aɪ", "aʊ", "aː", "b", "d", "dʒ", "e", "eɪ", "eʊ", "f", "i", "iʊ", "j", "k", "l", "m", "n", "o",
        "oɪ", "õ", "p", "r", "s", "spn", "t", "ts", "tʃ", "u", "uɪ", "ũ", "v", "w", "x", "z", "ŋ", "ũː",
        "ɐ", "ɐ̃", "ɐ̃ʊ̃", "ɔ", "ɔɪ", "ə", "ɛ", "ɛɪ", "ɛʊ", "ɛː", "ɡ", "ɪ", "ɲ", "ɾ", "ʃ", "ʊ", "ʎ", "ʒ",
    ),
    phone_variants={"iː": "i", "ɹ": "r", "h": "x"},
    foreign_phones={
        **ENGLISH_TO_ROMANCE, "ʊ": ("ʊ",), "æ": ("ɛ",), "ɔ": ("ɔ",), "ɔː": ("ɔ",), "oʊ": ("o", "w"),
        "ɛ": ("ɛ",), "ɛː": ("ɛ",), "eɪ": ("eɪ",), "aɪ": ("aɪ",), "aʊ": ("aʊ",), "ɔɪ": ("ɔɪ",), "ə": ("ə",),
        "h": ("x",), "ɚ": ("e", "r"), "ɜː": ("e", "r"), "aɪɚ": ("aɪ", "e", "r"), "ɑːɹ": ("a", "r"),
        "ɔːɹ": ("ɔ", "r"), "oːɹ": ("ɔ", "r"), "ɛɹ": ("ɛ", "r"), "ɪɹ": ("i", "r"), "ʊɹ": ("u", "r"),
        "ɹ": ("r",), "θ": ("t",), "ð": ("d",),
    },
    respellings={"æ": "ɐ", "y": "ɪ"},
    g2p_rules=(_lh,),
    rule_phones=frozenset({"ʎ"}),
    audit_words=(
        "trabalho trabalha dinheiro tarefa semana plataforma também muito não você que de filho mulher "
        "melhor computador empresa cliente família estudar pagamento internet hora dia mês anotação "
        "tempo emprego celular salário chefe colegas contrato filhos pais casa sempre nunca pouco hoje "
        "ontem amanhã nós eles gente então porque bom tá pra assim coisa ruim bem mãe aplicativo dados "
        "anos pessoa conheço ideia milhões informações senhor doutor às"
    ),
    vowels={
        "a": Vowel("open", "central"),
        "aɪ": Vowel("open", "central", diphthong=True),
        "aʊ": Vowel("open", "central", diphthong=True),
        "aː": Vowel("open", "central"),
        "e": Vowel("close-mid", "front"),
        "eɪ": Vowel("close-mid", "front", diphthong=True),
        "eʊ": Vowel("close-mid", "front", diphthong=True),
        "i": Vowel("close", "front"),
        "iʊ": Vowel("close", "front", diphthong=True),
        "o": Vowel("close-mid", "back", rounded=True),
        "oɪ": Vowel("close-mid", "back", rounded=True, diphthong=True),
        "õ": Vowel("close-mid", "back", rounded=True, nasal=True),
        "u": Vowel("close", "back", rounded=True),
        "uɪ": Vowel("close", "back", rounded=True, diphthong=True),
        "ũ": Vowel("close", "back", rounded=True, nasal=True),
        "ũː": Vowel("close", "back", rounded=True, nasal=True),  # the filler "hum" (precomposed)
        "ɐ": Vowel("near-open", "central"),
        "ɐ̃": Vowel("near-open", "central", nasal=True),
        "ɐ̃ʊ̃": Vowel("near-open", "central", nasal=True, diphthong=True),
        "ɔ": Vowel("open-mid", "back", rounded=True),
        "ɔɪ": Vowel("open-mid", "back", rounded=True, diphthong=True),
        "ə": Vowel("mid", "central"),
        "ɛ": Vowel("open-mid", "front"),
        "ɛɪ": Vowel("open-mid", "front", diphthong=True),
        "ɛʊ": Vowel("open-mid", "front", diphthong=True),
        "ɛː": Vowel("open-mid", "front"),
        "ɪ": Vowel("near-close", "front"),
        "ʊ": Vowel("near-close", "back", rounded=True),
    },
    vowel_space=("i", "e", "ɛ", "a", "ɔ", "o", "u"),  # the seven oral stressed vowels, around the space
    pillai_pairs=(("e", "ɛ"), ("o", "ɔ")),
    country="Brazil",
    interviews=(
        (
            ("interviewer", "Há quanto tempo você trabalha com essas tarefas na internet?"),
            ("interviewee", "É, faz uns dois anos. Comecei durante a pandemia, quando perdi o emprego."),
            ("interviewer", "Quanto você ganha por semana, mais ou menos?"),
            ("interviewee", "Depende muito. É, tem semana que ganho cem reais, tem semana que não ganho nada."),
            ("interviewer", "O que você faz com o dinheiro que ganha?"),
            ("interviewee", "Pago as contas da casa. É, às vezes compro comida para a família."),
        ),
        (
            ("interviewer", "Você conhece outras pessoas que fazem esse trabalho?"),
            ("interviewee", "Conheço sim, tem um grupo no celular onde a gente troca dicas sobre as tarefas."),
            ("interviewer", "E como você aprendeu a fazer as anotações?"),
            ("interviewee", "Sozinha, é, vendo vídeos e lendo as instruções da plataforma."),
            ("interviewer", "Você pretende continuar nesse trabalho?"),
            ("interviewee", "Por enquanto sim, é, mas eu queria voltar a estudar no ano que vem."),
        ),
    ),
)
