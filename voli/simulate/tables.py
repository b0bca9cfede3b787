"""Planted effects at table level: the features tables of many simulated speakers, in milliseconds.

``voli simulate`` makes audio, which takes minutes per interview; testing the statistics needs
hundreds of corpora of dozens of speakers. This module draws the tables the features stage would
write (vowel tokens, utterance prosody, speaker prosody) straight from an :class:`EffectSpec`:

* vowels: prototype categories scaled by the speaker's vocal-tract ratio (planted effect ×
  between-speaker variation), moved toward the speaker's centre by the planted centralisation,
  one formant of one vowel multiplied by a planted ``vowel_shift``, then a word offset and
  token noise that does not shrink with the categories (as in speech: a reduced vowel space is
  one whose categories overlap more); a planted ``vowel_glide`` keeps midpoints where they are,
  so it leaves these tables as they are;
* trajectories (``trajectories=``, the features stage's ``vowel_tracks``): F1/F2 at 0, 10, ..., 100 %
  of every token, a straight glide through the token's midpoint whose extent is the vowel's
  (:data:`GLIDES`: the diphthongs move, the monophthongs barely) times the planted ``vowel_glide``,
  varied between speakers and tokens, plus measurement noise per point;
* utterances: articulation rate from the planted speech-rate multiplier (and the language's
  own rate), F0 level and range from the planted F0 multipliers, each with utterance noise.

Confounds the models must see through, all off by default (the defaults draw exactly the tables
earlier versions drew, seed for seed):

* ``balanced``: categorical attributes with equal counts per level (shuffled);
* ``association``: an attribute whose values follow another attribute's level (e.g. more men
  among the university-educated), so that leaving the other out of a model biases it;
* ``languages``: each speaker speaks one of several languages, with its own vowels, vowel
  frequencies and speaking rate;
* ``token_spread``: unequal token counts per speaker and vowel (lognormal, with each vowel's
  frequency in the language);
* ``word_sd``: every token belongs to a word of a per-vowel vocabulary, used with different
  frequencies by different speakers, each word with its own F1/F2 offset, so ``(1 | word)``
  matters;
* ``unusable``: a share of the tokens fail one of the profile stage's filters (low ASR or
  speaker confidence, overlap, implausible duration);
* ``effect_sd_speakers`` / ``effect_sd_words``: planted effects that vary between speakers (and,
  for a vowel shift, between words) around the planted mean.

Speech-like differences between women and men come through the spec's effects:
:func:`with_sex_differences` adds them (F0 × 0.55, formants × 0.85 for men).
"""

from __future__ import annotations

import numpy as np

from voli.errors import ConfigError
from voli.io.survey import AttributeType
from voli.simulate.effects import ADDITIVE, PER_VOWEL, Effect, EffectSpec, draw

PROTOTYPES = {"i": (290, 2250), "e": (400, 2000), "ɛ": (560, 1780), "a": (760, 1330), "ɔ": (580, 920),
              "o": (430, 820), "u": (320, 760)}  # (F1, F2) Hz of an adult voice with vocal_tract = 1
