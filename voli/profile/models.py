"""Statistics of speech against survey attributes: models a sociolinguist can read and rerun.

Every model is ``measure ~ attribute [+ interactions] + controls [+ language] + covariates +
random effects``, written out in ``models.parquet`` with its engine, what it adjusted for, its
random-effect variances and the ICC. The families:

* **prosody** (one row per utterance): articulation and speech rate, F0 level and spread,
  intensity; ``(1 | speaker_id)``;
* **vowels, per vowel category and language** (one row per token): F1 and F2 in Hz (family
  ``vowels Hz``) and Lobanov 2.0 (``vowels normalised``), with the log duration centred within the
  speaker (a covariate, not a mediator of speaking rate), optionally the phonetic context, and
  ``(1 | speaker_id) + (1 | word)`` (lme4; statsmodels cannot cross them and leaves the word out);
* **speaker measures** (one row per speaker): least squares (formant scale, vowel-space area,
  Pillai scores with enough tokens, F0 median and range, pauses...).

Coding (:class:`Coding`): a categorical attribute gets treatment contrasts against its reference
level (declared in survey.yaml, else the most frequent level), an ordinal one the same per-level
contrasts plus a linear trend over the levels, a numeric one is centred on the speakers' mean
(after ``log: true``). Every column is built the same way in Python and in the exported R script.

Tests: a coefficient's t (or an attribute's joint F) uses Satterthwaite's df with lme4 and
``speakers - between-speaker terms - 1`` df with statsmodels (the attribute varies between
speakers only: the Wald z is too liberal with few speakers). Each attribute has one *primary* test
per model (its coefficient; the trend of an ordinal; the joint F of a categorical with more than
two levels; each interaction); q-values are Benjamini-Hochberg within a family.

Engines: lme4 + lmerTest through ``Rscript`` (the field's reference) when R has them, else
statsmodels (MixedLM, REML). :func:`write_export` writes ``export/`` (tokens.csv, utterances.csv,
speakers.csv, models.csv and models.R) whichever engine ran: ``Rscript models.R`` refits every model.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voli.errors import ConfigError, VoliError
from voli.profile.survey import AttributeType

UTTERANCE_MEASURES = ("articulation_rate", "speech_rate", "f0_mean_st", "f0_sd_st", "intensity_mean_db")
VOWEL_MEASURES = {"vowels Hz": ("f1_hz", "f2_hz"), "vowels normalised": ("f1_lobanov2", "f2_lobanov2")}
# speaker-level measures with no utterance-level model (articulation rate, F0 level and spread are tested once,
# per utterance, in the prosody family: the same hypothesis is not corrected twice)
SPEAKER_MEASURES = ("formant_scale_hz", "vowel_space_area_nearey", "vowel_dispersion_hz", "f0_range_st",
                    "pauses_per_minute", "filled_pauses_per_minute", "filled_pause_f1_hz", "filled_pause_f2_hz")
VOWEL_SCALES = {"normalised": "vowels normalised", "hz": "vowels Hz"}  # profile.vowel_scale -> its family
CONFOUND_SHARE = 0.6  # an attribute explaining this share (at p < 0.01) of the speakers' differences in a measure is a confound
ALIASED_V = 0.9  # Cramér's V (or |r|) from which an attribute is aliased with language, interviewer or channel


def fdr(p) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN p-values stay NaN)."""
    p = np.asarray(p, dtype=float)
    q = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return q
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * len(ok) / np.arange(1, len(ok) + 1)
    q[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    return q


# -- coding the survey ------------------------------------------------------------------------------------


def _name(*parts: str) -> str:
    """An identifier both R and patsy accept: ASCII letters, digits and underscores."""
    text = "_".join(str(p) for p in parts)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\W+", "_", text).strip("_") or "x"
    return text if text[0].isalpha() else f"x_{text}"


def _r_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Coding:
    """How one attribute becomes model columns: names, labels, and the same recipe in R."""

    attribute: str
    kind: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]  # what each column's coefficient means
    reference: str | None = None  # categorical / ordinal
    levels: tuple[str, ...] = ()
    centre: float | None = None  # numeric: the speakers' mean (of the log with ``log``)
    log: bool = False
    trend: tuple[float, ...] | None = None  # ordinal: weights of the columns giving the per-level slope

    @property
    def ranks(self) -> tuple[str, ...]:
        """Ordinal: the levels in order, one step apart (the trend's scale); () otherwise."""
        return self.levels if self.kind == "ordinal" else ()

    def values(self, raw):
        """The coded columns (a dict of arrays) from the raw survey values (a Series)."""
        if self.kind == "numeric":
            x = raw.astype(float).to_numpy()
            if self.log:
                x = np.log(np.where(x > 0, x, np.nan))
            return {self.columns[0]: x - self.centre}
        text = raw.astype(object)
        missing = text.isna().to_numpy()
        out = {}
        for column, level in zip(self.columns, [lvl for lvl in self.levels if lvl != self.reference]):
            out[column] = np.where(missing, np.nan, (text.astype(str) == level).to_numpy(float))
        return out

    def r_lines(self, frame: str = "speakers") -> list[str]:
        """R code building the same columns in ``frame``."""
        a = f"{frame}[[{_r_string(self.attribute)}]]"
        if self.kind == "numeric":
            x = f"log(ifelse({a} > 0, {a}, NA))" if self.log else f"as.numeric({a})"
            return [f"{frame}${self.columns[0]} <- {x} - mean({x}, na.rm = TRUE)"
                    f"  # {self.attribute}, centred{' (log)' if self.log else ''}"]
        lines = []
        for column, level in zip(self.columns, [lvl for lvl in self.levels if lvl != self.reference]):
            lines.append(f"{frame}${column} <- ifelse(is.na({a}), NA, as.numeric({a} == {_r_string(level)}))"
                         f"  # {self.attribute}: {level} vs {self.reference}")
        return lines

    def describe(self) -> str:
        if self.kind == "numeric":
            return f"{self.attribute}{' (log)' if self.log else ''} centred at {self.centre:.4g}"
        return f"{self.attribute} (reference {self.reference})"


def code_attribute(t: AttributeType, survey) -> Coding | None:
    """The coding of attribute ``t`` over the speakers of ``survey`` (None when it does not vary)."""
    values = survey[t.name]
    if t.kind == "numeric":
        x = values.astype(float)
        log = bool(getattr(t, "log", False))
        if log:
            if (x <= 0).any():
                bad = survey.speaker_id[x <= 0].iloc[0]
                raise ConfigError(f"survey.yaml: {t.name} has 'log: true' but speaker {bad} has "
                                  f"{x[x <= 0].iloc[0]:g}; a log needs positive values (drop 'log' or fix the value)")
            x = np.log(x)
        if x.dropna().nunique() < 2:
            return None
        label = f"per {'log unit' if log else 'unit'} of {t.name}"
        return Coding(t.name, "numeric", (_name(t.name, "c"),), (label,), centre=float(x.mean()), log=log)
    present = [lvl for lvl in t.levels if (values.astype(object) == lvl).any()]
    if len(present) < 2:
        return None
    declared = getattr(t, "reference", None)
    if declared and declared in present:
        reference = declared
    elif t.kind == "ordinal" or t.declared:
        reference = present[0]  # the lowest step; a declared list's first level
    else:  # undeclared: the most frequent level, not whichever row came first in the CSV
        counts = values.astype(object).value_counts()
        reference = max(present, key=lambda lvl: (counts.get(lvl, 0), -present.index(lvl)))
    others = [lvl for lvl in present if lvl != reference]
    columns = tuple(_name(t.name, lvl) for lvl in others)
    if len(set(columns)) < len(columns):
        columns = tuple(_name(t.name, f"l{i + 1}") for i in range(len(others)))
    labels = tuple(f"{lvl} vs {reference}" for lvl in others)
    trend = None
    if t.kind == "ordinal" and len(present) > 2:
        ranks = np.arange(len(present), dtype=float)
        c = ranks - ranks.mean()
        trend = tuple(float(w) for w in (c / np.sum(c ** 2))[1:])  # slope of the level means, per level
    return Coding(t.name, t.kind, columns, labels, reference=reference, levels=tuple(present), trend=trend)


