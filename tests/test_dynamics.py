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
    design = TrajectoryDesign(speakers=16, glide=1.2, speaker_extent_sd=0.08, token_extent_sd=0.1)
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
    for null in [("group", "f1_z"), ("null", "f1_z"), ("null", "f2_z")]:
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
d$g <- factor(d$group_f, levels = c("A", "B"), ordered = TRUE)
contrasts(d$g) <- "contr.treatment"
d$speaker_id <- factor(d$speaker_id); d$token <- factor(d$token); d$t2 <- (d$time - 0.5)^2
m <- bam(f2_z ~ g + s(time, k = 6) + s(time, by = g, k = 6) + s(speaker_id, bs = "re") +
         s(speaker_id, time, bs = "re") + s(speaker_id, t2, bs = "re") + s(token, bs = "re") +
         s(token, time, bs = "re"), data = d, method = "fREML", discrete = TRUE)
st <- summary(m)$s.table
# the attribute's test on the speakers' df: 16 speakers - 1 attribute column - 1
p <- pf(st["s(time):gB", "F"], st["s(time):gB", "Ref.df"], 16 - 1 - 1, lower.tail = FALSE)
cat(sprintf("%.10g %.10g %.10g\\n", st["s(time):gB", "edf"], st["s(time):gB", "p-value"], p))
'''
    out = subprocess.run(["Rscript", "-e", script], cwd=export, capture_output=True, text=True, check=True)
    edf, p_mgcv, p = map(float, out.stdout.split())
    assert edf == pytest.approx(mine.edf, rel=1e-6) and p_mgcv == pytest.approx(mine.p_mgcv, rel=1e-6)
    assert p == pytest.approx(mine.p, rel=1e-6) and mine.df == 14
    assert "s(time, by = group_f, k = 6)" in mine.formula


def test_the_report_draws_the_trajectories_of_a_finding(fitted, tmp_path):
    from voli.profile.models import fdr
    from voli.profile.report.sections import _dynamics_section

    rows, curves, _ = fitted
    rows = rows.copy()
    rows["q"] = np.nan
    rows.loc[rows.headline, "q"] = fdr(rows.loc[rows.headline, "p"])
    written: list[str] = []
    html = str(_dynamics_section({"models": rows, "trajectories": curves}, tmp_path, written))
    assert "4 trajectory models" in html and "1 with a shape difference at q &lt; 0.05" in html
    assert len(written) == 1 and (tmp_path / f"{written[0]}.png").is_file()
    assert "/v00/ (en), F2 by group" in html and "data:image/png;base64," in html
