"""Speaker structure (voli.profile.structure): PCA permutation test, vowel view, associations, prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from voli.errors import ConfigError
from voli.profile import structure
from voli.profile.normalise import normalise
from voli.profile.structure import (
    association,
    pca_test,
    permute_within,
    predict_attributes,
    speaker_structure,
    vowel_matrix,
)
from voli.io.survey import AttributeType

VOWELS_HZ = {"i": (300, 2300), "e": (400, 2000), "ɛ": (550, 1800), "a": (750, 1350), "ɔ": (550, 950),
             "o": (420, 850), "u": (320, 800)}  # F1, F2 of a woman-ish voice
GENDER = AttributeType("gender", "categorical", ("woman", "man"))
AGE = AttributeType("age", "numeric")


def vowel_tokens(groups, *, fronting_hz=500.0, tokens_per_vowel=10, seed=0) -> pd.DataFrame:
    """Hz tokens of 7 vowels; speakers of group "b" front /u/ by ``fronting_hz`` (F2); vocal tracts vary."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, group in enumerate(groups):
        scale = rng.normal(1.0, 0.07)  # vocal-tract length: Lobanov removes it
        for phone, (f1, f2) in VOWELS_HZ.items():
            shift = rng.normal(0, 15), rng.normal(0, 40)  # the speaker's own vowel target
            f2 = f2 + (fronting_hz if phone == "u" and group == "b" else 0.0)
            for _ in range(tokens_per_vowel):
                rows.append({"speaker_id": f"S{i:02d}", "language": "fr", "phone": phone,
                             "f1_hz": scale * (f1 + shift[0]) + rng.normal(0, 30),
                             "f2_hz": scale * (f2 + shift[1]) + rng.normal(0, 90)})
    return normalise(pd.DataFrame(rows), methods=("lobanov",))


def noise_speakers(n, n_measures, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"speaker_id": [f"S{i:02d}" for i in range(n)],
                         **{f"m{j}": rng.normal(0, 1, n) for j in range(n_measures)}})


# -- the permutation test -----------------------------------------------------------------------------


def test_pca_test_finds_one_planted_dimension_and_none_in_noise():
    rng = np.random.default_rng(4)
    latent = rng.normal(0, 1, (30, 1))
    planted = latent @ rng.uniform(0.6, 1.0, (1, 10)) + rng.normal(0, 0.7, (30, 10))
    found = pca_test(planted, permutations=200, seed=0)
    assert found.n_real == 1
    first = found.explained.iloc[0]
    assert first.real and first.p < 0.01 and first.explained > first.null_q95 > first.null_mean
    assert not found.explained.real.iloc[1:].any()
    assert found.explained.explained.sum() == pytest.approx(1.0)
    # pc1 is the latent dimension: its scores follow it
    assert abs(np.corrcoef(found.scores.pc1, latent[:, 0])[0, 1]) > 0.9
    noise = pca_test(rng.normal(0, 1, (30, 10)), permutations=200, seed=0)
    assert noise.n_real == 0 and noise.explained.p.iloc[0] > 0.05


def test_pca_test_rejects_gaps_and_constant_columns():
    x = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, np.nan, 2, 3], "c": [5.0, 5, 5, 5]})
    with pytest.raises(ValueError, match="'?b'?.*missing"):
        pca_test(x)
    with pytest.raises(ValueError, match="c are constant"):
        pca_test(x.assign(b=[2.0, 1, 4, 3]))


# -- the vowel view -----------------------------------------------------------------------------------


def test_vowel_matrix_drops_sparse_vowels_imputes_and_falls_back_to_lobanov():
    tokens = vowel_tokens(["a", "b"] * 3, tokens_per_vowel=4)
    # /y/: 4 tokens for one speaker only (dropped); /ɔ/ of S00 down to 2 tokens (one cell filled)
    extra = tokens[(tokens.speaker_id == "S00") & (tokens.phone == "i")].assign(phone="y")
    tokens = pd.concat([tokens, extra], ignore_index=True)
    tokens = tokens.drop(tokens[(tokens.speaker_id == "S00") & (tokens.phone == "ɔ")].index[:2])
    (language, matrix), = vowel_matrix(tokens, min_tokens=3).items()
    assert language == "fr" and matrix.shape == (6, 14)
    assert matrix.attrs["formants"] == ("f1_lobanov", "f2_lobanov")  # no Lobanov 2.0 columns: plain Lobanov
    assert matrix.attrs["dropped_vowels"] == ["y"] and matrix.attrs["imputed"] == 2
    assert list(matrix.columns[:2]) == ["a_F1", "a_F2"] and not matrix.isna().any().any()
    u = tokens[(tokens.speaker_id == "S03") & (tokens.phone == "u")]
    assert matrix.loc["S03", "u_F2"] == pytest.approx(u.f2_lobanov.mean())
    assert matrix.loc["S00", "ɔ_F1"] == pytest.approx(matrix["ɔ_F1"].drop("S00").mean())
    with pytest.raises(ValueError, match="no column 'f1_bark'"):
        vowel_matrix(tokens, f1="f1_bark")
    # with Lobanov 2.0 columns, those are used
    lobanov2 = tokens.assign(f1_lobanov2=tokens.f1_lobanov * 2, f2_lobanov2=tokens.f2_lobanov * 2)
    matrix2 = vowel_matrix(lobanov2, min_tokens=3)["fr"]
    assert matrix2.attrs["formants"] == ("f1_lobanov2", "f2_lobanov2")
    assert matrix2.loc["S03", "u_F2"] == pytest.approx(2 * u.f2_lobanov.mean())


