"""Speaker measures: one row per speaker, from the vowel tokens and the prosody that features measured.

Vowel tokens are filtered first (filled pauses out; ASR probability, speaker confidence and
overlap, aligner duration z-score, duration limits and, with ``stressed_only``, lexical stress,
from the profile config), read at their midpoint and normalised per speaker × language
(:mod:`voli.profile.normalise`). The vowel measures of a speaker rest on the tokens of their
``language``, the one most of their tokens are in (a bilingual's other language would mix two
vowel systems in one space and one Pillai score). Per speaker:

* ``formant_scale_hz``: geometric mean of F1 and F2 (Hz): follows vocal-tract length;
* ``f1_mean_hz``, ``f2_mean_hz``: mean F1 and F2 of the tokens (Hz);
* ``vowel_dispersion_hz``: median distance of the tokens from the speaker's mean (F1, F2), Hz;
* ``vowel_space_area_nearey``: area of the polygon (shoelace) of the category means over the
  language file's ``vowel_space`` vowels, in their order, in Nearey log units (ln(Hz)²): the size
  of the vowel space with the vocal-tract scale removed; token noise and counts enter only through
  the category means, each taken in Hz and then logged;
* ``vowel_space_area_hz``: the same polygon in Hz² (it follows vocal-tract size as well as the
  articulation: a shorter tract gives a larger area);
* ``vowel_space_n_vowels``: how many of the ``vowel_space`` vowels the speaker said at least
  MIN_CATEGORY_TOKENS times (both areas are NaN unless all of them);
* ``pillai_<a>_<b>``: Pillai trace V of a MANOVA of (F1, F2) on the two categories (0 = merged,
  1 = fully apart), for each language file's ``pillai_pairs`` and the config's; NaN when either
  vowel has fewer than ``min_pillai_tokens`` tokens. It is taken on Hz: V does not change under
  any per-speaker linear rescaling of F1 and F2, Lobanov 2.0 included. Raw V of two merged vowels
  is not 0 but 2 / (N − 1) on average, N = n_a + n_b tokens (0.40 with 3 + 3, 0.05 with 20 + 20),
  so speakers with fewer tokens look less merged;
* ``pillai_<a>_<b>_adj``: V corrected for chance, (V − E0) / (1 − E0) with E0 = 2 / (N − 1) its
  mean for merged vowels (like an adjusted R²): 0 on average for merged vowels at any token
  count, 1 fully apart, slightly negative values possible. The speaker models use this one;
* ``pillai_<a>_<b>_min_tokens``: the smaller token count of the two vowels;
* the prosody measures of ``speaker_prosody`` (rates, pauses, filled pauses, F0, intensity);
* ``n_tokens`` and ``n_categories`` behind the vowel measures.

Measures whose value tracks token noise, token count or the vowel mix rather than the speaker are
not computed: Lobanov-unit areas and dispersions (Lobanov's scale grows with both), convex hulls
of the tokens (they grow with every token) and of all category means (they depend on which
vowels a speaker happened to say).
"""

from __future__ import annotations

import numpy as np

from voli.profile.normalise import MIN_CATEGORY_TOKENS, normalise

PROSODY_COLUMNS = ("speech_rate", "articulation_rate", "pauses_per_minute", "pause_mean_s", "filled_pauses_per_minute",
                   "filled_pause_mean_s", "filled_pause_f1_hz", "filled_pause_f2_hz", "f0_mean_hz", "f0_median_hz",
                   "f0_sd_hz", "f0_range_st", "f0_median_st", "f0_sd_st", "intensity_mean_db")
# MIN_CATEGORY_TOKENS (2): a vowel category needs this many tokens to enter category-based measures


def _stressed(v):
    """Mask of the tokens ``stressed_only`` keeps: stress 1 (primary) or 2 (secondary), unknown stress
    (None), and every token of a language whose tokens carry no stress mark at all (its lexicon does
    not mark stress, so 0 there means "not marked", not "unstressed")."""
    import pandas as pd

    stress = pd.to_numeric(v.stress, errors="coerce").astype(float)
    language = v.language if "language" in v else pd.Series("", index=v.index)
    marked = (stress >= 1).groupby(language).transform("any")
    return stress.isna() | (stress >= 1) | ~marked