# Per language (``languages=``): vowel -> (F1 Hz, F2 Hz, share of the vowel tokens), an adult
# woman's voice at vocal_tract = 1 (men: × ~0.85). Rounded from published formant tables of
# each language; the shares are rough token frequencies of conversational speech.
LANGUAGE_VOWELS = {
    "es": {"i": (320, 2650, .15), "e": (460, 2300, .30), "a": (820, 1550, .30), "o": (500, 1000, .17),
           "u": (350, 900, .08)},
    "fr": {"i": (320, 2600, .13), "e": (420, 2400, .14), "ɛ": (600, 2100, .12), "a": (800, 1550, .20),
           "ɔ": (600, 1100, .05), "o": (430, 950, .05), "u": (340, 880, .07), "y": (320, 2000, .05),
           "ø": (430, 1750, .03), "œ": (590, 1650, .03), "ə": (500, 1650, .13)},
    "pt": {"i": (320, 2600, .15), "e": (440, 2300, .14), "ɛ": (620, 2050, .07), "a": (800, 1500, .30),
           "ɔ": (620, 1050, .06), "o": (450, 950, .14), "u": (340, 900, .14)},
    "it": {"i": (310, 2550, .17), "e": (430, 2250, .17), "ɛ": (600, 2000, .08), "a": (790, 1500, .25),
           "ɔ": (610, 1050, .07), "o": (450, 950, .20), "u": (340, 850, .06)},
    # English (American women, after Hillenbrand et al. 1995, rounded; the diphthongs' values are their midpoints),
    # in the labels of voli's English language file
    "en": {"iː": (440, 2760, .08), "ɪ": (480, 2370, .14), "ɛ": (730, 2060, .10), "æ": (670, 2350, .07),
           "ɑː": (940, 1550, .05), "ɐ": (750, 1430, .06), "ɔː": (780, 1140, .04), "ʊ": (520, 1230, .03),
           "uː": (460, 1100, .06), "ə": (500, 1650, .15), "eɪ": (540, 2530, .06), "oʊ": (560, 1040, .05),
           "aɪ": (800, 1650, .08), "aʊ": (800, 1350, .03)},
}
# Half the movement of each formant from a vowel's onset to its offset (Hz at vocal_tract = 1; the
# trajectory runs from midpoint - this to midpoint + this): /aɪ/ F2 rises about 700 Hz, F1 falls.
# A vowel not named moves by MONOPHTHONG_GLIDE of its formants (a little coarticulation).
GLIDES = {"aɪ": (-150, 350), "aʊ": (-150, -200), "eɪ": (-60, 150), "oʊ": (-50, -120)}
MONOPHTHONG_GLIDE = (-0.03, 0.03)
TRACK_POINTS = tuple(range(0, 101, 10))  # % of the vowel, as the features stage's vowel_tracks
TRAJECTORY_SD = {"speaker": 0.15, "token": 0.15, "point_hz": 30.0}  # log sds of the glide's extent; noise (Hz)
LANGUAGE_RATE = {"es": 1.06, "fr": 1.0, "pt": 0.97, "it": 1.03}  # articulation-rate multiplier of the language
CONSONANTS = ("p", "t", "k", "b", "d", "ɡ", "m", "n", "s", "l", "ɾ", "f")  # previous_phone / next_phone
TOKEN_SD = (0.09, 0.07)  # token noise of F1, F2: log-scale standard deviations
VOCAL_TRACT_SD = 0.05  # between-speaker variation of the formant scale (log)
ARTICULATION_RATE = 5.5  # syllables/s at speech_rate = 1
F0_HZ = 160.0  # at f0_level = 1
F0_SPEAKER_SD = 0.08  # between-speaker variation of F0 (log), beside the spec's between_speaker_sd
F0_SD_ST = 2.5  # within-utterance F0 sd (semitones) at f0_range = 1
UTTERANCE_SD = {"rate": 0.06, "f0_st": 0.5, "f0_sd": 0.1}  # utterance noise: log rate, semitones, log F0 sd
UTTERANCE_S = 3.0  # duration of a simulated utterance


def with_sex_differences(spec: EffectSpec, attribute: str = "gender", level: str = "man", *,
                         f0_level: float = 0.55, vocal_tract: float = 0.85) -> EffectSpec:
    """``spec`` plus speech-like differences of ``level`` of ``attribute``: F0 and formants multiplied.

    Men's F0 is about 0.55 of women's (≈ 110 vs 200 Hz) and their vocal tract longer (formants
    × ~0.85). The attribute must be declared in the spec with that level.
    """
    attr = next((a for a in spec.attributes if a.name == attribute), None)
    if attr is None or level not in attr.levels:
        raise ConfigError(f"sex differences: the spec has no attribute {attribute!r} with level {level!r} "
                          f"(attributes: {', '.join(a.name for a in spec.attributes) or 'none'}); declare it, "
                          "e.g. gender: {levels: [woman, man]}")
    extra = (Effect("f0_level", attribute, {level: f0_level}), Effect("vocal_tract", attribute, {level: vocal_tract}))
    return EffectSpec(spec.attributes, spec.effects + extra, spec.between_speaker_sd)


def _position(attr: AttributeType, value) -> float:
    """Where a value sits in its attribute, 0-1: the level's index (or the number) over the span."""
    if attr.levels:
        return attr.levels.index(value) / max(len(attr.levels) - 1, 1)
    lo, hi = attr.range
    return (float(value) - lo) / (hi - lo) if hi > lo else 0.5


def _from_quantile(attr: AttributeType | None, u: np.ndarray) -> list:
    """Attribute values at quantiles ``u`` (0-1): a level of equal share, or a number of the range (0-100 when None)."""
    if attr is None:
        return [str(round(float(x) * 100)) for x in u]
    if attr.levels:
        return [attr.levels[min(int(x * len(attr.levels)), len(attr.levels) - 1)] for x in u]
    lo, hi = attr.range
    return [round(float(lo + x * (hi - lo))) for x in u]


