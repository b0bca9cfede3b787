"""Power before fieldwork: how often would the profile stage find an effect, with how many speakers?

A design (YAML) says what the researcher plans and what they hope to find::

    attributes:                      # as in survey.yaml (the simulator's spec format)
      gender: {levels: [woman, man]}
      education: {levels: [primary, secondary, university], ordered: true}
    effects:                         # the planted effects whose power is estimated
      - {measure: speech_rate, attribute: education, per_unit: 0.05}     # 5 % faster per level
      - {measure: vowel_shift, attribute: education, per_unit: 0.08, vowel: u, formant: 2}  # /u/ F2 +8 % per level
    minutes: 10                      # minutes of speech per speaker (the interviewee's own)
    controls: [gender]               # adjusted for in every model (profile.controls)

Optional keys: ``languages`` (each speaker speaks one; default: Spanish), ``balanced``
(attributes drawn with equal counts per level), ``association`` (``{education: [gender, 0.5]}``:
education follows gender for half of the speakers: a confound), ``sex_differences`` (``true``,
``false`` or ``{attribute: gender, level: man}``; default true when an attribute ``gender`` or
``sex`` has a level ``man`` or ``male``: men's F0 × 0.55 and formants × 0.85), ``pilot`` (a
finished voli work directory, relative to the design file: the variation is measured there),
``variation`` (overrides of :data:`VARIATION`), ``speakers`` (sample sizes), ``simulations``
(a number, or ``auto``: the default, see below), ``null_attribute`` (the name of the attribute that
affects nothing, default ``null_score``), ``engine`` (``auto``, the default: the profile stage's
own resolution, lme4 when R has it, else statsmodels; ``statsmodels`` is faster), ``profile`` (the
profile stage's settings, as under ``profile:`` in a voli config: ``interactions``, ``word_effect``,
``context``, ``language``, ...; ``controls`` joins the design's), ``families`` (``whole``, the
default, or ``planted``, below), ``effect_sd_speakers`` and ``effect_sd_words`` (effects that vary:
each speaker's, and for a vowel shift each word's, planted effect is the design's times
1 + N(0, sd) on the log scale: 0.5 = the effect varies by about ±50 %; default 0, every speaker
and word shows the same effect).

Effects (the simulator's measures, :mod:`voli.simulate.effects`) and the models that test them:

==================  =========================================================================
speech_rate         utterance and speaker ``articulation_rate``
f0_level            utterance ``f0_mean_st``, speaker ``f0_median_st``
f0_range            utterance and speaker ``f0_sd_st``
vocal_tract         speaker ``formant_scale_hz``
centralisation      speaker ``vowel_space_area_nearey`` and ``vowel_dispersion_hz`` (smaller)
vowel_shift         the vowel's token models of that formant (Hz and normalised), per language
vowel_glide         the vowel's trajectory model of that formant (family "vowel dynamics": mgcv
                    GAMMs, :mod:`voli.profile.dynamics`), its difference smooth; the vowel must
                    be one the profile models (a diphthong of the language, or ``profile:
                    {dynamics: all}``); ``languages: [en]`` has /aɪ aʊ eɪ oʊ/
==================  =========================================================================

A design with a ``vowel_glide`` draws every token's trajectory (:data:`VARIATION`'s ``glide_speaker``,
``glide_token`` and ``track_point_hz``) and needs R with mgcv. The midpoint models of the same corpora
are fitted as usual, so the table shows both: a glide moves the trajectory, not the midpoint.

For each sample size, :func:`simulate_power` draws corpora, computes the speaker measures and
fits the models exactly as the profile stage does (:func:`voli.profile.speakers.speaker_measures`,
:func:`voli.profile.models.fit_models` with the stage's engine and ProfileConfig), and counts how
often each planted effect is found the way the report finds it: **q < 0.05** (Benjamini-Hochberg
within the model's family, over the family's primary tests, as ``fit_models`` computes ``q``) with
the planted sign (the primary test: the coefficient, or an ordinal's linear trend). With
``families: whole`` (the default) every model of each family holding a planted effect is fitted,
every attribute's (all vowels of the language and both formants for a vowel shift, all prosody
measures for a prosodic effect), so the multiple-testing burden is the report's;
``families: planted`` fits only the planted measures and vowels (several times faster, and
optimistic: fewer tests share the correction). The null attribute's tests in the same families
give the false-positive rate (per test, at q < 0.05; raw p < 0.05 beside it, labelled); its tests
are left out of the families when the planted effects' q is computed (the user's survey has no
such attribute). Raw p < 0.05 power is reported beside, labelled. Smaller sample sizes are the
first speakers of the largest corpus of each simulation (nested designs, as when fieldwork stops
early): every size is estimated without bias and the curves are smoother.

Simulations: a number (``simulations: 200``), or ``auto`` (the default): batches of
:data:`BATCH` corpora until every planted effect's power at a sample size has a Wilson 95 %
interval of half-width at most :data:`HALF_WIDTH`, at least :data:`MIN_SIMULATIONS` and at most
:data:`MAX_SIMULATIONS` per size (a size that is done drops out; the half-widths are printed).

The drawing of corpora is passed in (``simulate``): the pipeline does not import the simulator;
``voli power`` passes :func:`voli.simulate.tables.design_tables`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from voli.errors import ConfigError
from voli.workdir import Workdir, rel

# Default variation (used without ``pilot:``). Log-scale SDs unless said otherwise; assumed values of
# the order reported for conversational interview speech, not measured on a corpus: pass a pilot.
VARIATION = {
    "speech_rate": 0.10,  # between speakers: articulation rate (≈ ±0.5 syllable/s around 5.5)
    "f0_level": 0.10,  # between speakers of one gender: F0 level (≈ 1.7 semitones)
    "f0_range": 0.15,  # between speakers: F0 spread within utterances
    "vocal_tract": 0.05,  # between speakers of one gender: formant scale
    "centralisation": 0.03,  # between speakers: share of the way to the vowel-space centre (additive)
    "speaker_vowel": 0.04,  # between speakers: each vowel's F1/F2 beyond the formant scale (idiolect)
    "token_f1": 0.12, "token_f2": 0.09,  # between tokens of a vowel in one speaker (spontaneous speech)
    "word": 0.04,  # between words of one vowel: each word's own F1/F2 offset
    "utterance_rate": 0.20,  # between utterances of a speaker: articulation rate
    "utterance_f0_st": 1.5,  # between utterances of a speaker: mean F0, in semitones
    "utterance_f0_sd": 0.25,  # between utterances of a speaker: F0 spread
    "tokens_per_minute": 100.0,  # vowel tokens per minute of speech that pass the profile's filters
    "utterances_per_minute": 20.0,  # utterances (inter-pausal units) per minute of speech
    "token_spread": 0.3,  # between speakers (and speaker × vowel): token counts
    "glide_speaker": 0.15,  # between speakers: how far a vowel's formant glides (log; vowel_glide designs)
    "glide_token": 0.15,  # between tokens of a speaker: the same
    "track_point_hz": 30.0,  # measurement noise of each trajectory point (Hz)
}
BETWEEN_SPEAKER = ("speech_rate", "f0_level", "f0_range", "vocal_tract", "centralisation")  # spec between_speaker_sd
DESIGN_KEYS = ("attributes", "effects", "minutes", "controls", "languages", "balanced", "association",
               "sex_differences", "pilot", "variation", "speakers", "simulations", "null_attribute", "engine",
               "profile", "families", "effect_sd_speakers", "effect_sd_words")
SPEAKERS = (12, 24, 36)  # default sample sizes
MIN_SIMULATIONS = 50  # adaptive: at least this many corpora per size (a power near 0 or 1 is then ±0.04)
MAX_SIMULATIONS = 400  # ... and at most this many (a power of 0.5 is then ±0.049)
HALF_WIDTH = 0.05  # ... until every planted effect's Wilson 95 % interval is at most ± this
BATCH = 10  # corpora simulated between two checks of the half-widths (fixed: same seed, same numbers)
ALPHA = 0.05  # the report's threshold, on q (BH within a family); raw p beside it, labelled
FAMILIES = ("whole", "planted")
PER_VOWEL = ("vowel_shift", "vowel_glide")  # effects on one formant of one vowel
# planted measure -> [(model level, model measure, sign of the model's estimate per planted increase)]
TESTED_BY = {
    "speech_rate": [("utterance", "articulation_rate", 1), ("speaker", "articulation_rate", 1)],
    "f0_level": [("utterance", "f0_mean_st", 1), ("speaker", "f0_median_st", 1)],
    "f0_range": [("utterance", "f0_sd_st", 1), ("speaker", "f0_sd_st", 1)],
    "vocal_tract": [("speaker", "formant_scale_hz", 1)],
    "centralisation": [("speaker", "vowel_space_area_nearey", -1), ("speaker", "vowel_dispersion_hz", -1)],
}


@dataclass(frozen=True)
class Design:
    """A planned corpus and the effects hoped for (see the module docstring for the YAML)."""

    attributes: dict
    effects: tuple = ()
    minutes: float = 10.0
    controls: tuple[str, ...] = ()
    languages: tuple[str, ...] | None = None  # None: the simulator's default language
    balanced: tuple[str, ...] = ()
    association: dict = field(default_factory=dict)
    sex_differences: tuple[str, str] | None = None  # (attribute, level of men)
    variation: dict = field(default_factory=lambda: dict(VARIATION))
    speakers: tuple[int, ...] = SPEAKERS
    simulations: int | None = None  # None: adaptive (MIN_SIMULATIONS..MAX_SIMULATIONS, to HALF_WIDTH)
    null_attribute: str = "null_score"
    engine: str = "auto"  # as profile.engine: auto (lme4 when R has it), lme4, statsmodels
    profile: dict = field(default_factory=dict)  # ProfileConfig fields (controls are the design's)
    families: str = "whole"  # whole: every model of a family with a planted effect; planted: those tests only
    effect_sd_speakers: float = 0.0  # per-speaker variation of each planted effect (relative, log scale)
    effect_sd_words: float = 0.0  # per-word variation of a planted vowel shift (relative, log scale)
    pilot: Path | None = None
    source: str = "design"
    notes: tuple[str, ...] = ()  # where the variation came from

    @classmethod
    def load(cls, path) -> Design:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the power design ({err})") from err
        return cls.from_dict(data, str(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data, source: str = "design", base_dir: Path | None = None) -> Design:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a power design is a mapping with keys {', '.join(DESIGN_KEYS)}")
        unknown = [k for k in data if k not in DESIGN_KEYS]
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; a design has "
                              f"{', '.join(DESIGN_KEYS)}")
        attributes = data.get("attributes")
        if not isinstance(attributes, dict) or not attributes:
            raise ConfigError(f"{source}: 'attributes' should list the survey attributes, e.g. "
                              "attributes: {gender: {levels: [woman, man]}}")
        effects = data.get("effects") or []
        if not isinstance(effects, list) or not all(isinstance(e, dict) for e in effects):
            raise ConfigError(f"{source}: 'effects' should be a list of mappings, e.g. "
                              "- {measure: speech_rate, attribute: education, per_unit: 0.05}")
        for i, e in enumerate(effects):
            if e.get("measure") not in (*TESTED_BY, *PER_VOWEL):
                raise ConfigError(f"{source}: effects[{i}]: measure {e.get('measure')!r} is not one of "
                                  f"{', '.join((*TESTED_BY, *PER_VOWEL))}")
        minutes = _number(data.get("minutes", 10.0), "minutes", source)
        if minutes <= 0:
            raise ConfigError(f"{source}: minutes {minutes:g} should be positive (minutes of speech per speaker)")

        def names(key) -> tuple[str, ...]:
            value = data.get(key) or []
            if isinstance(value, str):
                value = [value]
            bad = [x for x in value if x not in attributes]
            if bad:
                raise ConfigError(f"{source}: {key}: {', '.join(map(repr, bad))} not among the attributes "
                                  f"({', '.join(attributes)})")
            return tuple(str(x) for x in value)

        association = data.get("association") or {}
        if not isinstance(association, dict):
            raise ConfigError(f"{source}: association should map an attribute to [driver, strength], "
                              "e.g. {education: [gender, 0.5]}")
        for target, rule in association.items():
            if not (isinstance(rule, (list, tuple)) and len(rule) == 2):
                raise ConfigError(f"{source}: association {target!r}: {rule!r} should be [driver, strength], "
                                  "e.g. [gender, 0.5]")
        variation = dict(VARIATION)
        notes: list[str] = []
        pilot = data.get("pilot")
        if pilot:
            pilot = Path(pilot)
            if not pilot.is_absolute() and base_dir is not None:
                pilot = Path(base_dir) / pilot
            measured, notes = pilot_variation(pilot, tuple(names("controls")))
            variation.update(measured)
        given = data.get("variation") or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: variation should map names to numbers, e.g. {{speech_rate: 0.12}}")
        for key, value in given.items():
            if key not in VARIATION:
                raise ConfigError(f"{source}: variation: unknown key {key!r}; use {', '.join(VARIATION)}")
            value = _number(value, f"variation.{key}", source)
            if value < 0:
                raise ConfigError(f"{source}: variation.{key} = {value:g} should not be negative")
            variation[key] = value
            notes.append(f"{key} {value:g} (design)")
        null = str(data.get("null_attribute", "null_score"))
        if null in attributes:
            raise ConfigError(f"{source}: null_attribute {null!r} is also a design attribute; name it otherwise")
        speakers = parse_speakers(data.get("speakers", SPEAKERS), source)
        simulations = data.get("simulations", "auto")
        if simulations != "auto":
            simulations = int(_number(simulations, "simulations", source))
            if simulations < 1:
                raise ConfigError(f"{source}: simulations {simulations} should be at least 1 (or auto)")
        engine = str(data.get("engine", "auto"))
        if engine not in ("auto", "lme4", "statsmodels"):
            raise ConfigError(f"{source}: engine {engine!r}; use auto (lme4 when R has it, as the profile stage), "
                              "lme4 or statsmodels")
        families = str(data.get("families", "whole"))
        if families not in FAMILIES:
            raise ConfigError(f"{source}: families {families!r}; use whole (every model of the families the report "
                              "corrects together) or planted (the planted tests only: faster, optimistic)")
        profile = data.get("profile") or {}
        if not isinstance(profile, dict):
            raise ConfigError(f"{source}: profile should map profile settings to values, e.g. {{context: true}}")
        for key in ("engine", "controls"):
            if key in profile:
                raise ConfigError(f"{source}: profile.{key}: give it as the design's own '{key}:' key")
        _profile_config(profile, (), "auto", source)  # unknown keys and bad values named now
        sd = {}
        for key in ("effect_sd_speakers", "effect_sd_words"):
            sd[key] = _number(data.get(key, 0.0), key, source)
            if sd[key] < 0:
                raise ConfigError(f"{source}: {key} = {sd[key]:g} should not be negative (0: the same effect for all)")
        languages = data.get("languages") or None
        if languages is not None:
            languages = (languages,) if isinstance(languages, str) else tuple(str(x) for x in languages)
        _check_glides(effects, profile, source)
        return cls(attributes=attributes, effects=tuple(effects), minutes=minutes, controls=names("controls"),
                   languages=languages, balanced=names("balanced"),
                   association={str(k): (str(v[0]), float(v[1])) for k, v in association.items()},
                   sex_differences=_sex_differences(data.get("sex_differences"), attributes, source),
                   variation=variation, speakers=speakers, simulations=None if simulations == "auto" else simulations,
                   null_attribute=null, engine=engine, profile=dict(profile), families=families, **sd,
                   pilot=pilot or None, source=source, notes=tuple(notes))

    def profile_config(self, engine: str):
        """The profile stage's configuration of the simulated analysis: the design's controls and profile settings."""
        return _profile_config(self.profile, self.controls, engine, self.source)

    def survey_yaml(self) -> str:
        """survey.yaml of the simulated corpora: the design's attributes (levels in order) and the null one."""
        return yaml.safe_dump({"attributes": {**self.attributes, self.null_attribute: {"range": [0, 100]}}},
                              allow_unicode=True, sort_keys=False)