# -- model specifications --------------------------------------------------------------------------------


@dataclass
class Model:
    """One model: what it fits on, its fixed and random terms, and which of its terms are tested."""

    id: str
    family: str
    level: str  # token / utterance / speaker
    data: str  # tokens / utterances / speakers
    measure: str
    attribute: str
    language: str = ""  # subset ('' = all)
    vowel: str = ""  # subset ('' = all)
    tested: list[str] = field(default_factory=list)  # columns of the attribute (and its interactions)
    labels: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)  # columns of everything else
    between: int = 0  # fixed columns that vary between speakers only (for the statsmodels df)
    random: list[str] = field(default_factory=list)  # grouping columns of random intercepts
    min_tokens: int = 0
    trend: tuple[float, ...] | None = None
    joint: bool = False  # a joint F test of the attribute's columns (categorical, > 2 levels)
    adjusted_for: str = ""
    needed: list[str] = field(default_factory=list)  # columns a row needs (complete cases), before any dummy
    kind: str = ""  # the attribute's kind: categorical, ordinal, numeric
    reference: str = ""  # categorical / ordinal: the level the attribute's columns are compared with
    level_of: dict = field(default_factory=dict)  # attribute column -> its level
    rank_of: dict = field(default_factory=dict)  # ordinal: level -> its step (0, 1, ...) on the declared scale
    word_slopes: bool = False  # lme4: (1 + attribute | word), simplified to (1 | word) when it cannot be fitted
    ddf: str = "Satterthwaite"  # lme4's df for the tests: Satterthwaite or Kenward-Roger (set by fit_models)
    between_terms: list[str] = field(default_factory=list)  # fixed columns constant within each speaker

    @property
    def fixed(self) -> list[str]:
        return self.tested + self.controls

    @property
    def main(self) -> list[str]:
        """The attribute's own columns (not its interactions)."""
        return [c for c in self.tested if "_x_" not in c]

    def random_terms(self, engine: str = "lme4") -> list[str]:
        if engine != "lme4":
            return [f"(1 | {g})" for g in self.random[:1]]  # statsmodels: the first grouping only
        slopes = " + ".join(self.main)
        return [f"(1 + {slopes} | {g})" if g == "word" and self.word_slopes and slopes else f"(1 | {g})"
                for g in self.random]

    def formula(self, engine: str = "lme4") -> str:
        rhs = " + ".join(self.fixed) or "1"
        return f"{self.measure} ~ {rhs}" + "".join(f" + {t}" for t in self.random_terms(engine))


def _context_class(phone) -> str:
    """A coarse class of a neighbouring phone (IPA): pause, vowel, labial, coronal, dorsal, other."""
    if phone is None or phone != phone or phone == "":
        return "pause"
    p = unicodedata.normalize("NFD", str(phone))[0]
    if p in "aeiouyæɑɒɐəɘɛɜɞɪʊʌɔøœɤɯɨʉ":
        return "vowel"
    if p in "pbmfvwɱβɸ":
        return "labial"
    if p in "tdnszlrɾɹʃʒθðɲʎɬʂʐɳɭʈɖ":
        return "coronal"
    if p in "kgŋxɣqɢχʁhɦʀɡj":
        return "dorsal"
    return "other"


def interaction_columns(codings: dict[str, Coding], interactions) -> list[tuple[str, str, str]]:
    """(product column, attribute column, control column) of each ``"attribute:control"`` entry."""
    out = []
    for entry in interactions:
        a, _, c = (x.strip() for x in entry.partition(":"))
        if a in codings and c in codings:
            out += [(f"{col}_x_{ccol}", col, ccol) for col in codings[a].columns for ccol in codings[c].columns]
    return out


def declared_attributes(types, config) -> set[str]:
    """The attributes the models test: declared in survey.yaml, listed in profile.attributes, or named
    as a control or in an interaction. The other speakers.csv columns are described, not tested
    (``profile.explore: true`` tests them too, in families of their own)."""
    named = set(config.attributes) | set(config.controls)
    named |= {x.strip() for entry in config.interactions for x in entry.split(":")}
    unknown = sorted(set(config.attributes) - set(types))
    if unknown:
        raise ConfigError(f"profile.attributes: {unknown[0]!r} is not a column of speakers.csv; it has "
                          f"{', '.join(types) or 'no survey columns'}")
    return {n for n, t in types.items() if t.declared or n in named}


def model_data(tokens, utterances, speakers, survey, codings: dict[str, Coding], interactions=()):
    """The three data frames the models read, with every coded survey column joined."""
    import pandas as pd

    coded = pd.DataFrame({"speaker_id": survey.speaker_id.to_numpy()})
    for c in codings.values():
        for column, values in c.values(survey[c.attribute]).items():
            coded[column] = values
    for name, a, c in interaction_columns(codings, interactions):
        coded[name] = coded[a] * coded[c]
    tk = tokens.copy()
    if len(tk):
        tk["log_duration"] = np.log(tk.duration_s.astype(float))
        for side in ("previous", "next"):
            col = f"{side}_phone"
            tk[f"{side}_class"] = tk[col].map(_context_class) if col in tk else "pause"
        tk["stressed"] = (tk.stress.fillna(0).astype(float) == 1).astype(float) if "stress" in tk else 0.0
    sp = speakers.merge(coded, on="speaker_id", how="left")
    return {"tokens": tk.merge(coded, on="speaker_id", how="left"),
            "utterances": utterances.merge(coded, on="speaker_id", how="left"), "speakers": sp}


def _dummies(d, column: str, prefix: str) -> list[str]:
    """Treatment dummies of ``column`` in ``d`` (added in place), the most frequent value as reference."""
    counts = d[column].astype(str).value_counts()
    levels = sorted(counts.index, key=lambda v: (-counts[v], v))
    names = []
    for lvl in levels[1:]:
        name = _name(prefix, lvl)
        d[name] = (d[column].astype(str) == lvl).astype(float)
        names.append(name)
    return names


def prepare(model: Model, data, subsets: dict | None = None):
    """A model's rows: its subset (language, vowel), complete rows, speakers with tokens enough.

    ``subsets`` caches the (data, language, vowel) subsets across models. The exported R script
    repeats these steps in this order; change both together.
    """
    key = (model.data, model.language, model.vowel)
    d = subsets.get(key) if subsets is not None else None
    if d is None:
        d = data[model.data]
        if model.language:
            d = d[d.language == model.language]
        if model.vowel:
            d = d[d.phone == model.vowel]
        if subsets is not None:
            subsets[key] = d
    if model.min_tokens > 0 and d.speaker_id.nunique() < 3:
        return d.iloc[:0]  # no model of a between-speaker attribute on fewer than 3 speakers
    missing = [c for c in model.needed if c not in d]
    if missing:
        raise VoliError(f"model of {model.measure} by {model.attribute}: the {model.data} table lacks "
                        f"{', '.join(missing)} (a bug: the profile stage builds these columns)")
    d = d.dropna(subset=model.needed).copy()
    if model.min_tokens > 0 and len(d):
        n = d.groupby("speaker_id").speaker_id.transform("size")
        d = d[n >= model.min_tokens].copy()
    if model.data == "tokens" and "log_duration_c" in model.controls and len(d):
        d["log_duration_c"] = d.log_duration - d.groupby("speaker_id").log_duration.transform("mean")
    return d


