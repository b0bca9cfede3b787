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
``variation`` (overrides of :data:`VARIATION`), ``speakers`` (sample sizes), ``simulations``,
``null_attribute`` (the name of the attribute that affects nothing, default ``null_score``).

Effects (the simulator's measures, :mod:`voli.simulate.effects`) and the models that test them:

==================  =========================================================================
speech_rate         utterance and speaker ``articulation_rate``
f0_level            utterance ``f0_mean_st``, speaker ``f0_median_st``
f0_range            utterance and speaker ``f0_sd_st``
vocal_tract         speaker ``formant_scale_hz``
centralisation      speaker ``vowel_space_area_nearey`` and ``vowel_dispersion_hz`` (smaller)
vowel_shift         the vowel's token models of that formant (Hz and normalised), per language
==================  =========================================================================

For each sample size, :func:`simulate_power` draws corpora, computes the speaker measures and
fits the models exactly as the profile stage does (:func:`voli.profile.speakers.speaker_measures`,
:func:`voli.profile.models.fit_models`), and counts how often each planted effect is found
(p < 0.05 with the planted sign: the primary test, i.e. the coefficient, or an ordinal's linear
trend) and how often the null attribute is "found" in any of the same models (the false-positive
rate). Smaller sample sizes are the first speakers of the largest corpus of each simulation
(nested designs, as when fieldwork stops early): every size is estimated without bias and the
curves are smoother. The per-vowel models are fitted only for the vowels with a planted shift.

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
}
BETWEEN_SPEAKER = ("speech_rate", "f0_level", "f0_range", "vocal_tract", "centralisation")  # spec between_speaker_sd
DESIGN_KEYS = ("attributes", "effects", "minutes", "controls", "languages", "balanced", "association",
               "sex_differences", "pilot", "variation", "speakers", "simulations", "null_attribute")
SPEAKERS = (12, 24, 36)  # default sample sizes
SIMULATIONS = 20  # default per size: ~1 min for 3 sizes (12-36 speakers, 10 min each), two effects, one core
ALPHA = 0.05
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
    simulations: int = SIMULATIONS
    null_attribute: str = "null_score"
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
            if e.get("measure") not in (*TESTED_BY, "vowel_shift"):
                raise ConfigError(f"{source}: effects[{i}]: measure {e.get('measure')!r} is not one of "
                                  f"{', '.join((*TESTED_BY, 'vowel_shift'))}")
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
        simulations = int(_number(data.get("simulations", SIMULATIONS), "simulations", source))
        if simulations < 1:
            raise ConfigError(f"{source}: simulations {simulations} should be at least 1")
        languages = data.get("languages") or None
        if languages is not None:
            languages = (languages,) if isinstance(languages, str) else tuple(str(x) for x in languages)
        return cls(attributes=attributes, effects=tuple(effects), minutes=minutes, controls=names("controls"),
                   languages=languages, balanced=names("balanced"),
                   association={str(k): (str(v[0]), float(v[1])) for k, v in association.items()},
                   sex_differences=_sex_differences(data.get("sex_differences"), attributes, source),
                   variation=variation, speakers=speakers, simulations=simulations, null_attribute=null,
                   pilot=pilot or None, source=source, notes=tuple(notes))

    def survey_yaml(self) -> str:
        """survey.yaml of the simulated corpora: the design's attributes (levels in order) and the null one."""
        return yaml.safe_dump({"attributes": {**self.attributes, self.null_attribute: {"range": [0, 100]}}},
                              allow_unicode=True, sort_keys=False)


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

    Reads 04_profile/speakers.parquet and tokens.parquet and 03_features/prosody.parquet.
    Between-speaker SDs are taken around the means of the categorical ``controls`` (e.g. within
    gender) and corrected for the sampling noise of a speaker's mean; survey effects other than the
    controls stay in them (a conservative estimate). Quantities the pilot cannot give keep their defaults.
    """
    import pandas as pd

    workdir = Path(workdir)
    paths = {"speakers": workdir / "04_profile" / "speakers.parquet",
             "tokens": workdir / "04_profile" / "tokens.parquet",
             "utterances": workdir / "03_features" / "prosody.parquet"}
    for path in paths.values():
        if not path.is_file():
            raise ConfigError(f"pilot: {path} not found; `pilot:` should be a work directory where "
                              f"`voli run CORPUS --stop-stage profile` finished (it has 03_features/ and 04_profile/)")
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
    what = e["measure"] if e["measure"] != "vowel_shift" else f"/{e.get('vowel')}/ F{int(e.get('formant', 1))}"
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
                            "measure": measure, "vowel": str(e["vowel"]) if e["measure"] == "vowel_shift" else "",
                            "term": term, "sign": sign * s})
    return out


def _primary(rows):
    """The primary sign-bearing test of an attribute in one model: an ordinal's trend, else its coefficient."""
    rows = rows[rows.primary.astype(bool) & rows.test.isin(["coefficient", "trend"])]
    return rows


