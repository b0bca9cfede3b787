"""The vowel-dynamics models (voli.profile.dynamics) on trajectories with known truth
(voli.simulate.trajectories): a planted glide is found, a null attribute is not, the difference
curve has the planted shape, and R refits the model by hand to the same numbers."""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pandas as pd
import pytest

from voli.config import ProfileConfig
from voli.profile.coding import code_attribute
from voli.profile.dynamics import fit_dynamics
from voli.simulate.trajectories import TrajectoryDesign, survey_types, trajectory_tables

pytestmark = pytest.mark.needs("mgcv")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    export = tmp_path_factory.mktemp("dyn")
    # every token is followed by one of three contexts that pull its F2 offset apart, in a mix drawn per speaker
    design = TrajectoryDesign(speakers=16, glide=1.2, speaker_extent_sd=0.08, token_extent_sd=0.1,
                              context_hz=(-300.0, 0.0, 300.0), context_mix=0.5)
    tracks, tokens, survey = trajectory_tables(1, design, seed=3)
    types = survey_types()
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    config = dataclasses.replace(ProfileConfig(), dynamics="all")
    rows, curves = fit_dynamics(tracks, tokens, survey, codings, set(types), config, export_dir=export)
    return pd.DataFrame(rows), curves, export


def test_a_planted_glide_is_found_and_a_null_attribute_is_not(fitted):
    rows, _, _ = fitted
    heads = rows[rows.headline].set_index(["attribute", "measure"])
    assert heads.loc[("group", "f2_z"), "p"] < 0.01  # B glides 20 % further in F2
    for null in [("group", "f1_z"), ("null", "f1_z"), ("null", "f2_z"), ("score", "f1_z"), ("score", "f2_z")]:
        assert heads.loc[null, "p"] > 0.05, null
    assert (rows.status == "ok").all() and rows.engine.str.startswith("mgcv").all()
    level = rows[(rows.test == "coefficient") & (rows.attribute == "group") & (rows.measure == "f2_z")]
    assert level.p.iloc[0] > 0.05  # the midpoint (and so the mean level) is unchanged


def test_the_difference_curve_has_the_planted_shape(fitted):
    """B - A in F2 (speaker z-scores) rises over the vowel (B glides further), by about 20 % of A's
    glide (planted: 20 %; these 16 speakers' own trajectories give 15 %). Its level is the sample's:
    B's speakers happen to sit 60 Hz lower, which the level term carries."""
    _, curves, _ = fitted
    f2 = curves[(curves.attribute == "group") & (curves.measure == "f2_z")]
    diff = f2[f2.difference].set_index("time").fit
    a = f2[f2.level == "A"].set_index("time").fit
    assert (np.diff(diff.to_numpy()) > 0).all()
    ratio = (diff.iloc[-1] - diff.iloc[0]) / (a.iloc[-1] - a.iloc[0])
    assert 0.1 < ratio < 0.3, ratio