@pytest.fixture(scope="module")
def fronting():
    """12 speakers, the men front /u/; 5 noise prosody measures: (tables for the report, structure output)."""
    groups = ["a", "b"] * 6
    tokens = vowel_tokens(groups)
    survey = pd.DataFrame({"speaker_id": [f"S{i:02d}" for i in range(12)],
                           "gender": pd.Categorical(["woman" if g == "a" else "man" for g in groups],
                                                    categories=["woman", "man"]),
                           "age": np.random.default_rng(1).uniform(20, 70, 12)})
    speakers = noise_speakers(12, 5).assign(n_utterances=3)
    out = speaker_structure(tokens, speakers, survey, {"gender": GENDER, "age": AGE},
                            prosody_columns=["m0", "m1", "m2"], permutations=100)
    return {"tokens": tokens, "speakers": speakers.merge(survey, on="speaker_id"), **out}


def test_u_fronting_by_one_group_shows_in_the_vowel_views_pc1(fronting):
    out = fronting
    assert set(out["pca_scores"].view) == {"vowels:fr", "prosody"}
    loadings = out["pca_loadings"].query("view == 'vowels:fr'").set_index("variable").pc1
    assert loadings.abs().idxmax() == "u_F2"  # pc1 is /u/'s F2
    tests = out["associations"].query("view == 'vowels:fr'").set_index(["attribute", "target"])
    assert tests.loc[("gender", "pc1"), "test"] == "Kruskal-Wallis" and tests.loc[("gender", "pc1"), "q"] < 0.05
    assert tests.loc[("age", "pc1"), "test"] == "Spearman" and not tests.loc[("age", "pc1"), "q"] < 0.05
    assert "man" in tests.loc[("gender", "pc1"), "detail"]
    explained = out["pca_explained"].query("view == 'vowels:fr'")
    assert explained.n_speakers.iloc[0] == 12 and explained.n_variables.iloc[0] == 14
    assert explained.real.iloc[0]  # Lobanov spreads /u/'s shift over every F2: a shared dimension
    linkage = out["linkage"].query("view == 'vowels:fr'")
    assert len(linkage) == 11 and linkage.distance.is_monotonic_increasing
    assert set(out["pca_scores"].cluster) <= set(range(1, 7))
    for name in ("pca_scores", "pca_loadings", "pca_explained", "associations", "linkage"):
        assert "view" in out[name].columns, name


def test_report_sections_describe_each_view(tmp_path, fronting):
    from voli.profile.report import _pca_section, _prediction_section

    (tmp_path / "pca_biplot_vowels_de.png").write_bytes(b"an earlier run's language")
    written: list[str] = []
    page = _pca_section(fronting, tmp_path, written)
    views = ("vowels_fr", "prosody")
    assert set(written) == {f"{kind}_{v}" for kind in ("pca_scree", "pca_biplot", "dendrogram") for v in views}
    assert {p.stem for p in tmp_path.glob("*.png")} == set(written)  # the stale figure is gone
    assert page.index("Vowels, language fr") < page.index("Prosody and voice")
    real = fronting["pca_explained"].groupby("view").real.sum()
    n_vowels = int(real["vowels:fr"])
    assert f"finds <b>{n_vowels} real component" in page
    assert "gender goes with PC1" in page and "12 speakers and 840 vowel tokens of language fr" in page
    if real["prosody"] == 0:
        assert "finds <b>no real component</b>" in page
    prediction = pd.DataFrame({"attribute": ["age"], "model": ["ridge"], "metric": ["R2"], "score": [0.3],
                               "chance": [0.0], "p": [0.01], "n_speakers": [12], "n_measures": [3],
                               "cv": ["leave one out"], "strata": ["gender"], "status": ["ok"]})
    text = _prediction_section({"prediction": prediction})
    assert "Speech predicts age better than chance" in text and "answers shuffled within gender" in text