def _specs(data, codings: dict[str, Coding], types, config, measures=None) -> list[Model]:
    """Every model the configuration asks for (before checking that the data can carry it)."""
    controls = list(config.controls)
    pairs = []
    for entry in config.interactions:
        a, _, c = entry.partition(":")
        pairs.append((a.strip(), c.strip()))
    for name in controls + [x for p in pairs for x in p]:
        if name not in types:
            raise ConfigError(f"profile: {name!r} (in controls or interactions) is not a survey attribute; "
                              f"speakers.csv has {', '.join(types) or 'none'}")
    languages = sorted(set(data["tokens"].get("language", []) if len(data["tokens"]) else [])
                       | set(data["utterances"].get("language", [])))
    if config.language not in ("term", "separate"):
        raise ConfigError(f"profile.language: {config.language!r}; use 'term' or 'separate'")
    if config.vowel_scale not in VOWEL_SCALES:
        raise ConfigError(f"profile.vowel_scale: {config.vowel_scale!r}; use 'normalised' or 'hz'")
    declared = declared_attributes(types, config)
    wanted = (lambda m: True) if measures is None else (lambda m: m in measures)
    out = []
    for name, coding in codings.items():
        if name not in declared and not config.explore:
            continue  # described in the report, not tested
        explore = "" if name in declared else "explore: "  # an undeclared column: its own families
        others = [c for c in controls if c != name and c in codings]
        base_controls = [col for c in others for col in codings[c].columns]
        tested, labels = list(coding.columns), list(coding.labels)
        for a, c in pairs:
            if a == name and c in codings:
                for col, lab in zip(coding.columns, coding.labels):
                    for ccol, clab in zip(codings[c].columns, codings[c].labels):
                        tested.append(f"{col}_x_{ccol}")
                        labels.append(f"({lab}) × ({clab})")
                if c not in others:
                    base_controls += list(codings[c].columns)
                at = (f"{c} = {codings[c].reference}" if codings[c].kind != "numeric"
                      else f"{c} at its mean")  # with the product in the model, the main effect is there
                labels[:len(coding.columns)] = [f"{lab} (for {at})" for lab in labels[:len(coding.columns)]]
        words = [codings[c].describe() for c in others] + [f"{a} × {c}" for a, c in pairs if a == name]

        def model(level, family, measure, data_name, language="", vowel="", extra=(), random=("speaker_id",),
                  extra_words=(), min_tokens=0):
            lang_cols = []
            if not language and len(languages) > 1:
                lang_cols = ["language"]  # expanded to dummies per model (the languages present)
            m = Model(id="", family=explore + family, level=level, data=data_name, measure=measure, attribute=name,
                      language=language, vowel=vowel, tested=list(tested), labels=list(labels),
                      controls=base_controls + lang_cols + list(extra), random=list(random),
                      min_tokens=min_tokens, trend=coding.trend,
                      joint=coding.kind != "numeric" and len(coding.columns) > 1, kind=coding.kind,
                      reference=coding.reference or "",
                      level_of=dict(zip(coding.columns, [lvl for lvl in coding.levels if lvl != coding.reference])),
                      rank_of={lvl: float(i) for i, lvl in enumerate(coding.ranks)},
                      word_slopes=bool(config.word_slopes) and data_name == "tokens")
            m.adjusted_for = ", ".join(words + (["language"] if lang_cols else []) + list(extra_words)) or "nothing"
            needed = [measure, "speaker_id", *m.tested, *base_controls, *lang_cols, *random]
            if data_name == "tokens":
                needed.append("log_duration")
                if config.context:
                    needed += ["previous_class", "next_class", "stressed"]
            m.needed = [c for c in dict.fromkeys(needed) if "_x_" not in c]
            return m

        scopes = [""] if config.language == "term" or len(languages) < 2 else languages
        for scope in scopes:
            suffix = f": {scope}" if scope else ""
            for m in UTTERANCE_MEASURES:
                if m in data["utterances"] and wanted(m):
                    out.append(model("utterance", "prosody" + suffix, m, "utterances", language=scope,
                                     random=("speaker_id",) + (("recording_id",) if _nested(data["utterances"]) else ())))
            for m in SPEAKER_MEASURES + tuple(c for c in data["speakers"] if re.fullmatch(r"pillai_[^_]+_[^_]+_adj", c)):
                if m in data["speakers"] and wanted(m):
                    out.append(model("speaker", "speaker measures" + suffix, m, "speakers", language=scope, random=()))
        tk = data["tokens"]
        if not len(tk) or not config.per_vowel:
            continue
        for language in sorted(tk.language.dropna().unique()):
            for vowel in sorted(tk[tk.language == language].phone.dropna().unique()):
                for family, columns in VOWEL_MEASURES.items():
                    for m in columns:
                        if m not in tk and m.endswith("lobanov2") and m.replace("2", "") in tk:
                            m = m.replace("2", "")  # older token tables
                        if m not in tk or not wanted(m):
                            continue
                        extra, extra_words = ["log_duration_c"], ["the vowel's duration (centred within speaker)"]
                        if config.context:
                            extra += ["ctx_previous", "ctx_next", "stressed"]
                            extra_words += ["the previous and next phone's class", "stress"]
                        random = ["speaker_id"] + (["word"] if config.word_effect else [])
                        out.append(model("token", f"{family}: {language}", m, "tokens", language=language,
                                         vowel=vowel, extra=extra, random=random, extra_words=extra_words,
                                         min_tokens=config.min_vowel_tokens))
    for i, m in enumerate(out):
        m.id = f"m{i + 1:04d}"
    return out


def _nested(d) -> bool:
    """Does any speaker have several recordings (recordings nested in speakers)?"""
    return "recording_id" in d and len(d) > 0 and bool((d.groupby("speaker_id").recording_id.nunique() > 1).any())


def _rereference(m: Model, d) -> None:
    """When no row of ``d`` is at the attribute's reference level, another present level becomes the
    reference (the lowest step of an ordinal or a declared list; the most frequent level otherwise)
    and the labels say so. Without this, the rank check would drop one level's column and the other
    would keep a label ("secondary vs primary") for a contrast it no longer estimates."""
    main = [c for c in m.main if c in d]
    if not m.reference or not main or not len(d) or len(main) < len(m.main):
        return
    x = d[main].to_numpy(float)
    if (x.sum(axis=1) == 0).any():
        return  # the reference level has rows
    present = [c for c in main if x[:, main.index(c)].any()]
    if m.kind == "categorical" and not m.trend:
        speakers = {c: d.loc[d[c] == 1, "speaker_id"].nunique() for c in present}
        new = max(present, key=lambda c: (speakers[c], -present.index(c)))
    else:
        new = present[0]
    old, level = m.reference, m.level_of[new]
    note = f" (no {old} speakers in these rows: compared with {level})"
    keep = [(col, lab) for col, lab in zip(m.tested, m.labels) if col != new and not col.startswith(f"{new}_x_")]
    m.tested = [col for col, _ in keep]
    m.labels = [lab.replace(f"{m.level_of.get(col.split('_x_')[0], '')} vs {old}",
                            f"{m.level_of.get(col.split('_x_')[0], '')} vs {level}") + ("" if "_x_" in col else note)
                for col, lab in keep]
    m.reference = level
    m.adjusted_for += f"; reference level {level} (no {old} speakers in these rows)"


def _trend(m: Model) -> tuple[float, ...] | None:
    """Weights of the attribute's columns giving the ordinal's slope per step, over the levels present."""
    if m.kind != "ordinal":
        return None
    levels = [m.reference] + [m.level_of[c] for c in m.main]
    if len(levels) < 3 or any(lvl not in m.rank_of for lvl in levels):
        return None
    ranks = np.array([m.rank_of[lvl] for lvl in levels])
    c = ranks - ranks.mean()
    return tuple(float(w) for w in (c / np.sum(c ** 2))[1:])  # the reference's weight is implied (they sum to 0)