def test_r_refits_a_model_by_hand_to_the_same_numbers(fitted):
    rows, _, export = fitted
    mine = rows[(rows.attribute == "group") & (rows.measure == "f2_z") & (rows.test == "smooth")].iloc[0]
    script = '''
suppressPackageStartupMessages(library(mgcv))
d <- read.csv("vowel_tracks.csv", stringsAsFactors = FALSE)
d <- d[d$phone == "v00" & !is.na(d$f2_z), ]
# the following context's effect at each point, within speakers (one fit: every term by time), out of each token
fit <- lm(f2_z ~ 0 + factor(time):factor(speaker_id) + factor(time):following_f, data = d)
b <- coef(fit); b[is.na(b)] <- 0
X <- model.matrix(fit)
ctx <- grepl("following_f", colnames(X), fixed = TRUE)
effect <- as.vector(X[, ctx] %*% b[ctx])
d$f2_z <- d$f2_z - (effect - ave(effect, d$time))  # centred on the tokens' mix at each point
d <- aggregate(f2_z ~ speaker_id + time + group_f, data = d, FUN = mean)  # each speaker's mean trajectory
d$g <- factor(d$group_f, levels = c("A", "B"), ordered = TRUE)
contrasts(d$g) <- "contr.treatment"
d$speaker_id <- factor(d$speaker_id)
P <- predict(poly(seq(0, 1, by = 0.1), 4), d$time)  # each speaker's own shape: orthogonal polynomials 1-4
for (j in 1:4) d[[paste0("p", j)]] <- P[, j]
m <- bam(f2_z ~ g + s(time, k = 6) + s(time, by = g, k = 6) + s(speaker_id, bs = "re") + s(speaker_id, p1, bs = "re") +
         s(speaker_id, p2, bs = "re") + s(speaker_id, p3, bs = "re") + s(speaker_id, p4, bs = "re"),
         data = d, method = "fREML", discrete = TRUE)
st <- summary(m)$s.table
# the shape test between speakers: each speaker's direction and curvature (their mean trajectory's coefficients on
# polynomials 1 and 2), a MANOVA of those 16 rows on the group, Pillai's trace
shape <- t(sapply(split(d, d$speaker_id), function(x) coef(lm(f2_z ~ p1 + p2, data = x))[c("p1", "p2")]))
group <- sapply(split(d$group_f, d$speaker_id), `[`, 1)
a <- summary(manova(shape ~ group), test = "Pillai")$stats
cat(sprintf("%.10g %.10g %.10g %.10g\\n", st["s(time):gB", "edf"], st["s(time):gB", "p-value"], a["group", "Pr(>F)"],
            a["group", "den Df"]))
'''
    out = subprocess.run(["Rscript", "-e", script], cwd=export, capture_output=True, text=True, check=True)
    edf, p_mgcv, p, df = map(float, out.stdout.split())
    assert edf == pytest.approx(mine.edf, rel=1e-6) and p_mgcv == pytest.approx(mine.p_mgcv, rel=1e-6)
    assert p == pytest.approx(mine.p, rel=1e-6) and mine.df == df == 13
    assert "s(time, by = group_f, k = 6)" in mine.formula and "following segment" in mine.adjusted_for


def test_the_report_draws_the_trajectories_of_a_finding(fitted, tmp_path):
    from voli.profile.models import fdr
    from voli.profile.report.sections import _dynamics_section

    rows, curves, _ = fitted
    rows = rows.copy()
    rows["q"] = np.nan
    rows.loc[rows.headline, "q"] = fdr(rows.loc[rows.headline, "p"])
    written: list[str] = []
    html = str(_dynamics_section({"models": rows, "trajectories": curves}, tmp_path, written))
    assert "6 trajectory models" in html and "1 with a shape difference at q &lt; 0.05" in html
    assert len(written) == 1 and (tmp_path / f"{written[0]}.png").is_file()
    assert "/v00/ (en), F2 by group" in html and "data:image/png;base64," in html


GLIDE_DESIGN = {"attributes": {"group": {"levels": ["a", "b"]}}, "languages": ["en"], "balanced": ["group"],
                "minutes": 2, "engine": "statsmodels", "families": "planted",
                "effects": [{"measure": "vowel_glide", "attribute": "group", "levels": {"b": 1.2}, "vowel": "aɪ",
                             "formant": 2}]}


def test_a_glide_moves_the_trajectories_and_not_the_midpoints_of_the_simulated_tables():
    """design_tables draws every token's trajectory: /aɪ/ F2 rises over the vowel, B's 20 % further;
    the midpoint (point 50) is the token's midpoint in the vowels table."""
    from voli.profile.power import Design
    from voli.simulate.tables import design_tables

    # speakers and tokens that glide alike (the default variation is 0.15 each: ±10 % on a ratio of 20 speakers)
    design = Design.from_dict({**GLIDE_DESIGN, "variation": {"glide_speaker": 0.02, "glide_token": 0.05}})
    tables = design_tables(design, 40, seed=1)
    tracks, vowels = tables["tracks"], tables["vowels"]
    assert len(tracks) == 11 * len(vowels)
    mid = tracks[tracks.point == 50].merge(vowels, on=["recording_id", "speaker_id", "phone", "start"])
    assert len(mid) == len(vowels) and np.allclose(mid.f2_hz, mid.f2_50_hz, atol=150)  # noise of 30 Hz per point
    group = tables["speakers"].set_index("speaker_id").group
    ai = tracks[tracks.phone == "aɪ"].assign(group=lambda d: d.speaker_id.map(group))
    rise = ai.pivot_table(index=["speaker_id", "start", "group"], columns="point", values="f2_hz")
    rise = (rise[100] - rise[0]).groupby(level="group").median()
    assert 600 < rise["a"] < 800 and rise["b"] / rise["a"] == pytest.approx(1.2, abs=0.02)
    mids = vowels[vowels.phone == "aɪ"].assign(group=lambda d: d.speaker_id.map(group)).groupby("group").f2_50_hz.median()
    assert abs(mids["b"] / mids["a"] - 1) < 0.03  # the midpoints do not move