# -- associations ------------------------------------------------------------------------------------


def test_fisher_on_a_2x2_table_and_monte_carlo_chi_square_above():
    # 2x2: woman/man x cluster 1/2 = [[5, 1], [1, 5]]
    values = ["woman"] * 6 + ["man"] * 6
    clusters = [1] * 5 + [2] + [1] + [2] * 5
    row = association(values, clusters, kind="categorical", target_kind="cluster", levels=("woman", "man"))
    odds, p = stats.fisher_exact([[5, 1], [1, 5]])
    assert row["test"] == "Fisher exact" and row["p"] == p and row["statistic"] == odds
    assert row["detail"] == "cluster 1: woman 5, man 1; cluster 2: woman 1, man 5"
    # 3x2: a Monte Carlo chi-square, close to the asymptotic test when counts are large
    rng = np.random.default_rng(0)
    values = rng.choice(["x", "y", "z"], 90)
    clusters = np.where(values == "x", rng.choice([1, 2], 90, p=[0.8, 0.2]), rng.choice([1, 2], 90))
    row = association(values, clusters, kind="categorical", target_kind="cluster")
    table = pd.crosstab(values, clusters).to_numpy()
    chi2, p, *_ = stats.chi2_contingency(table, correction=False)
    assert row["test"].startswith("chi-square (Monte Carlo")
    assert row["statistic"] == pytest.approx(chi2) and row["p"] == pytest.approx(p, abs=0.02)
    assert association(values, clusters, kind="categorical", target_kind="cluster")["p"] == row["p"]  # fixed seed


# -- prediction ---------------------------------------------------------------------------------------


