"""Simulated tables with confounds, and `voli power`: planted effects found as often as promised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voli.errors import ConfigError
from voli.profile.power import Design, simulate_power, summarise
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import design_tables, simulate_tables, with_sex_differences
from voli.workdir import Workdir

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
engine: statsmodels
"""


def test_voli_power_writes_the_table_and_the_figure(tmp_path, capsys):
    from voli.cli import main

    (tmp_path / "design.yaml").write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["power", str(tmp_path / "design.yaml"), "--out", str(out), "--seed", "3", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "speech_rate ~ education" in printed and "false-positive rate" in printed
    assert "q < 0.05" in printed and "engine statsmodels" in printed and "families: whole" in printed
    table = pd.read_csv(out / "power.csv")
    assert (out / "power.png").stat().st_size > 10_000
    assert set(table.n_speakers) == {6, 12}
    big = table[(table.kind == "effect") & (table.n_speakers == 12)]
    assert set(big.model) == {"utterance articulation_rate"}  # tested once: per utterance, not again per speaker
    assert (big.power >= 2 / 3).all(), big  # +20 % per level over 12 speakers: found nearly always
    null = table[table.kind == "null_attribute"]
    assert set(null.model) == {"prosody"}  # per family with a planted effect, every measure's test in it
    assert len(null) == 2 and null.power.mean() <= 0.25 and null.power_p.mean() <= 0.25  # nominal 0.05
    assert (table.ci_low <= table.power).all() and (table.power <= table.ci_high).all()


def test_an_effect_with_high_predicted_power_is_found_in_a_new_corpus():
    """Where power is predicted to be high, a fresh corpus (another seed) shows the effect with its sign."""
    from voli.config import ProfileConfig
    from voli.profile.models import fit_models
    from voli.profile.speakers import speaker_measures
    from voli.io.survey import attribute_types, survey_table

    design = Design.from_dict({
        "attributes": ATTRIBUTES, "minutes": 1, "controls": ["gender"], "balanced": ["gender"],
        "effects": [{"measure": "f0_level", "attribute": "education", "per_unit": -0.15}],
        "association": {"education": ["gender", 0.6]}, "engine": "statsmodels"})
    summary = summarise(simulate_power(design, design_tables, speakers=(12,), simulations=3, seed=1))
    f0 = summary[(summary.kind == "effect") & summary.effect.str.startswith("f0_level")]
    # raw p finds it every time; q (BH over the prosody family: 5 measures x 3 attributes) less often
    assert len(f0) == 1 and (f0.power_p == 1).all() and (f0.power <= f0.power_p).all(), f0  # F0 is tested per
    # utterance only (its speaker median is not a second test of the same hypothesis)
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
                       measures={"f0_mean_st"}, engine="statsmodels")
    trend = table[(table.attribute == "education") & (table.test == "trend")]
    assert len(trend) == 1 and (trend.estimate < 0).all() and (trend.p < 0.05).all(), trend


def test_a_pilot_work_directory_gives_the_variation(tmp_path):
    """Variation measured on a finished work directory comes back close to what was simulated."""
    from voli.config import ProfileConfig
    from voli.profile.speakers import speaker_measures

    s = with_sex_differences(spec(sd={"speech_rate": 0.10, "f0_level": 0.10, "vocal_tract": 0.05}))
    t = simulate_tables(s, 40, seed=5, balanced=("gender",), tokens_per_vowel=30, utterances=30, token_sd=(0.12, 0.09),
                        f0_hz=205, f0_speaker_sd=0.0, vocal_tract_sd=0.0,
                        utterance_sd={"rate": 0.2, "f0_st": 1.5, "f0_sd": 0.25})
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], ProfileConfig())
    Workdir(tmp_path / "work").stage("profile").mkdir(parents=True)
    Workdir(tmp_path / "work").stage("features").mkdir()
    speakers.merge(t["speakers"], on="speaker_id").to_parquet(Workdir(tmp_path / "work").table("profile", "speakers"))
    tokens.to_parquet(Workdir(tmp_path / "work").table("profile", "tokens"))
    t["prosody"].to_parquet(Workdir(tmp_path / "work").table("features", "prosody"))
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


# -- power as the report reads it: q within the whole family, the stage's engine, enough corpora ----------