def test_voli_power_finds_a_glide_the_midpoint_models_do_not(tmp_path):
    """On simulated corpora of 24 English speakers where group b's /aɪ/ glides 40 % further in F2 (midpoint
    unchanged), the vowel-dynamics family finds it in most corpora and the null attribute rarely; in one
    such corpus the midpoint models of /aɪ/ F2 find nothing. (A 20 % glide: power 0.33 / 0.65 / 0.82 at
    12 / 24 / 36 speakers of 3 minutes, 40 corpora each; docs/figures.md has the command.)"""
    from voli.profile.models import fit_models
    from voli.profile.power import Design, simulate_power, summarise
    from voli.profile.speakers import speaker_measures
    from voli.io.survey import attribute_types, survey_table
    from voli.simulate.tables import design_tables

    effect = {**GLIDE_DESIGN["effects"][0], "levels": {"b": 1.4}}
    design = Design.from_dict({**GLIDE_DESIGN, "effects": [effect], "speakers": [24], "simulations": 8})
    out = simulate_power(design, design_tables, seed=5)
    summary = summarise(out)
    glide = summary[summary.kind == "effect"]
    assert len(glide) == 1 and glide.power.iloc[0] >= 0.6, glide
    null = out[(out.kind == "null_attribute") & (out.family.str.startswith("vowel dynamics"))]
    assert len(null) == 2 * 8 and null.found_p.mean() <= 0.25, null  # F1 and F2 of /aɪ/, 8 corpora
    # one corpus: the trajectory models find the glide, the midpoint models of the same vowel do not
    tables = design_tables(design, 40, seed=11)
    config = design.profile_config("statsmodels")
    speakers, tokens = speaker_measures(tables["vowels"], tables["speaker_prosody"], config)
    (tmp_path / "survey.yaml").write_text(design.survey_yaml(), encoding="utf-8")
    types = attribute_types(tmp_path, tables["speakers"])
    survey = survey_table(tmp_path, tables["speakers"], types)
    tracks = tables["tracks"]
    table = fit_models(tokens[tokens.phone == "aɪ"], tables["prosody"], speakers, survey, types, config,
                       measures={"f2_hz", "trajectories"}, engine="statsmodels", attributes={"group"},
                       tracks=tracks[tracks.phone == "aɪ"], dynamics_tokens=tokens)
    shape = table[(table.level == "trajectory") & (table.measure == "f2_z") & table.headline]
    midpoint = table[(table.level == "token") & (table.measure == "f2_hz") & table.headline]
    assert len(shape) == 1 and shape.q.iloc[0] < 0.05, shape[["term", "p", "q"]]
    assert len(midpoint) == 1 and midpoint.p.iloc[0] > 0.05, midpoint[["term", "p", "q"]]


