"""The profile models' inference: contrasts that say what they estimate, one failing model that stops
nothing, Kenward-Roger df and adjusted level means equal to R refitted by hand."""

from __future__ import annotations

import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from voli.config import ProfileConfig
from voli.profile.engines import fit_lme4
from voli.profile.models import fit_models
from voli.profile.speakers import speaker_measures
from voli.io.survey import attribute_types, survey_table
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import simulate_tables

SPEC = """
attributes:
  gender: {levels: [woman, man]}
  education: {levels: [primary, secondary, university]}
effects:
  - {measure: speech_rate, attribute: education, levels: {university: 1.1}}
  - {measure: vocal_tract, attribute: education, levels: {university: 0.95}}
between_speaker_sd: {speech_rate: 0.05, f0_level: 0.04}
"""
SURVEY = "attributes:\n  gender: {levels: [woman, man]}\n  education: {levels: [primary, secondary, university]}\n"
needs_r = pytest.mark.needs("lme4")


def tables_with(tmp_path, n: int, seed: int, **kwargs):
    spec = EffectSpec.from_dict(yaml.safe_load(SPEC))
    return simulate_tables(spec, n, seed=seed, balanced=("gender",), **kwargs)


def typed(tmp_path, speakers):
    (tmp_path / "survey.yaml").write_text(SURVEY, encoding="utf-8")
    types = attribute_types(tmp_path, speakers)
    return types, survey_table(tmp_path, speakers, types)


def test_an_absent_reference_level_is_replaced_and_the_label_says_so(tmp_path):
    """French speakers have no 'primary' (the reference): their contrast is university vs secondary, labelled
    so, and equal to an ordinary least-squares fit with secondary as the reference; Spanish keeps primary."""
    import statsmodels.formula.api as smf

    t = tables_with(tmp_path, 24, seed=2, languages=("es", "fr"))
    language = t["prosody"].groupby("speaker_id").language.first()
    sp = t["speakers"].copy()
    french = sp.speaker_id.map(language).eq("fr")
    sp.loc[french & sp.education.eq("primary"), "education"] = "secondary"
    assert set(sp[~french].education) == {"primary", "secondary", "university"}
    types, survey = typed(tmp_path, sp)
    config = ProfileConfig(controls=("gender",), language="separate", per_vowel=False)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    m = fit_models(tokens, t["prosody"], speakers, survey, types, config, engine="statsmodels",
                   measures={"formant_scale_hz"})
    fr = m[(m.family == "speaker measures: fr") & (m.attribute == "education")]
    assert list(fr.term) == ["university vs secondary (no primary speakers in these rows: compared with secondary)"]
    assert fr.primary.all() and "reference level secondary" in fr.adjusted_for.iloc[0]
    d = speakers.merge(survey, on="speaker_id")
    d = d[d.speaker_id.map(language).eq("fr")].astype({"education": str, "gender": str})
    ols = smf.ols("formant_scale_hz ~ C(education, Treatment('secondary')) + gender", d).fit()
    np.testing.assert_allclose(fr.estimate.iloc[0], ols.params["C(education, Treatment('secondary'))[T.university]"],
                               rtol=1e-9)
    es = m[(m.family == "speaker measures: es") & (m.attribute == "education")]
    assert set(es[es.test == "coefficient"].term) == {"secondary vs primary", "university vs primary"}
    assert list(es[es.primary].test) == ["joint"]  # two contrasts: their joint test is the one primary test


def _small_fit(tmp_path, engine: str, **config):
    t = tables_with(tmp_path, 12, seed=5)
    types, survey = typed(tmp_path, t["speakers"])
    config = ProfileConfig(controls=("gender",), per_vowel=False, **config)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    table = fit_models(tokens, t["prosody"], speakers, survey, types, config, engine=engine,
                       measures={"articulation_rate", "f0_mean_st", "formant_scale_hz"},
                       export_dir=tmp_path / "export")
    return table, survey


