"""Vowel normalisation, per speaker × language: Lobanov, Lobanov 2.0, Nearey, Watt-Fabricius.

Each function takes a token table with ``speaker_id``, ``phone``, ``language`` and formant columns
(Hz) and returns the normalised formants as new columns, so raw and normalised values sit side by
side:

* Lobanov (1971), ``f1_lobanov``: z-scores per speaker and formant over the tokens. Its scale is
  the SD of all the speaker's tokens, so it grows with token noise and with the vowel mix (a
  speaker who says many schwas gets a smaller SD): use it for plots, not for space sizes;
* Lobanov 2.0 (Brand, Hay, Clark, Watson & Sóskuthy 2021), ``f1_lobanov2``: per speaker ×
  language and formant, minus the mean of the reference categories' means, divided by the SD
  (n − 1) of those means. Each category counts once however often it was said, and token noise
  only enters the category means (as SD / sqrt(n)), so neither the vowel mix nor the noise moves it;
* Nearey (1978, "Nearey 2"), ``f1_nearey``: ln Hz minus one centre per speaker × language, the
  mean over the reference categories of the log of each category's mean F1 and F2 (Hz), both
  formants together. One shift: it removes a vocal-tract scale factor and keeps F1/F2 ratios and
  the size of the vowel space (a polygon's area in log units does not depend on the shift);
* Watt & Fabricius (2002), ``f1_wf``: F divided by the speaker's S centroid, the mean of [i], [a]
  and a virtual [u'] with F1 = F2 = F1 of [i]. [i] and [a] are the language file's first two
  ``corner_vowels`` when the speaker said each at least twice; otherwise the categories with the
  highest F2 − F1 ([i]) and the highest F1 ([a]). ``wf_anchors`` says which, per token.

The reference categories of Lobanov 2.0 and Nearey are the language file's fixed ``vowel_space``
vowels (peripheral monophthongs), each taken once, whatever else the speaker said and however
often: many schwas, a rare vowel said or not, or 100 tokens of [a] leave the centre where it is.
A speaker × language whose tokens lack some of them (fewer than MIN_CATEGORY_TOKENS tokens) is
centred on those present when at most MAX_MISSING_VOWELS are missing, and gets NaN otherwise;
without a language file (no ``language`` column, or a code voli does not know) every category
said MIN_CATEGORY_TOKENS times is a reference. Both depart from the fixed set and move the
centre: ``norm_n_vowels`` says per token how many categories it rests on, and :func:`normalise`
reports each such speaker × language as a problem (``normalisation_vowels``).
"""

from __future__ import annotations

import numpy as np

FORMANTS = ("f1", "f2")
METHODS = ("lobanov", "lobanov_2", "nearey", "watt_fabricius")
MIN_CATEGORY_TOKENS = 2  # a vowel category needs this many tokens to anchor a normalisation
MAX_MISSING_VOWELS = 1  # vowel_space vowels a speaker × language may lack and still be normalised on the rest
MIN_REFERENCE_VOWELS = 3  # ... and never on fewer than this many categories


def _languages(tokens):
    """Each token's language code ("" where unknown), a Series."""
    import pandas as pd

    if "language" not in tokens:
        return pd.Series("", index=tokens.index, dtype=object)
    return tokens.language.astype(object).where(tokens.language.notna(), "")


def reference(tokens, columns=("f1_hz", "f2_hz"), *, min_tokens=MIN_CATEGORY_TOKENS):
    """The categories Lobanov 2.0 and Nearey centre each speaker × language on.

    Returns ``(means, groups)``. ``means``: the mean of each column (Hz) of each reference category
    said at least ``min_tokens`` times, indexed by (speaker_id, language, phone), only for groups
    that can be normalised. ``groups``: one row per (speaker_id, language) with ``n_vowels`` (the
    reference categories present), ``vowel_set`` (the language's ``vowel_space``, () without a
    language file), ``missing`` (vowels of the set below ``min_tokens``) and ``usable``.
    """
    import pandas as pd

    from voli import languages

    keys = [tokens.speaker_id.rename("speaker_id"), _languages(tokens).rename("language"),
            tokens.phone.rename("phone")]
    counts = tokens.groupby(keys).size()
    means = tokens.groupby(keys)[list(columns)].mean()[counts >= min_tokens].dropna()
    known = set(languages.codes())
    keep, rows = [], []
    for (sid, lang), m in means.groupby(level=[0, 1]):
        vowel_set = tuple(languages.get(lang).vowel_space) if lang in known else ()
        phones = m.index.get_level_values("phone")
        present = [v for v in vowel_set if v in phones] if vowel_set else list(phones)
        missing = tuple(v for v in vowel_set if v not in present)
        usable = len(present) >= MIN_REFERENCE_VOWELS and len(missing) <= MAX_MISSING_VOWELS
        rows.append({"speaker_id": sid, "language": lang, "n_vowels": len(present), "vowel_set": vowel_set,
                     "missing": missing, "usable": usable})
        if usable:
            keep.append(m[phones.isin(present)])
    # groups with no category said min_tokens times at all
    for sid, lang in set(zip(keys[0], keys[1])) - {(r["speaker_id"], r["language"]) for r in rows}:
        vowel_set = tuple(languages.get(lang).vowel_space) if lang in known else ()
        rows.append({"speaker_id": sid, "language": lang, "n_vowels": 0, "vowel_set": vowel_set,
                     "missing": vowel_set, "usable": False})
    groups = pd.DataFrame(rows, columns=["speaker_id", "language", "n_vowels", "vowel_set", "missing", "usable"])
    ref = pd.concat(keep) if keep else means.iloc[:0]
    return ref, groups.set_index(["speaker_id", "language"]).sort_index()


