"""Speaker-level vowel measures mean what they say: they follow the speaker, not token noise,
token counts or the vowel mix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from voli import languages, problems
from voli.config import ProfileConfig
from voli.errors import VoliError
from voli.profile.normalise import normalise
from voli.profile.speakers import pillai, pillai_adjusted, pillai_null, polygon_area, speaker_measures, vowel_tokens

# French-like category means (F1, F2) in Hz
MEANS = {"i": (300, 2300), "e": (400, 2100), "ɛ": (550, 1850), "a": (750, 1400), "ɔ": (570, 1000),
         "o": (420, 850), "u": (310, 800), "y": (300, 1800), "ø": (400, 1550), "ə": (480, 1500)}
SPACE = languages.get("fr").vowel_space


def tokens(sd_hz=40.0, n=200, *, scale=1.0, seed=0, counts=None, speaker="s1", language="fr"):
    """A token table: ``n`` tokens per vowel (or ``counts[vowel]``), F2 noise SD ``sd_hz``, F1 half
    of it; every formant multiplied by ``scale`` (a vocal-tract ratio)."""
    rng = np.random.default_rng(seed)
    parts = []
    for v, (f1, f2) in MEANS.items():
        k = (counts or {}).get(v, n)
        parts.append(pd.DataFrame({"phone": v, "f1_hz": (f1 + rng.normal(0, sd_hz / 2, k)) * scale,
                                   "f2_hz": (f2 + rng.normal(0, sd_hz, k)) * scale}))
    return pd.concat(parts, ignore_index=True).assign(speaker_id=speaker, language=language)


def fixed_area(t, unit):
    """Area of the language's vowel-space polygon of category means in these units (recomputed here)."""
    m = t.groupby("phone")[[f"f1_{unit}", f"f2_{unit}"]].mean().loc[list(SPACE)]
    return polygon_area(m[f"f2_{unit}"], m[f"f1_{unit}"])


def speaker_row(t, **config):
    """The speaker-table row of the one speaker of token table ``t``."""
    config = ProfileConfig(**{"min_word_probability": 0, "min_speaker_confidence": 0, **config})
    table, _ = speaker_measures(features_vowels(t), prosody_for(sorted(set(t.speaker_id))), config)
    return table.iloc[0]


def means_hull_area(t, unit):
    from scipy.spatial import ConvexHull

    return ConvexHull(t.groupby("phone")[[f"f2_{unit}", f"f1_{unit}"]].mean().to_numpy()).volume


def features_vowels(t, **columns):
    """A vowels table like the features stage's around a token table (f1_hz -> f1_50_hz, ...)."""
    base = {"role": "interviewee", "is_filler": False, "duration_s": 0.1, "word_probability": 0.9,
            "speaker_confidence": 0.95, "duration_z": 0.0, "stress": 1, "recording_id": "r1"}
    return t.rename(columns={"f1_hz": "f1_50_hz", "f2_hz": "f2_50_hz"}).assign(**{**base, **columns})


def prosody_for(speakers):
    return pd.DataFrame({"speaker_id": speakers, "role": "interviewee", "n_utterances": 10, "speech_s": 60.0,
                         "n_syllables": 300})


# -- normalisation ------------------------------------------------------------------------------


NORMALISED = ("f1_lobanov2", "f2_lobanov2", "f1_nearey", "f2_nearey")


def same_on_fixed_vowels(a, b, atol=1e-9):
    """Lobanov 2.0 and Nearey of the language's vowel_space tokens agree (a, b: normalised tables
    whose vowel_space tokens are the same rows in the same order)."""
    a, b = a[a.phone.isin(SPACE)], b[b.phone.isin(SPACE)]
    for col in NORMALISED:
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), atol=atol, err_msg=col)


