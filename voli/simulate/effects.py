"""Planted effects: survey attributes -> how each simulated speaker speaks.

A spec (YAML) lists attributes to sample for each interviewee and effects
that map an attribute to a shift in one speech measure, plus between-speaker
noise so that each effect is statistical, not deterministic::

    attributes:
      gender: {levels: [woman, man]}
      education: {levels: [primary, secondary, bachelor, master], ordered: true}
      age: {range: [20, 60]}
    effects:
      - {measure: speech_rate, attribute: education, per_unit: 0.05}
      - {measure: vocal_tract, attribute: gender, levels: {man: 0.88}}
      - {measure: centralisation, attribute: age, per_unit: 0.005}
    between_speaker_sd: {speech_rate: 0.03}

Measures (baseline in brackets):

* ``speech_rate`` [1]: multiplier of the voice's own speaking rate;
* ``f0_level`` [1]: multiplier of F0;
* ``f0_range`` [1]: multiplier of F0 excursions in log frequency;
* ``vocal_tract`` [1]: one ratio for all formants (Praat's "Change gender"):
  vowel normalisation should remove it;
* ``centralisation`` [0]: each vowel token's F1 and F2 move this fraction of
  the way toward the speaker's vowel-space centre: survives normalisation;
* ``vowel_shift`` [1]: multiplier of one formant of one vowel (``vowel``,
  ``formant``: 1 or 2), e.g. F1 of /e/ toward /ɛ/;
* ``vowel_glide`` [1]: how far one formant of one vowel (``vowel``, ``formant``: 1
  or 2) moves over the token: its track F(t) becomes F_mid + factor × (F(t) − F_mid),
  F_mid its value at the token's midpoint, which stays where it was; e.g.
  ``{measure: vowel_glide, attribute: group, levels: {b: 1.2}, vowel: aɪ, formant: 2}``:
  group b's /aɪ/ glides 20 % further in F2. Meant for the language files' diphthongs
  (``diphthong=True``).

An effect with ``levels`` multiplies (adds, for centralisation) the value of
a category; one with ``per_unit`` applies ``per_unit × (x − reference)``
where x is the number, or the rank of an ordered level, and the reference is
the lowest level or the range's lower end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from voli.errors import ConfigError
from voli.io.survey import AttributeType, parse_attributes

MEASURES = ("speech_rate", "f0_level", "f0_range", "vocal_tract", "centralisation", "vowel_shift", "vowel_glide")
ADDITIVE = {"centralisation"}
PER_VOWEL = ("vowel_shift", "vowel_glide")  # measures of one formant of one vowel: {(vowel, formant): factor}


def draw(attr: AttributeType, rng: np.random.Generator):
    """One simulated speaker's value: a level at random, or a whole number in the range."""
    if attr.levels:
        return attr.levels[int(rng.integers(len(attr.levels)))]
    lo, hi = attr.range
    return round(float(rng.uniform(lo, hi)))


@dataclass(frozen=True)
class Effect:
    measure: str
    attribute: str
    levels: dict = field(default_factory=dict)  # level -> multiplier (or addend)
    per_unit: float | None = None
    vowel: str | None = None  # vowel_shift and vowel_glide only
    formant: int = 1  # vowel_shift and vowel_glide only