def score(design: Design, table, n_speakers: int, simulation: int) -> list[dict]:
    """Found or not, for each planted effect's model rows and the null attribute's, in one fitted corpus."""
    rows = []
    if table is None or not len(table):
        return rows
    for t in _targets(design, table):
        m = table[(table.level == t["level"]) & (table.measure == t["measure"]) & (table.vowel == t["vowel"])
                  & (table.attribute == t["attribute"])]
        if t["term"] is None:
            m = _primary(m)
        else:
            m = m[(m.test == "coefficient") & (m.term == t["term"])]
        for _, r in m.iterrows():
            p, est = float(r.p), float(r.estimate)
            rows.append({"kind": "effect", "effect": t["effect"], "level": t["level"], "measure": t["measure"],
                         "language": r.language, "vowel": t["vowel"], "term": r.term, "n_speakers": n_speakers,
                         "simulation": simulation, "estimate": est, "p": p, "fitted": bool(np.isfinite(p)),
                         "status": str(r.get("status", "ok")),
                         "found": bool(np.isfinite(p) and p < ALPHA and _sign(est) == t["sign"])})
    null = _primary(table[table.attribute == design.null_attribute])
    for _, r in null.iterrows():
        p = float(r.p)
        rows.append({"kind": "null_attribute", "effect": f"null: {design.null_attribute}", "level": r.level,
                     "measure": r.measure,
                     "language": r.language, "vowel": r.vowel, "term": r.term, "n_speakers": n_speakers,
                     "simulation": simulation, "estimate": float(r.estimate), "p": p, "fitted": bool(np.isfinite(p)),
                     "status": str(r.get("status", "ok")), "found": bool(np.isfinite(p) and p < ALPHA)})
    return rows


def needed_measures(design: Design) -> tuple[set[str], set[str]]:
    """(measures to fit, vowels whose token models are needed) for the design's effects."""
    from voli.profile.models import VOWEL_MEASURES

    measures, vowels = set(), set()
    for e in design.effects:
        if e["measure"] == "vowel_shift":
            k = int(e.get("formant", 1))
            measures |= {m for ms in VOWEL_MEASURES.values() for m in ms if m.startswith(f"f{k}_")}
            vowels.add(str(e["vowel"]))
        else:
            measures |= {m for _, m, _ in TESTED_BY[e["measure"]]}
    if not measures:  # no planted effect: the null attribute's false positives in the main measures
        measures = {"articulation_rate", "f0_mean_st"}
    return measures, vowels


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
                   survey_dir: Path, engine: str = "statsmodels") -> tuple[list[dict], int]:
    """Draw one corpus of max(sizes) speakers; fit the profile's models on its first n speakers for each n.

    Returns (score rows, problems reported by the models).
    """
    from voli import problems
    from voli.config import ProfileConfig
    from voli.profile.models import fit_models
    from voli.profile.speakers import speaker_measures
    from voli.profile.survey import attribute_types, survey_table

    config = ProfileConfig(controls=design.controls, engine=engine)
    measures, vowels = needed_measures(design)
    child = int(np.random.SeedSequence([seed, simulation]).generate_state(1)[0])
    tables = simulate(design, max(sizes), child)
    rows, n_problems = [], 0
    with problems.collecting("power") as found:
        speakers, tokens = speaker_measures(tables["vowels"], tables["speaker_prosody"], config)
        tokens = tokens[tokens.phone.isin(vowels)]  # other vowels' models test nothing planted
        types = attribute_types(survey_dir, tables["speakers"])
        survey = survey_table(survey_dir, tables["speakers"], types)
        order = list(tables["speakers"].speaker_id)
        for n in sizes:
            keep = set(order[:n])
            utterances = tables["prosody"][tables["prosody"].speaker_id.isin(keep)]
            table = fit_models(tokens[tokens.speaker_id.isin(keep)], utterances, speakers[speakers.speaker_id.isin(keep)],
                               survey[survey.speaker_id.isin(keep)], types, config, measures=measures, engine=engine,
                               attributes={e["attribute"] for e in design.effects} | {design.null_attribute})
            rows += score(design, table, n, simulation)
        n_problems = len(found)
    return rows, n_problems


def _run_chunk(args) -> tuple[list[dict], int]:
    design, simulate, sizes, seed, simulations, survey_dir, engine = args
    rows, n_problems = [], 0
    with _quiet():
        for i in simulations:
            r, k = one_simulation(design, simulate, sizes, seed, i, survey_dir, engine)
            rows += r
            n_problems += k
    return rows, n_problems


