"""Russian (espeak-ng "ru"): Whisper "ru"; fillers э / эм / мм / хм.

espeak-ng's Russian labels, and how voli writes them:

* vowels: stressed а is [ɑ] (phonetically [a]); stressed е after a soft consonant [e], э and е
  after ж ш ц [ɛ]; и [i] (also the unstressed е/я after a soft consonant), the unstressed и at a
  word's edges and after j [ɪ]; ё after a soft consonant [ɵ].
* respelt (``respellings``, in the lexicon and in simulated truth): the first pretonic and the
  final unstressed а/о after a hard consonant [a] -> ɐ, the other unstressed а/о [ʌ] -> ə (as
  espeak-ng already writes the unstressed "на"), ы [y] -> ɨ, the hard л [ɭ] -> ɫ, the soft л [ɭʲ]
  -> lʲ, the soft з [ʑ] -> zʲ (as sʲ tʲ dʲ), ю after a soft consonant [u"] -> ʉ, and espeak-ng's
  short vowel after рь before a consonant or a pause (ноябрь, проверьте) [ɪ^] -> ɪ̆.
* espeak-ng writes я ю after a vowel, ъ ь or at a word's start as one label "ja" / "ju", and
  doubles the j after ъ ь (съезд s j j e s t, семья sʲ i mʲ j ja). The rule below (lexicon only)
  writes them j + vowel (the stress on the vowel: ɑ when stressed, ɐ when not; u), keeps one j,
  and makes r + ɪ̆ the soft rʲ, so that я and ю are measured as vowels. Simulated truth keeps
  espeak-ng's labels (one synthesised segment each), so "ja", "ju" and "ɪ̆" stay in ``phones``.
* Overrides: espeak-ng reads the preposition "к" as the letter's name [kɑ], and says the first в
  of "здравствуйте". It spells "мм" and "хм" out letter by letter (filler overrides).

No Pillai pair: the sociolinguistic vowel variables of Russian (okanye, yakanye) are about
unstressed о/а and е/я, whose labels come from the standard pronunciation, not from the spelling.
"""

from voli.languages import Language, Vowel

# espeak-ng switches to its English voice for Latin-script words (Zoom, email) -> Russian labels
ENGLISH_TO_RUSSIAN = {
    "ɹ": ("r",), "l": ("ɫ",), "eɪ": ("e", "j"), "ɒ": ("o",), "əʊ": ("o",), "oʊ": ("o",), "uː": ("u",),
    "aɪ": ("ɑ", "j"), "iː": ("i",), "ʌ": ("ɑ",), "ŋ": ("n", "ɡ"), "əl": ("ə", "ɫ"), "ɜː": ("ɵ",),
    "ɑː": ("ɑ",), "ɔː": ("o",), "ɔ": ("o",), "h": ("x",), "w": ("v",), "ɐɐ": ("ɐ",), "aː": ("ɑ",),
    "tʃ": ("tʃʲ",), "dʒ": ("d", "ʒ"), "iə": ("i", "ə"), "aʊ": ("ɑ", "u"), "θ": ("s",), "ð": ("z",),
    "eə": ("ɛ",), "ʊ": ("u",), "ɔɪ": ("o", "j"), "ʊə": ("u", "ə"), "aɪə": ("ɑ", "j", "ə"), "æ": ("ɛ",),
    "ɚ": ("ɛ", "r"), "ɾ": ("t",), "ʔ": (), "ᵻ": ("i",), "n̩": ("n",),
}


def _iotated(key: str, pron):
    """espeak-ng's "ja" / "ju" -> j + vowel, its doubled j -> one, r + ɪ̆ (рь) -> rʲ."""
    if not {"ja", "ju", "j", "ɪ̆"} & set(pron.phones):
        return pron
    phones: list[str] = []
    stress: list[int] = []

    def add(phone: str, level: int):
        if phone == "j" and phones and phones[-1] == "j":
            stress[-1] = max(stress[-1], level)
            return
        phones.append(phone)
        stress.append(level)

    for phone, level in zip(pron.phones, pron.stress):
        if phone in ("ja", "ju"):
            add("j", 0)
            add(("ɑ" if level else "ɐ") if phone == "ja" else "u", level)
        elif phone == "ɪ̆" and phones and phones[-1] == "r":
            phones[-1], stress[-1] = "rʲ", max(stress[-1], level)
        else:
            add(phone, level)
    return type(pron)(tuple(phones), tuple(stress))


