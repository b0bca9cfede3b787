"""Speaker measures: one row per speaker, from the vowel tokens and the prosody of 03_features.

Vowel tokens are filtered first (filled pauses out; ASR probability, speaker confidence and
overlap, aligner duration z-score and duration thresholds from the profile config) and read at
their midpoint. Per speaker:

* ``formant_scale_hz``: geometric mean of F1 and F2 (Hz): follows vocal-tract length;
* ``vowel_dispersion_hz``: median distance of the tokens from the speaker's mean (F1, F2), Hz;
* ``category_dispersion_lobanov``: mean distance of the vowel categories' means (Lobanov units)
  from the speaker's centre: smaller = a more central, reduced vowel space; normalisation keeps it
  because token noise does not shrink with the categories;
* ``reduction_index``: within-category share of the Lobanov variance (0 = categories perfectly
  apart, 1 = no category structure);
* ``vowel_space_area_hull_hz`` / ``_means_hz`` (and ``_lobanov``): convex hull of the tokens, and
  polygon (hull) of the category means;
* ``pillai_<a>_<b>``: Pillai trace of a MANOVA of (F1, F2) Lobanov on the two categories
  (0 = merged, 1 = fully apart), for each language file's ``pillai_pairs`` and the config's;
* the prosody measures of ``speaker_prosody`` (rates, pauses, filled pauses, F0, intensity);
* ``n_tokens`` and ``n_categories`` behind the vowel measures.
"""

from __future__ import annotations

import numpy as np

from voli.profile.normalise import normalise

PROSODY_COLUMNS = ("speech_rate", "articulation_rate", "pauses_per_minute", "pause_mean_s", "filled_pauses_per_minute",
                   "filled_pause_mean_s", "filled_pause_f1_hz", "filled_pause_f2_hz", "f0_mean_hz", "f0_median_hz",
                   "f0_sd_hz", "f0_range_st", "f0_median_st", "f0_sd_st", "intensity_mean_db")
MIN_CATEGORY_TOKENS = 2  # a vowel category needs this many tokens to enter category-based measures


def vowel_tokens(vowels, config):
    """The tokens the statistics use: filtered, at their midpoint, with normalised formants."""
    v = vowels[~vowels.is_filler & vowels.role.isin(config.roles)].copy()
    v = v[v.duration_s >= config.min_vowel_s]
    if config.min_word_probability > 0:
        v = v[v.word_probability.isna() | (v.word_probability >= config.min_word_probability)]
    if config.min_speaker_confidence > 0 and "speaker_confidence" in v:
        v = v[v.speaker_confidence.isna() | (v.speaker_confidence >= config.min_speaker_confidence)]
    if not config.keep_overlap and "overlap" in v:
        v = v[~v.overlap.astype(bool)]
    v = v[v.duration_z.isna() | (v.duration_z.abs() <= config.max_abs_duration_z)]
    v = v.dropna(subset=["f1_50_hz", "f2_50_hz"]).rename(columns={"f1_50_hz": "f1_hz", "f2_50_hz": "f2_hz"})
    v = v.reset_index(drop=True)
    return normalise(v)


def formant_scale_hz(f1, f2) -> float:
    """Geometric mean of the F1 and F2 values (Hz): it follows vocal-tract length."""
    return float(np.exp(np.mean(np.log(np.r_[np.asarray(f1, float), np.asarray(f2, float)]))))


def vowel_dispersion_hz(f1, f2) -> float:
    """Median distance (Hz) of the (F1, F2) points from their mean."""
    f1, f2 = np.asarray(f1, float), np.asarray(f2, float)
    return float(np.median(np.hypot(f1 - f1.mean(), f2 - f2.mean())))


def _hull_area(points: np.ndarray) -> float:
    from scipy.spatial import ConvexHull, QhullError

    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 3:
        return float("nan")
    try:
        return float(ConvexHull(points).volume)  # in 2-D, "volume" is the area
    except QhullError:
        return float("nan")


def pillai(a: np.ndarray, b: np.ndarray) -> float:
    """Pillai trace of a one-way MANOVA of two groups of (F1, F2) points."""
    if len(a) < 3 or len(b) < 3:
        return float("nan")
    allp = np.vstack([a, b])
    grand = allp.mean(axis=0)
    h = sum(len(g) * np.outer(g.mean(axis=0) - grand, g.mean(axis=0) - grand) for g in (a, b))
    e = sum((g - g.mean(axis=0)).T @ (g - g.mean(axis=0)) for g in (a, b))
    try:
        return float(np.trace(h @ np.linalg.inv(h + e)))
    except np.linalg.LinAlgError:
        return float("nan")