@pytest.mark.slow
def test_a_large_effect_has_power_near_one_and_the_null_attribute_few_false_positives_at_q():
    design = Design.from_dict({
        "attributes": ATTRIBUTES, "minutes": 1, "controls": ["gender"], "balanced": ["gender"], "engine": "statsmodels",
        "effects": [{"measure": "vowel_shift", "attribute": "education", "per_unit": 0.12, "vowel": "u", "formant": 2}]})
    out = simulate_power(design, design_tables, speakers=(10,), simulations=4, seed=2)
    assert out.attrs["engine"] == "statsmodels" and out.attrs["families"] == "whole"
    # the whole family is fitted: every Spanish vowel's F1 and F2, every attribute's (the null one's too)
    null = out[out.kind == "null_attribute"]
    assert set(null.vowel) == {"a", "e", "i", "o", "u"} and set(null.measure) >= {"f1_hz", "f2_hz"}
    summary = summarise(out)
    hz = summary[(summary.kind == "effect") & (summary.model == "token f2_hz /u/ es")]
    assert len(hz) == 1 and hz.power.iloc[0] >= 3 / 4, summary  # +12 % per level, q < 0.05
    fpr = summary[summary.kind == "null_attribute"]
    assert fpr.tests.sum() >= 4 * 20 and (fpr.power <= 0.1).all() and (fpr.power <= fpr.power_p + 1e-9).all(), fpr


def test_report_q_is_fit_models_q_and_leaves_the_null_attribute_out_of_the_effects_family():
    from voli.profile.models import fdr
    from voli.profile.power import report_q

    table = pd.DataFrame({
        "family": ["prosody"] * 5 + ["vowels normalised: es"] * 2,
        "attribute": ["education", "education", "gender", "null_score", "education", "education", "null_score"],
        "test": ["trend", "coefficient", "coefficient", "coefficient", "coefficient", "trend", "coefficient"],
        "primary": [True, False, True, True, False, False, False],
        "p": [0.01, 0.02, 0.001, 0.03, 0.5, 0.04, 0.2]})
    table["q"] = np.nan
    primary = table.primary & (table.family == "prosody")
    table.loc[primary, "q"] = fdr(table.p[primary])  # as fit_models computes it
    np.testing.assert_allclose(report_q(table)[primary], table.q[primary])
    q = report_q(table, exclude=("null_score",))
    assert np.isnan(q[3])
    np.testing.assert_allclose(q[[0, 2]], fdr(np.array([0.01, 0.001])))
    # not primary: BH over the family's tests of the same kind (the two coefficients of education)
    np.testing.assert_allclose(q[[1, 4]], fdr(np.array([0.02, 0.5])))
    # a family without q (a sensitivity check): same-kind BH within it
    assert q[5] == pytest.approx(0.04)


def _fake_simulation(power_by_size):
    def one(design, simulate, sizes, seed, simulation, survey_dir, engine="statsmodels", draw=None):
        rng = np.random.default_rng([seed, simulation])
        rows = []
        for n in sizes:
            found = bool(rng.random() < power_by_size[n])
            rows.append({"kind": "effect", "effect": "e", "family": "prosody", "level": "utterance",
                         "measure": "articulation_rate", "language": "", "vowel": "", "n_speakers": n,
                         "term": f"t{simulation % 2}", "target": "primary",  # labels vary, the target does not
                         "simulation": simulation, "estimate": 1.0, "p": 0.01, "q": 0.01 if found else 0.5,
                         "fitted": True, "status": "ok", "found": found, "found_p": True})
        return rows, 0
    return one


def test_adaptive_simulations_stop_each_size_at_the_half_width_or_the_maximum(monkeypatch):
    from voli.profile import power

    monkeypatch.setattr(power, "one_simulation", _fake_simulation({8: 1.0, 16: 0.97, 24: 0.5}))
    monkeypatch.setattr(power, "MAX_SIMULATIONS", 200)  # a power of 0.5 needs ~385 corpora for ±0.05
    design = Design.from_dict({"attributes": ATTRIBUTES, "speakers": [8, 16, 24], "engine": "statsmodels"})
    assert design.simulations is None  # auto is the default
    out = simulate_power(design, None, seed=0)
    runs, width = out.attrs["runs"], out.attrs["half_width"]
    assert out.attrs["adaptive"] and runs[8] == power.MIN_SIMULATIONS and width[8] <= power.HALF_WIDTH
    assert power.MIN_SIMULATIONS < runs[16] < power.MAX_SIMULATIONS and width[16] <= power.HALF_WIDTH
    assert runs[24] == power.MAX_SIMULATIONS and power.HALF_WIDTH < width[24] < 0.075  # 0.5: the maximum first
    summary = summarise(out)
    assert list(summary.simulations) == [runs[8], runs[16], runs[24]]
    assert (summary.half_width <= power.HALF_WIDTH).tolist() == [True, True, False]
    fixed = simulate_power(replace_simulations(design, 30), None, seed=0)
    assert not fixed.attrs["adaptive"] and fixed.attrs["runs"] == {8: 30, 16: 30, 24: 30}


