"""voli calibrate: the false-positive rate and power of the profile models, estimated on the corpus itself."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from voli.config import ProfileConfig
from voli.profile.calibrate import calibrate, strata_of
from voli.profile.speakers import speaker_measures
from voli.profile.structure import permute_within
from voli.io.survey import attribute_types, survey_table
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import simulate_tables

SPEC = """
attributes:
  gender: {levels: [woman, man]}
  education: {levels: [secondary, university]}
effects:
  - {measure: f0_level, attribute: gender, levels: {man: 0.55}}
between_speaker_sd: {speech_rate: 0.05, f0_level: 0.04, f0_range: 0.05}
"""
SURVEY = "attributes:\n  gender: {levels: [woman, man]}\n  education: {levels: [secondary, university]}\n"


def corpus(tmp_path, n=16, seed=4):
    spec = EffectSpec.from_dict(yaml.safe_load(SPEC))
    t = simulate_tables(spec, n, seed=seed, balanced=("gender",), association={"education": ("gender", 0.7)},
                        null_attributes=("shoe_size",))
    (tmp_path / "survey.yaml").write_text(SURVEY + "  shoe_size: {range: [0, 100]}\n", encoding="utf-8")
    types = attribute_types(tmp_path, t["speakers"])
    return t, types, survey_table(tmp_path, t["speakers"], types)


def test_shuffles_keep_each_stratum_s_levels(tmp_path):
    """Shuffled within gender x language: an attribute that follows gender keeps following it exactly."""
    t, types, survey = corpus(tmp_path)
    strata = strata_of(survey, types, ("gender",), ["es"] * len(survey))
    index = permute_within(strata, 50, np.random.default_rng(0))
    before = survey.groupby("gender", observed=True).education.value_counts().sort_index()
    for row in index:
        shuffled = survey.assign(education=survey.education.to_numpy()[row])
        assert shuffled.groupby("gender", observed=True).education.value_counts().sort_index().equals(before)
    assert (index != np.arange(len(survey))).any(axis=1).all()  # and the speakers do move


@pytest.mark.slow
def test_calibration_estimates_a_known_false_positive_rate_and_finds_a_known_shift(tmp_path):
    """Least squares on speaker measures has a false-positive rate of exactly 5 % at p < 0.05: calibrate's
    interval holds it; a 1-SD shift spliced into the measures is found in most shuffles; the table says how."""
    t, types, survey = corpus(tmp_path)
    config = ProfileConfig(controls=("gender",), per_vowel=False)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    language = t["prosody"].groupby("speaker_id").language.first()
    from voli.profile.specs import SPEAKER_MEASURES

    table = calibrate(survey, types, tokens, t["prosody"], speakers, config, language=language, shuffles=20,
                      shift_sd=1.0, engine="statsmodels", seed=1,
                      measures={"articulation_rate", "f0_mean_st", *SPEAKER_MEASURES})
    assert set(table.strata) == {"gender × language"} and (table.shuffles == 20).all()
    per_test = table[(table.what == "false positives") & table.threshold.str.startswith("p < 0.05")].set_index("family")
    ols = per_test.loc["speaker measures"]
    power = table[table.what == "power"].set_index("family")
    print(per_test[["tests", "rate", "ci_low", "ci_high"]].to_string(), power[["tests", "rate"]].to_string(), sep="\n")
    # README: 2.5 % [0.9, 7.1] of 120 tests (3 significant); power 0.83 (prosody), 0.63 (speaker measures)
    assert ols.tests >= 20 * 2 * 3 and ols.ci_low <= 0.05 <= ols.ci_high, ols.to_dict()
    assert ols.rate <= 0.05, ols.to_dict()  # at most 6 of the 120 tests
    family_wise = table[table.threshold.str.startswith("any q")]
    assert (family_wise.rate <= 0.2).all(), family_wise[["family", "rate"]]
    assert power.loc["prosody", "rate"] > 0.7 and power.loc["speaker measures", "rate"] > 0.5, power[["rate", "tests"]]
    assert not table[table.what == "power"].flagged.any()


def test_a_corpus_whose_strata_hold_one_speaker_each_is_not_calibrated_in_silence(tmp_path):
    """Four languages of two speakers, a woman and a man each (corpora_sample's design): within gender x
    language nobody can move, and calibrate says so and what to do instead of reporting the real data."""
    from voli.errors import ConfigError
    from voli.profile.calibrate import movable

    t, types, survey = corpus(tmp_path, n=8)
    survey = survey.sort_values("gender", kind="stable").reset_index(drop=True)
    language = dict(zip(survey.speaker_id, ["en", "es", "fr", "pt"] * 2))  # one woman and one man each
    config = ProfileConfig(controls=("gender",), per_vowel=False)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    strata = strata_of(survey, types, ("gender",), [language[s] for s in survey.speaker_id])
    assert movable(survey, "education", strata) == 0
    with pytest.raises(ConfigError, match="--within language"):
        calibrate(survey, types, tokens, t["prosody"], speakers, config, language=language, shuffles=2,
                  engine="statsmodels")
    coarse = strata_of(survey, types, ("gender",), [language[s] for s in survey.speaker_id], "language")
    assert movable(survey, "education", coarse) > 0