def _per_token(tokens, table):
    """Rows of ``table`` (indexed by speaker_id, language) aligned with ``tokens``' rows."""
    import pandas as pd

    index = pd.MultiIndex.from_arrays([tokens.speaker_id, _languages(tokens)])
    return table.reindex(index)


def lobanov(tokens, columns=("f1_hz", "f2_hz")):
    """Lobanov z-scores: ``{"f1_lobanov": values, ...}`` (SD units of the speaker's tokens)."""
    out = {}
    for col in columns:
        g = tokens.groupby("speaker_id")[col]
        out[col.replace("_hz", "_lobanov")] = (tokens[col] - g.transform("mean")) / g.transform("std")
    return out


def lobanov_2(tokens, columns=("f1_hz", "f2_hz"), *, min_tokens=MIN_CATEGORY_TOKENS):
    """Lobanov 2.0: ``{"f1_lobanov2": values, ...}`` (SD units of the category means).

    Per speaker × language and formant: the centre is the mean of the reference categories'
    means (:func:`reference`: the language's ``vowel_space`` vowels said at least ``min_tokens``
    times, each counted once), the scale their SD (n − 1); NaN where :func:`reference` finds the
    group unusable or the means do not differ.
    """
    means, _ = reference(tokens, columns, min_tokens=min_tokens)
    by_group = means.groupby(level=[0, 1])
    centre, scale = _per_token(tokens, by_group.mean()), _per_token(tokens, by_group.std(ddof=1))
    out = {}
    for col in columns:
        s = scale[col].to_numpy(float)
        s = np.where(s > 0, s, np.nan)  # all means equal: no scale
        out[col.replace("_hz", "_lobanov2")] = (tokens[col].to_numpy(float) - centre[col].to_numpy(float)) / s
    return out


def nearey(tokens, columns=("f1_hz", "f2_hz"), *, min_tokens=MIN_CATEGORY_TOKENS):
    """Nearey 2: ``{"f1_nearey": values, ...}`` (natural-log units re the speaker × language centre).

    The centre is the mean, over the reference categories (:func:`reference`) and the formants
    together, of ln(category mean in Hz): each category counts once, and taking the log of the
    mean rather than the mean of the logs keeps token noise out (the mean of noisy logs is biased
    low by about SD² / 2F²). NaN where :func:`reference` finds the group unusable.
    """
    means, _ = reference(tokens, columns, min_tokens=min_tokens)
    logs = np.log(means[list(columns)]).mean(axis=1)  # per category: mean over the formants of ln Hz
    centre = _per_token(tokens, logs.groupby(level=[0, 1]).mean().rename("c").to_frame()).c.to_numpy(float)
    return {c.replace("_hz", "_nearey"): np.log(tokens[c].to_numpy(float)) - centre for c in columns}


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


def report_reference(groups) -> None:
    """Report each speaker × language of :func:`reference`'s ``groups`` whose Lobanov 2.0 and Nearey
    centre is not the language's full ``vowel_space`` as a problem (``normalisation_vowels``)."""
    from voli import problems

    for (sid, lang), g in groups.iterrows():
        fix = "add recordings of this speaker, or read its normalised values with care (column norm_n_vowels)"
        if not g.vowel_set:
            which = f"language {lang!r} has no voli language file" if lang else "tokens with no language"
            what = (f"{which}, so their Lobanov 2.0 and Nearey values are centred on all {g.n_vowels} vowel "
                    f"categories this speaker said {MIN_CATEGORY_TOKENS} times or more, and the speaker's vowel "
                    f"mix moves that centre; give the recordings a language voli knows, or add "
                    f"voli/languages/<code>.py with a vowel_space")
            if not g.usable:
                what += f" (fewer than {MIN_REFERENCE_VOWELS} categories: the values are NaN)"
        elif not g.usable:
            what = (f"Lobanov 2.0 and Nearey values in {lang!r} are NaN: the speaker said only {g.n_vowels} of the "
                    f"{len(g.vowel_set)} vowel_space vowels {list(g.vowel_set)} at least {MIN_CATEGORY_TOKENS} "
                    f"times (missing {list(g.missing)}; at most {MAX_MISSING_VOWELS} may be); the Hz values and "
                    f"models stand; add recordings of this speaker with those vowels")
        elif g.missing:
            what = (f"Lobanov 2.0 and Nearey values in {lang!r} are centred on {g.n_vowels} of the "
                    f"{len(g.vowel_set)} vowel_space vowels: {list(g.missing)} said fewer than "
                    f"{MIN_CATEGORY_TOKENS} times, which moves the centre against other speakers'; {fix}")
        else:
            continue
        problems.report("normalisation_vowels", what, speaker_id=str(sid))


def normalise(tokens, methods=METHODS):
    """``tokens`` with normalised F1/F2 columns added (``f1_lobanov``, ``f1_lobanov2``, ``f2_nearey``,
    ``f1_wf``, ...; Watt-Fabricius adds ``wf_anchors``; Lobanov 2.0 and Nearey add ``norm_n_vowels``,
    the reference categories their speaker × language centre rests on, and report those not centred
    on their language's whole ``vowel_space``). ``tokens`` needs a unique index."""
    unknown = [m for m in methods if m not in NORMALISERS]
    if unknown:
        raise ValueError(f"unknown normalisation {unknown[0]!r}; choose from {', '.join(NORMALISERS)}")
    tokens = tokens.copy()
    for m in methods:
        for name, values in NORMALISERS[m](tokens).items():
            tokens[name] = values if name == "wf_anchors" else np.asarray(values, dtype=float)
    if {"lobanov_2", "nearey"} & set(methods):
        _, groups = reference(tokens)
        tokens["norm_n_vowels"] = _per_token(tokens, groups).n_vowels.fillna(0).to_numpy(int)
        report_reference(groups)
    return tokens