def test_calibrate_counts_the_dynamics_family_and_finds_a_spliced_glide(tmp_path):
    """voli calibrate on trajectories without an effect: the vowel-dynamics family's false positives are
    counted, and a glide of 1.5 between-speaker SDs spliced into one level's trajectories is found."""
    from voli.profile.calibrate import calibrate
    from voli.profile.power import Design
    from voli.profile.speakers import speaker_measures
    from voli.io.survey import attribute_types, survey_table
    from voli.simulate.tables import design_tables

    design = Design.from_dict({**GLIDE_DESIGN, "effects": [{**GLIDE_DESIGN["effects"][0], "levels": {"b": 1.0}}]})
    tables = design_tables(design, 24, seed=2)
    config = design.profile_config("statsmodels")
    speakers, tokens = speaker_measures(tables["vowels"], tables["speaker_prosody"], config)
    tracks = tables["tracks"][tables["tracks"].phone == "aɪ"]  # the speakers' Lobanov scales: all their vowels
    (tmp_path / "survey.yaml").write_text("attributes:\n  group: {levels: [a, b]}\n", encoding="utf-8")
    types = attribute_types(tmp_path, tables["speakers"][["speaker_id", "group"]])
    survey = survey_table(tmp_path, tables["speakers"][["speaker_id", "group"]], types)
    table = calibrate(survey, types, tokens, tables["prosody"], speakers, config, language={s: "en" for s in survey.speaker_id},
                      shuffles=6, shift_sd=1.5, engine="statsmodels", seed=3, measures={"trajectories"},
                      tracks=tracks, within="none")
    dyn = table[table.family == "vowel dynamics: en"].set_index(["what", "threshold"])
    print(dyn[["tests", "hits", "rate"]].to_string())
    per_test = dyn.xs("false positives", level="what").filter(like="p < 0.05", axis=0).iloc[0]
    assert per_test.tests == 6 * 2 and per_test.rate <= 0.25, per_test.to_dict()
    power = dyn.xs("power", level="what").iloc[0]
    # F1 and F2 of /aɪ/, each glide grown; measured 8 of 12, false positives 0 of 12 (the difference smooth's F spreads a slope's
    # difference over its reference df: a straight glide is found less often than a t test of slopes would)
    assert power.tests == 6 * 2 and power.rate >= 0.3 and power.rate >= per_test.rate + 0.2, power.to_dict()


def test_a_glide_design_names_a_vowel_the_models_cannot_see():
    from voli.errors import ConfigError
    from voli.profile.power import Design
    from voli.simulate.tables import design_tables

    glide = {"measure": "vowel_glide", "attribute": "group", "levels": {"b": 1.2}, "formant": 2}
    with pytest.raises(ConfigError, match=r"vowel_glide on 'i', but profile.dynamics = diphthongs .*dynamics: all"):
        Design.from_dict({**GLIDE_DESIGN, "effects": [{**glide, "vowel": "i"}]})
    spanish = Design.from_dict({**GLIDE_DESIGN, "languages": ["es"], "effects": [{**glide, "vowel": "aɪ"}]})
    with pytest.raises(ConfigError, match=r"vowel 'aɪ' is in none of the simulated languages' vowels .*languages: \[en\]"):
        design_tables(spanish, 4, seed=0)


def test_a_control_takes_its_shape_out_of_an_attribute_that_follows_it():
    """Men's F2 glide is planted 1.5x women's with a late rise; "group" has no effect of its own but
    follows gender (every man and two women in B). In the GAMM controlled for gender's level only,
    gender's shape shows up as group's difference smooth (mgcv's p); controlled for its level and
    shape (voli's models), it does not. The headline test, between speakers, has gender in the
    speakers' model of their shapes either way: it stays null."""
    design = TrajectoryDesign(speakers=16, glide=1.0, gender_extent=1.5, gender_offset_hz=300.0)
    tracks, tokens, survey = trajectory_tables(1, design, seed=4)
    women = survey.speaker_id[survey.gender == "woman"].tolist()
    survey["group"] = np.where((survey.gender == "man") | survey.speaker_id.isin(women[:2]), "B", "A")
    assert 2 <= (survey.group == "A").sum() and (survey.gender == "man").sum() >= 4
    types = survey_types(gender=True)
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    config = dataclasses.replace(ProfileConfig(), dynamics="all", controls=("gender",))
    p_mgcv, p = {}, {}
    for shapes in (False, True):
        rows, _ = fit_dynamics(tracks, tokens, survey, codings, {"group"}, config, control_shapes=shapes)
        rows = pd.DataFrame(rows)
        head = rows[rows.headline & (rows.measure == "f2_z")].iloc[0]
        p_mgcv[shapes], p[shapes] = head.p_mgcv, head.p
        assert ("level and shape" in head.adjusted_for) == shapes
    assert p_mgcv[False] < 0.05 < p_mgcv[True], p_mgcv
    assert p[False] == p[True] > 0.05, p