def simulate_power(design: Design, simulate: Callable, *, speakers: tuple[int, ...] | None = None,
                   simulations: int | None = None, seed: int = 0, engine: str = "statsmodels", jobs: int = 1,
                   progress: Callable[[int, int], None] | None = None):
    """Every simulation's outcome for every planted effect and the null attribute (a DataFrame).

    ``simulate(design, n_speakers, seed)`` draws the features tables of one corpus (a dict with
    vowels, prosody, speaker_prosody, speakers). ``jobs`` > 1 spreads the simulations over processes.
    ``attrs``: runtime_s, problems (warnings the model fits reported), engine.
    """
    import tempfile

    import pandas as pd

    sizes = tuple(sorted(speakers or design.speakers))
    runs = int(simulations or design.simulations)
    if runs < 1:
        raise ConfigError(f"simulations {runs} should be at least 1")
    start = time.perf_counter()
    rows, n_problems = [], 0
    with tempfile.TemporaryDirectory(prefix="voli-power-") as tmp:
        survey_dir = Path(tmp)
        (survey_dir / "survey.yaml").write_text(design.survey_yaml(), encoding="utf-8")
        if jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            chunks = [list(range(runs))[j::jobs] for j in range(jobs)]
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                work = [(design, simulate, sizes, seed, c, survey_dir, engine) for c in chunks if c]
                for done, (r, k) in enumerate(pool.map(_run_chunk, work), 1):
                    rows += r
                    n_problems += k
                    if progress:
                        progress(min(done * len(chunks[0]), runs), runs)
        else:
            for i in range(runs):
                r, k = _run_chunk((design, simulate, sizes, seed, [i], survey_dir, engine))
                rows += r
                n_problems += k
                if progress:
                    progress(i + 1, runs)
    out = pd.DataFrame(rows)
    out.attrs.update(runtime_s=time.perf_counter() - start, problems=n_problems, engine=engine, simulations=runs,
                     sizes=sizes)
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

    A simulation whose model could not be fitted counts as not found (``failed`` says how many);
    ``warnings``: fits whose status was not "ok" (boundary, convergence: see fit_models' status).
    """
    import pandas as pd

    if not len(outcomes):
        return pd.DataFrame(columns=["kind", "effect", "model", "n_speakers", "simulations", "found", "power",
                                     "ci_low", "ci_high", "failed", "warnings", "median_estimate"])
    runs = outcomes.attrs.get("simulations") or int(outcomes.simulation.nunique())
    keys = ["kind", "effect", "level", "measure", "language", "vowel", "term", "n_speakers"]
    rows = []
    for key, g in outcomes.groupby(keys, sort=False, dropna=False):
        rec = dict(zip(keys, key))
        k = int(g.found.sum())
        lo, hi = wilson(k, runs)
        model = " ".join(x for x in (rec["level"], rec["measure"], f"/{rec['vowel']}/" if rec["vowel"] else "",
                                     rec["language"] or "") if x)
        rows.append({**rec, "model": model, "simulations": runs, "found": k, "power": k / runs, "ci_low": lo,
                     "ci_high": hi, "failed": runs - int(g.fitted.sum()),
                     "warnings": int((g.status != "ok").sum()), "median_estimate": float(g.estimate.median())})
    table = pd.DataFrame(rows)
    return table.sort_values(["kind", "effect", "model", "n_speakers"], kind="stable").reset_index(drop=True)


def format_summary(summary) -> str:
    """The power table and the null attribute's false-positive rates, as text."""
    lines = []
    for kind, title, what in (("effect", "planted effects: power (p < 0.05, planted sign)", "power"),
                              ("null_attribute", "null attribute: false-positive rate (p < 0.05, nominal 0.05)",
                               "FPR")):
        part = summary[summary.kind == kind]
        if not len(part):
            continue
        lines.append(title)
        width = max(len(x) for x in part.effect)
        mwidth = max(len(x) for x in part.model)
        lines.append(f"  {'effect':{width}s}  {'model':{mwidth}s}  {'n':>4s}  {what:>5s}  95 % CI        failed")
        for _, r in part.iterrows():
            lines.append(f"  {r.effect:{width}s}  {r.model:{mwidth}s}  {r.n_speakers:4d}  {r.power:5.2f}  "
                         f"[{r.ci_low:.2f}, {r.ci_high:.2f}]  {r.failed:6d}")
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
    runs = int(summary.simulations.max()) if len(summary) else 0
    ax.set_title(f"voli power: {runs} simulated corpora per size; dashed: 0.8 and 0.05")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.14), ncol=1, frameon=False)
    fig.subplots_adjust(bottom=0.12 + 0.035 * summary.groupby(["effect", "model"]).ngroups)
    fig.set_figheight(5.5 + 0.25 * summary.groupby(["effect", "model"]).ngroups)
    png = out / "power.png"
    tmp = png.with_suffix(".png.tmp")
    fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    tmp.replace(png)
    return csv, png


def with_speakers(design: Design, speakers=None, simulations=None) -> Design:
    """The design with the command line's sample sizes and simulations, when given."""
    changes = {}
    if speakers:
        changes["speakers"] = parse_speakers(speakers)
    if simulations is not None:
        if simulations < 1:
            raise ConfigError(f"--simulations {simulations} should be at least 1")
        changes["simulations"] = int(simulations)
    return replace(design, **changes)
