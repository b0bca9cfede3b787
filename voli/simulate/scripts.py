"""Interview scripts: questions and answers of interviews with platform workers.

Each turn is (role, text). Fillers (filled pauses) are written as the words
speakers of each language use: French "euh", Spanish "eh", Portuguese "é",
English "um".
"""

from __future__ import annotations

from voli.asr.fillers import FILLERS  # one list of filled pauses for simulation and transcription
# How fillers are spoken (IPA, long vowels): espeak-ng reads Portuguese "é" as the
# letter's name ("é agudo"), so fillers get their pronunciation here.
FILLER_PHONES = {
    "fr": {"euh": ("øː",), "hum": ("œ", "mː")},
    "es": {"eh": ("eː",)},
    "pt": {"é": ("ɛː",), "hum": ("ũː",)},
    "en": {"um": ("ʌ", "mː"), "uh": ("ʌː",)},
}

INTERVIEWS: dict[str, list[list[tuple[str, str]]]] = {
    "fr": [
        [
            ("interviewer", 'Depuis combien de temps faites-vous ce travail sur les plateformes ?'),
            ("interviewee", "Euh, depuis trois ans à peu près. J'annote des images le soir, après mon autre travail."),
            ("interviewer", 'Et combien gagnez-vous par mois avec ces tâches ?'),
            ("interviewee", "Ça dépend, euh, certains mois deux cents euros, d'autres presque rien."),
            ("interviewer", "Est-ce que vous parlez avec d'autres annotateurs ?"),
            ("interviewee", 'Oui, sur un forum. On se donne des conseils, euh, surtout sur les tâches mal payées.'),
        ],
        [
            ("interviewer", 'Comment avez-vous trouvé cette plateforme ?'),
            ("interviewee", 'Par une amie. Euh, elle faisait déjà des transcriptions pour une entreprise américaine.'),
            ("interviewer", 'Vous sentez-vous dépendante de ce revenu ?'),
            ("interviewee", 'Oui, un peu. Sans ce travail, je ne pourrais pas payer le loyer.'),
            ("interviewer", "Qu'est-ce qui est le plus difficile dans ce travail ?"),
            ("interviewee", 'Euh, les règles changent tout le temps, et personne ne répond à nos questions.'),
        ],
    ],
    "es": [
        [
            ("interviewer", '¿Cuántas horas trabaja cada día en la plataforma?'),
            ("interviewee", 'Eh, unas seis horas. A veces más cuando hay muchas tareas disponibles.'),
            ("interviewer", '¿Y le pagan en dólares?'),
            ("interviewee", 'Sí, me pagan en dólares, eh, y eso ayuda mucho con la inflación en Venezuela.'),
            ("interviewer", '¿Cómo aprendió a usar la plataforma?'),
            ("interviewee", 'Con videos en internet. Eh, al principio me equivoqué mucho y perdí dinero.'),
        ],
        [
            ("interviewer", '¿Qué tipo de tareas hace usted?'),
            ("interviewee", 'Clasifico fotos y reviso textos. Eh, es un trabajo repetitivo pero lo puedo hacer en casa.'),
            ("interviewer", '¿Tiene otro empleo además de este?'),
            ("interviewee", 'No, ahora solo trabajo en la plataforma con mi computadora.'),
            ("interviewer", '¿Qué le gustaría cambiar de este trabajo?'),
            ("interviewee", 'Me gustaría tener un contrato, eh, y saber cuánto voy a ganar cada mes.'),
        ],
    ],
    "pt": [
        [
            ("interviewer", 'Há quanto tempo você trabalha com essas tarefas na internet?'),
            ("interviewee", 'É, faz uns dois anos. Comecei durante a pandemia, quando perdi o emprego.'),
            ("interviewer", 'Quanto você ganha por semana, mais ou menos?'),
            ("interviewee", 'Depende muito. É, tem semana que ganho cem reais, tem semana que não ganho nada.'),
            ("interviewer", 'O que você faz com o dinheiro que ganha?'),
            ("interviewee", 'Pago as contas da casa. É, às vezes compro comida para a família.'),
        ],
        [
            ("interviewer", 'Você conhece outras pessoas que fazem esse trabalho?'),
            ("interviewee", 'Conheço sim, tem um grupo no celular onde a gente troca dicas sobre as tarefas.'),
            ("interviewer", 'E como você aprendeu a fazer as anotações?'),
            ("interviewee", 'Sozinha, é, vendo vídeos e lendo as instruções da plataforma.'),
            ("interviewer", 'Você pretende continuar nesse trabalho?'),
            ("interviewee", 'Por enquanto sim, é, mas eu queria voltar a estudar no ano que vem.'),
        ],
    ],
    "en": [
        [
            ("interviewer", 'How did you start working on these platforms?'),
            ("interviewee", 'Um, a friend told me about it. I label pictures for a few hours every evening.'),
            ("interviewer", 'Is the money enough to live on?'),
            ("interviewee", 'Not really. Um, some weeks are good, but many weeks there is almost no work.'),
            ("interviewer", 'Do you talk with other workers online?'),
            ("interviewee", 'Yes, in a chat group. Um, we warn each other about bad tasks and late payments.'),
        ],
        [
            ("interviewer", 'What do you like about this kind of work?'),
            ("interviewee", 'I can work from home and choose my hours. Uh, that matters a lot to me.'),
            ("interviewer", 'And what would you change about it?'),
            ("interviewee", 'The pay, of course, and the way tasks disappear without any warning.'),
            ("interviewer", 'How many hours do you work each week?'),
            ("interviewee", 'About thirty hours, um, but it depends on how many tasks are there.'),
        ],
    ],
}