def _check_glides(effects, profile: dict, source: str) -> None:
    """A planted glide's vowel is one the profile's vowel-dynamics models fit (a diphthong of a language
    file, or any vowel with ``profile: {dynamics: all}``). The simulator checks that the design's
    languages have the vowel."""
    from voli import languages as language_files

    mode = str(profile.get("dynamics", "diphthongs"))
    gliding = {v for spec in language_files.all_languages() for v, vowel in spec.vowels.items() if vowel.diphthong}
    for i, e in enumerate(effects):
        if e.get("measure") != "vowel_glide":
            continue
        vowel = str(e.get("vowel"))
        if mode == "off" or (mode == "diphthongs" and vowel not in gliding):
            raise ConfigError(f"{source}: effects[{i}]: vowel_glide on {vowel!r}, but profile.dynamics = {mode} "
                              "does not model its trajectories (diphthongs only: give profile: {dynamics: all})")


def _profile_config(profile: dict, controls: tuple[str, ...], engine: str, source: str):
    from voli.config import ProfileConfig, _build

    return _build(ProfileConfig, {**profile, "controls": list(controls), "engine": engine}, f"{source}: profile")


def _number(value, key: str, source: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} should be a number, not {value!r}") from None


def parse_speakers(value, source: str = "--speakers") -> tuple[int, ...]:
    """Sample sizes from "12,24,36" or a list; each at least 4, returned sorted."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        sizes = sorted({int(str(x).strip()) for x in items if str(x).strip()})
    except ValueError:
        raise ConfigError(f"{source}: speakers {value!r} should be whole numbers, e.g. 12,24,36") from None
    if not sizes or sizes[0] < 4:
        raise ConfigError(f"{source}: speakers {value!r}: give sample sizes of at least 4 speakers, e.g. 12,24,36")
    return tuple(sizes)


def _sex_differences(value, attributes: dict, source: str) -> tuple[str, str] | None:
    if value is False:
        return None
    if isinstance(value, dict):
        attribute, level = str(value.get("attribute", "gender")), str(value.get("level", "man"))
        if level not in [str(x) for x in (attributes.get(attribute) or {}).get("levels", [])]:
            raise ConfigError(f"{source}: sex_differences: attribute {attribute!r} has no level {level!r}; "
                              "declare it under attributes or give {attribute: ..., level: ...}")
        return attribute, level
    for attribute in ("gender", "sex"):
        levels = [str(x) for x in (attributes.get(attribute) or {}).get("levels", [])]
        for level in ("man", "male"):
            if level in levels:
                return attribute, level
    if value:
        raise ConfigError(f"{source}: sex_differences: true needs an attribute gender (or sex) with a level man "
                          "(or male); or give {attribute: ..., level: ...}")
    return None


# -- a pilot corpus -------------------------------------------------------------------------------------


def _pooled_within_sd(values, groups) -> float:
    """SD of ``values`` around their group means, pooled over groups of at least 2."""
    import pandas as pd

    d = pd.DataFrame({"x": np.asarray(values, float), "g": np.asarray(groups)}).dropna()
    g = d.groupby("g").x
    n = g.transform("size")
    d = d[n >= 2]
    if len(d) < 3:
        return float("nan")
    resid = d.x - d.groupby("g").x.transform("mean")
    dof = len(d) - d.g.nunique()
    return float(np.sqrt((resid ** 2).sum() / dof)) if dof > 0 else float("nan")


def _between_sd(means, within_var_of_mean, groups=None) -> float:
    """Between-speaker SD from speaker means: their spread (around control-group means) minus the
    sampling variance of a mean; 0 when the sampling variance explains it all."""
    import pandas as pd

    d = pd.DataFrame({"m": np.asarray(means, float), "g": 0 if groups is None else np.asarray(groups, object)}).dropna()
    if len(d) < 3:
        return float("nan")
    resid = d.m - d.groupby("g").m.transform("mean")
    dof = len(d) - d.g.nunique()
    if dof < 2:
        return float("nan")
    return float(np.sqrt(max((resid ** 2).sum() / dof - within_var_of_mean, 0.0)))


def pilot_variation(workdir: Path, controls: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """Variation measured on a finished voli work directory: ({VARIATION key: value}, notes).

    Reads the profile stage's speakers.parquet and tokens.parquet and the features stage's prosody.parquet.
    Between-speaker SDs are taken around the means of the categorical ``controls`` (e.g. within
    gender) and corrected for the sampling noise of a speaker's mean; survey effects other than the
    controls stay in them (a conservative estimate). Quantities the pilot cannot give keep their defaults.
    """
    import pandas as pd

    workdir = Path(workdir)
    layout = Workdir(workdir)
    paths = {"speakers": layout.table("profile", "speakers"),
             "tokens": layout.table("profile", "tokens"),
             "utterances": layout.table("features", "prosody")}
    for path in paths.values():
        if not path.is_file():
            raise ConfigError(f"pilot: {path} not found; `pilot:` should be a work directory where "
                              f"`voli run CORPUS --stop-stage profile` finished (it has {rel('features')}/ and "
                              f"{rel('profile')}/)")
    speakers = pd.read_parquet(paths["speakers"])
    tokens = pd.read_parquet(paths["tokens"])
    utterances = pd.read_parquet(paths["utterances"])
    utterances = utterances[utterances.speaker_id.isin(set(speakers.speaker_id))]  # the profiled speakers' own
    if speakers.speaker_id.nunique() < 3:
        raise ConfigError(f"pilot: {paths['speakers']} has {speakers.speaker_id.nunique()} speaker(s); the "
                          "variation between speakers needs at least 3 (better 10 or more)")
    groups = None
    cats = [c for c in controls if c in speakers and not pd.api.types.is_numeric_dtype(speakers[c])]
    if cats:
        groups = speakers[cats].astype(str).agg("|".join, axis=1)
        group_of = dict(zip(speakers.speaker_id, groups))
    out: dict[str, float] = {}

    def between(frame, column, transform=np.log, scale=1.0):
        x = transform(frame[column].astype(float)) * scale
        d = pd.DataFrame({"s": frame.speaker_id, "x": x}).dropna()
        stats = d.groupby("s").x.agg(["mean", "var", "size"])
        noise = float((stats["var"] / stats["size"]).mean()) if (stats["size"] > 1).any() else 0.0
        g = None if groups is None else stats.index.map(group_of)
        b = _between_sd(stats["mean"], noise if np.isfinite(noise) else 0.0, g)
        return b, _pooled_within_sd(x, frame.speaker_id)

    if "articulation_rate" in utterances:
        voiced = utterances[utterances.articulation_rate > 0]
        out["speech_rate"], out["utterance_rate"] = between(voiced, "articulation_rate")
    if "f0_mean_st" in utterances:
        b, w = between(utterances, "f0_mean_st", transform=lambda x: x)
        out["f0_level"], out["utterance_f0_st"] = b * math.log(2) / 12, w  # semitones -> log units
    if "f0_sd_st" in utterances:
        out["f0_range"], out["utterance_f0_sd"] = between(utterances[utterances.f0_sd_st > 0], "f0_sd_st")
    if "formant_scale_hz" in speakers:
        x = np.log(speakers.formant_scale_hz.astype(float))
        out["vocal_tract"] = _between_sd(x, 0.0, groups)
    if {"f1_hz", "f2_hz", "phone"} <= set(tokens):
        cell = tokens.speaker_id.astype(str) + "|" + tokens.phone.astype(str)
        out["token_f1"] = _pooled_within_sd(np.log(tokens.f1_hz.astype(float)), cell)
        out["token_f2"] = _pooled_within_sd(np.log(tokens.f2_hz.astype(float)), cell)
        if {"f1_nearey", "f2_nearey"} <= set(tokens):  # a speaker's vowel beyond their formant scale
            sds = []
            for col, token_sd in (("f1_nearey", out["token_f1"]), ("f2_nearey", out["token_f2"])):
                for _, t in tokens.groupby("phone"):
                    stats = t.groupby("speaker_id")[col].agg(["mean", "size"])
                    stats = stats[stats["size"] >= 3]
                    if len(stats) >= 5:
                        noise = token_sd ** 2 * float((1 / stats["size"]).mean())
                        sds.append(max(float(stats["mean"].var()) - noise, 0.0))
            if sds:
                out["speaker_vowel"] = float(np.sqrt(np.mean(sds)))
    if {"n_tokens", "speech_s"} <= set(speakers):
        per_min = speakers.n_tokens.astype(float) / (speakers.speech_s.astype(float) / 60)
        per_min = per_min[np.isfinite(per_min) & (per_min > 0)]
        if len(per_min) >= 3:
            out["tokens_per_minute"] = float(per_min.median())
            out["token_spread"] = float(np.log(per_min).std())
    if {"n_utterances", "speech_s"} <= set(speakers):
        per_min = speakers.n_utterances.astype(float) / (speakers.speech_s.astype(float) / 60)
        per_min = per_min[np.isfinite(per_min) & (per_min > 0)]
        if len(per_min) >= 3:
            out["utterances_per_minute"] = float(per_min.median())
    out = {k: v for k, v in out.items() if np.isfinite(v)}
    within = f" within {', '.join(cats)}" if cats else ""
    notes = [f"{k} {v:.3g} (pilot {workdir}{within if k in BETWEEN_SPEAKER else ''})" for k, v in out.items()]
    return out, notes


# -- counting ---------------------------------------------------------------------------------------------


def _sign(x: float) -> int:
    return int(np.sign(x))


def effect_label(e: dict, attributes: dict | None = None) -> str:
    """A short readable name of one planted effect, e.g. "speech_rate ~ education (+5 % per level)"."""
    what = {"vowel_shift": f"/{e.get('vowel')}/ F{int(e.get('formant', 1))}",
            "vowel_glide": f"/{e.get('vowel')}/ F{int(e.get('formant', 1))} glide"}.get(e["measure"], e["measure"])
    unit = "level" if (attributes or {}).get(e["attribute"], {}).get("levels") else "unit"
    if "per_unit" in e:
        x = float(e["per_unit"])
        size = f"{x:+g} per {unit}" if e["measure"] == "centralisation" else f"{100 * x:+.3g} % per {unit}"
    else:
        size = ", ".join(f"{lvl} {'+' if e['measure'] == 'centralisation' else '×'}{float(v):g}"
                         for lvl, v in e["levels"].items())
    return f"{what} ~ {e['attribute']} ({size})"


def _targets(design: Design, table) -> list[dict]:
    """The model rows of ``table`` (fit_models' output) that test each planted effect, with the sign expected."""
    out = []
    for e in design.effects:
        if e["measure"] == "vowel_shift":  # the vowel's token models of that formant, whatever the normalisation
            prefix = f"f{int(e.get('formant', 1))}_"
            rows = table[(table.level == "token") & (table.vowel == str(e["vowel"]))]
            where = [("token", m, 1) for m in sorted(set(rows.measure)) if m.startswith(prefix)]
        elif e["measure"] == "vowel_glide":  # the difference smooth of the vowel's trajectories: a shape, no sign
            where = [("trajectory", f"f{int(e.get('formant', 1))}_z", 0)]
        else:
            where = TESTED_BY[e["measure"]]
        if "per_unit" in e:
            contrasts = [(None, _sign(float(e["per_unit"])))]
        else:  # each level against the reference (the first declared level)
            neutral = 0.0 if e["measure"] == "centralisation" else 1.0
            value = {str(k): float(v) for k, v in e["levels"].items()}
            levels = [str(x) for x in design.attributes[e["attribute"]].get("levels", [])]
            ref = levels[0] if levels else None
            contrasts = [(f"{lvl} vs {ref}", _sign(value.get(lvl, neutral) - value.get(ref, neutral)))
                         for lvl in levels[1:] if value.get(lvl, neutral) != value.get(ref, neutral)]
        for level, measure, s in where:
            for term, sign in contrasts:
                out.append({"effect": effect_label(e, design.attributes), "attribute": e["attribute"], "level": level,
                            "measure": measure, "vowel": str(e["vowel"]) if e["measure"] in PER_VOWEL else "",
                            "term": term, "sign": sign * s})
    return out


def _primary(rows):
    """The sign-bearing headline test of an attribute in each model: an ordinal's trend, else its coefficient
    (an interaction's product terms left out: their sign is not the planted one). A sensitivity family's
    headline tests count too (fit_models' ``headline``; ``primary`` is only the report-wide ones)."""
    sign_bearing = rows.test.isin(["coefficient", "trend"]) & ~rows.term.astype(str).str.contains(" × ")
    headline = rows.headline if "headline" in rows else rows.primary
    return rows[headline.astype(bool) & sign_bearing]


def _headlines(rows):
    """The tests a finding is read from: :func:`_primary`'s, and the vowel-dynamics models' headline (a shape)."""
    headline = rows.headline if "headline" in rows else rows.primary  # as _primary reads it
    shape = (rows.level == "trajectory") & headline.astype(bool)
    return rows[rows.index.isin(_primary(rows).index) | shape]


def report_q(table, exclude: tuple[str, ...] = ()):
    """q of every row of ``table`` (fit_models' output) as the report computes it, without ``exclude``'s rows.

    Benjamini-Hochberg within each family over its headline tests: the rows fit_models gives a ``q``
    (this recomputes that column, so that the simulation's null attribute, which the user's survey
    does not have, can be left out of the effects' families; with nothing excluded it is fit_models'
    ``q``). A row that is not a primary test (a level's contrast of an ordinal), or whose family
    fit_models leaves without a q (a sensitivity check such as the normalised vowels), gets BH over
    the p of its family's tests of the same kind (``test``: coefficient, trend or joint) instead:
    the burden a reader would apply to it. Excluded rows get NaN.
    """
    import pandas as pd

    from voli.profile.models import fdr

    q = pd.Series(np.nan, index=table.index, dtype=float)
    rows = table[~table.attribute.isin(exclude)]
    for _, family in rows.groupby("family"):
        reported = (family.headline if "headline" in family else family.primary).astype(bool).copy()
        if "q" in family and not family.q[reported].notna().any():  # a family the report gives no q (a check)
            reported[:] = False
        q[family.index[reported]] = fdr(family.p[reported].to_numpy(float))
        for _, same in family[~reported].groupby("test"):
            q[same.index] = fdr(same.p.to_numpy(float))
    return q


def score(design: Design, table, n_speakers: int, simulation: int) -> list[dict]:
    """Found or not, for each planted effect's model rows and the null attribute's, in one fitted corpus.

    ``found``: q < 0.05 (:func:`report_q`) with the planted sign; ``found_p``: raw p < 0.05 with it.
    """
    rows = []
    if table is None or not len(table):
        return rows
    q_effects = report_q(table, exclude=(design.null_attribute,))
    q_all = report_q(table)  # the null attribute's own tests: q as fit_models computes it, the null's in the family
    for t in _targets(design, table):
        m = table[(table.level == t["level"]) & (table.measure == t["measure"]) & (table.vowel == t["vowel"])
                  & (table.attribute == t["attribute"])]
        if t["level"] == "trajectory":  # the difference smooth: the headline, or the level's against the reference
            m = m[m.headline.astype(bool)] if t["term"] is None else m[
                (m.test == "smooth") & (m.term == f"shape: {t['term']} (difference smooth)")]
        elif t["term"] is None:
            m = _primary(m)
        else:
            m = m[(m.test == "coefficient") & (m.term == t["term"])]
        for i, r in m.iterrows():
            p, est, q = float(r.p), float(r.estimate), float(q_effects[i])
            right = t["sign"] == 0 or _sign(est) == t["sign"]  # 0: a shape (an F test) has no sign
            rows.append({"kind": "effect", "effect": t["effect"], "family": r.family, "level": t["level"],
                         "measure": t["measure"], "language": r.language, "vowel": t["vowel"], "term": r.term,
                         "target": t["term"] or "primary",  # the term's label can differ between corpora
                         "n_speakers": n_speakers, "simulation": simulation, "estimate": est, "p": p, "q": q,
                         "fitted": bool(np.isfinite(p)), "status": str(r.get("status", "ok")),
                         "found": bool(np.isfinite(q) and q < ALPHA and right),
                         "found_p": bool(np.isfinite(p) and p < ALPHA and right)})
    null = _headlines(table[table.attribute == design.null_attribute])
    for i, r in null.iterrows():
        p, q = float(r.p), float(q_all[i])
        rows.append({"kind": "null_attribute", "effect": f"null: {design.null_attribute}", "family": r.family,
                     "level": r.level, "measure": r.measure, "language": r.language, "vowel": r.vowel, "term": r.term,
                     "n_speakers": n_speakers, "simulation": simulation, "estimate": float(r.estimate), "p": p,
                     "q": q, "fitted": bool(np.isfinite(p)), "status": str(r.get("status", "ok")),
                     "found": bool(np.isfinite(q) and q < ALPHA), "found_p": bool(np.isfinite(p) and p < ALPHA)})
    return rows


def needed_measures(design: Design, speaker_columns=()) -> tuple[set[str], set[str] | None]:
    """(measures to fit, vowels whose token models are fitted; None: all) for the design's effects.

    ``families: whole``: every measure of each family that holds a planted test (the report's
    multiple-testing burden), all vowels; ``planted``: the planted measures and vowels only.
    ``speaker_columns``: the speaker table's columns (its Pillai scores belong to the speaker measures).
    """
    from voli.profile.specs import SPEAKER_MEASURES, UTTERANCE_MEASURES, VOWEL_MEASURES

    measures, vowels = set(), set()
    for e in design.effects:
        if e["measure"] == "vowel_shift":
            k = int(e.get("formant", 1))
            measures |= {m for ms in VOWEL_MEASURES.values() for m in ms if m.startswith(f"f{k}_")}
            vowels.add(str(e["vowel"]))
        elif e["measure"] == "vowel_glide":  # fit_models' vowel-dynamics family
            measures.add("trajectories")
            vowels.add(str(e["vowel"]))
        else:
            measures |= {m for _, m, _ in TESTED_BY[e["measure"]]}
    if not measures:  # no planted effect: the null attribute's false positives in the main measures
        measures = {"articulation_rate", "f0_mean_st"}
    if design.families == "planted":
        return measures, vowels
    whole = set()
    for family in (UTTERANCE_MEASURES, (*SPEAKER_MEASURES, *(c for c in speaker_columns if c.startswith("pillai_"))),
                   *VOWEL_MEASURES.values()):
        if measures & set(family):
            whole |= set(family)
    return whole | (measures & {"trajectories"}), None


@contextmanager
def _quiet():
    """voli's warnings (models that fell back, few tokens) are counted, not printed, while simulating."""
    log = logging.getLogger("voli")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def one_simulation(design: Design, simulate: Callable, sizes: tuple[int, ...], seed: int, simulation: int,
                   survey_dir: Path, engine: str = "statsmodels", draw: int | None = None) -> tuple[list[dict], int]:
    """Draw one corpus of ``draw`` (default max(sizes)) speakers; fit the profile's models on its first n
    speakers for each n in ``sizes``, with the design's ProfileConfig and ``engine`` (resolved).

    Returns (score rows, problems reported by the models).
    """
    from voli import problems
    from voli.profile.models import fit_models
    from voli.profile.speakers import speaker_measures
    from voli.io.survey import attribute_types, survey_table

    config = design.profile_config(engine)
    child = int(np.random.SeedSequence([seed, simulation]).generate_state(1)[0])
    tables = simulate(design, draw or max(sizes), child)
    rows, n_problems = [], 0
    with problems.collecting("power") as found:
        speakers, tokens = speaker_measures(tables["vowels"], tables["speaker_prosody"], config)
        measures, vowels = needed_measures(design, tuple(speakers.columns))
        attributes = None  # whole families: every attribute's models, as the report has them
        every_token = tokens  # the dynamics models' Lobanov scale: all of a speaker's vowels, as the profile's
        if design.families == "planted":
            tokens = tokens[tokens.phone.isin(vowels)]  # other vowels' models test nothing planted
            attributes = {e["attribute"] for e in design.effects} | {design.null_attribute}
        types = attribute_types(survey_dir, tables["speakers"])
        survey = survey_table(survey_dir, tables["speakers"], types)
        order = list(tables["speakers"].speaker_id)
        utterances_all = tables["prosody"][tables["prosody"].role.isin(config.roles)]
        tracks = tables.get("tracks")
        if tracks is not None and design.families == "planted":
            tracks = tracks[tracks.phone.isin(vowels)]  # the planted glides' trajectory models only
        for n in sizes:
            keep = set(order[:n])
            table = fit_models(tokens[tokens.speaker_id.isin(keep)], utterances_all[utterances_all.speaker_id.isin(keep)],
                               speakers[speakers.speaker_id.isin(keep)], survey[survey.speaker_id.isin(keep)], types,
                               config, measures=measures, engine=engine, attributes=attributes,
                               tracks=None if tracks is None else tracks[tracks.speaker_id.isin(keep)],
                               dynamics_tokens=every_token[every_token.speaker_id.isin(keep)])
            rows += score(design, table, n, simulation)
        n_problems = len(found)
    return rows, n_problems


def _run_chunk(args) -> tuple[list[dict], int]:
    design, simulate, sizes, seed, simulations, survey_dir, engine, draw = args
    rows, n_problems = [], 0
    with _quiet():
        for i in simulations:
            r, k = one_simulation(design, simulate, sizes, seed, i, survey_dir, engine, draw)
            rows += r
            n_problems += k
    return rows, n_problems


def half_widths(rows, runs: dict[int, int]) -> dict[int, float]:
    """The widest Wilson 95 % half-width of the planted effects' power at each sample size (``runs``: corpora per size)."""
    import pandas as pd

    out = {n: 0.0 for n in runs}
    frame = pd.DataFrame(rows)
    if not len(frame):
        return out
    effects = frame[frame.kind == "effect"]
    for key, g in effects.groupby(["effect", "level", "measure", "language", "vowel", "target", "n_speakers"],
                                  dropna=False):
        n = key[-1]
        lo, hi = wilson(int(g.found.sum()), runs[n])
        out[n] = max(out[n], (hi - lo) / 2)
    return out


def simulate_power(design: Design, simulate: Callable, *, speakers: tuple[int, ...] | None = None,
                   simulations: int | None = None, seed: int = 0, engine: str | None = None, jobs: int = 1,
                   progress: Callable[[int, int], None] | None = None):
    """Every simulation's outcome for every planted effect and the null attribute (a DataFrame).

    ``simulate(design, n_speakers, seed)`` draws the features tables of one corpus (a dict with
    vowels, prosody, speaker_prosody, speakers). ``simulations``: a number per size, else the
    design's, else adaptive (:data:`MIN_SIMULATIONS`..:data:`MAX_SIMULATIONS` until :data:`HALF_WIDTH`).
    ``engine``: None takes the design's, resolved as the profile stage resolves it
    (:func:`voli.profile.engines.resolve_engine`). ``jobs`` > 1 spreads the simulations over processes.
    ``attrs``: runtime_s, problems (warnings the model fits reported), engine (the one that ran),
    simulations (the most per size), runs ({size: corpora}), half_width ({size: widest half-width}),
    adaptive, families.
    """
    import tempfile

    import pandas as pd

    from voli.profile.engines import resolve_engine

    sizes = tuple(sorted(speakers or design.speakers))
    fixed = simulations if simulations is not None else design.simulations
    if fixed is not None and int(fixed) < 1:
        raise ConfigError(f"simulations {fixed} should be at least 1")
    engine = resolve_engine(engine or design.engine)
    start = time.perf_counter()
    rows, n_problems = [], 0
    runs = {n: 0 for n in sizes}
    active, done_runs = list(sizes), 0
    limit = int(fixed) if fixed is not None else MAX_SIMULATIONS
    pool = None
    with tempfile.TemporaryDirectory(prefix="voli-power-") as tmp:
        survey_dir = Path(tmp)
        (survey_dir / "survey.yaml").write_text(design.survey_yaml(), encoding="utf-8")
        if jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(max_workers=jobs)
        try:
            while active and done_runs < limit:
                batch = list(range(done_runs, min(done_runs + BATCH, limit)))
                work = [(design, simulate, tuple(active), seed, c, survey_dir, engine, max(sizes))
                        for c in ([batch[j::jobs] for j in range(jobs)] if pool else [[i] for i in batch]) if c]
                for j, (r, k) in enumerate(pool.map(_run_chunk, work) if pool else map(_run_chunk, work)):
                    rows += r
                    n_problems += k
                    if not pool and progress and j + 1 < len(batch):
                        progress(done_runs + j + 1, limit)
                done_runs += len(batch)
                for n in active:
                    runs[n] += len(batch)
                if progress:
                    progress(done_runs, limit)
                if fixed is None and done_runs >= MIN_SIMULATIONS:  # adaptive: sizes whose intervals are narrow stop
                    widths = half_widths(rows, runs)
                    active = [n for n in active if widths[n] > HALF_WIDTH]
        finally:
            if pool:
                pool.shutdown()
    out = pd.DataFrame(rows)
    out.attrs.update(runtime_s=time.perf_counter() - start, problems=n_problems, engine=engine,
                     simulations=max(runs.values()), runs=runs, half_width=half_widths(rows, runs),
                     adaptive=fixed is None, families=design.families, sizes=sizes)
    return out


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (95 % by default)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def summarise(outcomes):
    """Power (or false-positive rate) per effect, model and sample size, with Wilson 95 % CIs.

    Planted effects: one row per model; ``power`` counts q < 0.05 (BH within the family) with the
    planted sign, ``power_p`` raw p < 0.05 with it. A simulation whose model could not be fitted
    counts as not found (``failed`` says how many). The null attribute: one row per family,
    ``power`` is the share of its tests there at q < 0.05 (per test; ``tests`` of them; the tests
    of one corpus are not independent, so its interval is a rough one), ``power_p`` at raw
    p < 0.05 (nominal 0.05), ``any_found`` the share of corpora with at least one at q < 0.05.
    ``warnings``: fits whose status was not "ok" (boundary, convergence: see fit_models' status).
    """
    import pandas as pd

    columns = ["kind", "effect", "model", "n_speakers", "simulations", "tests", "found", "power", "ci_low", "ci_high",
               "half_width", "power_p", "any_found", "failed", "warnings", "median_estimate"]
    if not len(outcomes):
        return pd.DataFrame(columns=columns)
    runs = outcomes.attrs.get("runs") or outcomes.groupby("n_speakers").simulation.nunique().to_dict()
    rows = []
    effects = outcomes[outcomes.kind == "effect"]
    keys = ["kind", "effect", "level", "measure", "language", "vowel", "target", "n_speakers"]
    for key, g in effects.groupby(keys, sort=False, dropna=False):
        rec = dict(zip(keys, key))
        n = int(runs[rec["n_speakers"]])
        k = int(g.found.sum())
        lo, hi = wilson(k, n)
        model = " ".join(x for x in (rec["level"], rec["measure"], f"/{rec['vowel']}/" if rec["vowel"] else "",
                                     rec["language"] or "") if x)
        rows.append({**rec, "model": model, "simulations": n, "tests": len(g), "found": k, "power": k / n,
                     "ci_low": lo, "ci_high": hi, "half_width": (hi - lo) / 2, "power_p": int(g.found_p.sum()) / n,
                     "any_found": np.nan, "failed": n - int(g.fitted.sum()), "warnings": int((g.status != "ok").sum()),
                     "median_estimate": float(g.estimate.median())})
    null = outcomes[outcomes.kind == "null_attribute"]
    for (effect, family, size), g in null.groupby(["effect", "family", "n_speakers"], sort=False):
        n, k = len(g), int(g.found.sum())
        lo, hi = wilson(k, n)
        rows.append({"kind": "null_attribute", "effect": effect, "model": family, "n_speakers": size,
                     "simulations": int(runs[size]), "tests": n, "found": k, "power": k / n, "ci_low": lo,
                     "ci_high": hi, "half_width": (hi - lo) / 2, "power_p": float(g.found_p.mean()),
                     "any_found": float(g.groupby("simulation").found.any().sum() / runs[size]),
                     "failed": n - int(g.fitted.sum()), "warnings": int((g.status != "ok").sum()),
                     "median_estimate": float(g.estimate.median())})
    table = pd.DataFrame(rows)
    table = table[[c for c in table.columns if c not in columns] + columns]
    return table.sort_values(["kind", "effect", "model", "n_speakers"], kind="stable").reset_index(drop=True)


def format_summary(summary) -> str:
    """The power table and the null attribute's false-positive rates, as text."""
    lines = []
    for kind, title, what, count in (
            ("effect", "planted effects: power (q < 0.05, BH within the model's family as the report; planted sign; "
             "raw p < 0.05 beside)", "power", "sims"),
            ("null_attribute", "null attribute: false-positive rate per test (q < 0.05; raw p < 0.05 beside, nominal "
             "0.05; any: corpora with at least one)", "FPR", "tests")):
        part = summary[summary.kind == kind]
        if not len(part):
            continue
        lines.append(title)
        width = max(len(x) for x in part.effect)
        mwidth = max(len(x) for x in part.model)
        extra = "   any" if kind == "null_attribute" else "  failed"
        lines.append(f"  {'effect':{width}s}  {'model':{mwidth}s}  {'n':>4s}  {what:>5s}  95 % CI       "
                     f"p<.05  {count:>5s}{extra}")
        for _, r in part.iterrows():
            tail = f"  {r.any_found:4.2f}" if kind == "null_attribute" else f"  {r.failed:6d}"
            n = r.tests if kind == "null_attribute" else r.simulations
            lines.append(f"  {r.effect:{width}s}  {r.model:{mwidth}s}  {r.n_speakers:4d}  {r.power:5.2f}  "
                         f"[{r.ci_low:.2f}, {r.ci_high:.2f}]  {r.power_p:5.2f}  {n:5d}{tail}")
    return "\n".join(lines)


def write_power(summary, out: Path) -> tuple[Path, Path]:
    """power.csv and power.png (power against speakers, 95 % CIs, the 0.8 line) in ``out``."""
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "power.csv"
    tmp = csv.with_suffix(".csv.tmp")
    summary.to_csv(tmp, index=False)
    tmp.replace(csv)
    fig = Figure(figsize=(8, 5.5))
    ax = fig.add_subplot(111)
    lines = list(summary.groupby(["kind", "effect", "model"], sort=False))
    sizes = sorted(summary.n_speakers.unique())
    step = 0.012 * (sizes[-1] - sizes[0] or sizes[0])  # curves side by side, so equal ones stay visible
    for i, ((kind, effect, model), g) in enumerate(lines):
        g = g.sort_values("n_speakers")
        err = np.clip(np.vstack([g.power - g.ci_low, g.ci_high - g.power]), 0, None)
        style = {"color": "0.6", "linestyle": ":", "marker": "."} if kind == "null_attribute" else {"marker": "o"}
        ax.errorbar(g.n_speakers + (i - (len(lines) - 1) / 2) * step, g.power, yerr=err, capsize=3,
                    label=f"{effect} | {model}", **style)
    ax.axhline(0.8, color="k", linestyle="--", linewidth=1)
    ax.axhline(ALPHA, color="0.6", linestyle="--", linewidth=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(sorted(summary.n_speakers.unique()))
    ax.set_xlabel("speakers")
    ax.set_ylabel("power (null: false-positive rate)")
    runs = sorted(set(summary.simulations)) if len(summary) else [0]
    runs = f"{runs[0]}" if len(runs) == 1 else f"{runs[0]}-{runs[-1]}"
    ax.set_title(f"voli power: {runs} simulated corpora per size; q < 0.05 (BH within family); dashed: 0.8 and 0.05",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.14), ncol=1, frameon=False)
    fig.subplots_adjust(bottom=0.12 + 0.035 * summary.groupby(["effect", "model"]).ngroups)
    fig.set_figheight(5.5 + 0.25 * summary.groupby(["effect", "model"]).ngroups)
    png = out / "power.png"
    tmp = png.with_suffix(".png.tmp")
    fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    tmp.replace(png)
    return csv, png


def with_speakers(design: Design, speakers=None, simulations=None, families=None) -> Design:
    """The design with the command line's sample sizes, simulations (a number or "auto") and families, when given."""
    changes = {}
    if speakers:
        changes["speakers"] = parse_speakers(speakers)
    if simulations == "auto":
        changes["simulations"] = None
    elif simulations is not None:
        try:
            simulations = int(simulations)
        except ValueError:
            raise ConfigError(f"--simulations {simulations!r}: a number of corpora per size, or auto") from None
        if simulations < 1:
            raise ConfigError(f"--simulations {simulations} should be at least 1 (or auto)")
        changes["simulations"] = simulations
    if families is not None:
        if families not in FAMILIES:
            raise ConfigError(f"--families {families!r}; use {' or '.join(FAMILIES)}")
        changes["families"] = families
    return replace(design, **changes)