def _blocks(levels, n: int, rng) -> list:
    """``n`` values in shuffled blocks holding each level once: equal counts (± 1), and so in every
    prefix of a multiple of len(levels) speakers (the power analysis takes nested subsets)."""
    out = []
    while len(out) < n:
        out += [levels[j] for j in rng.permutation(len(levels))]
    return out[:n]


def _assign_attributes(spec: EffectSpec, n: int, balanced, association, null_attributes, rng) -> dict:
    """Values of the balanced and associated attributes (and of their drivers), one per speaker."""
    by_name = {a.name: a for a in spec.attributes}
    out: dict[str, list] = {}
    for name in balanced:
        attr = by_name.get(name)
        if attr is None or not attr.levels:
            with_levels = ", ".join(a.name for a in spec.attributes if a.levels) or "none"
            raise ConfigError(f"balanced: {name!r} is not a categorical attribute of the spec "
                              f"(those with levels: {with_levels})")
        out[name] = _blocks(attr.levels, n, rng)
    for target, rule in (association or {}).items():
        try:
            driver, strength = rule
            strength = float(strength)
        except (TypeError, ValueError):
            raise ConfigError(f"association[{target!r}]: {rule!r} should be (attribute, strength), "
                              "e.g. ('gender', 0.8)") from None
        if target not in by_name and target not in null_attributes:
            raise ConfigError(f"association: {target!r} is neither an attribute of the spec nor a null attribute "
                              f"(attributes: {', '.join(by_name)})")
        if target in balanced:
            raise ConfigError(f"association: {target!r} is also balanced; an attribute is either balanced or "
                              "associated with another")
        if driver not in by_name or driver == target:
            raise ConfigError(f"association[{target!r}]: the driver {driver!r} is not another attribute of the spec "
                              f"(attributes: {', '.join(by_name)})")
        if not -1 <= strength <= 1:
            raise ConfigError(f"association[{target!r}]: strength {strength:g} is outside -1..1 (1: the attribute "
                              "follows the driver's level for every speaker, 0: independent, < 0: reversed)")
        if driver not in out:
            out[driver] = [draw(by_name[driver], rng) for _ in range(n)]
        # a share |strength| of the speakers draw their quantile inside the driver's stratum, the others anywhere
        d = by_name[driver]
        levels = len(d.levels) if d.levels else 4
        stratum = np.array([min(int(_position(d, v) * levels if not d.levels else d.levels.index(v)), levels - 1)
                            for v in out[driver]])
        if strength < 0:
            stratum = levels - 1 - stratum
        follow = rng.random(n) < abs(strength)
        u = np.where(follow, (stratum + rng.random(n)) / levels, rng.random(n))
        out[target] = _from_quantile(by_name.get(target), u)
    return out


def _inventories(spec: EffectSpec, languages) -> dict[str, dict[str, tuple]]:
    """language -> vowel -> (F1, F2, share); the legacy seven prototypes (equal shares) for languages=None."""
    if languages is None:
        return {None: {v: (f1, f2, 1 / len(PROTOTYPES)) for v, (f1, f2) in PROTOTYPES.items()}}
    unknown = [x for x in languages if x not in LANGUAGE_VOWELS]
    if unknown or not languages:
        raise ConfigError(f"languages: {unknown or list(languages)} not simulated; use some of "
                          f"{', '.join(LANGUAGE_VOWELS)}")
    out = {x: LANGUAGE_VOWELS[x] for x in languages}
    for e in spec.effects:
        if e.measure in PER_VOWEL and not any(e.vowel in inv for inv in out.values()):
            raise ConfigError(f"{e.measure}: vowel {e.vowel!r} is in none of the simulated languages' vowels "
                              f"({'; '.join(f'{k}: ' + ' '.join(v) for k, v in out.items())}); e.g. languages: [en] "
                              "has the diphthongs aɪ aʊ eɪ oʊ")
    return out


def _score(name: str, attrs: dict, nulls: dict, spec: EffectSpec) -> float:
    """A speaker's value of attribute ``name`` on -0.5..0.5: levels in their order, numbers over their range."""
    if name in nulls:
        return float(nulls[name]) / 100 - 0.5
    attribute = next((a for a in spec.attributes if a.name == name), None)
    if attribute is None:
        raise ConfigError(f"vocabulary: {name!r} is not an attribute of the spec or a null attribute")
    value = attrs[name]
    levels = list(getattr(attribute, "levels", ()) or ())
    if levels:
        return levels.index(value) / max(len(levels) - 1, 1) - 0.5
    lo, hi = getattr(attribute, "range", (0.0, 1.0)) or (0.0, 1.0)
    return (float(value) - lo) / ((hi - lo) or 1.0) - 0.5


