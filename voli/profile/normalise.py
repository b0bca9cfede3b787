"""Vowel normalisation, per speaker: Lobanov, Lobanov 2.0, Nearey, Watt-Fabricius.

Each function takes a token table with ``speaker_id``, ``phone`` and formant columns (Hz) and
returns the normalised formants as new columns, so raw and normalised values sit side by side:

* Lobanov (1971), ``f1_lobanov``: z-scores per speaker and formant over the tokens. Its scale is
  the SD of all the speaker's tokens, so it grows with token noise and with the vowel mix (a
  speaker who says many schwas gets a smaller SD): use it for plots, not for space sizes;
* Lobanov 2.0 (Brand, Hay, Clark, Watson & Sóskuthy 2021), ``f1_lobanov2``: per speaker and
  formant, minus the mean of the vowel categories' means, divided by the SD of those means. Each
  category counts once however often it was said, and token noise only enters the category means
  (as SD / sqrt(n)), so neither the vowel mix nor the noise moves it;
* Nearey (1978, "Nearey 2"), ``f1_nearey``: log Hz minus the speaker's mean log over F1 and F2
  together. One shift per speaker: it removes a vocal-tract scale factor and keeps F1/F2 ratios
  and the size of the vowel space (a polygon's area in log units does not depend on the shift);
* Watt & Fabricius (2002), ``f1_wf``: F divided by the speaker's S centroid, the mean of [i], [a]
  and a virtual [u'] with F1 = F2 = F1 of [i]. [i] and [a] are the language file's first two
  ``corner_vowels`` when the speaker said each at least twice; otherwise the categories with the
  highest F2 − F1 ([i]) and the highest F1 ([a]). ``wf_anchors`` says which, per token.
"""

from __future__ import annotations

import numpy as np

FORMANTS = ("f1", "f2")
METHODS = ("lobanov", "lobanov_2", "nearey", "watt_fabricius")
MIN_CATEGORY_TOKENS = 2  # a vowel category needs this many tokens to anchor a normalisation


def lobanov(tokens, columns=("f1_hz", "f2_hz")):
    """Lobanov z-scores: ``{"f1_lobanov": values, ...}`` (SD units of the speaker's tokens)."""
    out = {}
    for col in columns:
        g = tokens.groupby("speaker_id")[col]
        out[col.replace("_hz", "_lobanov")] = (tokens[col] - g.transform("mean")) / g.transform("std")
    return out


def lobanov_2(tokens, columns=("f1_hz", "f2_hz"), *, min_tokens=MIN_CATEGORY_TOKENS):
    """Lobanov 2.0: ``{"f1_lobanov2": values, ...}`` (SD units of the speaker's category means).

    The centre and scale of a speaker and formant are the mean and SD (n − 1) of the means of the
    vowel categories with at least ``min_tokens`` tokens; a speaker with fewer than two such
    categories gets NaN.
    """
    keys = [tokens.speaker_id, tokens.phone]
    counts = tokens.groupby(keys).size()
    means = tokens.groupby(keys)[list(columns)].mean()[counts >= min_tokens]
    by_speaker = means.groupby(level=0)
    centre, scale = by_speaker.mean(), by_speaker.std(ddof=1)
    scale = scale.where(scale > 0)  # one category, or all means equal: no scale
    out = {}
    for col in columns:
        c = tokens.speaker_id.map(centre[col]).astype(float)
        s = tokens.speaker_id.map(scale[col]).astype(float)
        out[col.replace("_hz", "_lobanov2")] = (tokens[col] - c) / s
    return out


def nearey(tokens, columns=("f1_hz", "f2_hz")):
    """Nearey 2: ``{"f1_nearey": values, ...}`` (natural-log units re the speaker's mean log)."""
    logs = {c: np.log(tokens[c]) for c in columns}
    stacked = np.column_stack([logs[c] for c in columns])
    speaker_mean = (
        tokens.assign(_m=np.nanmean(stacked, axis=1)).groupby("speaker_id")["_m"].transform("mean")
    )
    return {c.replace("_hz", "_nearey"): logs[c] - speaker_mean for c in columns}


def _corner_labels(t) -> tuple[str, str] | None:
    """The language file's [i] and [a] for one speaker's tokens (their most frequent language)."""
    from voli import languages

    if "language" not in t or t.language.isna().all():
        return None
    code = t.language.mode().iloc[0]
    if code not in languages.codes():
        return None
    corners = languages.get(code).corner_vowels
    return corners[0], corners[1]


def watt_fabricius(tokens, columns=("f1_hz", "f2_hz")):
    """Watt-Fabricius: ``{"f1_wf": values, ..., "wf_anchors": labels}`` (ratios to the S centroid).

    ``wf_anchors`` is "corner_vowels" (the language file's [i] and [a]), "heuristic" (the
    categories with the highest F2 − F1 and F1) or None (fewer than 3 categories with 2 tokens).
    """
    f1, f2 = columns
    out = {c.replace("_hz", "_wf"): np.full(len(tokens), np.nan) for c in columns}
    anchors = np.full(len(tokens), None, dtype=object)
    for rows in tokens.groupby("speaker_id").groups.values():
        t = tokens.loc[rows]
        counts = t.groupby("phone").size()
        means = t.groupby("phone")[[f1, f2]].mean().dropna()
        means = means[counts.reindex(means.index) >= MIN_CATEGORY_TOKENS]
        corners = _corner_labels(t)
        if corners is not None and all(c in means.index for c in corners):
            i, a = means.loc[corners[0]], means.loc[corners[1]]
            how = "corner_vowels"
        elif len(means) >= 3:
            i = means.iloc[np.argmax(means[f2] - means[f1])]
            a = means.iloc[np.argmax(means[f1])]
            how = "heuristic"
        else:
            continue
        s1 = (i[f1] + a[f1] + i[f1]) / 3
        s2 = (i[f2] + a[f2] + i[f1]) / 3
        pos = tokens.index.get_indexer(rows)
        out[f1.replace("_hz", "_wf")][pos] = t[f1] / s1
        out[f2.replace("_hz", "_wf")][pos] = t[f2] / s2
        anchors[pos] = how
    return {**out, "wf_anchors": anchors}


NORMALISERS = {"lobanov": lobanov, "lobanov_2": lobanov_2, "nearey": nearey, "watt_fabricius": watt_fabricius}


def normalise(tokens, methods=METHODS):
    """``tokens`` with normalised F1/F2 columns added (``f1_lobanov``, ``f1_lobanov2``, ``f2_nearey``,
    ``f1_wf``, ...; Watt-Fabricius adds ``wf_anchors``). ``tokens`` needs a unique index."""
    unknown = [m for m in methods if m not in NORMALISERS]
    if unknown:
        raise ValueError(f"unknown normalisation {unknown[0]!r}; choose from {', '.join(NORMALISERS)}")
    tokens = tokens.copy()
    for m in methods:
        for name, values in NORMALISERS[m](tokens).items():
            tokens[name] = values if name == "wf_anchors" else np.asarray(values, dtype=float)
    return tokens