def test_lobanov_2_and_nearey_ignore_the_vowel_mix_while_lobanov_does_not():
    balanced = tokens(n=30)
    schwas = balanced[balanced.phone == "ə"]
    heavy = pd.concat([balanced] + [schwas] * 9, ignore_index=True)  # the same speaker, 10x the schwas
    a, b = normalise(balanced), normalise(heavy).iloc[:len(balanced)]
    same_on_fixed_vowels(a, b)
    np.testing.assert_allclose(a.f1_lobanov2, b.f1_lobanov2, atol=1e-9)  # every vowel, schwas included
    # Lobanov's scale shrinks with the schwas: [i]'s F2 moves by more than 20 %
    i = a.phone == "i"
    assert abs(b.f2_lobanov[i].mean() / a.f2_lobanov[i].mean() - 1) > 0.2
    # Lobanov 2.0 is centred on the mean of the vowel_space categories' means, in SDs of those means
    m = a.groupby("phone")[["f1_lobanov2", "f2_lobanov2"]].mean().loc[list(SPACE)]
    np.testing.assert_allclose(m.mean(), 0, atol=1e-9)
    np.testing.assert_allclose(m.std(ddof=1), 1, atol=1e-9)
    # Nearey's centre is the mean over those categories of ln(category mean), F1 and F2 together
    hz = a.groupby("phone")[["f1_hz", "f2_hz"]].mean().loc[list(SPACE)]
    np.testing.assert_allclose(a.f1_nearey, np.log(a.f1_hz) - np.log(hz).to_numpy().mean(), atol=1e-12)
    assert set(a.norm_n_vowels) == {len(SPACE)}


def test_a_rare_vowel_said_or_not_and_a_frequent_one_leave_the_centre_where_it_is():
    base = tokens(n=20, seed=4)
    without_rare = base[~base.phone.isin(["y", "ø", "ə"])].reset_index(drop=True)  # outside vowel_space
    same_on_fixed_vowels(normalise(base), normalise(without_rare))
    # 100x the tokens of [a], a vowel of the set: the category mean is the same, so is the centre
    a_tokens = base[base.phone == "a"]
    heavy = pd.concat([base] + [a_tokens] * 99, ignore_index=True)
    same_on_fixed_vowels(normalise(base), normalise(heavy).iloc[:len(base)])
    # a centre over the tokens would have moved by more than half an SD of the category means
    by_token = heavy[heavy.phone.isin(SPACE)].f1_hz.mean()
    means = base[base.phone.isin(SPACE)].groupby("phone").f1_hz.mean()
    assert (by_token - means.mean()) / means.std() > 0.5


def test_each_language_of_a_bilingual_speaker_is_normalised_on_its_own_vowels():
    fr = tokens(n=20, seed=5)
    es = tokens(n=20, seed=6, scale=1.1, language="es")  # another system: its centre is over i e a o u
    both = normalise(pd.concat([fr, es], ignore_index=True))
    alone_fr, alone_es = normalise(fr), normalise(es)
    for col in NORMALISED:
        np.testing.assert_allclose(both[col].to_numpy(), np.r_[alone_fr[col], alone_es[col]], atol=1e-9, err_msg=col)
    es_space = languages.get("es").vowel_space
    m = both[both.language == "es"].groupby("phone").f2_lobanov2.mean().loc[list(es_space)]
    assert m.mean() == pytest.approx(0, abs=1e-9) and m.std() == pytest.approx(1)
    assert set(both[both.language == "es"].norm_n_vowels) == {len(es_space)}


def test_a_missing_fixed_vowel_is_counted_and_reported_and_two_leave_no_values():
    with problems.collecting("profile") as found:
        one = normalise(tokens(n=10, counts={"ɔ": 1}))  # one [ɔ]: no category mean
    assert set(one.norm_n_vowels) == {len(SPACE) - 1} and one.f1_lobanov2.notna().all()
    assert [p.kind for p in found] == ["normalisation_vowels"] and "['ɔ']" in found[0].message
    with problems.collecting("profile") as found:
        two = normalise(tokens(n=10, counts={"ɔ": 1, "u": 0}))
    assert two[list(NORMALISED)].isna().all().all() and "NaN" in found[0].message
    assert found[0].speaker_id == "s1" and "add recordings" in found[0].message


