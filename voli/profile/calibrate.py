"""Calibration on the user's own corpus: how often would the report find an effect that is not there,
and how often does it find one that is?

``voli calibrate WORKDIR`` refits the profile stage's models (same engine, same configuration) on the
corpus's own measurements with the survey attributes shuffled among speakers, and again with a known
shift spliced into the real tokens:

* **false positives**: each tested attribute (not the controls) is shuffled among the speakers
  *within strata* of the categorical controls and language (``within``; a stratum of one speaker
  cannot move, ``movable`` says which share of the speakers could) (a speaker keeps her gender and language;
  an attribute that follows gender keeps following it), so every effect of the attribute is gone and
  what the models still find is what they would find by chance on this corpus. Per family:
  ``any finding`` = the share of shuffles in which the family reports at least one q < 0.05 (what
  the report's threshold promises to hold at 5 %), and ``per test`` = the share of primary tests
  with p < 0.05 (5 % for tests whose p-values are right).
* **power**: in each shuffle, one shuffled attribute (in turn) gets a shift of ``shift_sd``
  between-speaker SDs added to every measure of every family (its non-reference levels; a numeric
  attribute per SD of it), and the share of its primary tests found at q < 0.05 with the right sign
  is its power on this corpus. For the vowel-dynamics family the shift is one of shape: each
  trajectory's glide (its F1 or F2 change per unit of time over the vowel) grows by ``shift_sd``
  between-speaker SDs of the speakers' mean glide, around the token's midpoint (which moves with
  the midpoint measures' shift), and the family's difference smooths are its tests.

Where an attribute has a real effect, a shuffled copy that happens to resemble it (likelier with few
speakers, small strata, or speakers who cannot move) carries part of that effect, so the
false-positive rates are then an upper bound; they are exact for an attribute without effect.
Every rate comes with its Wilson 95 % interval. A family whose false-positive rate is above
:data:`FLAG_RATE` is flagged: the report names it first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voli.errors import ConfigError

FLAG_RATE = 0.075  # a family finding effects in more than this share of shuffled corpora is flagged
COLUMNS = ("family", "engine", "what", "threshold", "tests", "hits", "rate", "ci_low", "ci_high", "shuffles",
           "strata", "movable", "shift_sd", "flagged")


WITHIN = ("controls", "language", "none")  # what the shuffles stay within (see strata_of)


def strata_of(survey, types, controls, language, within: str = "controls") -> np.ndarray:
    """One label per speaker: the levels of the categorical controls and the speaker's language
    (``within="controls"``, :func:`voli.profile.structure.control_strata` over those controls), the
    language alone (``"language"``) or one stratum (``"none"``). Numeric controls are not stratified."""
    from voli.profile.structure import control_strata

    if within not in WITHIN:
        raise ConfigError(f"calibrate: --within {within!r}; use {', '.join(WITHIN)}")
    categorical = [c for c in controls if c in types and types[c].kind != "numeric"] if within == "controls" else []
    labels, _ = control_strata(survey, types, categorical, None if within == "none" else language)
    return labels if labels is not None else np.zeros(len(survey), dtype=object)


def movable(survey, attribute: str, strata) -> float:
    """The share of speakers whose value of ``attribute`` a shuffle within ``strata`` can change: those in a
    stratum with at least two speakers and two different values."""
    values = survey[attribute].astype(object).to_numpy()
    strata = np.asarray(strata, dtype=object)
    moving = 0
    for s in set(strata.tolist()):
        inside = values[strata == s]
        if len({str(v) for v in inside if v == v and v is not None}) > 1:
            moving += len(inside)
    return moving / max(len(values), 1)


def _splice(tables: dict, coded, shift_sd: float) -> dict:
    """The measurement tables with ``shift_sd`` between-speaker SDs added per unit of ``coded`` (speaker -> 0/1
    or z), every measure the models read; per-vowel measures within their language and vowel."""
    from voli.profile.specs import SPEAKER_MEASURES, UTTERANCE_MEASURES, VOWEL_MEASURES

    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        g = frame.speaker_id.map(coded).fillna(0.0).to_numpy(float)
        if name == "tokens":
            measures = [m for ms in VOWEL_MEASURES.values() for m in ms if m in frame]
            keys = ["language", "phone"]
        else:
            measures = [m for m in (UTTERANCE_MEASURES if name == "utterances" else SPEAKER_MEASURES) if m in frame]
            keys = []
        for m in measures:
            if keys:
                means = frame.groupby(keys + ["speaker_id"])[m].transform("mean")
                sd = means.groupby([frame[k] for k in keys]).transform("std")
            else:
                sd = frame.groupby("speaker_id")[m].mean().std()
            frame[m] = frame[m] + shift_sd * np.nan_to_num(np.asarray(sd, dtype=float) * np.ones(len(frame))) * g
        out[name] = frame
    return out


def _splice_glides(tracks, tokens, spliced_tokens, coded, shift_sd: float):
    """The trajectories with each token's glide grown by ``shift_sd`` between-speaker SDs per unit of ``coded``.

    A token's glide is the slope of its formant over the vowel (least squares over its points, time
    -0.5..0.5); the SD is that of the speakers' mean slopes, per language, vowel and formant. Every point
    moves by shift × SD × coded × (time - 0.5), so the token's midpoint stays where it was, then by the
    shift the midpoint measures got (``spliced_tokens`` minus ``tokens``, per language and vowel)."""
    import pandas as pd

    from voli.profile.dynamics import TOKEN_KEY

    key = list(TOKEN_KEY)  # the analysed tokens' trajectories only
    kept = tokens[key].assign(start=tokens.start.round(4)).drop_duplicates()
    out = tracks.assign(start=tracks.start.round(4)).merge(kept, on=key, how="inner")
    g = out.speaker_id.map(coded).fillna(0.0).to_numpy(float)
    x = out.point.to_numpy(float) / 100 - 0.5
    keys = ["language", "phone"]
    token = [out[c] for c in key]
    for f in ("f1_hz", "f2_hz"):
        if f not in out:
            continue
        y = out[f].to_numpy(float)
        ok = np.isfinite(y)
        frame = out.assign(_xy=np.where(ok, x * y, np.nan), _xx=np.where(ok, x * x, np.nan),
                           _y=np.where(ok, y, np.nan), _x=np.where(ok, x, np.nan))
        sums = frame.groupby(token)[["_xy", "_xx", "_y", "_x"]].transform("sum")
        counts = frame.groupby(token)["_y"].transform("count")
        slope = (sums._xy - sums._x * sums._y / counts) / (sums._xx - sums._x ** 2 / counts)
        speaker_slope = slope.groupby([out[k] for k in keys] + [out.speaker_id]).transform("mean")
        first = ~frame.duplicated(subset=keys + ["speaker_id"])
        sd = speaker_slope[first].groupby([out.loc[first, k] for k in keys]).std()
        sd_rows = pd.MultiIndex.from_frame(out[keys]).map(sd.to_dict().get) if len(sd) else None
        sd_rows = np.nan_to_num(np.asarray(sd_rows, dtype=float)) if sd_rows is not None else np.zeros(len(out))
        level = 0.0
        if f in tokens and f in spliced_tokens:  # the same per-vowel shift the midpoint measures got
            moved = (spliced_tokens[f] - tokens[f]).groupby([tokens[k] for k in keys] + [tokens.speaker_id]).mean()
            level = np.nan_to_num(np.asarray(
                pd.MultiIndex.from_frame(out[keys + ["speaker_id"]]).map(moved.to_dict().get), dtype=float))
        out[f] = y + shift_sd * sd_rows * g * x + level
    return out


def _coded(survey, t) -> dict:
    """speaker -> the shift's multiplier: 1 at the levels other than the models' reference (code_attribute's),
    z for numbers."""
    from voli.profile.coding import code_attribute

    values = survey.set_index("speaker_id")[t.name]
    if t.kind == "numeric":
        x = values.astype(float)
        return ((x - x.mean()) / (x.std() or 1.0)).dropna().to_dict()
    coding = code_attribute(t, survey)
    if coding is None:  # one level only: nothing to shift against
        return {}
    return {sid: float(v != coding.reference) for sid, v in values.astype(object).items() if v == v and v is not None}


def calibrate(survey, types, tokens, utterances, speakers, config, *, language, shuffles: int = 20,
              shift_sd: float = 0.5, engine: str | None = None, seed: int = 0, measures=None,
              within: str = "controls", tracks=None):
    """The calibration table (see the module docstring) of one corpus's profile models.

    ``tokens``, ``utterances``, ``speakers``: the tables the profile stage models (speaker_measures'
    output, utterances of the analysed roles); ``language``: speaker_id -> language (a dict or Series);
    ``measures``: only these measures' models (as fit_models; None: all of them); ``within``: what the
    shuffles stay within (:func:`strata_of`); ``tracks``: the vowel trajectories, so that the
    vowel-dynamics family is calibrated too (false positives, and power for a glide spliced in by
    :func:`_splice_glides`). A corpus where no speaker can be moved (every stratum
    holds one speaker, or one value of each attribute) cannot be calibrated that way: a ConfigError
    says so and what to do.
    """
    import pandas as pd

    from voli.profile.coding import declared_attributes
    from voli.profile.engines import resolve_engine
    from voli.profile.models import fit_models
    from voli.profile.power import wilson
    from voli.profile.structure import permute_within

    if int(shuffles) < 1:
        raise ConfigError(f"calibrate: --shuffles {shuffles!r}; it must be at least 1 (20 or more is usual)")
    engine = resolve_engine(engine or config.engine)
    survey = survey[survey.speaker_id.isin(set(speakers.speaker_id))].reset_index(drop=True)
    tested = [a for a in declared_attributes(types, config) if a not in config.controls and a in survey]
    if config.explore:
        tested += [a for a in types if a not in tested and a not in config.controls and a in survey]
    if not tested:
        raise ConfigError("calibrate: no attribute is tested (declare one in survey.yaml or profile.attributes; "
                          "the controls are not shuffled)")
    lang = survey.speaker_id.map(dict(language)).fillna("?").to_numpy()
    strata = strata_of(survey, types, config.controls, lang, within)
    strata_words = {"controls": " × ".join([c for c in config.controls if c in types and types[c].kind != "numeric"]
                                           + ["language"]), "language": "language", "none": "the whole corpus"}[within]
    share = {a: movable(survey, a, strata) for a in tested}
    if not any(share.values()):
        raise ConfigError(f"calibrate: no speaker's {', '.join(tested)} can be shuffled within {strata_words}: "
                          f"{len(survey)} speakers in {len(set(strata.tolist()))} strata, each with one speaker or one "
                          "value; calibrate with --within language (the shuffles then cross the controls, so an "
                          "attribute that follows a control no longer does) or --within none, or on more speakers")
    rng = np.random.default_rng(seed)
    null_counts: dict = {}
    power_counts: dict = {}
    engine_text = ""
    for r in range(int(shuffles)):
        shuffled = survey.copy()
        for a in tested:
            index = permute_within(strata, 1, rng)[0]
            shuffled[a] = survey[a].to_numpy()[index]
        null = fit_models(tokens, utterances, speakers, shuffled, types, config, engine=engine, measures=measures,
                          tracks=tracks)
        engine_text = null.attrs.get("engine", engine_text)
        if len(null):
            for family, rows in null[null.primary & null.attribute.isin(tested)].groupby("family"):
                c = null_counts.setdefault(family, [0, 0, 0, 0])  # tests, p hits, shuffles, shuffles with a finding
                c[0] += len(rows)
                c[1] += int((rows.p < 0.05).sum())
                c[2] += 1
                c[3] += int((rows.q < 0.05).any())
        target = tested[r % len(tested)]
        coded = _coded(shuffled, types[target])
        spliced = _splice({"tokens": tokens, "utterances": utterances, "speakers": speakers}, coded, shift_sd)
        glides = None if tracks is None else _splice_glides(tracks, tokens, spliced["tokens"], coded, shift_sd)
        shifted = fit_models(spliced["tokens"], spliced["utterances"], spliced["speakers"], shuffled, types, config,
                             engine=engine, attributes={target}, measures=measures, tracks=glides)
        if len(shifted):
            rows = shifted[shifted.primary & (shifted.attribute == target)]
            for family, fam in rows.groupby("family"):  # a joint test and a shape (an F test) have no sign
                found = (fam.q < 0.05) & (fam.test.isin(["joint", "smooth"]) | (np.sign(fam.estimate) > 0))
                c = power_counts.setdefault(family, [0, 0])
                c[0] += len(fam)
                c[1] += int(found.sum())
    out = []
    base = {"engine": engine_text, "shuffles": int(shuffles), "strata": strata_words, "shift_sd": float(shift_sd),
            "movable": float(np.mean(list(share.values())))}
    for family, (tests, p_hits, n, any_hits) in sorted(null_counts.items()):
        for what, threshold, k, total in (("false positives", "any q < 0.05 in the family", any_hits, n),
                                          ("false positives", "p < 0.05 per primary test", p_hits, tests)):
            lo, hi = wilson(k, total)
            out.append({"family": family, "what": what, "threshold": threshold, "tests": total, "hits": k,
                        "rate": k / total if total else np.nan, "ci_low": lo, "ci_high": hi,
                        "flagged": bool(total and k / total > FLAG_RATE), **base})
    for family, (tests, hits) in sorted(power_counts.items()):
        lo, hi = wilson(hits, tests)
        out.append({"family": family, "what": "power", "threshold": f"q < 0.05, shift {shift_sd:g} between-speaker SD",
                    "tests": tests, "hits": hits, "rate": hits / tests if tests else np.nan, "ci_low": lo,
                    "ci_high": hi, "flagged": False, **base})
    return pd.DataFrame(out, columns=list(COLUMNS))


def corpus_tables(corpus_dir: Path, features_dir: Path, config) -> dict:
    """The tables :func:`calibrate` reads, from a corpus and its features stage: survey, types, tokens,
    utterances (the analysed roles), speakers, config (with survey.yaml's controls), language
    (speaker_id -> language) and tracks (the vowel trajectories, or None)."""
    from voli.profile.speakers import speaker_languages, speaker_measures
    from voli.profile.stage import load_inputs

    inputs = load_inputs(Path(corpus_dir), Path(features_dir), config)
    config = inputs["config"]
    speakers, tokens = speaker_measures(inputs["vowels"], inputs["prosody"], config)
    utterances = inputs["utterances"]
    utterances = utterances[utterances.role.isin(config.roles)]
    return {"survey": inputs["survey"], "types": inputs["types"], "tokens": tokens, "utterances": utterances,
            "speakers": speakers, "config": config, "language": speaker_languages(utterances),
            "tracks": inputs["tracks"]}


def calibrate_corpus(corpus_dir: Path, features_dir: Path, config, *, shuffles: int = 20, shift_sd: float = 0.5,
                     engine: str | None = None, seed: int = 0, within: str = "controls"):
    """Calibrates the profile models of a corpus on the features stage's tables; returns the table."""
    t = corpus_tables(corpus_dir, features_dir, config)
    return calibrate(t["survey"], t["types"], t["tokens"], t["utterances"], t["speakers"], t["config"],
                     language=t["language"], shuffles=shuffles, shift_sd=shift_sd, engine=engine, seed=seed,
                     within=within, tracks=t["tracks"])
