"""Vowel normalisation: Lobanov, Nearey, Watt-Fabricius (speaker-extrinsic, per speaker).

Each function takes a token table with ``speaker_id``, ``phone`` and formant columns (Hz) and
returns the normalised formants as new columns, so raw and normalised values sit side by side:

* Lobanov (1971): z-scores per speaker and formant;
* Nearey (1978, "Nearey 2"): log Hz minus the speaker's mean log over F1 and F2 together
  (one shift per speaker: it removes a vocal-tract scale factor and keeps F1/F2 ratios);
* Watt & Fabricius (2002): F divided by the speaker's S centroid, the mean of the corner
  vowels [i], [a] and a virtual [u'] with F1 = F2 = F1 of [i]; the corner vowels are found per
  speaker as the categories with the highest F2 − F1 ([i]) and the highest F1 ([a]).
"""

from __future__ import annotations

import numpy as np

FORMANTS = ("f1", "f2")
METHODS = ("lobanov", "nearey", "watt_fabricius")


def lobanov(tokens, columns=("f1_hz", "f2_hz")):
    out = {}
    for col in columns:
        g = tokens.groupby("speaker_id")[col]
        out[col.replace("_hz", "_lobanov")] = (tokens[col] - g.transform("mean")) / g.transform("std")
    return out


def nearey(tokens, columns=("f1_hz", "f2_hz")):
    logs = {c: np.log(tokens[c]) for c in columns}
    stacked = np.column_stack([logs[c] for c in columns])
    speaker_mean = (
        tokens.assign(_m=np.nanmean(stacked, axis=1)).groupby("speaker_id")["_m"].transform("mean")
    )
    return {c.replace("_hz", "_nearey"): logs[c] - speaker_mean for c in columns}


def watt_fabricius(tokens, columns=("f1_hz", "f2_hz")):
    f1, f2 = columns
    out = {c.replace("_hz", "_wf"): np.full(len(tokens), np.nan) for c in columns}
    for _, rows in tokens.groupby("speaker_id").groups.items():
        t = tokens.loc[rows]
        means = t.groupby("phone")[[f1, f2]].mean().dropna()
        counts = t.groupby("phone").size()
        means = means[counts.reindex(means.index) >= 2]
        if len(means) < 3:
            continue
        i = means.iloc[np.argmax(means[f2] - means[f1])]
        a = means.iloc[np.argmax(means[f1])]
        s1 = (i[f1] + a[f1] + i[f1]) / 3
        s2 = (i[f2] + a[f2] + i[f1]) / 3
        pos = tokens.index.get_indexer(rows)
        out[f1.replace("_hz", "_wf")][pos] = t[f1] / s1
        out[f2.replace("_hz", "_wf")][pos] = t[f2] / s2
    return out


def normalise(tokens, methods=METHODS):
    """``tokens`` with normalised F1/F2 columns added (``f1_lobanov``, ``f2_nearey``, ``f1_wf``...)."""
    tokens = tokens.copy()
    for m in methods:
        for name, values in {"lobanov": lobanov, "nearey": nearey, "watt_fabricius": watt_fabricius}[m](tokens).items():
            tokens[name] = np.asarray(values, dtype=float)
    return tokens