@pytest.mark.slow
@needs_r
def test_a_model_that_fails_in_r_is_named_and_the_others_stand(tmp_path):
    _small_fit(tmp_path, "lme4")
    export = tmp_path / "export"
    specs = pd.read_csv(export / "models.csv")
    specs.loc[0, "formula"] = specs.loc[0, "formula"].replace(specs.loc[0, "measure"], "no_such_column", 1)
    specs.to_csv(export / "models.csv", index=False)
    out = fit_lme4(export)
    first, rest = out[specs.id[0]], [out[i] for i in specs.id[1:]]
    assert first["status"].startswith("failed:") and "no_such_column" in first["status"] and not first["rows"]
    assert rest and all(r["rows"] and not r["status"].startswith("failed") for r in rest)


@pytest.mark.slow
@needs_r
@pytest.mark.needs("pbkrtest")
def test_kenward_roger_and_adjusted_means_equal_a_hand_refit_in_r(tmp_path):
    """One utterance model refitted by hand with lmer, summary(ddf = "Kenward-Roger") and emmeans: the same
    estimates, SEs, df and p as models.parquet, and the same adjusted level means."""
    table, survey = _small_fit(tmp_path, "lme4")
    rows = table[(table.measure == "articulation_rate") & (table.attribute == "education")]
    assert set(rows.df_method) == {"Kenward-Roger"}
    means = pd.DataFrame(table.attrs["means"])
    means = means[means.model_id == rows.model_id.iloc[0]]
    script = textwrap.dedent("""
        suppressPackageStartupMessages({library(lme4); library(lmerTest); library(emmeans)})
        u <- read.csv("utterances.csv"); s <- read.csv("speakers.csv")
        d <- merge(u, s[, c("speaker_id", "gender", "education")], by = "speaker_id")
        d$education <- factor(d$education, levels = c("primary", "secondary", "university"))
        d$gender <- factor(d$gender, levels = c("woman", "man"))
        fit <- lmer(articulation_rate ~ education + gender + (1 | speaker_id), d, REML = TRUE)
        co <- summary(fit, ddf = "Kenward-Roger")$coefficients
        write.csv(co[c("educationsecondary", "educationuniversity"), ], "hand_coefficients.csv")
        em <- summary(emmeans(fit, ~ education, weights = "proportional", lmer.df = "kenward-roger"))
        write.csv(em, "hand_means.csv", row.names = FALSE)
    """)
    (tmp_path / "export" / "hand.R").write_text(script, encoding="utf-8")
    subprocess.run(["Rscript", "hand.R"], cwd=tmp_path / "export", check=True, capture_output=True)
    hand = pd.read_csv(tmp_path / "export" / "hand_coefficients.csv", index_col=0)
    ours = rows[rows.test == "coefficient"].set_index("term")
    for term, level in (("secondary vs primary", "educationsecondary"), ("university vs primary", "educationuniversity")):
        np.testing.assert_allclose(ours.loc[term, ["estimate", "se", "df", "p"]].to_numpy(float),
                                   hand.loc[level, ["Estimate", "Std. Error", "df", "Pr(>|t|)"]].to_numpy(float),
                                   rtol=1e-6)
    hand_means = pd.read_csv(tmp_path / "export" / "hand_means.csv").set_index("education")
    ours_means = means.set_index("level")
    for level in ("primary", "secondary", "university"):
        np.testing.assert_allclose(ours_means.loc[level, ["mean", "se", "df", "ci_low", "ci_high"]].to_numpy(float),
                                   hand_means.loc[level, ["emmean", "SE", "df", "lower.CL", "upper.CL"]].to_numpy(float),
                                   rtol=1e-6)