def test_watt_fabricius_anchors_on_the_language_corner_vowels():
    t = pd.DataFrame({"phone": ["i"] * 3 + ["iː"] * 3 + ["æ"] * 3 + ["uː"] * 3,
                      "f1_hz": [250.0] * 3 + [300.0] * 3 + [700.0] * 3 + [320.0] * 3,
                      "f2_hz": [2500.0] * 3 + [2300.0] * 3 + [1700.0] * 3 + [900.0] * 3})
    en = normalise(t.assign(speaker_id="a", language="en"))
    s1, s2 = (300 + 700 + 300) / 3, (2300 + 1700 + 300) / 3  # FLEECE, TRAP, virtual [u'] (F2 = F1 of FLEECE)
    np.testing.assert_allclose(en.f1_wf, t.f1_hz / s1)
    np.testing.assert_allclose(en.f2_wf, t.f2_hz / s2)
    assert set(en.wf_anchors) == {"corner_vowels"}
    # a language voli does not know: the highest F2 − F1 ("i") and the highest F1 ("æ")
    other = normalise(t.assign(speaker_id="a", language="xx"))
    np.testing.assert_allclose(other.f1_wf, t.f1_hz / ((250 + 700 + 250) / 3))
    assert set(other.wf_anchors) == {"heuristic"}


# -- vowel-space area ---------------------------------------------------------------------------


def test_nearey_vowel_space_area_ignores_token_noise_while_lobanov_areas_do_not():
    quiet, noisy = tokens(40, n=400, seed=1), tokens(150, n=400, seed=2)
    change = speaker_row(noisy).vowel_space_area_nearey / speaker_row(quiet).vowel_space_area_nearey - 1
    assert abs(change) < 0.05, change
    quiet, noisy = normalise(quiet), normalise(noisy)
    lobanov = means_hull_area(noisy, "lobanov") / means_hull_area(quiet, "lobanov") - 1
    assert lobanov < -0.15, lobanov  # Lobanov's scale grows with the noise: its space shrinks


def test_a_vocal_tract_ratio_leaves_the_nearey_area_unchanged():
    long_, short = tokens(60, seed=3), tokens(60, seed=3, scale=1 / 0.85)
    both = pd.concat([long_, short.assign(speaker_id="s2")], ignore_index=True)
    config = ProfileConfig(min_word_probability=0, min_speaker_confidence=0)
    table, _ = speaker_measures(features_vowels(both), prosody_for(["s1", "s2"]), config)
    a, b = table.set_index("speaker_id").loc["s1"], table.set_index("speaker_id").loc["s2"]
    assert b.vowel_space_area_nearey == pytest.approx(a.vowel_space_area_nearey, rel=1e-9)
    assert b.vowel_space_area_hz == pytest.approx(a.vowel_space_area_hz / 0.85 ** 2, rel=1e-9)
    assert a.vowel_space_n_vowels == len(SPACE) and a.vowel_space_area_nearey > 0


def test_vowel_space_area_needs_every_vowel_of_the_set():
    row = speaker_row(tokens(40, n=10, counts={"ɔ": 1}))  # one [ɔ]: not enough for a category mean
    assert np.isnan(row.vowel_space_area_nearey) and np.isnan(row.vowel_space_area_hz)
    assert row.vowel_space_n_vowels == len(SPACE) - 1


def test_every_language_has_a_vowel_space_of_its_own_vowels():
    for language in languages.all_languages():
        assert len(language.vowel_space) >= 3 and set(language.vowel_space) <= set(language.vowels), language.code
    with pytest.raises(VoliError, match="vowel_space"):
        dataclasses.replace(languages.get("es"), vowel_space=("i", "ʏ", "u"))


# -- Pillai -------------------------------------------------------------------------------------


