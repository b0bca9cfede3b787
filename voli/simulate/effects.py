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
  ``formant``: 1 or 2), e.g. F1 of /e/ toward /ɛ/.

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

MEASURES = ("speech_rate", "f0_level", "f0_range", "vocal_tract", "centralisation", "vowel_shift")
ADDITIVE = {"centralisation"}


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
    vowel: str | None = None  # vowel_shift only
    formant: int = 1  # vowel_shift only


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
            if e["measure"] == "vowel_shift" and not e.get("vowel"):
                raise ConfigError(f"{where}: vowel_shift needs 'vowel' (an IPA vowel) and 'formant' (1 or 2)")
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
        ``vowel_shift`` as {(vowel, formant): multiplier}.
        """
        by_name = {a.name: a for a in self.attributes}
        params = {m: (0.0 if m in ADDITIVE else 1.0) for m in MEASURES if m != "vowel_shift"}
        shifts: dict[tuple[str, int], float] = {}
        for e in self.effects:
            value = attributes[e.attribute]
            if e.levels:
                delta = e.levels.get(str(value), 0.0 if e.measure in ADDITIVE else 1.0)
            else:
                x = by_name[e.attribute].position(value)
                delta = e.per_unit * x if e.measure in ADDITIVE else 1.0 + e.per_unit * x
            if e.measure == "vowel_shift":
                key = (e.vowel, e.formant)
                shifts[key] = shifts.get(key, 1.0) * delta
            elif e.measure in ADDITIVE:
                params[e.measure] += delta
            else:
                params[e.measure] *= delta
        for measure, sd in sorted(self.between_speaker_sd.items()):
            if measure == "vowel_shift":
                for key in sorted(shifts):
                    shifts[key] *= math.exp(rng.normal(0, sd))
            elif measure in ADDITIVE:
                params[measure] += rng.normal(0, sd)
            else:
                params[measure] *= math.exp(rng.normal(0, sd))
        params["centralisation"] = float(np.clip(params["centralisation"], 0.0, 0.9))
        params["vowel_shift"] = shifts
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