def finalise(model: Model, d) -> tuple[Model, str | None]:
    """The model with the columns its rows can carry (context and language expanded to dummies,
    constant columns dropped, an absent reference level replaced), or a reason it cannot be fitted."""
    m = Model(**{**model.__dict__, "tested": list(model.tested), "labels": list(model.labels),
                 "controls": list(model.controls), "random": list(model.random)})
    controls = []
    for c in m.controls:
        if c == "language":
            controls += _dummies(d, "language", "lang")
        elif c in ("ctx_previous", "ctx_next"):
            controls += _dummies(d, c.replace("ctx_", "") + "_class", c)
        elif c in d and d[c].nunique() > 1:
            controls.append(c)
    m.controls = controls
    _rereference(m, d)
    keep = [(col, lab) for col, lab in zip(m.tested, m.labels) if col in d and d[col].nunique() > 1]
    m.tested, m.labels = [k[0] for k in keep], [k[1] for k in keep]
    if not m.tested:
        return m, "the attribute does not vary in these rows"
    if d[m.measure].nunique() < 2:
        return m, "the measure is constant"
    # columns that add nothing to the design go: a control aliased with the controls before it, then an
    # attribute column aliased with the controls (dropping the control instead would hand its effect to
    # the attribute: with education following gender, "education" would then carry gender's)
    x = np.ones((len(d), 1))

    def adds(column) -> bool:
        nonlocal x
        trial = np.column_stack([x, d[column].to_numpy(float)])
        if np.linalg.matrix_rank(trial) > x.shape[1]:
            x = trial
            return True
        return False

    gone = [c for c in m.controls if not adds(c)]
    m.controls = [c for c in m.controls if c not in gone]
    if gone:  # say so where the reader looks
        m.adjusted_for += f"; left out, aliased with the other controls in these rows: {', '.join(gone)}"
    keep = [(col, lab) for col, lab in zip(m.tested, m.labels) if adds(col)]
    aliased = len(keep) < len(m.tested)
    if not [c for c, _ in keep if "_x_" not in c]:
        return m, "the attribute is aliased with the controls in these rows"
    m.tested, m.labels = [k[0] for k in keep], [k[1] for k in keep]
    # one primary test per attribute: an ordinal's trend over the levels present (unless a level is aliased
    # with the controls), else a joint test of several columns, else the one coefficient
    m.trend = None if aliased else _trend(m)
    m.joint = len(m.main) > 1
    n_speakers = d.speaker_id.nunique()
    per_speaker = d.groupby("speaker_id")
    m.between_terms = [c for c in m.fixed if c in d and per_speaker[c].nunique().max() <= 1]
    m.between = len(m.between_terms)
    if n_speakers - m.between - 1 < 1:
        return m, f"{n_speakers} speakers for {m.between} between-speaker terms"
    if m.level != "speaker" and len(d) <= n_speakers + len(m.fixed):
        return m, "fewer rows than speakers and terms"
    if "word" in m.random and d.word.nunique() < 2:
        m.random.remove("word")
    if "recording_id" in m.random and not _nested(d):
        m.random.remove("recording_id")
    return m, None