def test_effects_in_between_speaker_sds_and_level_means_from_statsmodels(tmp_path):
    """statsmodels gives the same kind of table: effects in the measure's unit and in between-speaker SDs,
    adjusted level means whose differences are the contrasts."""
    table, _ = _small_fit(tmp_path, "statsmodels")
    rows = table[(table.measure == "f0_mean_st") & (table.attribute == "education") & (table.test == "coefficient")]
    np.testing.assert_allclose(rows.estimate_sd, rows.estimate / rows.sd_between)
    assert (rows.sd_between > 0).all()
    means = pd.DataFrame(table.attrs["means"])
    means = means[means.model_id == rows.model_id.iloc[0]].set_index("level")["mean"]
    by_term = rows.set_index("term").estimate
    np.testing.assert_allclose(means["university"] - means["primary"], by_term["university vs primary"], rtol=1e-9)
    np.testing.assert_allclose(means["secondary"] - means["primary"], by_term["secondary vs primary"], rtol=1e-9)


@pytest.mark.parametrize("engine", ["statsmodels", pytest.param("lme4", marks=[needs_r, pytest.mark.slow])])
def test_a_speaker_variance_of_0_is_tested_on_the_speakers_means(tmp_path, engine):
    """Speakers that do not differ give a speaker variance of 0, and a mixed model would count utterances as
    independent evidence about a speaker's attribute: voli tests it on the speakers' means instead, which
    equals an ordinary least-squares fit on one row per speaker."""
    import statsmodels.formula.api as smf

    t = next(t for seed in range(7, 40) if (t := tables_with(tmp_path, 12, seed=seed, f0_speaker_sd=0.0))["speakers"]
             .education.nunique() == 3)  # the first seed with every level
    types, survey = typed(tmp_path, t["speakers"])
    config = ProfileConfig(controls=("gender",), per_vowel=False)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    pr = t["prosody"].copy()
    pr["f0_mean_st"] = np.random.default_rng(7).normal(0, 1, len(pr))  # no speaker effect at all
    table = fit_models(tokens, pr, speakers, survey, types, config, engine=engine, measures={"f0_mean_st"})
    rows = table[table.attribute == "education"]
    assert rows.status.str.startswith("singular fit: the speaker variance is 0").all(), rows.status.iloc[0]
    means = pr.groupby("speaker_id").f0_mean_st.mean().rename("y").reset_index().merge(survey, on="speaker_id")
    ols = smf.ols("y ~ C(education, Treatment('primary')) + C(gender, Treatment('woman'))",
                  means.astype({"education": str, "gender": str})).fit()
    joint = ols.f_test([[0, 1, 0, 0], [0, 0, 1, 0]])
    row = rows[rows.primary].iloc[0]
    assert row.test == "joint" and row.df == 12 - 3 - 1 and row.df_method.startswith("speaker means")
    np.testing.assert_allclose([row.statistic, row.p], [float(joint.fvalue), float(joint.pvalue)], rtol=1e-6)


@pytest.mark.slow
@needs_r
def test_by_word_slopes_are_fitted_or_simplified_and_said(tmp_path):
    """word_slopes: the per-vowel lme4 models try (1 + attribute | word); where that cannot be fitted
    (singular, not converged) they fall back to (1 | word) and the status says so: no model fails."""
    t = tables_with(tmp_path, 12, seed=5, word_sd=0.08, words_per_vowel=6)
    types, survey = typed(tmp_path, t["speakers"])
    config = ProfileConfig(controls=("gender",), word_slopes=True)
    speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
    table = fit_models(tokens, t["prosody"], speakers, survey, types, config, engine="lme4",
                       measures={"f2_lobanov2"}, export_dir=tmp_path / "export")
    specs = pd.read_csv(tmp_path / "export" / "models.csv")
    assert specs.formula.str.contains(r"\(1 \+ education_secondary \+ education_university \| word\)").any()
    assert (specs.simple_formula.str.contains(r"\(1 \| word\)") | ~specs.formula.str.contains("word")).all()
    assert len(table) and not table.status.str.startswith("failed").any()
    simplified = table.status.str.contains(r"simplified to \(1 \| word\)")
    kept = table[~simplified & (table.attribute == "education")]
    assert kept.random.str.contains(r"\(1 \+ education_secondary \+ education_university \| word\)").all()
    assert not table[simplified].random.str.contains(r"1 \+").any()  # the formula as fitted
    assert not table[simplified].formula.str.contains(r"1 \+").any()