LANGUAGE = Language(
    code="ru",
    name="Russian",
    aliases=("rus", "русский"),
    whisper="ru",
    espeak_voice="ru",
    num2words="ru",
    decimal_mark=",",
    fraction_by_num2words=True,  # "3,5" -> три целых пять десятых
    percent="процентов",  # the form after 0 and 5-20 (1 процент, 2-4 процента are not told apart)
    # "25-й", "3-я", "90-х": the digits + a case ending -> the ordinal (masculine nominative)
    ordinal="(\\d+)-(?:ый|ой|ий|ая|ое|ые|ую|ого|его|ому|ему|ым|им|ом|ых|их|й|я|е|ю|го|му|м|х)",
    abbreviations={
        "т.е.": "то есть", "т.к.": "так как", "т.д.": "так далее", "т.п.": "тому подобное", "др.": "другие",
        "руб.": "рублей", "коп.": "копеек", "тыс.": "тысяч", "млн": "миллионов", "млрд": "миллиардов",
    },
    fillers=("э", "ээ", "эээ", "э-э", "э-э-э", "эм", "эмм", "мм", "ммм", "м-м", "м-м-м", "хм", "хмм"),
    filler_phones={
        "э": ("ɛː",), "ээ": ("ɛː",), "эээ": ("ɛː",), "э-э": ("ɛː",), "э-э-э": ("ɛː",), "эм": ("ɛ", "mː"),
        "эмм": ("ɛ", "mː"),
    },
    filler_overrides={  # espeak-ng spells them out: мм -> эм эм, хм -> ха эм
        "мм": ("mː",), "ммм": ("mː",), "м-м": ("mː",), "м-м-м": ("mː",), "хм": ("x", "mː"), "хмм": ("x", "mː"),
    },
    filler_prompt="Эм, ну, э, я работаю, эм, по вечерам.",
    question_starts=(
        "сколько", "почему", "зачем", "откуда", "куда", "где", "когда", "как", "кто", "что", "чем", "чём",
        "чему", "чего", "кого", "кому", "какой", "какая", "какое", "какие", "каким", "какую", "каких", "какого",
        "каков", "разве", "неужели", "а вы",
    ),
    phones=(
        "b", "bʲ", "d", "dʲ", "e", "f", "fʲ", "i", "j", "ja", "ju", "k", "kʲ", "lʲ", "m", "mʲ", "mː", "n", "nʲ",
        "o", "p", "pʲ", "r", "rʲ", "s", "spn", "sʲ", "t", "ts", "tʃʲ", "tʲ", "u", "v", "vʲ", "x", "z", "zʲ", "ɐ",
        "ɑ", "ɕ", "ə", "ɛ", "ɛː", "ɡ", "ɡʲ", "ɨ", "ɪ", "ɪ̆", "ɫ", "ɵ", "ʃ", "ʉ", "ʒ",
    ),
    phone_variants={"ŋ": "n", "ɔ": "o", "dʒʲ": "tʃʲ"},  # rare: пин-код, шёлкопрядение, ч before a voiced stop
    respellings={"a": "ɐ", "ʌ": "ə", "y": "ɨ", "ɭ": "ɫ", "ɭʲ": "lʲ", "ʑ": "zʲ", 'u"': "ʉ", "ɪ^": "ɪ̆"},
    foreign_phones=ENGLISH_TO_RUSSIAN,
    g2p_overrides={"к": "k", "здравствуйте": "z d r ˈɑ s t v u j tʲ i"},
    g2p_rules=(_iotated,),
    audit_words=(
        "работа работать работаю платформа деньги часы час задание задача разметка семья учёба платить "
        "оплата интернет компьютер неделя месяц день компания заказчик клиент сайт телефон и в не на я что "
        "он с как это по но они мы вы она всё так его же у за бы от ещё уже только очень когда есть было "
        "можно нужно надо сейчас сегодня вчера завтра всегда никогда иногда потому почему зарплата начальник "
        "коллеги договор дети родители дом время много мало рублей долларов экран почта приложение данные "
        "звонить город год ребёнок толока подработка заработок тысяча конечно чтобы пожалуйста спасибо "
        "хорошо ничего вообще счастье мужчина лёгкий здоровье объявление статья пью съезд теперь ноябрь "
        "что-то сколько модерация оценка картинки тексты отзывы рейтинг аккаунт налог муж жена дочь студент"
    ),
    vowels={
        "e": Vowel("close-mid", "front"),
        "i": Vowel("close", "front"),
        "o": Vowel("close-mid", "back", rounded=True),
        "u": Vowel("close", "back", rounded=True),
        "ɐ": Vowel("near-open", "central"),  # first pretonic and final а/о
        "ɑ": Vowel("open", "central"),  # stressed а: [a]
        "ə": Vowel("mid", "central"),  # the other unstressed а/о
        "ɛ": Vowel("open-mid", "front"),
        "ɛː": Vowel("open-mid", "front"),  # the filler э
        "ɨ": Vowel("close", "central"),
        "ɪ": Vowel("near-close", "front"),
        "ɪ̆": Vowel("near-close", "front"),  # espeak-ng's vowel after рь (simulated truth only)
        "ɵ": Vowel("close-mid", "central", rounded=True),
        "ʉ": Vowel("close", "central", rounded=True),
    },
    corner_vowels=("i", "ɑ", "u"),
    vowel_space=("i", "e", "ɑ", "o", "u", "ɨ"),  # the six stressed vowels, around the space (ы on top)
    country="Russia",
    interviews=(
        (
            ("interviewer", "Как давно вы работаете на платформах?"),
            ("interviewee", "Э, уже около двух лет. Я размечаю картинки по вечерам, после основной работы."),
            ("interviewer", "И сколько вы зарабатываете в месяц?"),
            ("interviewee", "По-разному, эм, иногда десять тысяч рублей, а иногда почти ничего."),
            ("interviewer", "Вы общаетесь с другими исполнителями?"),
            ("interviewee", "Да, в чате. Мы делимся советами, э, особенно про задания, за которые плохо платят."),
        ),
        (
            ("interviewer", "Что вам нравится в этой работе?"),
            ("interviewee", "Можно работать из дома и самой выбирать время. Э, для меня это важно."),
            ("interviewer", "А что бы вы изменили?"),
            ("interviewee", "Оплату, конечно, и то, что задания пропадают без всякого предупреждения."),
            ("interviewer", "Сколько часов в неделю вы работаете?"),
            ("interviewee", "Около тридцати часов, эм, но это зависит от того, сколько есть заданий."),
        ),
    ),
)
