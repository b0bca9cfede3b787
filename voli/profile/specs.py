"""Model specifications: which models the configuration asks for (:func:`specs`), the rows each one
reads (:func:`prepare`) and the columns those rows can carry (:func:`finalise`: dummies of language
and context, an absent reference level replaced, aliased columns dropped, one headline test)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from voli.errors import ConfigError, VoliError
from voli.profile.coding import Coding, _name, declared_attributes, interaction_columns

UTTERANCE_MEASURES = ("articulation_rate", "speech_rate", "f0_mean_st", "f0_sd_st", "intensity_mean_db")
VOWEL_MEASURES = {"vowels Hz": ("f1_hz", "f2_hz"), "vowels normalised": ("f1_lobanov2", "f2_lobanov2")}
# speaker-level measures with no utterance-level model (articulation rate, F0 level and spread are tested once,
# per utterance, in the prosody family: the same hypothesis is not corrected twice)
SPEAKER_MEASURES = ("formant_scale_hz", "vowel_space_area_nearey", "vowel_dispersion_hz", "f0_range_st",
                    "pauses_per_minute", "filled_pauses_per_minute", "filled_pause_f1_hz", "filled_pause_f2_hz")
VOWEL_SCALES = {"normalised": "vowels normalised", "hz": "vowels Hz"}  # profile.vowel_scale -> its family

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
    between_terms: list[str] = field(default_factory=list)  # fixed columns constant within each speaker (set by
    # finalise; their number sets the statsmodels and speaker-means df)

    @property
    def between(self) -> int:
        return len(self.between_terms)

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


def specs(data, codings: dict[str, Coding], types, config, measures=None) -> list[Model]:
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
    if n_speakers - m.between - 1 < 1:
        return m, f"{n_speakers} speakers for {m.between} between-speaker terms"
    if m.level != "speaker" and len(d) <= n_speakers + len(m.fixed):
        return m, "fewer rows than speakers and terms"
    if "word" in m.random and d.word.nunique() < 2:
        m.random.remove("word")
    if "recording_id" in m.random and not _nested(d):
        m.random.remove("recording_id")
    return m, None