def vowel_tokens(vowels, config):
    """The tokens the statistics use: filtered, at their midpoint, with normalised formants.

    Filters, from ``config`` (a ProfileConfig): fillers out; ``roles``; ``min_vowel_s`` <=
    duration_s <= ``max_vowel_s`` (s; 0: no upper limit); ``min_word_probability``;
    ``min_speaker_confidence``; ``keep_overlap``; ``max_abs_duration_z``; ``stressed_only``.
    """
    v = vowels[~vowels.is_filler & vowels.role.isin(config.roles)].copy()
    v = v[v.duration_s >= config.min_vowel_s]
    if config.max_vowel_s > 0:
        v = v[v.duration_s <= config.max_vowel_s]
    if config.stressed_only:
        if "stress" not in v:
            from voli.errors import ConfigError

            raise ConfigError("profile.stressed_only is set but the vowel tokens have no 'stress' column; rerun the "
                              "features stage with this voli, or set stressed_only: false")
        v = v[_stressed(v)]
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


def polygon_area(x, y) -> float:
    """Area of the polygon with vertices (x[k], y[k]) in this order (shoelace formula), in the
    square of the units of x and y; NaN with fewer than 3 vertices or any NaN."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def vowel_space(t, vowels) -> dict:
    """Vowel-space areas of one speaker over a fixed, ordered vowel set (a language's ``vowel_space``).

    ``t``: one speaker's tokens (phone, f1_hz, f2_hz); ``vowels``: the polygon's vowels in order
    around it. Returns ``vowel_space_area_nearey`` (ln(Hz)², from the categories' mean Hz),
    ``vowel_space_area_hz`` (Hz², the same polygon) and ``vowel_space_n_vowels`` (vowels of the set
    with MIN_CATEGORY_TOKENS tokens); the areas are NaN unless all of them have.
    """
    counts = t.phone.value_counts()
    present = [v for v in vowels if counts.get(v, 0) >= MIN_CATEGORY_TOKENS]
    row = {"vowel_space_area_nearey": np.nan, "vowel_space_area_hz": np.nan, "vowel_space_n_vowels": len(present)}
    if len(vowels) >= 3 and len(present) == len(vowels):
        means = t[t.phone.isin(vowels)].groupby("phone")[["f1_hz", "f2_hz"]].mean().loc[list(vowels)]
        # Nearey units are log Hz minus one shift per speaker, which moves the polygon without changing
        # its area: the log of each category's mean in Hz. (The mean of the tokens' logs would be biased
        # low by about SD² / 2F² for noisy low formants: +5 % area at 150 Hz token SD.)
        row["vowel_space_area_nearey"] = polygon_area(np.log(means.f2_hz), np.log(means.f1_hz))
        row["vowel_space_area_hz"] = polygon_area(means.f2_hz, means.f1_hz)
    return row


def pillai(a: np.ndarray, b: np.ndarray) -> float:
    """Pillai trace of a one-way MANOVA of two groups of (F1, F2) points, shapes (n_a, 2), (n_b, 2).

    0 = same means, towards 1 = far apart; NaN with fewer than 3 points in a group. For two merged
    vowels its expected value is 2 / (n_a + n_b − 1) (0.4 with 3 tokens each): see
    :func:`pillai_adjusted`.
    """
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


def pillai_null(n_a: int, n_b: int, p: int = 2) -> float:
    """Mean Pillai trace of two groups of n_a and n_b points in p dimensions drawn from one normal
    distribution (no separation): V ~ Beta(p / 2, (N − p − 1) / 2) with N = n_a + n_b, so
    E0 = p / (N − 1): 2 / (N − 1) for (F1, F2)."""
    return p / (n_a + n_b - 1)


def pillai_adjusted(v: float, n_a: int, n_b: int, p: int = 2) -> float:
    """Chance-corrected Pillai trace (V − E0) / (1 − E0), E0 = :func:`pillai_null`: 0 on average for
    merged vowels whatever the token counts, 1 for fully separated ones (negative: below chance)."""
    e0 = pillai_null(n_a, n_b, p)
    return (v - e0) / (1 - e0)


def vowel_measures(t, pairs, *, vowel_set=(), min_pillai_tokens=20) -> dict:
    """The vowel measures of one speaker's tokens in one language (a DataFrame with phone, f1_hz,
    f2_hz): see the module docstring. ``pairs``: the (a, b) vowel pairs for Pillai scores;
    ``vowel_set``: the ordered vowel-space vowels; ``min_pillai_tokens``: tokens each vowel of a
    pair needs for its score."""
    raw = t[["f1_hz", "f2_hz"]].to_numpy(float)
    counts = t.phone.value_counts()
    row = {
        "n_tokens": len(t), "n_categories": int((counts >= MIN_CATEGORY_TOKENS).sum()),
        "formant_scale_hz": formant_scale_hz(raw[:, 0], raw[:, 1]),
        "f1_mean_hz": float(raw[:, 0].mean()), "f2_mean_hz": float(raw[:, 1].mean()),
        "vowel_dispersion_hz": vowel_dispersion_hz(raw[:, 0], raw[:, 1]),
        **vowel_space(t, tuple(vowel_set)),
    }
    for a, b in pairs:
        n = int(min(counts.get(a, 0), counts.get(b, 0)))
        score = adjusted = np.nan
        if n >= max(min_pillai_tokens, 3):
            pa = t[t.phone == a][["f1_hz", "f2_hz"]].to_numpy(float)
            pb = t[t.phone == b][["f1_hz", "f2_hz"]].to_numpy(float)
            score = pillai(pa, pb)
            adjusted = pillai_adjusted(score, len(pa), len(pb))
        row[f"pillai_{a}_{b}"] = score
        row[f"pillai_{a}_{b}_adj"] = adjusted
        row[f"pillai_{a}_{b}_min_tokens"] = n
    return row


def extra_pairs(config) -> dict[str, tuple]:
    """Each language file's ``pillai_pairs`` plus the config's ``pillai_pairs`` entries ("fr:e-ɛ")."""
    from voli import languages

    pairs = {spec.code: list(spec.pillai_pairs) for spec in languages.all_languages()}
    for entry in config.pillai_pairs:
        lang, pair = entry.split(":", 1)  # "language:vowel-vowel", as voli.config checked
        a, b = pair.split("-", 1)
        pairs.setdefault(lang.strip(), []).append((a.strip(), b.strip()))
    return {k: tuple(v) for k, v in pairs.items()}


def speaker_measures(vowels, speaker_prosody, config):
    """(speaker table, the filtered tokens it rests on): the vowel measures of each speaker's tokens
    (module docstring) joined to the prosody of ``speaker_prosody``, one row per speaker."""
    import pandas as pd

    from voli import languages

    tokens = vowel_tokens(vowels, config)
    pairs = extra_pairs(config)
    rows = []
    for sid, t in tokens.groupby("speaker_id"):
        language = t.language.mode().iloc[0]
        t = t[t.language == language]
        vowel_set = languages.get(language).vowel_space if language in languages.codes() else ()
        rows.append({"speaker_id": sid, "language": language,
                     **vowel_measures(t, pairs.get(language, ()), vowel_set=vowel_set,
                                      min_pillai_tokens=config.min_pillai_tokens)})
    vowel_table = pd.DataFrame(rows)
    prosody = speaker_prosody[speaker_prosody.role.isin(config.roles)]
    keep = ["speaker_id", "role", "n_utterances", "speech_s", "n_syllables"] + [c for c in PROSODY_COLUMNS if c in prosody]
    table = prosody[keep].merge(vowel_table, on="speaker_id", how="outer") if len(vowel_table) else prosody[keep]
    return table.sort_values("speaker_id").reset_index(drop=True), tokens


def speaker_languages(rows):
    """Each speaker's language (a Series by speaker_id): the most frequent one of their rows (utterances or
    vowel tokens)."""
    return rows.dropna(subset=["language"]).groupby("speaker_id").language.agg(
        lambda s: s.astype(str).mode().iloc[0])