def simulate_tables(spec: EffectSpec, n_speakers: int, *, seed: int = 0, tokens_per_vowel: float = 8,
                    utterances: int = 10, language: str = "es", null_attributes: tuple[str, ...] = (),
                    balanced: tuple[str, ...] = (), association: dict | None = None,
                    languages: tuple[str, ...] | None = None, token_spread: float = 0.0,
                    token_sd: tuple[float, float] = TOKEN_SD, word_sd: float = 0.0, words_per_vowel: int = 3,
                    f0_hz: float = F0_HZ, f0_speaker_sd: float = F0_SPEAKER_SD,
                    vocal_tract_sd: float = VOCAL_TRACT_SD, speaker_vowel_sd: float = 0.0,
                    utterance_sd: dict | None = None, tokens_per_speaker: float | None = None,
                    vocabulary: tuple[str, float] | None = None,
                    unusable: float = 0.0, effect_sd_speakers: float = 0.0, effect_sd_words: float = 0.0,
                    trajectories: dict | bool = False) -> dict:
    """Tables for ``n_speakers`` interviewees: vowels, prosody, speaker_prosody, speakers (speakers.csv, text).

    Parameters
    ----------
    spec : the attributes to draw and the planted effects (its ``between_speaker_sd`` multiplies
        each speaker's parameters by exp(N(0, sd)); e.g. ``{f0_level: 0.03}``).
    n_speakers : interviewees, ``S000``, ``S001``, ... one recording each.
    tokens_per_vowel : mean vowel tokens per speaker and vowel category.
    tokens_per_speaker : instead, mean vowel tokens per speaker (split over the language's vowels).
    utterances : utterances per speaker (``UTTERANCE_S`` s each).
    language : the ``language`` label when ``languages`` is None (seven legacy prototype vowels).
    null_attributes : extra numeric attributes (0-100) that affect nothing, for false-positive checks.
    balanced : categorical attributes drawn with equal counts per level (± 1), shuffled in blocks
        of one speaker per level (so the first 2k speakers of a two-level attribute are balanced too).
    association : {attribute: (driver, strength)}: a share ``strength`` (−1..1; < 0 reverses) of the
        speakers draw the attribute from the part of its levels (or range) matching the driver's
        level, e.g. ``{"education": ("gender", 0.8)}``: 80 % of women in the lower half of the
        education levels, 80 % of men in the upper half. The attribute may be a null attribute.
    languages : e.g. ``("es", "fr")``: each speaker speaks one (equal counts, in shuffled blocks), with the
        language's vowels (:data:`LANGUAGE_VOWELS`) and rate (:data:`LANGUAGE_RATE`).
    token_spread : log-scale sd of the token counts per speaker and per speaker × vowel (0: every
        speaker has ``tokens_per_vowel`` of every vowel); > 0 also weights each vowel by its share.
    token_sd : token noise of F1 and F2, log-scale sds.
    word_sd : log-scale sd of each word's own F1 and F2 offset (0: words carry no offset).
    words_per_vowel : words in each vowel's vocabulary (Zipf frequencies, varied per speaker).
    f0_hz : F0 (Hz) at f0_level = 1.
    f0_speaker_sd, vocal_tract_sd : between-speaker log sds of F0 and of the formant scale, on top of
        the spec's ``between_speaker_sd`` (set them to 0 to rely on the spec alone).
    speaker_vowel_sd : log sd of each speaker's own offset of each vowel's F1 and F2 (idiolect: where
        a speaker's /u/ sits beyond their vocal tract), 0: none.
    utterance_sd : utterance noise, keys of :data:`UTTERANCE_SD` (log rate, F0 semitones, log F0 sd).
    vocabulary : (attribute, strength): the words a speaker uses depend on the attribute; each word's
        weight is multiplied by exp(strength × score × position), the attribute's score in -0.5..0.5
        (levels in order, or the range) and the word's position in -1..1 of the vocabulary. With
        ``word_sd`` the words' own formant offsets then differ between the attribute's groups: a model
        without ``(1 | word)`` sees an effect of the attribute that is the words'.
    unusable : share of the vowel tokens that fail one of the profile stage's default filters.
    effect_sd_speakers : each speaker's planted effects (their log, or the additive centralisation)
        are the spec's times 1 + N(0, sd), one draw per speaker and measure (and vowel shift): the
        effect varies between speakers around the planted mean (0: the same for all).
    effect_sd_words : likewise per word for a vowel shift: a token's planted log shift is the
        speaker's planted one times 1 + N(0, sd_words) of its word (one draw per word of the corpus).
    trajectories : True or keys of :data:`TRAJECTORY_SD` (``speaker``, ``token``: log sds of a glide's
        extent; ``point_hz``: noise of each point) to draw every token's trajectory (``tracks``); a
        planted ``vowel_glide`` multiplies the extent of its vowel's formant, midpoint unchanged.

    Returns
    -------
    dict of DataFrames: ``vowels`` (one row per token, the features stage's columns), ``prosody``
    (one row per utterance), ``speaker_prosody`` and ``speakers`` (attribute values as text); with
    ``trajectories``, ``tracks`` (11 rows per token, vowel_tracks' columns).
    """
    import pandas as pd

    if n_speakers < 1:
        raise ConfigError(f"n_speakers {n_speakers} should be at least 1")
    if not 0 <= unusable < 1:
        raise ConfigError(f"unusable {unusable:g} should be a share, 0 <= unusable < 1")
    track_sd = {**TRAJECTORY_SD, **(trajectories if isinstance(trajectories, dict) else {})}
    trajectories = trajectories is not False and trajectories is not None  # True or a dict ({}: the defaults)
    if set(track_sd) - set(TRAJECTORY_SD):
        raise ConfigError(f"trajectories: unknown key(s) {sorted(set(track_sd) - set(TRAJECTORY_SD))}; "
                          f"use {', '.join(TRAJECTORY_SD)}")
    glide_rng = np.random.default_rng([seed, 3])  # trajectories only: the other tables stay seed for seed
    noise = {**UTTERANCE_SD, **(utterance_sd or {})}
    if set(noise) - set(UTTERANCE_SD):
        raise ConfigError(f"utterance_sd: unknown key(s) {sorted(set(noise) - set(UTTERANCE_SD))}; "
                          f"use {', '.join(UTTERANCE_SD)}")
    rng = np.random.default_rng(seed)  # the draws earlier versions made, in the same order
    aux = np.random.default_rng([seed, 1])  # everything added since: words, contexts, confounds
    inventories = _inventories(spec, languages)
    fixed = _assign_attributes(spec, n_speakers, tuple(balanced), association, tuple(null_attributes), aux)
    if languages is None:
        speaker_language = [language] * n_speakers
    else:
        speaker_language = _blocks(tuple(languages), n_speakers, aux)
    word_offsets = {(lang, v): aux.normal(0, word_sd, (words_per_vowel, 2))
                    for lang, inv in inventories.items() for v in inv}
    if effect_sd_speakers < 0 or effect_sd_words < 0:
        raise ConfigError(f"effect_sd_speakers {effect_sd_speakers:g} and effect_sd_words {effect_sd_words:g} "
                          "should not be negative")
    vary = np.random.default_rng([seed, 2])  # varying effects only: the tables without them stay seed for seed
    planted_only = EffectSpec(spec.attributes, spec.effects, {})  # its speaker_params draw nothing
    word_effect = {(lang, v): vary.normal(0, effect_sd_words, words_per_vowel)
                   for lang, inv in inventories.items() for v in inv} if effect_sd_words > 0 else {}
    zipf = 1 / np.arange(1, words_per_vowel + 1)
    tsd = np.asarray(token_sd, float)
    vowel_keys = [(lang, v) for lang, inv in inventories.items() for v in inv]  # (language or None, vowel)
    vowel_code = {key: j for j, key in enumerate(vowel_keys)}
    chunks, utt_chunks, utt_ids, utt_offset = [], [], [], 0
    spk_rows, survey_rows = [], []
    for k in range(n_speakers):
        sid, rid = f"S{k:03d}", f"r{k:03d}"
        lang = speaker_language[k]
        inv_key = None if languages is None else lang
        inventory = inventories[inv_key]
        attrs = {a.name: (fixed[a.name][k] if a.name in fixed else draw(a, rng)) for a in spec.attributes}
        params = spec.speaker_params(attrs, rng)
        planted = planted_only.speaker_params(attrs, rng) if effect_sd_speakers > 0 or effect_sd_words > 0 else None
        if effect_sd_speakers > 0:
            _vary_effects(params, planted, vary, effect_sd_speakers)
        nulls = {n: str(round(float(rng.uniform(0, 100)))) for n in null_attributes}
        nulls.update({n: fixed[n][k] for n in null_attributes if n in fixed})
        survey_rows.append({"speaker_id": sid, **{n: str(v) for n, v in attrs.items()}, **nulls})
        scale = params["vocal_tract"] * np.exp(rng.normal(0, vocal_tract_sd))
        protos = {v: np.array(f[:2]) * scale for v, f in inventory.items()}
        centre = np.mean(list(protos.values()), axis=0)
        c = params["centralisation"]
        rate_factor = LANGUAGE_RATE.get(lang, 1.0) if languages is not None else 1.0
        speaker_volume = float(np.exp(aux.normal(0, token_spread))) if token_spread > 0 else 1.0
        n_utts = max(3, round(utterances * speaker_volume)) if token_spread > 0 else utterances
        said = 0  # the speaker's tokens so far (one word each)
        own = aux.normal(0, speaker_vowel_sd, (len(protos), 2)) if speaker_vowel_sd > 0 else np.zeros((len(protos), 2))
        per_vowel = tokens_per_vowel if tokens_per_speaker is None else tokens_per_speaker / len(inventory)
        for (v, f), offset in zip(protos.items(), own):
            target = (f + c * (centre - f)) * np.exp(offset)
            for (vowel, formant), ratio in params["vowel_shift"].items():
                if vowel == v:
                    target[formant - 1] *= ratio
            if token_spread > 0:
                share = inventory[v][2] * len(inventory)
                n = round(per_vowel * share * speaker_volume * np.exp(aux.normal(0, token_spread)))
            else:
                n = round(per_vowel)
            if n == 0:
                continue
            z = rng.standard_normal((n, 3))  # F1 noise, F2 noise, duration: the legacy per-token draws
            weights = zipf * np.exp(aux.normal(0, 0.8, words_per_vowel))  # this speaker's use of the words
            if vocabulary is not None:  # ... which depends on an attribute: one end of the vocabulary or the other
                weights = weights * np.exp(vocabulary[1] * _score(vocabulary[0], attrs, nulls, spec)
                                           * np.linspace(-1, 1, words_per_vowel))
            words = aux.choice(words_per_vowel, size=n, p=weights / weights.sum())
            formants = target * np.exp(z[:, :2] * tsd + word_offsets[(inv_key, v)][words])
            if word_effect:  # the planted shift of this speaker (without between-speaker variation), per word
                for (vowel, formant), ratio in planted["vowel_shift"].items():
                    if vowel == v:
                        formants[:, formant - 1] *= ratio ** word_effect[(inv_key, v)][words]
            if trajectories:  # half the onset-to-offset movement of each token's F1 and F2 (Hz)
                base = np.array(GLIDES.get(v, (0.0, 0.0)), float) * scale
                if v not in GLIDES:
                    base = np.array(MONOPHTHONG_GLIDE) * np.array(inventory[v][:2]) * scale
                planted_glide = np.array([params["vowel_glide"].get((v, 1), 1.0), params["vowel_glide"].get((v, 2), 1.0)])
                extent = base * planted_glide * np.exp(glide_rng.normal(0, track_sd["speaker"], 2))
                glides = extent * np.exp(glide_rng.normal(0, track_sd["token"], (n, 2)))
            else:
                glides = np.zeros((n, 2))
            chunks.append({"speaker": np.full(n, k), "vowel": np.full(n, vowel_code[(inv_key, v)]), "word": words,
                           "g1": glides[:, 0], "g2": glides[:, 1],
                           "utterance": utt_offset + np.arange(n) % n_utts, "word_index": said + np.arange(n),
                           "duration_s": np.exp(np.log(0.08) + 0.25 * z[:, 2]) / params["speech_rate"],
                           "f1_50_hz": formants[:, 0], "f2_50_hz": formants[:, 1],
                           "duration_z": np.clip(z[:, 2], -2.9, 2.9)})
            said += n
        rate = ARTICULATION_RATE * params["speech_rate"] * rate_factor
        f0 = f0_hz * params["f0_level"] * np.exp(rng.normal(0, f0_speaker_sd))
        sd_st = F0_SD_ST * params["f0_range"]
        z = rng.standard_normal((n_utts, 4))  # rate, F0 level, F0 sd, intensity: the legacy per-utterance draws
        u_rate = rate * np.exp(noise["rate"] * z[:, 0])
        st = 12 * np.log2(f0 / 100) + noise["f0_st"] * z[:, 1]
        u_sd = sd_st * np.exp(noise["f0_sd"] * z[:, 2])
        utt_chunks.append({"speaker": np.full(n_utts, k), "utterance": utt_offset + np.arange(n_utts),
                           "articulation_rate": u_rate, "speech_rate": u_rate * 0.85, "f0_mean_st": st,
                           "f0_sd_st": u_sd, "intensity_mean_db": 70 + z[:, 3]})
        utt_ids.extend(f"{rid}-{j:06d}" for j in range(n_utts))
        utt_offset += n_utts
        spk_rows.append({"speaker_id": sid, "role": "interviewee", "n_utterances": n_utts,
                         "speech_s": UTTERANCE_S * n_utts, "n_syllables": int(u_rate.sum() * UTTERANCE_S),
                         "speech_rate": (u_rate * 0.85).mean(), "articulation_rate": u_rate.mean(),
                         "f0_median_hz": float(100 * 2 ** (np.median(st) / 12)), "f0_median_st": float(np.median(st)),
                         "f0_sd_st": u_sd.mean(), "pauses_per_minute": 10.0, "filled_pauses_per_minute": 3.0})
    speaker_ids = np.array([f"S{k:03d}" for k in range(n_speakers)], object)
    recording_ids = np.array([f"r{k:03d}" for k in range(n_speakers)], object)
    utt_ids = np.array(utt_ids, object)
    spoken = np.array(speaker_language, object)
    t = {name: np.concatenate([c[name] for c in chunks]) if chunks else np.zeros(0, int) for name in
         ("speaker", "vowel", "word", "utterance", "word_index", "duration_s", "f1_50_hz", "f2_50_hz", "duration_z",
          "g1", "g2")}
    n = len(t["speaker"])
    edge = aux.random((n, 2)) < 0.08  # at an utterance's edge: no neighbour
    context = np.where(edge, -1, aux.integers(len(CONSONANTS), size=(n, 2)))
    t.update({"previous": context[:, 0], "next": context[:, 1], "stress": (aux.random(n) < 0.45).astype(int),
              "word_probability": np.round(aux.uniform(0.6, 1.0, n), 3),
              "speaker_confidence": np.round(aux.uniform(0.85, 1.0, n), 3), "overlap": np.zeros(n, bool),
              "log_likelihood": aux.normal(-50, 5, n)})
    if unusable > 0:
        _spoil(t, aux.random(len(t["speaker"])) < unusable, aux)
    neighbours = np.array(CONSONANTS + (None,), object)  # code -1: none
    word_labels = np.array([f"{'w' if lang is None else lang}_{v}{w}" for lang, v in vowel_keys
                            for w in range(words_per_vowel)], object)
    vowels = pd.DataFrame({
        "recording_id": recording_ids[t["speaker"]], "utterance_id": utt_ids[t["utterance"]],
        "speaker_id": speaker_ids[t["speaker"]], "role": np.full(n, "interviewee", object),
        "language": spoken[t["speaker"]], "word_index": t["word_index"],
        "start": 0.3 * t["word_index"], "end": 0.3 * t["word_index"] + t["duration_s"],  # s, one word per token
        "word": word_labels[t["vowel"] * words_per_vowel + t["word"]],
        "phone": np.array([v for _, v in vowel_keys], object)[t["vowel"]],
        "previous_phone": neighbours[t["previous"]], "next_phone": neighbours[t["next"]],
        "stress": pd.array(t["stress"], dtype="Int64"), "is_filler": np.zeros(n, bool),
        **{name: t[name] for name in ("duration_s", "f1_50_hz", "f2_50_hz", "word_probability", "speaker_confidence",
                                      "overlap", "duration_z", "log_likelihood")}})
    tracks = _tracks(vowels, t["g1"], t["g2"], track_sd["point_hz"], glide_rng) if trajectories else None
    u = {name: np.concatenate([c[name] for c in utt_chunks]) for name in utt_chunks[0]}
    prosody = pd.DataFrame({
        "recording_id": recording_ids[u["speaker"]], "utterance_id": utt_ids[u["utterance"]],
        "speaker_id": speaker_ids[u["speaker"]], "role": np.full(len(u["speaker"]), "interviewee", object),
        "language": spoken[u["speaker"]], "duration_s": UTTERANCE_S,
        **{name: u[name] for name in ("articulation_rate", "speech_rate", "f0_mean_st", "f0_sd_st",
                                      "intensity_mean_db")}})
    out = {"vowels": vowels, "prosody": prosody,
           "speaker_prosody": pd.DataFrame(spk_rows), "speakers": pd.DataFrame(survey_rows)}
    if tracks is not None:
        out["tracks"] = tracks
    return out