@dataclass(frozen=True)
class EffectSpec:
    attributes: tuple[AttributeType, ...]
    effects: tuple[Effect, ...]
    between_speaker_sd: dict

    @classmethod
    def from_dict(cls, data: dict, source: str = "spec") -> "EffectSpec":
        unknown = set(data) - {"attributes", "effects", "between_speaker_sd"}
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}; use attributes, effects, between_speaker_sd")
        attributes = list(parse_attributes(data.get("attributes") or {}, source, error=ConfigError).values())
        for a in attributes:
            if a.kind == "numeric" and a.range is None:  # a simulated speaker's value is drawn from it
                raise ConfigError(f"{source}: attribute {a.name!r} needs 'levels: [...]' or 'range: [low, high]' "
                                  "(the simulator draws each speaker's value from it)")
        by_name = {a.name: a for a in attributes}
        effects = []
        for i, e in enumerate(data.get("effects") or []):
            where = f"{source}: effects[{i}]"
            if e.get("measure") not in MEASURES:
                raise ConfigError(f"{where}: measure {e.get('measure')!r} is not one of {', '.join(MEASURES)}")
            attr = by_name.get(e.get("attribute"))
            if attr is None:
                raise ConfigError(f"{where}: attribute {e.get('attribute')!r} is not declared under attributes")
            if ("levels" in e) == ("per_unit" in e):
                raise ConfigError(f"{where}: give either 'levels' or 'per_unit'")
            if "per_unit" in e and attr.position(attr.levels[0] if attr.levels else attr.range[0]) is None:
                raise ConfigError(f"{where}: per_unit needs a numeric or ordered attribute; {attr.name!r} is categorical")
            if e["measure"] in PER_VOWEL and (not e.get("vowel") or e.get("formant", 1) not in (1, 2)):
                raise ConfigError(f"{where}: {e['measure']} needs 'vowel' (an IPA vowel) and 'formant' (1 or 2); "
                                  f"got vowel {e.get('vowel')!r}, formant {e.get('formant', 1)!r}")
            effects.append(Effect(e["measure"], attr.name, {str(k): float(v) for k, v in (e.get("levels") or {}).items()},
                                  e.get("per_unit"), e.get("vowel"), int(e.get("formant", 1))))
        sd = {str(k): float(v) for k, v in (data.get("between_speaker_sd") or {}).items()}
        bad = set(sd) - set(MEASURES)
        if bad:
            raise ConfigError(f"{source}: between_speaker_sd has unknown measure(s) {sorted(bad)}")
        return cls(tuple(attributes), tuple(effects), sd)

    @classmethod
    def load(cls, path: str | Path) -> "EffectSpec":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the effects spec ({err})") from err
        return cls.from_dict(data, str(path))

    def speaker_params(self, attributes: dict, rng: np.random.Generator) -> dict:
        """The speech parameters of one speaker with these attribute values.

        Returns {measure: value} for the baseline measures, plus
        ``vowel_shift`` and ``vowel_glide`` as {(vowel, formant): factor}.
        """
        by_name = {a.name: a for a in self.attributes}
        params = {m: (0.0 if m in ADDITIVE else 1.0) for m in MEASURES if m not in PER_VOWEL}
        per_vowel: dict[str, dict[tuple[str, int], float]] = {m: {} for m in PER_VOWEL}
        for e in self.effects:
            value = attributes[e.attribute]
            if e.levels:
                delta = e.levels.get(str(value), 0.0 if e.measure in ADDITIVE else 1.0)
            else:
                x = by_name[e.attribute].position(value)
                delta = e.per_unit * x if e.measure in ADDITIVE else 1.0 + e.per_unit * x
            if e.measure in PER_VOWEL:
                key = (e.vowel, e.formant)
                per_vowel[e.measure][key] = per_vowel[e.measure].get(key, 1.0) * delta
            elif e.measure in ADDITIVE:
                params[e.measure] += delta
            else:
                params[e.measure] *= delta
        for measure, sd in sorted(self.between_speaker_sd.items()):
            if measure in PER_VOWEL:
                for key in sorted(per_vowel[measure]):
                    per_vowel[measure][key] *= math.exp(rng.normal(0, sd))
            elif measure in ADDITIVE:
                params[measure] += rng.normal(0, sd)
            else:
                params[measure] *= math.exp(rng.normal(0, sd))
        params["centralisation"] = float(np.clip(params["centralisation"], 0.0, 0.9))
        params.update(per_vowel)
        return params

    def table_rows(self) -> list[dict]:
        """The planted effects, one row each, for truth/effects.csv."""
        rows = []
        for e in self.effects:
            if e.levels:
                for level, v in e.levels.items():
                    rows.append({"measure": e.measure, "attribute": e.attribute, "level": level, "per_unit": None,
                                 "value": v, "vowel": e.vowel, "formant": e.formant if e.vowel else None})
            else:
                rows.append({"measure": e.measure, "attribute": e.attribute, "level": None, "per_unit": e.per_unit,
                             "value": None, "vowel": e.vowel, "formant": e.formant if e.vowel else None})
        return rows