# -- engines --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def lme4_version() -> str | None:
    """lme4's version when Rscript can load lme4 and lmerTest, else None."""
    rscript = shutil.which("Rscript")
    if not rscript:
        return None
    try:
        out = subprocess.run([rscript, "-e", 'suppressPackageStartupMessages({library(lme4); library(lmerTest)});'
                              'cat(as.character(packageVersion("lme4")), as.character(packageVersion("lmerTest")))'],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def resolve_engine(engine: str) -> str:
    if engine not in ("auto", "lme4", "statsmodels"):
        raise ConfigError(f"profile.engine: {engine!r}; use auto, lme4 or statsmodels")
    if engine == "auto":
        return "lme4" if lme4_version() else "statsmodels"
    if engine == "lme4" and not lme4_version():
        raise VoliError("profile.engine is lme4 but Rscript cannot load lme4 and lmerTest; install them "
                        "(Debian: sudo apt-get install r-cran-lmertest) or set profile.engine: statsmodels")
    return engine


def _wald(b, v, weights=None):
    """(estimate, se) of w·b, or (F, k) of the joint test of b = 0."""
    if weights is not None:
        w = np.asarray(weights)
        return float(w @ b), float(np.sqrt(w @ v @ w))
    k = len(b)
    return float(b @ np.linalg.solve(v, b) / k), k


SINGULAR_VARIANCE = 1e-4  # a speaker variance below this share of the residual is 0 (statsmodels stops short of the
# boundary, at 1e-7..1e-5 where lme4 reaches 0; the R script uses 1e-8, lme4's theta < 1e-4)
SINGULAR_SPEAKERS = ("singular fit: the speaker variance is 0; tested on the speakers' means (least squares, one row "
                     "per speaker, speakers - between-speaker terms - 1 df)")
MEANS_DF = "speaker means: speakers - between-speaker terms - 1"


def level_weights(m: Model, names, d) -> list[tuple[str, np.ndarray]]:
    """(level, weights over the coefficients ``names``) giving each level's adjusted mean: the attribute's
    columns at that level, every other term at its mean over the rows ``d`` (as emmeans sets covariates).
    The exported R script builds the same weights."""
    if not m.reference:
        return []
    main = [c for c in m.main if c in names]
    out = []
    for level, at in [(m.reference, None)] + [(m.level_of[c], c) for c in main]:
        w = []
        for n in names:
            if n == "Intercept":
                w.append(1.0)
            elif n in main:
                w.append(float(n == at))
            elif "_x_" in n:
                a, c = n.split("_x_", 1)
                w.append(float(a == at) * float(d[c].mean()))
            else:
                w.append(float(d[n].mean()))
        out.append((level, np.array(w)))
    return out


def fit_statsmodels(m: Model, d) -> dict:
    """Long-form results of one model with statsmodels (see :func:`_results_rows`)."""
    import statsmodels.formula.api as smf
    from scipy import stats

    rhs = " + ".join(m.fixed)
    formula = f"{m.measure} ~ {rhs}"
    n_speakers, n_rows = d.speaker_id.nunique(), len(d)
    df = n_speakers - m.between - 1
    variances, status = {}, "ok"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if m.random:
            vc = {"recording": "0 + C(recording_id)"} if "recording_id" in m.random else None
            try:
                fit = smf.mixedlm(formula, d, groups=d.speaker_id, vc_formula=vc).fit(reml=True)
                if not fit.converged:
                    status = "not converged"
                variances["speaker_id"] = float(fit.cov_re.iloc[0, 0])
                if vc:
                    variances["recording_id"] = float(fit.vcomp[0])
                variances["residual"] = float(fit.scale)
            except (np.linalg.LinAlgError, ValueError) as err:
                status = f"mixed model failed ({str(err).splitlines()[0]}): tested on the speakers' means"
                fit = None
        else:
            fit = smf.ols(formula, d).fit()
            variances["residual"] = float(fit.scale)
    said = sorted({str(w.message).splitlines()[0] for w in caught if "converge" in str(w.message).lower()
                   or "singular" in str(w.message).lower() or "boundary" in str(w.message).lower()})
    if said and status == "ok":
        status = "warning: " + "; ".join(said)[:200]
    if fit is not None and m.random:
        se = fit.bse.reindex(m.tested).to_numpy(float)
        if variances["speaker_id"] <= SINGULAR_VARIANCE * variances["residual"]:
            status, fit = SINGULAR_SPEAKERS, None  # tokens would count as independent for a between-speaker term
        elif not np.all(np.isfinite(se) & (se > 0) & (se <= 100 * float(d[m.measure].std()))):
            status = f"mixed model degenerate ({status}; standard errors unusable): tested on the speakers' means"
            fit = None
    df_method = "speakers - between-speaker terms - 1"
    if fit is None:  # the between-speaker terms tested on one row per speaker (exact df; within-speaker terms averaged)
        fit, d = _speaker_means_fit(m, d)
        variances, df_method = {"residual": float(fit.scale)}, MEANS_DF
    v = fit.cov_params()
    names = list(m.tested)
    b = fit.params[names].to_numpy(float)
    vv = v.loc[names, names].to_numpy(float)
    rows = []
    for name, est, se in zip(names, b, np.sqrt(np.diag(vv))):
        t = est / se if se > 0 else np.nan
        rows.append({"test": "coefficient", "term": name, "estimate": float(est), "se": float(se), "df": float(df),
                     "statistic": float(t), "p": float(2 * stats.t.sf(abs(t), df))})
    if m.trend is not None:
        est, se = _wald(b[:len(m.trend)], vv[:len(m.trend), :len(m.trend)], m.trend)
        t = est / se
        rows.append({"test": "trend", "term": "", "estimate": est, "se": se, "df": float(df), "statistic": t,
                     "p": float(2 * stats.t.sf(abs(t), df))})
    if m.joint:
        k = len(m.main)
        f, _ = _wald(b[:k], vv[:k, :k])
        rows.append({"test": "joint", "term": "", "estimate": np.nan, "se": np.nan, "df": float(df),
                     "statistic": f, "numdf": float(k), "p": float(stats.f.sf(f, k, df))})
    fixed = [n for n in fit.params.index if n in m.fixed or n == "Intercept"]
    bf, vf = fit.params[fixed].to_numpy(float), v.loc[fixed, fixed].to_numpy(float)
    means = []
    for level, w in level_weights(m, fixed, d):
        est, se = float(w @ bf), float(np.sqrt(w @ vf @ w))
        means.append({"level": level, "estimate": est, "se": se, "df": float(df), "statistic": est / se,
                      "p": float(2 * stats.t.sf(abs(est / se), df))})
    return {"rows": rows, "variances": variances, "status": status, "n_rows": n_rows, "n_speakers": n_speakers,
            "means": means, "df_method": df_method}


def _speaker_means_fit(m: Model, d):
    """Least squares of the speakers' means of the measure on the between-speaker terms: the test of a
    speaker attribute that cannot count tokens as independent (used when the speaker variance is 0 or
    the mixed model fails). Returns (fit, the speaker-mean rows)."""
    import statsmodels.formula.api as smf

    terms = m.between_terms or [c for c in m.fixed if d.groupby("speaker_id")[c].nunique().max() <= 1]
    means = d.groupby("speaker_id")[[m.measure, *terms]].mean().reset_index()
    return smf.ols(f"{m.measure} ~ {' + '.join(terms) or '1'}", means).fit(), means


# -- the R engine, and the export ---------------------------------------------------------------------------


R_SCRIPT = r'''# voli: every model of 04_profile/models.parquet, refitted in R from the files beside this script.
#   cd <this folder> && Rscript models.R     (writes results.csv, variances.csv, status.csv, means.csv)
# Needs lme4 and lmerTest (Debian: r-cran-lmertest; CRAN: install.packages("lmerTest")), and pbkrtest for the
# models whose ddf is Kenward-Roger (Debian: r-cran-pbkrtest). A model that fails is named in status.csv.
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
read <- function(f) read.csv(f, encoding = "UTF-8", stringsAsFactors = FALSE, na.strings = c("", "NA"),
                             check.names = FALSE)
speakers <- read("speakers.csv")  # one row per speaker: survey answers and speaker measures
speakers$speaker_id <- as.character(speakers$speaker_id)

# -- the survey, coded as voli coded it (treatment contrasts; numbers centred on the speakers' mean) --
@CODING@

coded <- speakers[, c("speaker_id", @CODED@), drop = FALSE]
data <- list(
  tokens = merge(transform(read("tokens.csv"), speaker_id = as.character(speaker_id)), coded, by = "speaker_id"),
  utterances = merge(transform(read("utterances.csv"), speaker_id = as.character(speaker_id)), coded, by = "speaker_id"),
  speakers = speakers)
data$tokens$log_duration <- log(data$tokens$duration_s)

# -- the models: one row of models.csv each --
specs <- read("models.csv")
dummies <- function(d, column, prefix) {  # treatment dummies, the most frequent value as reference (as voli)
  counts <- table(d[[column]])
  lv <- names(counts)[order(-counts, names(counts))]
  for (l in lv[-1]) d[[make_name(prefix, l)]] <- as.numeric(d[[column]] == l)
  d
}
make_name <- function(prefix, level) {
  x <- iconv(paste(prefix, level, sep = "_"), "UTF-8", "ASCII//TRANSLIT", sub = "")
  x <- gsub("^_+|_+$", "", gsub("[^A-Za-z0-9_]+", "_", x))
  if (!grepl("^[A-Za-z]", x)) x <- paste0("x_", x)
  x
}
fit_one <- function(s, d) {  # one model: its test rows, variances, status and adjusted level means
  said <- character(0)
  catch <- function(expr) withCallingHandlers(expr,
    warning = function(w) { said <<- c(said, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { said <<- c(said, trimws(conditionMessage(m))); invokeRestart("muffleMessage") })
  notes <- character(0)
  fit <- catch(if (s$mixed) lmer(as.formula(s$formula), d, REML = TRUE) else lm(as.formula(s$formula), d))
  if (s$mixed && s$formula != s$simple_formula && (isSingular(fit) || length(said))) {
    notes <- c(notes, paste0("(attribute | word) simplified to (1 | word): ",
                             if (isSingular(fit)) "singular" else paste(unique(said), collapse = "; ")))
    said <- character(0)
    fit <- catch(lmer(as.formula(s$simple_formula), d, REML = TRUE))
  }
  n_speakers <- length(unique(d$speaker_id)); n_rows <- nrow(d)
  if (s$mixed) {
    vc <- as.data.frame(VarCorr(fit))
    vc <- vc[is.na(vc$var2) & (is.na(vc$var1) | vc$var1 == "(Intercept)"), ]
    var <- data.frame(model = s$id, group = ifelse(vc$grp == "Residual", "residual", vc$grp), variance = vc$vcov)
  } else var <- data.frame(model = s$id, group = "residual", variance = sigma(fit)^2)
  speaker_zero <- s$mixed && any(var$group == "speaker_id" & var$variance <= 1e-8 * sigma(fit)^2)
  mode <- if (!s$mixed) "lm" else if (speaker_zero) "means" else "lmer"
  ddf <- s$ddf
  if (mode == "means") {  # a speaker variance of 0 would let tokens count as independent for between-speaker terms
    between <- strsplit(s$between_terms, " ", fixed = TRUE)[[1]]
    d <- aggregate(d[, c(s$measure, between), drop = FALSE], by = list(speaker_id = d$speaker_id), FUN = mean)
    fit <- lm(as.formula(paste(s$measure, "~", paste(c("1", between), collapse = " + "))), d)
    V <- vcov(fit); df_fixed <- df.residual(fit)
    st <- paste("singular fit: the speaker variance is 0; tested on the speakers' means (least squares, one row",
                "per speaker, speakers - between-speaker terms - 1 df)")
  } else if (mode == "lm") { V <- vcov(fit); df_fixed <- df.residual(fit); st <- "ok"
  } else st <- if (isSingular(fit)) "singular fit (a random-effect variance other than the speaker's is 0)" else "ok"
  b <- if (mode == "lmer") fixef(fit) else coef(fit)
  one <- function(L) {  # a contrast L %*% b: estimate, se, df, t, p
    if (mode == "lmer") { ct <- contest(fit, L, joint = FALSE, ddf = ddf)
      return(data.frame(estimate = ct$Estimate, se = ct[["Std. Error"]], df = ct$df, statistic = ct[["t value"]],
                        p = ct[["Pr(>|t|)"]])) }
    est <- drop(L %*% b); se <- sqrt(drop(L %*% V %*% t(L)))
    data.frame(estimate = est, se = se, df = df_fixed, statistic = est / se, p = 2 * pt(-abs(est / se), df_fixed))
  }
  L <- function(w, cols) { m <- matrix(0, nrow = 1, ncol = length(b), dimnames = list(NULL, names(b)));
                           m[1, match(cols, names(b))] <- w; m }  # one contrast: sum of w * coefficients
  tested <- intersect(strsplit(s$tested, " ", fixed = TRUE)[[1]], names(b))
  res <- lapply(tested, function(col) cbind(data.frame(model = s$id, test = "coefficient", term = col),
                                            one(L(1, col)), numdf = NA))
  if (!is.na(s$trend)) {
    w <- as.numeric(strsplit(s$trend, " ", fixed = TRUE)[[1]])
    res[[length(res) + 1]] <- cbind(data.frame(model = s$id, test = "trend", term = ""),
                                    one(L(w, tested[seq_along(w)])), numdf = NA)
  }
  if (s$joint) {
    cols <- tested[!grepl("_x_", tested)]
    Lj <- matrix(0, nrow = length(cols), ncol = length(b), dimnames = list(NULL, names(b)))
    Lj[cbind(seq_along(cols), match(cols, names(b)))] <- 1
    if (mode == "lmer") { ct <- contest(fit, Lj, joint = TRUE, ddf = ddf)
      r <- data.frame(df = ct$DenDF, statistic = ct[["F value"]], numdf = ct$NumDF, p = ct[["Pr(>F)"]])
    } else { bb <- drop(Lj %*% b); f <- drop(t(bb) %*% solve(Lj %*% V %*% t(Lj), bb)) / length(cols)
      r <- data.frame(df = df_fixed, statistic = f, numdf = length(cols),
                      p = pf(f, length(cols), df_fixed, lower.tail = FALSE)) }
    res[[length(res) + 1]] <- data.frame(model = s$id, test = "joint", term = "", estimate = NA, se = NA,
                                         df = r$df, statistic = r$statistic, numdf = r$numdf, p = r$p)
  }
  # adjusted level means (as emmeans gives them: the other terms at their means over these rows)
  means <- NULL
  if (!is.na(s$levels)) {
    main <- tested[!grepl("_x_", tested)]
    levels <- strsplit(s$levels, " | ", fixed = TRUE)[[1]]
    at <- c(list(rep(0, length(main))), lapply(seq_along(main), function(k) as.numeric(seq_along(main) == k)))
    means <- do.call(rbind, lapply(seq_along(at), function(k) {
      x <- setNames(at[[k]], main)
      w <- sapply(names(b), function(n) {
        if (n == "(Intercept)") 1 else if (n %in% main) x[[n]]
        else if (grepl("_x_", n)) { p <- strsplit(n, "_x_", fixed = TRUE)[[1]]; x[[p[1]]] * mean(d[[p[2]]]) }
        else mean(d[[n]]) })
      cbind(data.frame(model = s$id, level = levels[k]), one(matrix(w, nrow = 1, dimnames = list(NULL, names(b)))))
    }))
  }
  if (mode != "means" && length(said)) st <- paste0(st, "; R said: ", paste(unique(said), collapse = "; "))
  if (length(notes)) st <- paste0(st, "; ", paste(notes, collapse = "; "))
  df_method <- if (mode == "lmer") ddf else if (mode == "means") "@MEANS_DF@" else "residual"
  list(results = do.call(rbind, res), variances = var, means = means,
       status = data.frame(model = s$id, status = st, n_rows = n_rows, n_speakers = n_speakers, df_method = df_method))
}
results <- list(); variances <- list(); status <- list(); means <- list()
for (i in seq_len(nrow(specs))) {
  s <- specs[i, ]
  d <- data[[s$data]]
  if (!is.na(s$language)) d <- d[d$language == s$language, ]
  if (!is.na(s$vowel)) d <- d[d$phone == s$vowel, ]
  needed <- strsplit(s$needed, " ", fixed = TRUE)[[1]]
  d <- d[complete.cases(d[, needed, drop = FALSE]), ]
  if (s$min_tokens > 0) d <- d[ave(seq_len(nrow(d)), d$speaker_id, FUN = length) >= s$min_tokens, ]
  if (grepl("log_duration_c", s$formula)) d$log_duration_c <- d$log_duration - ave(d$log_duration, d$speaker_id)
  if (grepl("lang_", s$formula)) d <- dummies(d, "language", "lang")
  if (grepl("ctx_previous", s$formula)) d <- dummies(d, "previous_class", "ctx_previous")
  if (grepl("ctx_next", s$formula)) d <- dummies(d, "next_class", "ctx_next")
  s$mixed <- s$mixed == 1; s$joint <- s$joint == 1
  out <- tryCatch(fit_one(s, d), error = function(e) list(status = data.frame(model = s$id,
    status = paste("failed:", gsub("[\r\n]+", " ", conditionMessage(e))), n_rows = nrow(d),
    n_speakers = length(unique(d$speaker_id)), df_method = NA)))
  results[[i]] <- out$results; variances[[i]] <- out$variances; status[[i]] <- out$status; means[[i]] <- out$means
}
empty <- function(x, cols) if (length(x)) x else setNames(data.frame(matrix(nrow = 0, ncol = length(cols))), cols)
write.csv(empty(do.call(rbind, means), c("model", "level", "estimate", "se", "df", "statistic", "p")), "means.csv",
          row.names = FALSE)
write.csv(empty(do.call(rbind, results), c("model", "test", "term", "estimate", "se", "df", "statistic", "numdf", "p")),
          "results.csv", row.names = FALSE)
write.csv(empty(do.call(rbind, variances), c("model", "group", "variance")), "variances.csv", row.names = FALSE)
write.csv(do.call(rbind, status), "status.csv", row.names = FALSE)
'''


def write_export(directory: Path, models: list[Model], data, survey, codings: dict[str, Coding],
                 interactions=()) -> Path:
    """export/: tokens.csv, utterances.csv, speakers.csv, models.csv and models.R (see R_SCRIPT)."""
    import pandas as pd

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    products = interaction_columns(codings, interactions)
    coded_columns = {col for c in codings.values() for col in c.columns} | {p[0] for p in products}
    keep_tokens = [c for c in ("speaker_id", "recording_id", "language", "phone", "word", "duration_s", "log_duration",
                               "previous_class", "next_class", "stressed", "f1_hz", "f2_hz", "f3_hz", "f1_lobanov",
                               "f2_lobanov", "f1_lobanov2", "f2_lobanov2", "f1_nearey", "f2_nearey")
                   if c in data["tokens"]]
    data["tokens"][keep_tokens].drop(columns=["log_duration"], errors="ignore").to_csv(
        directory / "tokens.csv", index=False)
    ut = data["utterances"]
    ut[[c for c in ut if c not in coded_columns]].to_csv(directory / "utterances.csv", index=False)
    sp = data["speakers"]
    measures = sp[[c for c in sp if c not in coded_columns]]
    raw = survey.astype({c: object for c in survey if c != "speaker_id"})
    extra = [c for c in raw if c != "speaker_id" and c not in measures]
    measures.merge(raw[["speaker_id", *extra]], on="speaker_id", how="left").to_csv(directory / "speakers.csv",
                                                                                     index=False)
    rows = []
    for m in models:
        needed = m.needed
        simple = Model(**{**m.__dict__, "word_slopes": False})
        rows.append({"id": m.id, "family": m.family, "data": m.data, "language": m.language or None,
                     "vowel": m.vowel or None, "measure": m.measure, "attribute": m.attribute,
                     "formula": m.formula("lme4"), "simple_formula": simple.formula("lme4"),
                     "fixed_formula": f"{m.measure} ~ {' + '.join(m.fixed) or '1'}",
                     "mixed": int(bool(m.random)), "tested": " ".join(m.tested),
                     "needed": " ".join(dict.fromkeys(needed)), "min_tokens": m.min_tokens,
                     "trend": " ".join(f"{w:.12g}" for w in m.trend) if m.trend is not None else None,
                     "joint": int(bool(m.joint)), "between_terms": " ".join(m.between_terms), "ddf": m.ddf,
                     "levels": " | ".join([m.reference] + [m.level_of[c] for c in m.main]) if m.reference else None})
    pd.DataFrame(rows, columns=["id", "family", "data", "language", "vowel", "measure", "attribute", "formula",
                                "simple_formula", "fixed_formula", "mixed", "tested", "needed", "min_tokens", "trend",
                                "joint", "between_terms", "ddf", "levels"]).to_csv(directory / "models.csv", index=False)
    lines = [line for c in codings.values() for line in c.r_lines()]
    lines += [f"speakers${name} <- speakers${a} * speakers${c}  # interaction" for name, a, c in products]
    coding = "\n".join(lines) or "# (no attributes)"
    coded = ", ".join(_r_string(col) for c in codings.values() for col in c.columns)
    coded = ", ".join(x for x in [coded] + [_r_string(p[0]) for p in products] if x)
    script = R_SCRIPT.replace("@MEANS_DF@", MEANS_DF).replace("@CODING@", coding).replace("@CODED@", coded).replace('c("speaker_id", )',
                                                                                     'c("speaker_id")')
    (directory / "models.R").write_text(script, encoding="utf-8")
    return directory


def fit_lme4(directory: Path) -> dict:
    """Runs export/models.R; returns {model id: long-form results} as :func:`fit_statsmodels` does."""
    import pandas as pd

    try:
        run = subprocess.run([shutil.which("Rscript") or "Rscript", "models.R"], cwd=directory, capture_output=True,
                             text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise VoliError(f"{directory}/models.R: Rscript failed to run ({err})") from err
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-8:])
        raise VoliError(f"{directory}/models.R: R stopped with an error; rerun it there to see why, or set "
                        f"profile.engine: statsmodels.\n{tail}")
    results = pd.read_csv(directory / "results.csv", keep_default_na=False, na_values=["NA"])
    variances = pd.read_csv(directory / "variances.csv")
    status = pd.read_csv(directory / "status.csv", keep_default_na=False, na_values=["NA"])
    means = pd.read_csv(directory / "means.csv", keep_default_na=False, na_values=["NA"])
    out = {}
    for _, s in status.iterrows():
        r = results[results.model == s.model]
        v = variances[variances.model == s.model]
        out[s.model] = {"rows": r.drop(columns="model").to_dict("records"),
                        "variances": dict(zip(v.group, v.variance.astype(float))),
                        "means": means[means.model == s.model].drop(columns="model").to_dict("records"),
                        "status": s.status, "n_rows": int(s.n_rows), "n_speakers": int(s.n_speakers),
                        "df_method": s.df_method if isinstance(s.df_method, str) else ""}
    return out