def _tracks(vowels, g1, g2, point_hz: float, rng):
    """vowel_tracks rows of every token: a straight glide from midpoint - g to midpoint + g, plus noise."""
    import pandas as pd

    n, k = len(vowels), len(TRACK_POINTS)
    x = np.tile(2 * (np.asarray(TRACK_POINTS) / 100 - 0.5), n)  # -1 .. 1 over each vowel
    row = np.repeat(np.arange(n), k)
    out = {c: vowels[c].to_numpy()[row] for c in ("recording_id", "utterance_id", "speaker_id", "role", "language",
                                                   "phone", "word", "start", "end")}
    out["point"] = np.tile(np.asarray(TRACK_POINTS), n)
    out["f1_hz"] = vowels.f1_50_hz.to_numpy()[row] + g1[row] * x + rng.normal(0, point_hz, n * k)
    out["f2_hz"] = vowels.f2_50_hz.to_numpy()[row] + g2[row] * x + rng.normal(0, point_hz, n * k)
    out["reliable"] = np.ones(n * k, bool)
    return pd.DataFrame(out)


def _vary_effects(params: dict, planted: dict, rng, sd: float) -> None:
    """Give one speaker's planted effects (``planted``: speaker_params without between-speaker
    variation) a deviation: log effect × N(0, sd) added (``params`` changed in place)."""
    for measure in sorted(m for m in params if m not in PER_VOWEL):
        e = rng.normal(0, sd)
        if measure in ADDITIVE:
            params[measure] = float(np.clip(params[measure] + planted[measure] * e, 0.0, 0.9))
        else:
            params[measure] *= planted[measure] ** e
    for measure in PER_VOWEL:  # vowel_shift first: the draws of specs without glides are as they were
        for key in sorted(params[measure]):
            params[measure][key] *= planted[measure][key] ** rng.normal(0, sd)


