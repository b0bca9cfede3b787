"""The profile stage: survey types, normalisation, planted effects found, null effects not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voli.config import ProfileConfig
from voli.errors import CorpusError
from voli.profile.models import fdr, fit_mixed, fit_speaker_level
from voli.profile.normalise import normalise
from voli.profile.speakers import pillai
from voli.profile.stage import analyse
from voli.profile.survey import AttributeType, attribute_types, survey_table
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import simulate_tables

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "voli" / "simulate" / "specs" / "sample.yaml"


def sample_spec() -> EffectSpec:
    import yaml

    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    data.pop("simulation", None)
    return EffectSpec.from_dict(data, str(SPEC))


def typed(tmp_path, speakers: pd.DataFrame, survey_yaml: str | None = None):
    if survey_yaml is not None:
        (tmp_path / "survey.yaml").write_text(survey_yaml, encoding="utf-8")
    types = attribute_types(tmp_path, speakers)
    return types, survey_table(tmp_path, speakers, types)


# -- survey ------------------------------------------------------------------------------------

SPEAKERS = pd.DataFrame({"speaker_id": ["A", "B", "C", "INT"], "gender": ["woman", "man", "woman", ""],
                         "age": ["31", "45", "27", ""], "education": ["primary", "master", "bachelor", ""]})


def test_types_are_inferred_and_declared(tmp_path):
    types, survey = typed(tmp_path, SPEAKERS)
    assert types["age"].kind == "numeric" and types["gender"].kind == "categorical"
    assert np.isnan(survey.age.iloc[3]) and survey.age.iloc[1] == 45
    types, survey = typed(tmp_path, SPEAKERS, "attributes:\n  education: {levels: [primary, secondary, bachelor, master], ordered: true}\n")
    assert types["education"].kind == "ordinal" and types["education"].declared
    assert list(survey.education.cat.codes[:3]) == [0, 3, 2]


def test_missing_codes_and_thousands_separators_are_read_as_people_write_them(tmp_path):
    speakers = pd.DataFrame({"speaker_id": ["a", "b", "c"], "age": ["34", "NA", "51"],
                             "income": ["12,500", "48,000", "9,8"], "city": ["Lyon", "-", "Caracas"]})
    types, survey = typed(tmp_path, speakers)
    assert types["age"].kind == "numeric" and np.isnan(survey.age[1])
    assert survey.income.tolist() == [12500.0, 48000.0, 9.8]
    assert types["city"].levels == ("Lyon", "Caracas") and survey.city.isna().tolist() == [False, True, False]


@pytest.mark.parametrize("yaml_text, speakers_change, message", [
    ("attributes:\n  gendre: {levels: [woman, man]}\n", None, "did you mean 'gender'"),
    ("attributes:\n  age: {range: [18, 40]}\n", None, "speaker B, column 'age': 45 is outside"),
    ("attributes:\n  gender: {levels: [woman, man]}\n", ("gender", 1, "men"), "speaker B, column 'gender': 'men' is not one"),
    (None, ("age", 2, "twenty"), None),  # inferred: a non-number makes the column categorical, no error
    ("attributes:\n  age: {numeric: true}\n", ("age", 2, "twenty"), "speaker C, column 'age': 'twenty' is not a number"),
])
def test_bad_survey_values_name_the_speaker_and_the_fix(tmp_path, yaml_text, speakers_change, message):
    speakers = SPEAKERS.copy()
    if speakers_change:
        col, row, value = speakers_change
        speakers.loc[row, col] = value
    if message is None:
        types, _ = typed(tmp_path, speakers, yaml_text)
        assert types["age"].kind == "categorical"
        return
    with pytest.raises(CorpusError, match=message):
        typed(tmp_path, speakers, yaml_text)


# -- normalisation and vowel measures --------------------------------------------------------------


def test_normalisation_removes_a_vocal_tract_ratio():
    rng = np.random.default_rng(0)
    base = pd.DataFrame({"phone": np.repeat(list("ieaou"), 6), "f1_hz": rng.uniform(250, 800, 30),
                         "f2_hz": rng.uniform(700, 2300, 30)})
    tokens = pd.concat([base.assign(speaker_id="long"),
                        base.assign(speaker_id="short", f1_hz=base.f1_hz / 0.85, f2_hz=base.f2_hz / 0.85)])
    out = normalise(tokens.reset_index(drop=True))
    a, b = out[out.speaker_id == "long"], out[out.speaker_id == "short"]
    assert not np.allclose(a.f1_hz, b.f1_hz)
    for col in ("f1_lobanov", "f2_lobanov", "f1_nearey", "f2_nearey", "f1_wf", "f2_wf"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), atol=1e-9, err_msg=col)
    assert a.f1_lobanov.mean() == pytest.approx(0, abs=1e-9) and a.f1_lobanov.std() == pytest.approx(1)


def test_pillai_tells_merged_from_distinct_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (30, 2))
    assert pillai(a, rng.normal(0, 1, (30, 2))) < 0.15
    assert pillai(a, rng.normal(4, 1, (30, 2))) > 0.7


def test_fdr_matches_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    np.testing.assert_allclose(fdr(p)[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(fdr(p)[4])


# -- planted effects -----------------------------------------------------------------------------


@pytest.mark.slow
def test_planted_effects_are_found_with_their_sign(tmp_path):
    tables = simulate_tables(sample_spec(), 40, seed=3, null_attributes=("shoe_size",))
    survey_yaml = (ROOT / "corpora_sample" / "survey.yaml").read_text(encoding="utf-8")
    types, survey = typed(tmp_path, tables["speakers"], survey_yaml)
    out = analyse(survey, types, tables["vowels"], tables["prosody"], tables["speaker_prosody"],
                  ProfileConfig(permutations=20))
    m = out["models"].set_index(["level", "measure", "attribute"])

    def found(level, measure, attribute, sign):
        row = m.loc[(level, measure, attribute)]
        row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
        assert row.q < 0.05 and np.sign(row.estimate) == sign, (level, measure, attribute, row.estimate, row.q)

    # spec: speech_rate + 6 % per education level; F0 range - 0.6 % per point of platform dependence;
    # men's formants x 0.88; vowels 0.8 % more central per year of age
    found("utterance", "articulation_rate", "education", +1)
    found("speaker", "articulation_rate", "education", +1)
    found("utterance", "f0_sd_st", "platform_dependence", -1)
    found("speaker", "formant_scale_hz", "gender", -1)  # "man vs woman"
    found("token", "f1_hz", "gender", -1)
    found("speaker", "category_dispersion_lobanov", "age", -1)  # centralisation survives Lobanov
    found("speaker", "reduction_index", "age", +1)
    # the vocal-tract ratio shows in Hz and is gone after normalisation
    lobanov = m.loc[("token", "f1_lobanov", "gender")]
    assert abs(lobanov.estimate) < 0.1 and not (lobanov.q < 0.05)  # a NaN q (no fit) is no finding either
    # the attribute with no planted effect is tested (finite q) and found in nothing
    null = m.xs("shoe_size", level="attribute")
    assert null.q.notna().sum() >= 10 and not (null.q < 0.05).any()
    # and speech predicts gender better than chance
    pred = out["prediction"].set_index("attribute")
    assert pred.loc["gender", "p"] < 0.05 and pred.loc["gender", "score"] > 0.8


@pytest.mark.slow
def test_a_null_attribute_is_significant_at_the_nominal_rate():
    """Over 400 simulated corpora of 16 speakers, a made-up attribute is 'significant' about 5 % of the time."""
    spec = EffectSpec.from_dict({"attributes": {"age": {"range": [20, 60]}}, "effects": [],
                                 "between_speaker_sd": {"speech_rate": 0.05, "f0_level": 0.05}})
    numeric = AttributeType("null", "numeric")
    hits = {"speaker OLS": 0, "utterance mixed model": 0}
    runs = 400
    for seed in range(runs):
        t = simulate_tables(spec, 16, seed=seed, tokens_per_vowel=2, utterances=6, null_attributes=("null",))
        attr = t["speakers"].set_index("speaker_id")["null"].astype(float)
        sp = t["speaker_prosody"].assign(attr=lambda d: d.speaker_id.map(attr))
        ut = t["prosody"].assign(attr=lambda d: d.speaker_id.map(attr))
        (row,) = fit_speaker_level(sp, "articulation_rate", numeric)
        hits["speaker OLS"] += row["p"] < 0.05
        assert np.isfinite(row["p"])
        (row,) = fit_mixed(ut, "articulation_rate", numeric)
        hits["utterance mixed model"] += row["p"] < 0.05
        assert np.isfinite(row["p"])  # every run is a real test: a failed fit would look like "no effect"
    print(", ".join(f"{name}: {k} of {runs} significant" for name, k in hits.items()))
    for name, k in hits.items():
        # nominal 5 %: over 400 runs, outside 2.5-7.5 % (10-30) happens by chance about 1 % of the time
        assert 0.025 <= k / runs <= 0.075, f"{name}: {k} of {runs} significant"


# -- the stage on the sample --------------------------------------------------------------------


@pytest.mark.slow
def test_profile_stage_on_the_sample(profiled):
    from voli.cli import main

    code, work, corpus = profiled
    assert code == 0
    out = work / "04_profile"
    speakers = pd.read_parquet(out / "speakers.parquet")
    interviewees = pd.read_csv(corpus / "speakers.csv").dropna(subset=["age"]).speaker_id
    assert set(speakers.speaker_id) == set(interviewees)
    for column in ("articulation_rate", "f0_median_hz", "f0_sd_st", "gender", "education"):
        assert speakers[column].notna().all(), column
    # vowel measures for every speaker with tokens enough; the others are named in problems.parquet
    # (en_01's EN01: most of its words go to the interviewer's similar voice)
    problems = pd.read_parquet(out / "problems.parquet")
    few = set(problems[problems.kind == "few_tokens"].speaker_id)
    assert few == set(speakers[speakers.n_tokens < 20].speaker_id) and len(few) <= 1
    for column in ("formant_scale_hz", "vowel_dispersion_hz", "category_dispersion_lobanov"):
        assert speakers[~speakers.speaker_id.isin(few)][column].notna().all(), column
    models = pd.read_parquet(out / "models.parquet")
    assert set(models.level) == {"token", "utterance", "speaker"}
    assert models.q.notna().mean() > 0.8
    # the sample's women and men differ in F0 and formant scale (8 speakers: strong effects only)
    f0 = models[(models.measure == "f0_median_hz") & (models.attribute == "gender") & (models.level == "speaker")].iloc[0]
    assert f0.estimate < 0 and f0.p < 0.01
    assert (out / "pca_scores.parquet").is_file() and (out / "prediction.parquet").is_file()
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    for figure in ("vowels_en", "vowels_fr", "pca_biplot", "dendrogram", "effects_speaker"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 5000
    assert html.count('src="data:image/png;base64,') >= 7 and "8 speakers" in html
    # `voli report` writes it again from the tables alone
    (out / "report" / "index.html").unlink()
    assert main(["report", str(corpus), "--workdir", str(work), "-q"]) == 0
    assert (out / "report" / "index.html").is_file()


@pytest.mark.slow
def test_the_pipeline_recovers_the_samples_planted_effects(profiled):
    """From audio to speaker table, the four effects planted in corpora_sample come back with their
    sign and near their size (README: +5.0 % speech rate per education level, planted +6 %; F0 range
    -0.65 % per point of platform dependence, -0.6 %; vowels 0.6 % more central per year, 0.8 %;
    men's formant scale x0.75 as the truth-level oracle measures it, x0.88 planted)."""
    from voli.evaluate import evaluate_workdir

    _, work, corpus = profiled
    result = evaluate_workdir(corpus, work)
    pipeline = result["effects_pipeline"].set_index("measure")
    oracle = result["effects_oracle"].set_index("measure")
    print(pipeline.to_string())
    assert pipeline.same_sign.all()
    for measure in ("speech_rate", "f0_range", "centralisation"):
        ratio = pipeline.loc[measure, "recovered"] / pipeline.loc[measure, "planted"]
        assert 0.5 < ratio < 2, (measure, ratio)
    # the voices themselves differ beyond the plant: the pipeline sees what the truth shows
    assert pipeline.loc["vocal_tract", "recovered"] == pytest.approx(oracle.loc["vocal_tract", "recovered"], rel=0.05)
