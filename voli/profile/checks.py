"""Checks the report leads with: attributes aliased with language, interviewer or channel, and measures
confounded by an attribute that is not a control."""

from __future__ import annotations

import numpy as np

CONFOUND_SHARE = 0.6  # an attribute explaining this share (at p < 0.01) of the speakers' differences in a measure is a confound
ALIASED_V = 0.9  # Cramér's V (or |r|) from which an attribute is aliased with language, interviewer or channel

def _cramers_v(a, b) -> float:
    import pandas as pd

    table = pd.crosstab(a, b).to_numpy(float)
    if min(table.shape) < 2:
        return np.nan
    n = table.sum()
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / n
    chi2 = np.sum((table - expected) ** 2 / np.where(expected > 0, expected, np.nan))
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def correlation_ratio(values, groups) -> float:
    """η: the square root of the share of the variance of ``values`` (numbers) between the ``groups``
    (one label each); NaN when the values do not vary."""
    y, labels = np.asarray(values, dtype=float), np.asarray(groups, dtype=object).astype(str)
    total = np.sum((y - y.mean()) ** 2)
    between = sum(np.sum(labels == g) * (y[labels == g].mean() - y.mean()) ** 2 for g in set(labels.tolist()))
    return float(np.sqrt(between / total)) if total > 0 else np.nan


def aliasing(survey, types, context) -> list[dict]:
    """Attributes aliased with language, interviewer or recording channel (one row per speaker in ``context``).

    ``context``: speaker_id and any of language, interviewer, channel. Categorical attributes use
    Cramér's V; numeric and ordinal ones the correlation ratio (η) of the attribute over the groups.
    """
    out = []
    d = survey.merge(context, on="speaker_id", how="inner")
    for name, t in types.items():
        for other in ("language", "interviewer", "channel"):
            if other not in d or d[other].nunique() < 2:
                continue
            ok = d[name].notna() & d[other].notna()
            if ok.sum() < 3:
                continue
            x, g = d.loc[ok, name], d.loc[ok, other].astype(str)
            if t.kind == "categorical":
                v = _cramers_v(x.astype(str), g)
            else:
                v = correlation_ratio((x.cat.codes if t.kind == "ordinal" else x).to_numpy(float), g.to_numpy())
            if np.isfinite(v) and v >= ALIASED_V:
                out.append({"attribute": name, "with": other, "strength": v,
                            "message": f"{name} is aliased with {other} (association {v:.2f} of 1): its effects "
                                       f"cannot be told from {other}'s; the models adjust for language, but compare "
                                       f"{name} within one {other} before reading them"})
    return out


def confounds(speakers, utterances, survey, types, controls, measures=("f0_mean_st", "f0_median_st", "f0_median_hz",
                                                                        "formant_scale_hz", "articulation_rate")):
    """Attributes that dominate a measure's differences between speakers but are not controls.

    For each measure (speaker means) and attribute not in ``controls``: the share of the variance
    between speakers that the attribute explains (R² of a one-way model). A share of
    CONFOUND_SHARE or more means the models of every other attribute on that measure mix that
    attribute's effect in: add it to ``profile.controls``.
    """
    from scipy import stats

    out = []
    means = utterances.groupby("speaker_id")[[c for c in measures if c in utterances]].mean()
    sp = speakers.set_index("speaker_id")[[c for c in measures if c in speakers and c not in means]]
    per_speaker = means.join(sp, how="outer").reset_index(names="speaker_id")
    d = per_speaker.merge(survey, on="speaker_id", how="inner")
    for measure in [c for c in measures if c in d]:
        for name, t in types.items():
            if name in controls:
                continue
            ok = d[measure].notna() & d[name].notna()
            y, x = d.loc[ok, measure].astype(float), d.loc[ok, name]
            if len(y) < 4 or y.var() == 0:
                continue
            if t.kind == "numeric":
                r, p = stats.pearsonr(x.astype(float), y)
                share = r ** 2
            else:
                groups = [y[(x.astype(str) == lvl).to_numpy()] for lvl in map(str, t.levels)]
                groups = [g for g in groups if len(g)]
                if len(groups) < 2:
                    continue
                share = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups) / np.sum((y - y.mean()) ** 2)
                p = stats.f_oneway(*groups).pvalue if all(len(g) > 1 for g in groups) else np.nan
            if share >= CONFOUND_SHARE and p < 0.01:
                others = [a for a in types if a != name]
                out.append({"measure": measure, "attribute": name, "share": float(share), "p": float(p),
                            "message": f"{measure} is {name}-confounded: {name} explains {100 * share:.0f} % of the "
                                       f"differences between speakers and is not a control, so the models of "
                                       f"{', '.join(others) or 'the other attributes'} on {measure} mix its effect "
                                       f"in; add `controls: [{name}]` to the profile config"})
    return out