def test_tokens_next_to_another_vowel_are_left_out(tmp_path):
    """A vowel token followed (or preceded) by a vowel has no landmark between the two: its
    trajectory is left out of the models (profile.dynamics_keep_hiatus: false), unless kept."""
    design = TrajectoryDesign(speakers=8, context_hz=(0.0, 0.0, 0.0, 0.0))  # t, k, p and a vowel ("a") follow
    tracks, tokens, survey = trajectory_tables(1, design, seed=1)
    assert (tokens.next_phone == "a").sum() > 10
    types = survey_types()
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    written = {}
    for keep in (False, True):
        config = dataclasses.replace(ProfileConfig(), dynamics="all", dynamics_keep_hiatus=keep)
        rows, _ = fit_dynamics(tracks, tokens, survey, codings, {"group"}, config, export_dir=tmp_path / str(keep))
        written[keep] = pd.read_csv(tmp_path / str(keep) / "vowel_tracks.csv")
        assert ("next to another vowel left out" in rows[0]["adjusted_for"]) != keep
    assert (written[False].following_f == "vowel").sum() == 0
    assert (written[True].following_f == "vowel").sum() == 11 * (tokens.next_phone == "a").sum()


def test_a_speaker_with_too_few_reliable_points_is_left_out_of_the_shape_test_and_said_so():
    """The shape test needs each speaker's direction and curvature: a speaker whose tokens are
    reliable at 3 points only stays in the GAMM, is left out of the test, and left_out says so."""
    tracks, tokens, survey = trajectory_tables(1, TrajectoryDesign(speakers=12, glide=1.2), seed=6)
    one = survey.speaker_id.iloc[0]
    tracks.loc[(tracks.speaker_id == one) & ~tracks.point.isin([40, 50, 60]), "reliable"] = False
    types = survey_types()
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    config = dataclasses.replace(ProfileConfig(), dynamics="all")
    rows, _ = fit_dynamics(tracks, tokens, survey, codings, {"group"}, config)
    smooth = pd.DataFrame(rows).query("test == 'smooth' and measure == 'f2_z'").iloc[0]
    assert smooth.status == "ok" and smooth.n_speakers == 12 and np.isfinite(smooth.p)
    assert smooth.left_out.startswith("1 speaker with fewer than 4 reliable points"), smooth.left_out
    assert smooth.df == 12 - 1 - 2 - 2 + 1  # 11 speakers in the test: intercept and group, two responses


def test_no_speaker_with_a_shape_leaves_the_test_empty_not_the_family():
    """Every speaker reliable at 3 points (half early, half late: the GAMM still sees 6 times): no
    speaker has a direction and curvature, so the shape test has no p, and the other models stand."""
    tracks, tokens, survey = trajectory_tables(1, TrajectoryDesign(speakers=12, glide=1.2), seed=6)
    early = tracks.speaker_id.isin(survey.speaker_id.iloc[::2])
    tracks.loc[early & ~tracks.point.isin([0, 20, 40]), "reliable"] = False
    tracks.loc[~early & ~tracks.point.isin([60, 80, 100]), "reliable"] = False
    types = survey_types()
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    rows, _ = fit_dynamics(tracks, tokens, survey, codings, {"group"}, dataclasses.replace(ProfileConfig(), dynamics="all"))
    rows = pd.DataFrame(rows)
    assert (rows.status == "ok").all() and set(rows.test) == {"smooth", "coefficient"}
    smooth = rows[rows.test == "smooth"]
    assert smooth.p.isna().all() and smooth.p_mgcv.notna().all()
    assert smooth.left_out.str.startswith("12 speakers with fewer than 4 reliable points").all()