def replace_simulations(design, n):
    from voli.profile.power import with_speakers

    return with_speakers(design, simulations=n)


def test_the_engine_follows_the_profile_stage_unless_the_design_says(monkeypatch):
    from voli.profile import engines, power

    monkeypatch.setattr(power, "one_simulation", _fake_simulation({8: 1.0}))
    design = Design.from_dict({"attributes": ATTRIBUTES, "speakers": [8], "simulations": 1})
    assert design.engine == "auto"
    monkeypatch.setattr(engines, "lme4_version", lambda: "1.1-35 3.1-3")
    assert simulate_power(design, None).attrs["engine"] == "lme4"
    monkeypatch.setattr(engines, "lme4_version", lambda: None)
    assert simulate_power(design, None).attrs["engine"] == "statsmodels"
    chosen = Design.from_dict({"attributes": ATTRIBUTES, "speakers": [8], "simulations": 1, "engine": "statsmodels"})
    monkeypatch.setattr(engines, "lme4_version", lambda: "1.1-35 3.1-3")
    assert simulate_power(chosen, None).attrs["engine"] == "statsmodels"
    with pytest.raises(ConfigError, match="engine 'R'"):
        Design.from_dict({"attributes": ATTRIBUTES, "engine": "R"})
    # the profile stage's settings reach the models' configuration; unknown ones are named
    d = Design.from_dict({"attributes": ATTRIBUTES, "controls": ["gender"],
                          "profile": {"context": True, "interactions": ["education:gender"]}})
    config = d.profile_config("statsmodels")
    assert config.context and config.interactions == ("education:gender",) and config.controls == ("gender",)
    with pytest.raises(ConfigError, match="profile.*contxt"):
        Design.from_dict({"attributes": ATTRIBUTES, "profile": {"contxt": True}})


def test_effects_that_vary_between_speakers_and_words_spread_around_the_planted_mean():
    rate = {"measure": "speech_rate", "attribute": "education", "per_unit": 0.3}
    shift = {"measure": "vowel_shift", "attribute": "education", "per_unit": 0.3, "vowel": "u", "formant": 2}
    kw = dict(seed=3, utterances=40, tokens_per_vowel=60, words_per_vowel=10, balanced=("education",))
    fixed = simulate_tables(spec([rate, shift]), 40, **kw)
    varied = simulate_tables(spec([rate, shift]), 40, effect_sd_speakers=0.5, effect_sd_words=0.5, **kw)
    level = fixed["speakers"].set_index("speaker_id").education

    def rate_sd(t, lvl):
        r = np.log(t["speaker_prosody"].set_index("speaker_id").articulation_rate)
        return r[level == lvl].std()

    # the reference level has no effect, so nothing to vary: its speakers are drawn exactly as before
    pd.testing.assert_frame_equal(fixed["prosody"][fixed["prosody"].speaker_id.map(level) == "primary"],
                                  varied["prosody"][varied["prosody"].speaker_id.map(level) == "primary"])
    assert rate_sd(varied, "master") > 2 * rate_sd(fixed, "master")  # ×1.9 ± 50 % of its log
    assert abs(rate_sd(varied, "primary") - rate_sd(fixed, "primary")) < 1e-12

    def word_spread(t):
        v = t["vowels"][(t["vowels"].phone == "u") & (t["vowels"].speaker_id.map(level) == "master")]
        r = np.log(v.f2_50_hz) - np.log(v.groupby("speaker_id").f2_50_hz.transform("mean"))
        return v.assign(r=r).groupby("word").r.mean().std()

    assert word_spread(varied) > word_spread(fixed) + 0.05


@pytest.mark.slow
def test_an_effect_that_varies_between_speakers_has_less_power_than_the_same_fixed_effect():
    base = {"attributes": ATTRIBUTES, "minutes": 1, "controls": ["gender"], "balanced": ["gender"],
            "engine": "statsmodels", "families": "planted", "speakers": [12], "simulations": 40,
            "effects": [{"measure": "vocal_tract", "attribute": "education", "per_unit": 0.06}]}
    power = {}
    for sd in (0.0, 1.0):
        design = Design.from_dict({**base, "effect_sd_speakers": sd})
        s = summarise(simulate_power(design, design_tables, seed=4))
        power[sd] = float(s[s.kind == "effect"].power.iloc[0])
    assert power[0.0] >= 0.6 and power[1.0] <= power[0.0] - 0.15, power