def _spoil(t: dict, mask: np.ndarray, rng) -> None:
    """Make the masked tokens fail one of the profile stage's default filters each (arrays changed in place)."""
    kind = rng.integers(4, size=len(mask))
    n = len(mask)
    low_asr, low_speaker, overlap, odd = (mask & (kind == j) for j in range(4))
    t["word_probability"] = np.where(low_asr, np.round(rng.uniform(0.05, 0.45, n), 3), t["word_probability"])
    t["speaker_confidence"] = np.where(low_speaker, np.round(rng.uniform(0.3, 0.75, n), 3), t["speaker_confidence"])
    t["overlap"] = t["overlap"] | overlap
    t["duration_z"] = np.where(odd, rng.choice([-1.0, 1.0], n) * rng.uniform(3.2, 5.0, n), t["duration_z"])


# -- power designs (voli.profile.power) ------------------------------------------------------------------

WORDS_PER_VOWEL = 20  # vocabulary of each vowel in a power design's corpora (Zipf frequencies)


def design_spec(design) -> EffectSpec:
    """The EffectSpec of a power design (:class:`voli.profile.power.Design`): its attributes and
    effects, its between-speaker variation, and the sex differences it asks for."""
    v = design.variation
    spec = EffectSpec.from_dict({"attributes": design.attributes, "effects": list(design.effects),
                                 "between_speaker_sd": {m: v[m] for m in ("speech_rate", "f0_level", "f0_range",
                                                                          "vocal_tract", "centralisation")}},
                                design.source)
    if design.sex_differences:
        spec = with_sex_differences(spec, *design.sex_differences)
    return spec