# -- fitting every model -----------------------------------------------------------------------------------


def _labels(m: Model) -> dict:
    return dict(zip(m.tested, m.labels))


def _ddf(config, n_rows: int) -> str:
    """lme4's df method for a model of ``n_rows`` rows (see ProfileConfig.ddf)."""
    choice = str(config.ddf).lower()
    if choice not in ("auto", "kenward-roger", "satterthwaite"):
        raise ConfigError(f"profile.ddf: {config.ddf!r}; use auto, kenward-roger or satterthwaite")
    if choice == "satterthwaite" or not r_has("pbkrtest"):
        return "Satterthwaite"
    return "Kenward-Roger" if choice == "kenward-roger" or n_rows <= config.kr_max_rows else "Satterthwaite"


@functools.lru_cache(maxsize=None)
def r_has(package: str) -> bool:
    """Can Rscript load ``package``?"""
    rscript = shutil.which("Rscript")
    if not rscript:
        return False
    try:
        run = subprocess.run([rscript, "-e", f"quit(status = !requireNamespace({_r_string(package)}, quietly = TRUE))"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0


def role(family: str, config) -> str:
    """A family's part in the report: "primary" (its tests enter the report-wide FDR), "sensitivity"
    (the per-vowel models on the other formant scale: the same hypotheses, read beside the primary ones)
    or "explore" (undeclared attributes, with ``profile.explore``)."""
    if family.startswith("explore: "):
        return "explore"
    scale = VOWEL_SCALES.get(config.vowel_scale, VOWEL_SCALES["normalised"])
    if family.split(":")[0] in VOWEL_MEASURES and family.split(":")[0] != scale:
        return "sensitivity"
    return "primary"


def fit_models(tokens, utterances, speakers, survey, types: dict[str, AttributeType], config, *, measures=None,
               attributes=None, engine: str | None = None, export_dir: Path | None = None):
    """Every model of the configuration: one row per tested term, trend or joint test (a DataFrame).

    ``measures`` restricts the measures fitted (e.g. {"articulation_rate", "f2_hz"}) and ``attributes``
    the attributes whose models are fitted (the others still serve as controls); ``engine``
    overrides ``config.engine``; ``export_dir`` gets the data and the R script (the lme4 engine
    needs one: a temporary folder when None).

    Columns beside the estimates: ``primary`` (the one test of an attribute on a measure that the
    report reads: an ordinal's trend, a categorical's joint test or its one contrast, each
    interaction; in a primary family), ``role`` (primary, sensitivity, explore: see :func:`role`),
    ``q`` (BH within the family, over its headline tests), ``q_report`` (BH over every primary test of
    the report), ``sd_between`` (SD of the speakers' mean of the measure in the model's rows) and
    ``estimate_sd`` (the estimate in those SDs). ``table.attrs["means"]``: adjusted level means (records: model_id,
    attribute, level, mean, se, df, ci_low, ci_high).
    """
    import tempfile

    import pandas as pd

    engine = resolve_engine(engine or config.engine)
    codings = {}
    for name, t in types.items():
        c = code_attribute(t, survey[survey.speaker_id.isin(set(speakers.speaker_id))])
        if c is not None:
            codings[name] = c
    data = model_data(tokens, utterances, speakers, survey, codings, config.interactions)
    ready, skipped = [], 0
    subsets: dict = {}
    for spec in _specs(data, codings, types, config, measures):
        if attributes is not None and spec.attribute not in attributes:
            continue
        d = prepare(spec, data, subsets)
        m, reason = finalise(spec, d)
        if reason:
            skipped += 1
            continue
        if engine == "lme4" and m.random:
            m.ddf = _ddf(config, len(d))
        ready.append((m, d))
    models = [m for m, _ in ready]
    if engine == "lme4":
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(export_dir) if export_dir else Path(tmp)
            write_export(folder, models, data, survey, codings, config.interactions)
            results = fit_lme4(folder) if models else {}
        version = lme4_version()
        engine_text = (f"lme4 {version.split()[0]} + lmerTest {version.split()[1]} (REML; Kenward-Roger df up to "
                       f"{config.kr_max_rows} rows, Satterthwaite above)" if config.ddf == "auto" and r_has("pbkrtest")
                       else f"lme4 {version.split()[0]} + lmerTest {version.split()[1]} (REML; "
                       f"{models[0].ddf if models else 'Satterthwaite'} df)")
    else:
        if export_dir:
            write_export(Path(export_dir), models, data, survey, codings, config.interactions)
        results = {m.id: fit_statsmodels(m, d) for m, d in ready}
        engine_text = "statsmodels MixedLM (REML; t with speakers − between-speaker terms − 1 df)"
    rows, means = [], []
    spread = {}
    for m, d in ready:
        per_speaker = d.groupby("speaker_id")[m.measure].mean()
        spread[m.id] = float(per_speaker.std()) if len(per_speaker) > 1 else np.nan
    for m in models:
        r = results.get(m.id)
        if r is None:
            continue
        v = r["variances"]
        total = sum(v.values())
        icc = v.get("speaker_id", np.nan) / total if total > 0 and "speaker_id" in v else np.nan
        dropped = [] if engine == "lme4" else [g for g in m.random[1:]]
        shown = Model(**{**m.__dict__, "word_slopes": False}) if "simplified to (1 | word)" in r["status"] else m
        random = " + ".join(t for t in shown.random_terms(engine) if not any(f"| {g})" in t for g in dropped))
        labels = _labels(m)
        common = {"family": m.family, "role": role(m.family, config), "level": m.level, "measure": m.measure,
                  "language": m.language, "vowel": m.vowel, "attribute": m.attribute,
                  "n_speakers": r["n_speakers"], "n_rows": r["n_rows"],
                  "formula": shown.formula("lme4" if engine == "lme4" else "statsmodels"), "engine": engine_text,
                  "df_method": r.get("df_method", ""), "adjusted_for": m.adjusted_for,
                  "random": random or "none (one row per speaker)",
                  "left_out": ("(1 | " + ") + (1 | ".join(dropped) + "): statsmodels cannot cross random effects")
                  if dropped else "",
                  "var_speaker": v.get("speaker_id", np.nan), "var_word": v.get("word", np.nan),
                  "var_recording": v.get("recording_id", np.nan), "var_residual": v.get("residual", np.nan),
                  "icc": icc, "status": r["status"], "model_id": m.id, "sd_between": spread.get(m.id, np.nan)}
        if not r["rows"]:  # the model failed (lme4: its error is in status)
            rows += [{**common, "term": labels.get(col, col), "test": "coefficient", "primary": False}
                     for col in m.main]
            continue
        for row in r["rows"]:
            test = row["test"]
            term = row.get("term") or ""
            interaction = "_x_" in term
            if test == "coefficient":
                label = labels.get(term, term)
                headline = interaction or (m.trend is None and not m.joint)
            elif test == "trend":
                label, headline = "linear trend, per level", True
            else:
                label, headline = f"joint test of {m.attribute}", m.trend is None
            rows.append({**common, "term": label, "test": test, "headline": bool(headline),
                         "estimate": row.get("estimate"), "se": row.get("se"), "df": row.get("df"),
                         "statistic": row.get("statistic"), "p": row.get("p")})
        for row in r.get("means", []):
            means.append({"model_id": m.id, "family": m.family, "measure": m.measure, "language": m.language,
                          "vowel": m.vowel, "attribute": m.attribute, "level": row["level"],
                          "mean": row["estimate"], "se": row["se"], "df": row["df"]})
    table = pd.DataFrame(rows)
    if not len(table):
        return table
    for col in ("estimate", "se", "df", "statistic", "p"):
        table[col] = pd.to_numeric(table[col], errors="coerce") if col in table else np.nan
    from scipy import stats

    table["headline"] = table.headline.fillna(False).astype(bool)
    table["primary"] = table.headline & (table.role == "primary")
    half = stats.t.ppf(0.975, table.df.where(table.df > 0)) * table.se
    table["ci_low"], table["ci_high"] = table.estimate - half, table.estimate + half
    mean_abs = {m.id: float(np.nanmean(np.abs(d[m.measure].astype(float)))) or np.nan for m, d in ready}
    table["relative"] = table.estimate / table.model_id.map(mean_abs)
    table["estimate_sd"] = table.estimate / table.sd_between
    table["q"] = np.nan
    for _, idx in table[table.headline].groupby("family").groups.items():
        table.loc[idx, "q"] = fdr(table.loc[idx, "p"])
    table["q_report"] = np.nan
    table.loc[table.primary, "q_report"] = fdr(table.loc[table.primary, "p"])
    means = pd.DataFrame(means, columns=["model_id", "family", "measure", "language", "vowel", "attribute", "level",
                                         "mean", "se", "df"])
    if len(means):
        half = stats.t.ppf(0.975, means.df.where(means.df > 0)) * means.se
        means["ci_low"], means["ci_high"] = means["mean"] - half, means["mean"] + half
    table.attrs["means"] = means.to_dict("records")  # records: attrs must compare with ==, as concat does
    table.attrs["skipped"] = skipped
    table.attrs["engine"] = engine_text
    return table


# -- checks the report leads with ----------------------------------------------------------------------------


def _cramers_v(a, b) -> float:
    import pandas as pd

    table = pd.crosstab(a, b).to_numpy(float)
    if min(table.shape) < 2:
        return np.nan
    n = table.sum()
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / n
    chi2 = np.sum((table - expected) ** 2 / np.where(expected > 0, expected, np.nan))
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def aliasing(survey, types, context) -> list[dict]:
    """Attributes aliased with language, interviewer or recording channel (one row per speaker in ``context``).

    ``context``: speaker_id and any of language, interviewer, channel. Categorical attributes use
    Cramér's V; numeric and ordinal ones the correlation ratio (η) of the attribute over the groups.
    """
    out = []
    d = survey.merge(context, on="speaker_id", how="inner")
    for name, t in types.items():
        for other in ("language", "interviewer", "channel"):
            if other not in d or d[other].nunique() < 2:
                continue
            ok = d[name].notna() & d[other].notna()
            if ok.sum() < 3:
                continue
            x, g = d.loc[ok, name], d.loc[ok, other].astype(str)
            if t.kind == "categorical":
                v = _cramers_v(x.astype(str), g)
            else:
                y = (x.cat.codes if t.kind == "ordinal" else x).astype(float)
                total = np.sum((y - y.mean()) ** 2)
                between = sum(len(s) * (s.mean() - y.mean()) ** 2 for _, s in y.groupby(g.to_numpy()))
                v = float(np.sqrt(between / total)) if total > 0 else np.nan
            if np.isfinite(v) and v >= ALIASED_V:
                out.append({"attribute": name, "with": other, "strength": v,
                            "message": f"{name} is aliased with {other} (association {v:.2f} of 1): its effects "
                                       f"cannot be told from {other}'s; the models adjust for language, but compare "
                                       f"{name} within one {other} before reading them"})
    return out


def confounds(speakers, utterances, survey, types, controls, measures=("f0_mean_st", "f0_median_st", "f0_median_hz",
                                                                        "formant_scale_hz", "articulation_rate")):
    """Attributes that dominate a measure's differences between speakers but are not controls.

    For each measure (speaker means) and attribute not in ``controls``: the share of the variance
    between speakers that the attribute explains (R² of a one-way model). A share of
    CONFOUND_SHARE or more means the models of every other attribute on that measure mix that
    attribute's effect in: add it to ``profile.controls``.
    """
    from scipy import stats

    out = []
    means = utterances.groupby("speaker_id")[[c for c in measures if c in utterances]].mean()
    sp = speakers.set_index("speaker_id")[[c for c in measures if c in speakers and c not in means]]
    per_speaker = means.join(sp, how="outer").reset_index(names="speaker_id")
    d = per_speaker.merge(survey, on="speaker_id", how="inner")
    for measure in [c for c in measures if c in d]:
        for name, t in types.items():
            if name in controls:
                continue
            ok = d[measure].notna() & d[name].notna()
            y, x = d.loc[ok, measure].astype(float), d.loc[ok, name]
            if len(y) < 4 or y.var() == 0:
                continue
            if t.kind == "numeric":
                r, p = stats.pearsonr(x.astype(float), y)
                share = r ** 2
            else:
                groups = [y[(x.astype(str) == lvl).to_numpy()] for lvl in map(str, t.levels)]
                groups = [g for g in groups if len(g)]
                if len(groups) < 2:
                    continue
                share = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups) / np.sum((y - y.mean()) ** 2)
                p = stats.f_oneway(*groups).pvalue if all(len(g) > 1 for g in groups) else np.nan
            if share >= CONFOUND_SHARE and p < 0.01:
                others = [a for a in types if a != name]
                out.append({"measure": measure, "attribute": name, "share": float(share), "p": float(p),
                            "message": f"{measure} is {name}-confounded: {name} explains {100 * share:.0f} % of the "
                                       f"differences between speakers and is not a control, so the models of "
                                       f"{', '.join(others) or 'the other attributes'} on {measure} mix its effect "
                                       f"in; add `controls: [{name}]` to the profile config"})
    return out
