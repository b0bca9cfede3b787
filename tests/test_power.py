"""Simulated tables with confounds, and `voli power`: planted effects found as often as promised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voli.errors import ConfigError
from voli.profile.power import Design, simulate_power, summarise
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import design_tables, simulate_tables, with_sex_differences

ATTRIBUTES = {"gender": {"levels": ["woman", "man"]},
              "education": {"levels": ["primary", "secondary", "bachelor", "master"], "ordered": True}}


def spec(effects=(), sd=None) -> EffectSpec:
    return EffectSpec.from_dict({"attributes": ATTRIBUTES, "effects": list(effects), "between_speaker_sd": sd or {}})


# -- the simulator ---------------------------------------------------------------------------------------


def test_balanced_gender_has_equal_counts_and_association_makes_education_follow_gender():
    for seed in range(5):
        speakers = simulate_tables(spec(), 12, seed=seed, balanced=("gender",))["speakers"]
        assert (speakers.gender == "woman").sum() == 6 and (speakers.gender == "man").sum() == 6
    assert len({tuple(simulate_tables(spec(), 12, seed=s, balanced=("gender",))["speakers"].gender)
                for s in range(5)}) > 1  # shuffled, not a fixed order

    def upper_share(strength):
        s = simulate_tables(spec(), 400, seed=1, tokens_per_vowel=1, utterances=3, balanced=("gender",),
                            association={"education": ("gender", strength)})["speakers"]
        upper = s.education.isin(["bachelor", "master"])
        return upper[s.gender == "woman"].mean(), upper[s.gender == "man"].mean()

    women, men = upper_share(0.8)  # 80 % follow gender (women lower half, men upper), 20 % anywhere
    assert women < 0.2 and men > 0.8
    women, men = upper_share(0.0)
    assert abs(women - men) < 0.15


def test_vowel_shift_moves_only_that_vowel_and_formant_by_the_planted_factor():
    shift = {"measure": "vowel_shift", "attribute": "gender", "levels": {"man": 1.15}, "vowel": "u", "formant": 2}
    base = simulate_tables(spec(), 10, seed=4, languages=("es", "fr"))["vowels"]
    shifted = simulate_tables(spec([shift]), 10, seed=4, languages=("es", "fr"))["vowels"]
    gender = simulate_tables(spec(), 10, seed=4, languages=("es", "fr"))["speakers"].set_index("speaker_id").gender
    ratio_f1 = shifted.f1_50_hz / base.f1_50_hz
    ratio_f2 = shifted.f2_50_hz / base.f2_50_hz
    target = (shifted.phone == "u") & (shifted.speaker_id.map(gender) == "man")
    assert target.sum() > 0
    np.testing.assert_allclose(ratio_f2[target], 1.15)
    np.testing.assert_allclose(ratio_f2[~target], 1.0)
    np.testing.assert_allclose(ratio_f1, 1.0)


def test_sex_differences_languages_words_and_unequal_counts():
    s = with_sex_differences(spec(sd={"f0_level": 0.03}))
    t = simulate_tables(s, 24, seed=2, balanced=("gender",), languages=("es", "fr"), token_spread=0.5,
                        tokens_per_vowel=40, word_sd=0.08, words_per_vowel=8, f0_hz=205, f0_speaker_sd=0.0)
    sp = t["speaker_prosody"].merge(t["speakers"], on="speaker_id")
    f0 = sp.groupby("gender").f0_median_hz.mean()
    assert 0.5 < f0["man"] / f0["woman"] < 0.6
    v = t["vowels"]
    assert set(v.groupby("language").phone.unique()["es"]) == {"a", "e", "i", "o", "u"}
    assert {"y", "ø", "ə"} <= set(v[v.language == "fr"].phone)
    assert v.groupby("speaker_id").language.nunique().max() == 1
    counts = v.groupby(["speaker_id", "phone"]).size()
    assert counts.max() > 3 * counts.median()  # lognormal counts, vowel frequencies
    for column in ("previous_phone", "next_phone", "stress", "speaker_confidence", "overlap", "word_probability"):
        assert column in v
    # every word has its own offset: word means of one vowel spread beyond token noise
    a = v[(v.language == "es") & (v.phone == "a")].copy()
    a["r"] = np.log(a.f2_50_hz) - np.log(a.groupby("speaker_id").f2_50_hz.transform("mean"))
    words = a.groupby("word").r.agg(["mean", "size"])
    words = words[words["size"] >= 10]
    assert len(words) >= 4 and words["mean"].std() > 0.04
    flat = simulate_tables(s, 24, seed=2, languages=("es", "fr"), tokens_per_vowel=40, word_sd=0.0, words_per_vowel=8)
    b = flat["vowels"][(flat["vowels"].language == "es") & (flat["vowels"].phone == "a")].copy()
    b["r"] = np.log(b.f2_50_hz) - np.log(b.groupby("speaker_id").f2_50_hz.transform("mean"))
    assert b.groupby("word").r.mean().std() < 0.03
    # speakers use the words unequally: the most frequent word's share differs between speakers
    share = a.groupby("speaker_id").word.agg(lambda w: w.value_counts(normalize=True).iloc[0])
    assert share.max() - share.min() > 0.2


def test_unusable_tokens_are_the_ones_the_profile_leaves_out():
    from voli.config import ProfileConfig
    from voli.profile.speakers import vowel_tokens

    v = simulate_tables(spec(), 6, seed=0, tokens_per_vowel=40, unusable=0.2)["vowels"]
    kept = len(vowel_tokens(v, ProfileConfig()))
    assert 0.75 < kept / len(v) < 0.85
    clean = simulate_tables(spec(), 6, seed=0, tokens_per_vowel=40)["vowels"]
    assert len(vowel_tokens(clean, ProfileConfig())) == len(clean)


# -- the design -----------------------------------------------------------------------------------------


def test_design_errors_name_the_bad_key_and_value():
    with pytest.raises(ConfigError, match="unknown key.*'minuets'"):
        Design.from_dict({"attributes": ATTRIBUTES, "minuets": 10})
    with pytest.raises(ConfigError, match="controls: 'age' not among"):
        Design.from_dict({"attributes": ATTRIBUTES, "controls": ["age"]})
    with pytest.raises(ConfigError, match="variation: unknown key 'speech'"):
        Design.from_dict({"attributes": ATTRIBUTES, "variation": {"speech": 0.1}})
    with pytest.raises(ConfigError, match="measure 'rate'"):
        Design.from_dict({"attributes": ATTRIBUTES, "effects": [{"measure": "rate", "attribute": "education"}]})
    with pytest.raises(ConfigError, match="speakers.*at least 4"):
        Design.from_dict({"attributes": ATTRIBUTES, "speakers": [2, 8]})


# -- voli power -----------------------------------------------------------------------------------------

TINY = """\
attributes:
  gender: {levels: [woman, man]}
  education: {levels: [primary, secondary, bachelor, master], ordered: true}