def test_cross_validation_fits_the_sklearn_pipeline_inside_each_fold():
    """Out-of-fold predictions equal sklearn's Pipeline fitted on each training fold alone."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (24, 5)) * [1, 10, 100, 0.1, 3] + [0, 50, -20, 1, 0]
    x[rng.random(x.shape) < 0.1] = np.nan  # the imputer's medians come from the training fold too
    folds = structure._folds(24, seed=0)
    assert len(folds) == 10
    y_num = x[:, 1] * 0.1 + rng.normal(0, 1, 24)
    y_num = np.where(np.isnan(y_num), 0.0, y_num)
    for model, y, k in (("ridge", y_num, 0), ("logistic", rng.integers(0, 2, 24), 2),
                        ("logistic", rng.integers(0, 3, 24), 3)):
        ours = structure._cross_validate(x, y[None, :], folds, model, k)[0]
        reference = np.empty(24)
        for test in folds:
            train = np.setdiff1d(np.arange(24), test)
            pipe = structure.pipeline(model)
            if model == "logistic":
                pipe.set_params(model__tol=1e-10, model__max_iter=10000)
            reference[test] = pipe.fit(x[train], y[train]).predict(x[test])
        if model == "ridge":
            np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)
        else:
            np.testing.assert_array_equal(ours, reference)


def test_noise_attributes_stay_at_chance_and_a_planted_one_is_found():
    """A leak (a model that saw the held-out speaker) scores far above chance on noise; ours does not.

    The permutation p stays valid even with a leak (the shuffles leak too), so the scores are what
    is checked: 15 noise measures for 20 speakers are enough to fit any labels perfectly.
    """
    n = 20  # leave one speaker out
    rng = np.random.default_rng(0)
    speakers = noise_speakers(n, 15, seed=0)
    planted = np.array(["p", "q"] * (n // 2))
    speakers["signal"] = (planted == "q") * 1.5 + rng.normal(0, 0.5, n)
    columns = {"planted": pd.Categorical(planted)}
    types = {"planted": AttributeType("planted", "categorical", ("p", "q"))}
    for k in range(3):
        columns[f"binary{k}"] = pd.Categorical(rng.choice(["a", "b"], n))
        types[f"binary{k}"] = AttributeType(f"binary{k}", "categorical", ("a", "b"))
    columns["region"] = pd.Categorical(rng.choice(["x", "y", "z"], n))
    types["region"] = AttributeType("region", "categorical", ("x", "y", "z"))
    for k in range(1):
        columns[f"number{k}"] = rng.uniform(0, 1, n)
        types[f"number{k}"] = AttributeType(f"number{k}", "numeric")
    survey = pd.DataFrame({"speaker_id": speakers.speaker_id, **columns})
    measures = [f"m{j}" for j in range(15)]
    noise = {name: t for name, t in types.items() if name != "planted"}
    out = predict_attributes(speakers, survey, noise, measures, permutations=100, seed=0).set_index("attribute")
    assert (out.cv == "leave one out").all() and (out.n_measures == 15).all() and (out.strata == "none").all()
    assert (out.status == "ok").all()
    categorical = out[out.model == "logistic"]
    assert (categorical.score - categorical.chance).mean() < 0.1
    assert (out[out.model == "ridge"].score < 0.1).all()
    assert (out.p < 0.05).sum() <= 1 and out.p.mean() > 0.25
    found = predict_attributes(speakers, survey, types, measures[:5] + ["signal"], permutations=100)
    found = found.set_index("attribute")
    assert found.loc["planted", "p"] < 0.05 and found.loc["planted", "score"] > 0.8


def test_permutation_within_strata_keeps_each_strata_label_counts():
    rng = np.random.default_rng(0)
    strata = np.array(["woman"] * 7 + ["man"] * 5 + [None] * 2, dtype=object)
    labels = rng.choice(["a", "b", "c"], len(strata))
    index = permute_within(strata, 300, np.random.default_rng(1))
    assert index.shape == (300, len(strata))
    keys = strata.astype(str)
    for row in index:
        assert sorted(row) == list(range(len(strata)))
        assert (keys[row] == keys).all()  # every element moves within its stratum
        for s in set(keys):
            assert sorted(labels[row][keys == s]) == sorted(labels[keys == s])
    assert (index != np.arange(len(strata))).any(axis=1).mean() > 0.9  # and does move


def test_prediction_names_its_strata_and_rejects_unknown_ones():
    n = 12
    rng = np.random.default_rng(3)
    speakers = noise_speakers(n, 4)
    survey = pd.DataFrame({"speaker_id": speakers.speaker_id,
                           "gender": pd.Categorical(["woman", "man"] * (n // 2)), "age": rng.uniform(20, 70, n)})
    types = {"gender": GENDER, "age": AGE}
    out = predict_attributes(speakers, survey, types, ["m0", "m1"], permutations=20, strata="gender")
    assert list(out.columns) == ["attribute", "model", "metric", "score", "chance", "p", "n_speakers", "n_measures",
                                 "cv", "strata", "status"]
    assert dict(zip(out.attribute, out.strata)) == {"gender": "none", "age": "gender"}
    with pytest.raises(ConfigError, match="'age' is not a categorical.*gender"):
        predict_attributes(speakers, survey, types, ["m0"], permutations=5, strata="age")


# -- adjusted for the controls --------------------------------------------------------------------------


FOLLOWER = AttributeType("x", "categorical", ("a", "b"))
TEMPO = AttributeType("tempo", "categorical", ("slow", "fast"))
PROSODY = ["f0_median_st", "f0_range_st", "intensity_mean_db", "articulation_rate", "speech_rate",
           "pauses_per_minute"]


@pytest.fixture(scope="module")
def follower():
    """12 speakers: pitch and loudness differ by gender only, the rate by tempo (balanced within gender) only;
    x has no effect but follows gender for 5 of 6 speakers in each group."""
    rng = np.random.default_rng(1)
    n = 12
    gender = np.array(["woman", "man"] * 6)
    tempo = np.array(["fast", "fast", "slow", "slow"] * 3)  # 3 fast and 3 slow speakers of each gender
    x = np.where(gender == "woman", "a", "b")
    x[:2] = ["b", "a"]  # one woman and one man go the other way
    woman, fast = (gender == "woman") * 1.0, (tempo == "fast") * 1.0
    speakers = pd.DataFrame({"speaker_id": [f"S{i:02d}" for i in range(n)],
                             "f0_median_st": 10 * woman + rng.normal(0, 1.5, n),
                             "f0_range_st": 4 * woman + rng.normal(0, 1, n),
                             "intensity_mean_db": 3 * woman + rng.normal(0, 1, n),
                             "articulation_rate": 1.5 * fast + rng.normal(0, 0.4, n),
                             "speech_rate": 1.2 * fast + rng.normal(0, 0.4, n),
                             "pauses_per_minute": rng.normal(10, 2, n)})
    survey = pd.DataFrame({"speaker_id": speakers.speaker_id, "gender": pd.Categorical(gender, ["woman", "man"]),
                           "x": pd.Categorical(x, ["a", "b"]), "tempo": pd.Categorical(tempo, ["slow", "fast"])})
    return speakers, survey, {"gender": GENDER, "x": FOLLOWER, "tempo": TEMPO}


def test_an_attribute_that_follows_a_control_is_not_found_once_the_control_is_adjusted_for(follower):
    speakers, survey, types = follower
    plain = speaker_structure(None, speakers, survey, types, prosody_columns=PROSODY, permutations=999)
    tests = plain["associations"].set_index(["attribute", "target"])
    assert (tests.adjusted_for == "none").all() and (tests.p == tests.p_unadjusted).all()
    assert tests.loc[("x", "pc1"), "p"] < 0.05  # unadjusted, x takes gender's association with PC1 (pitch)
    assert tests.loc[("gender", "pc1"), "p"] < 0.05
    out = speaker_structure(None, speakers, survey, types, prosody_columns=PROSODY, permutations=999,
                            controls=("gender",))
    assert list(out["associations"].columns) == ["view", "attribute", "target", "test", "statistic", "p", "q",
                                                 "p_unadjusted", "adjusted_for", "n_speakers", "detail"]
    tests = out["associations"].set_index(["attribute", "target"])
    x = tests.loc["x"]
    assert set(x.index) == {"cluster"} | {f"pc{i + 1}" for i in range(max(1, int(out["pca_explained"].real.sum())))}
    assert (x.p > 0.05).all() and (x.adjusted_for == "permuted within gender (999 shuffles)").all()
    assert (x.p_unadjusted == plain["associations"].query("attribute == 'x'").p.to_numpy()).all()
    assert (tests.loc["gender"].adjusted_for == "none (a control)").all()  # the control itself: unadjusted
    # positive control: tempo's effect on the rate is found with gender controlled
    assert tests.loc["tempo"].p.min() < 0.01 and tests.loc["tempo"].q.min() < 0.05
    # with several languages, the language joins the strata
    languages = pd.Series(["fr", "fr", "es", "es"] * 3, index=speakers.speaker_id)
    mixed = speaker_structure(None, speakers, survey, types, prosody_columns=PROSODY, permutations=99,
                              controls=("gender",), languages=languages)["associations"]
    assert set(mixed.query("attribute == 'x'").adjusted_for) == {"permuted within gender × language (99 shuffles)"}
    with pytest.raises(ConfigError, match="control 'region' is not a survey attribute"):
        speaker_structure(None, speakers, survey, types, prosody_columns=PROSODY, controls=("region",))


def test_follows_control_flags_x_and_prediction_shuffles_within_the_controls(follower):
    speakers, survey, types = follower
    (flag,) = structure.follows_control(survey, types, ("gender",))
    assert flag["attribute"] == "x" and flag["with"] == "gender"
    assert flag["strength"] == pytest.approx(2 / 3) and flag["strength_measure"] == "Cramér's V"
    assert "x follows the control gender" in flag["message"] and "would be gender's" in flag["message"]
    assert structure.follows_control(survey, types, ()) == []
    # a numeric control: η of it over the attribute's groups; cut at its median for the strata
    age = survey.assign(age=np.where(survey.x == "a", 30.0, 60.0) + np.arange(12))
    flags = {f["attribute"]: f for f in structure.follows_control(age, {**types, "age": AGE}, ("age",))}
    assert set(flags) == {"x", "gender"}  # gender follows x, so age too
    assert flags["x"]["strength_measure"] == "η" and flags["x"]["strength"] > 0.9
    labels, words = structure.control_strata(age, {**types, "age": AGE}, ("gender", "age"))
    assert words == "permuted within gender × age (halves at its median, 50)" and len(set(labels)) == 4
    out = predict_attributes(speakers, survey, types, PROSODY, permutations=99, strata=("gender",))
    out = out.set_index("attribute")
    assert out.loc["x", "strata"] == "gender" and out.loc["x", "p"] > 0.05
    assert out.loc["tempo", "p"] < 0.05 and out.loc["gender", "strata"] == "none"


def test_report_says_how_associations_were_adjusted_and_names_a_follower_first(tmp_path, follower):
    from voli.profile.report import _association_words, _pca_section

    speakers, survey, types = follower
    out = speaker_structure(None, speakers, survey, types, prosody_columns=PROSODY, permutations=99,
                            controls=("gender",))
    words = _association_words(out["associations"])
    assert "How p was adjusted: gender: <i>none (a control)</i>; x, tempo: <i>permuted within gender (99" in words
    assert "x goes with" not in words and "tempo goes with" in words
    checks = pd.DataFrame([{"kind": "confounded", "message": "m"},
                           {"kind": "follows_control", **structure.follows_control(survey, types, ("gender",))[0]}])
    page = _pca_section({**out, "checks": checks}, tmp_path, [])
    assert page.index("x follows the control gender") < page.index("Prosody and voice")