def test_pillai_needs_its_minimum_and_writes_the_count_beside():
    t = tokens(40, counts={"e": 25, "ɛ": 10, "o": 30, "ɔ": 20, "ø": 40, "œ": 0}, n=30)
    table, _ = speaker_measures(features_vowels(t), prosody_for(["s1"]),
                                ProfileConfig(min_word_probability=0, min_speaker_confidence=0, min_pillai_tokens=20))
    row = table.iloc[0]
    assert np.isnan(row["pillai_e_ɛ"]) and np.isnan(row["pillai_e_ɛ_adj"]) and row["pillai_e_ɛ_min_tokens"] == 10
    assert row["pillai_o_ɔ"] > 0.9 and row["pillai_o_ɔ_min_tokens"] == 20  # [o] and [ɔ] are far apart
    e0 = 2 / (30 + 20 - 1)
    assert row["pillai_o_ɔ_adj"] == pytest.approx((row["pillai_o_ɔ"] - e0) / (1 - e0))
    assert np.isnan(row["pillai_ø_œ"]) and row["pillai_ø_œ_min_tokens"] == 0
    expected = ["speaker_id", "role", "n_utterances", "speech_s", "n_syllables", "language", "n_tokens",
                "n_categories", "formant_scale_hz", "f1_mean_hz", "f2_mean_hz", "vowel_dispersion_hz",
                "vowel_space_area_nearey", "vowel_space_area_hz", "vowel_space_n_vowels",
                "pillai_e_ɛ", "pillai_e_ɛ_adj", "pillai_e_ɛ_min_tokens", "pillai_o_ɔ", "pillai_o_ɔ_adj",
                "pillai_o_ɔ_min_tokens", "pillai_ø_œ", "pillai_ø_œ_adj", "pillai_ø_œ_min_tokens"]
    assert list(table.columns) == expected


def test_adjusted_pillai_is_zero_for_merged_vowels_at_any_token_count():
    rng = np.random.default_rng(0)
    draws, raw_means = 4000, []
    for n in (5, 10, 20, 50):
        merged = [pillai(rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2))) for _ in range(draws)]
        e0 = pillai_null(n, n)
        # no separation: V ~ Beta(1, (N - 3) / 2), mean 2 / (N - 1); se: SE of the adjusted mean over the draws
        b = (2 * n - 3) / 2
        se = np.sqrt(b / ((1 + b) ** 2 * (2 + b))) / (1 - e0) / np.sqrt(draws)
        assert 0.01 > 2.5 * se  # the margin below is at least 2.5 standard errors of the mean over the draws
        assert abs(np.mean(merged) - e0) < 0.01, (n, np.mean(merged), e0)
        adjusted = np.mean([pillai_adjusted(v, n, n) for v in merged])
        assert abs(adjusted) < 0.01, (n, adjusted)  # about 3 SE at 5 + 5 tokens, 20 SE at 50 + 50
        raw_means.append(np.mean(merged))
        # separated vowels (1 SD apart on F1): clearly positive, and about the same at every count
        apart = [pillai_adjusted(pillai(rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2)) + [1, 0]), n, n)
                 for _ in range(500)]
        assert 0.15 < np.mean(apart) < 0.25, (n, np.mean(apart))
    assert raw_means[0] > 0.2 and raw_means[-1] < 0.025 and raw_means == sorted(raw_means, reverse=True)


def test_speaker_vowel_measures_rest_on_their_main_language():
    fr, es = tokens(40, n=20, seed=7), tokens(40, n=5, seed=8, scale=1.2, language="es")
    row = speaker_row(pd.concat([fr, es], ignore_index=True))
    assert row.language == "fr" and row.n_tokens == len(fr)
    assert row.vowel_space_area_hz == pytest.approx(speaker_row(fr).vowel_space_area_hz)


# -- token filters ------------------------------------------------------------------------------


def test_stressed_only_keeps_stressed_and_unknown_and_languages_without_marks():
    fr = features_vowels(tokens(40, n=4)).assign(stress=pd.array([1, 2, 0, None] * 10, dtype="Int64"))
    es = features_vowels(tokens(40, n=4, speaker="s2", language="es")).assign(stress=0)  # no marks at all
    vowels = pd.concat([fr, es], ignore_index=True)
    base = ProfileConfig(min_word_probability=0, min_speaker_confidence=0)
    kept = vowel_tokens(vowels, dataclasses.replace(base, stressed_only=True))
    assert sorted(kept[kept.language == "fr"].stress.astype(float).fillna(-1).unique()) == [-1, 1, 2]
    assert (kept.language == "es").sum() == len(es)
    assert len(vowel_tokens(vowels, base)) == len(vowels)


def test_max_vowel_s_drops_longer_vowels():
    vowels = features_vowels(tokens(40, n=3)).assign(duration_s=[0.1, 0.5, 0.6] * 10)
    kept = vowel_tokens(vowels, ProfileConfig(min_word_probability=0, min_speaker_confidence=0, max_vowel_s=0.5))
    assert kept.duration_s.max() == 0.5 and len(kept) == 20