effects:
  - {measure: speech_rate, attribute: education, per_unit: 0.2}
minutes: 1
controls: [gender]
balanced: [gender]
speakers: [6, 12]
simulations: 3
"""


def test_voli_power_writes_the_table_and_the_figure(tmp_path, capsys):
    from voli.cli import main

    (tmp_path / "design.yaml").write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["power", str(tmp_path / "design.yaml"), "--out", str(out), "--seed", "3", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "speech_rate ~ education" in printed and "false-positive rate" in printed
    table = pd.read_csv(out / "power.csv")
    assert (out / "power.png").stat().st_size > 10_000
    assert set(table.n_speakers) == {6, 12}
    big = table[(table.kind == "effect") & (table.n_speakers == 12)]
    assert set(big.model) == {"utterance articulation_rate", "speaker articulation_rate"}
    assert (big.power >= 2 / 3).all(), big  # +20 % per level over 12 speakers: found nearly always
    null = table[table.kind == "null_attribute"]
    assert len(null) == 4 and null.power.mean() <= 0.25  # 2 models x 2 sizes; nominal 0.05
    assert (table.ci_low <= table.power).all() and (table.power <= table.ci_high).all()


def test_an_effect_with_high_predicted_power_is_found_in_a_new_corpus():
    """Where power is predicted to be high, a fresh corpus (another seed) shows the effect with its sign."""
    from voli.config import ProfileConfig
    from voli.profile.models import fit_models
    from voli.profile.speakers import speaker_measures
    from voli.profile.survey import attribute_types, survey_table

    design = Design.from_dict({
        "attributes": ATTRIBUTES, "minutes": 1, "controls": ["gender"], "balanced": ["gender"],
        "effects": [{"measure": "f0_level", "attribute": "education", "per_unit": -0.15}],
        "association": {"education": ["gender", 0.6]}})
    summary = summarise(simulate_power(design, design_tables, speakers=(12,), simulations=3, seed=1))
    f0 = summary[(summary.kind == "effect") & summary.effect.str.startswith("f0_level")]
    assert len(f0) == 2 and (f0.power == 1).all(), f0
    # a corpus the power analysis never saw: F0 falls with education once gender is in the model
    import tempfile
    from pathlib import Path

    t = design_tables(design, 12, seed=12345)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "survey.yaml").write_text(design.survey_yaml(), encoding="utf-8")
        types = attribute_types(Path(tmp), t["speakers"])
        survey = survey_table(Path(tmp), t["speakers"], types)
    config = ProfileConfig(controls=("gender",), engine="statsmodels")
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    table = fit_models(tokens.iloc[:0], t["prosody"], speakers, survey, types, config,
                       measures={"f0_mean_st", "f0_median_st"}, engine="statsmodels")
    trend = table[(table.attribute == "education") & (table.test == "trend")]
    assert len(trend) == 2 and (trend.estimate < 0).all() and (trend.p < 0.05).all(), trend


def test_a_pilot_work_directory_gives_the_variation(tmp_path):
    """Variation measured on a finished work directory comes back close to what was simulated."""
    from voli.config import ProfileConfig
    from voli.profile.speakers import speaker_measures

    s = with_sex_differences(spec(sd={"speech_rate": 0.10, "f0_level": 0.10, "vocal_tract": 0.05}))
    t = simulate_tables(s, 40, seed=5, balanced=("gender",), tokens_per_vowel=30, utterances=30, token_sd=(0.12, 0.09),
                        f0_hz=205, f0_speaker_sd=0.0, vocal_tract_sd=0.0,
                        utterance_sd={"rate": 0.2, "f0_st": 1.5, "f0_sd": 0.25})
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], ProfileConfig())
    (tmp_path / "work" / "04_profile").mkdir(parents=True)
    (tmp_path / "work" / "03_features").mkdir()
    speakers.merge(t["speakers"], on="speaker_id").to_parquet(tmp_path / "work" / "04_profile" / "speakers.parquet")
    tokens.to_parquet(tmp_path / "work" / "04_profile" / "tokens.parquet")
    t["prosody"].to_parquet(tmp_path / "work" / "03_features" / "prosody.parquet")
    (tmp_path / "design.yaml").write_text("attributes: {gender: {levels: [woman, man]}}\ncontrols: [gender]\n"
                                          "pilot: work\nvariation: {word: 0.02}\n", encoding="utf-8")
    design = Design.load(tmp_path / "design.yaml")
    v = design.variation
    assert abs(v["speech_rate"] - 0.10) < 0.04 and abs(v["f0_level"] - 0.10) < 0.04  # within gender
    assert abs(v["vocal_tract"] - 0.05) < 0.02
    assert abs(v["utterance_rate"] - 0.2) < 0.02 and abs(v["utterance_f0_st"] - 1.5) < 0.15
    assert abs(v["token_f1"] - 0.12) < 0.015 and abs(v["token_f2"] - 0.09) < 0.015
    assert v["tokens_per_minute"] == pytest.approx(7 * 30 / (30 * 3.0 / 60))
    assert v["word"] == 0.02 and any("pilot" in note for note in design.notes)
    with pytest.raises(ConfigError, match="not found.*voli run"):
        Design.from_dict({"attributes": ATTRIBUTES, "pilot": str(tmp_path / "nowhere")})