def design_tables(design, n_speakers: int, seed: int) -> dict:
    """The features tables of one corpus of a power design: ``minutes`` of speech per speaker, the
    design's confounds (balanced, association, languages) and its variation."""
    v = design.variation
    return simulate_tables(
        design_spec(design), n_speakers, seed=seed, tokens_per_speaker=design.minutes * v["tokens_per_minute"],
        utterances=max(3, round(design.minutes * v["utterances_per_minute"])),
        null_attributes=(design.null_attribute,), balanced=design.balanced, association=design.association,
        languages=design.languages or ("es",), token_spread=v["token_spread"], token_sd=(v["token_f1"], v["token_f2"]),
        word_sd=v["word"], words_per_vowel=WORDS_PER_VOWEL, f0_hz=205.0 if design.sex_differences else F0_HZ,
        f0_speaker_sd=0.0, vocal_tract_sd=0.0, speaker_vowel_sd=v["speaker_vowel"],
        utterance_sd={"rate": v["utterance_rate"], "f0_st": v["utterance_f0_st"], "f0_sd": v["utterance_f0_sd"]},
        effect_sd_speakers=design.effect_sd_speakers, effect_sd_words=design.effect_sd_words,
        trajectories=any(e["measure"] == "vowel_glide" for e in design.effects) and {
            "speaker": v["glide_speaker"], "token": v["glide_token"], "point_hz": v["track_point_hz"]})