def vowel_measures(t, pairs) -> dict:
    """The vowel measures of one speaker's tokens (a DataFrame with f1_hz, f2_hz, f1_lobanov, ...)."""
    raw = t[["f1_hz", "f2_hz"]].to_numpy(float)
    z = t[["f1_lobanov", "f2_lobanov"]].to_numpy(float)
    counts = t.phone.value_counts()
    cats = counts[counts >= MIN_CATEGORY_TOKENS].index
    in_cats = t[t.phone.isin(cats)]
    means_raw = in_cats.groupby("phone")[["f1_hz", "f2_hz"]].mean().to_numpy(float)
    means_z = in_cats.groupby("phone")[["f1_lobanov", "f2_lobanov"]].mean().to_numpy(float)
    row = {
        "n_tokens": len(t), "n_categories": len(cats),
        "formant_scale_hz": formant_scale_hz(raw[:, 0], raw[:, 1]),
        "f1_mean_hz": float(raw[:, 0].mean()), "f2_mean_hz": float(raw[:, 1].mean()),
        "vowel_dispersion_hz": vowel_dispersion_hz(raw[:, 0], raw[:, 1]),
        "category_dispersion_lobanov": float(np.mean(np.hypot(*means_z.T))) if len(means_z) >= 3 else np.nan,
        "vowel_space_area_hull_hz": _hull_area(raw), "vowel_space_area_means_hz": _hull_area(means_raw),
        "vowel_space_area_hull_lobanov": _hull_area(z), "vowel_space_area_means_lobanov": _hull_area(means_z),
    }
    if len(cats) >= 2 and len(in_cats) > len(cats):
        zc = in_cats[["f1_lobanov", "f2_lobanov"]].to_numpy(float)
        within = (zc - in_cats.groupby("phone")[["f1_lobanov", "f2_lobanov"]].transform("mean").to_numpy(float))
        row["reduction_index"] = float((within ** 2).sum() / ((zc - zc.mean(axis=0)) ** 2).sum())
    else:
        row["reduction_index"] = np.nan
    for a, b in pairs:
        pa = t[t.phone == a][["f1_lobanov", "f2_lobanov"]].to_numpy(float)
        pb = t[t.phone == b][["f1_lobanov", "f2_lobanov"]].to_numpy(float)
        row[f"pillai_{a}_{b}"] = pillai(pa, pb)
    return row


def extra_pairs(config) -> dict[str, tuple]:
    """Each language file's ``pillai_pairs`` plus the config's ``pillai_pairs`` entries ("fr:e-ɛ")."""
    from voli import languages
    from voli.errors import ConfigError

    pairs = {spec.code: list(spec.pillai_pairs) for spec in languages.all_languages()}
    for entry in config.pillai_pairs:
        try:
            lang, pair = entry.split(":", 1)
            a, b = pair.split("-", 1)
        except ValueError:
            raise ConfigError(f"profile.pillai_pairs: {entry!r} should read 'language:vowel-vowel', e.g. 'fr:e-ɛ'") from None
        pairs.setdefault(lang.strip(), []).append((a.strip(), b.strip()))
    return {k: tuple(v) for k, v in pairs.items()}


def speaker_measures(vowels, speaker_prosody, config):
    """(speaker table, the filtered tokens it rests on)."""
    import pandas as pd

    tokens = vowel_tokens(vowels, config)
    pairs = extra_pairs(config)
    rows = []
    for sid, t in tokens.groupby("speaker_id"):
        language = t.language.mode().iloc[0]
        rows.append({"speaker_id": sid, "language": language, **vowel_measures(t, pairs.get(language, ()))})
    vowel_table = pd.DataFrame(rows)
    prosody = speaker_prosody[speaker_prosody.role.isin(config.roles)]
    keep = ["speaker_id", "role", "n_utterances", "speech_s", "n_syllables"] + [c for c in PROSODY_COLUMNS if c in prosody]
    table = prosody[keep].merge(vowel_table, on="speaker_id", how="outer") if len(vowel_table) else prosody[keep]
    return table.sort_values("speaker_id").reset_index(drop=True), tokens
