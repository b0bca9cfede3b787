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

MEASURES = ("speech_rate", "f0_level", "f0_range", "vocal_tract", "centralisation", "vowel_shift")
ADDITIVE = {"centralisation"}


@dataclass(frozen=True)
class Attribute:
    name: str
    levels: tuple[str, ...] = ()
    ordered: bool = False
    range: tuple[float, float] | None = None

    def sample(self, rng: np.random.Generator):
        if self.levels:
            return self.levels[int(rng.integers(len(self.levels)))]
        lo, hi = self.range
        return round(float(rng.uniform(lo, hi)))

    def position(self, value) -> float | None:
        """x for per-unit effects: the number, or the rank of an ordered level, minus the reference."""
        if self.range is not None:
            return float(value) - self.range[0]
        if self.ordered:
            return float(self.levels.index(value))
        return None


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
    attributes: tuple[Attribute, ...]
    effects: tuple[Effect, ...]
    between_speaker_sd: dict

    @classmethod
    def from_dict(cls, data: dict, source: str = "spec") -> "EffectSpec":
        unknown = set(data) - {"attributes", "effects", "between_speaker_sd"}
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}; use attributes, effects, between_speaker_sd")
        attributes = []
        for name, a in (data.get("attributes") or {}).items():
            if "levels" in a:
                attributes.append(Attribute(name, tuple(str(v) for v in a["levels"]), bool(a.get("ordered", False))))
            elif "range" in a:
                lo, hi = a["range"]
                attributes.append(Attribute(name, range=(float(lo), float(hi))))
            else:
                raise ConfigError(f"{source}: attribute {name!r} needs 'levels: [...]' or 'range: [low, high]'")
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
