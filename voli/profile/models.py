"""Statistics of speech against survey attributes: models a sociolinguist can read and rerun.

Every model is ``measure ~ attribute [+ interactions] + controls [+ language] + covariates +
random effects``, written out in ``models.parquet`` with its engine, what it adjusted for, its
random-effect variances and the ICC. The families (:mod:`voli.profile.specs`):

* **prosody** (one row per utterance): articulation and speech rate, F0 level and spread,
  intensity; ``(1 | speaker_id)``;
* **vowels, per vowel category and language** (one row per token): F1 and F2 in Lobanov 2.0
  (``vowels normalised``, primary by default) and in Hz (``vowels Hz``, its sensitivity check), with
  the log duration centred within the speaker (a covariate, not a mediator of speaking rate),
  optionally the phonetic context, and ``(1 | speaker_id) + (1 | word)`` (lme4; statsmodels cannot
  cross them and leaves the word out);
* **speaker measures** (one row per speaker): least squares (formant scale, vowel-space area,
  chance-corrected Pillai scores, F0 range, pauses...).

The parts, one module each:

* :mod:`voli.profile.coding`: how an attribute becomes columns (treatment contrasts against its
  reference level, an ordinal's trend weights, centred numbers), the same recipe in R, and which
  attributes are tested (declared ones only, unless ``explore``);
* :mod:`voli.profile.specs`: the models the configuration asks for, their rows and the columns
  those rows can carry (an absent reference level is replaced and the label says so);
* :mod:`voli.profile.engines`: statsmodels and lme4 (through ``export/models.R``): test rows,
  variances, adjusted level means; a speaker variance of 0 is tested on the speakers' means;
* :mod:`voli.profile.checks`: aliasing with language/interviewer/channel, confounds;
* this module: :func:`fit_models` puts them together, one row per test, with ``q`` (BH within the
  family over its headline tests) and ``q_report`` (BH over every primary test of the report).

Each attribute has one *headline* test per model (its coefficient; an ordinal's trend; the joint F
of a categorical with more than two levels; each interaction); ``primary`` marks the headline tests
of the primary families (:func:`role`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voli.profile.coding import code_attribute
from voli.profile.engines import _ddf, fit_lme4, fit_statsmodels, lme4_version, r_has, resolve_engine, write_export
from voli.profile.specs import VOWEL_MEASURES, VOWEL_SCALES, Model, finalise, model_data, prepare, specs
from voli.io.survey import AttributeType



def fdr(p) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN p-values stay NaN)."""
    p = np.asarray(p, dtype=float)
    q = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return q
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * len(ok) / np.arange(1, len(ok) + 1)
    q[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    return q


# -- fitting every model -----------------------------------------------------------------------------------


def _labels(m: Model) -> dict:
    return dict(zip(m.tested, m.labels))


def role(family: str, config) -> str:
    """A family's part in the report: "primary" (its tests enter the report-wide FDR), "sensitivity"
    (the per-vowel models on the other formant scale: the same hypotheses, read beside the primary ones)
    or "explore" (undeclared attributes, with ``profile.explore``)."""
    if family.startswith("explore: "):
        return "explore"
    scale = VOWEL_SCALES.get(config.vowel_scale, VOWEL_SCALES["normalised"])
    if family.split(":")[0] in VOWEL_MEASURES and family.split(":")[0] != scale:
        return "sensitivity"
    return "primary"


def fit_models(tokens, utterances, speakers, survey, types: dict[str, AttributeType], config, *, measures=None,
               attributes=None, engine: str | None = None, export_dir: Path | None = None, tracks=None,
               dynamics_tokens=None):
    """Every model of the configuration: one row per tested term, trend or joint test (a DataFrame).

    ``measures`` restricts the measures fitted (e.g. {"articulation_rate", "f2_hz"}) and ``attributes``
    the attributes whose models are fitted (the others still serve as controls); ``engine``
    overrides ``config.engine``; ``export_dir`` gets the data and the R script (the lme4 engine
    needs one: a temporary folder when None).

    Columns beside the estimates: ``primary`` (the one test of an attribute on a measure that the
    report reads: an ordinal's trend, a categorical's joint test or its one contrast, each
    interaction; in a primary family), ``role`` (primary, sensitivity, explore: see :func:`role`),
    ``q`` (BH within the family, over its headline tests), ``q_report`` (BH over every primary test of
    the report), ``sd_between`` (SD of the speakers' mean of the measure in the model's rows) and
    ``estimate_sd`` (the estimate in those SDs). ``table.attrs["means"]``: adjusted level means (records: model_id,
    attribute, level, mean, se, df, ci_low, ci_high).

    ``tracks`` (the features stage's vowel_tracks table) adds the vowel-dynamics family
    (:mod:`voli.profile.dynamics`: GAMMs with mgcv, their ``edf`` beside p); its predicted
    trajectories are in ``table.attrs["trajectories"]`` (records). ``dynamics_tokens``: the tokens that
    select its trajectories and give each speaker's Lobanov scale (default ``tokens``: pass all of them
    when ``tokens`` holds only the vowels whose midpoint models are wanted).
    """
    import tempfile

    import pandas as pd

    engine = resolve_engine(engine or config.engine)
    codings = {}
    for name, t in types.items():
        c = code_attribute(t, survey[survey.speaker_id.isin(set(speakers.speaker_id))])
        if c is not None:
            codings[name] = c
    data = model_data(tokens, utterances, speakers, survey, codings, config.interactions)
    ready, skipped = [], 0
    subsets: dict = {}
    for spec in specs(data, codings, types, config, measures):
        if attributes is not None and spec.attribute not in attributes:
            continue
        d = prepare(spec, data, subsets)
        m, reason = finalise(spec, d)
        if reason:
            skipped += 1
            continue
        if engine == "lme4" and m.random:
            m.ddf = _ddf(config, len(d))
        ready.append((m, d))
    models = [m for m, _ in ready]
    if engine == "lme4":
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(export_dir) if export_dir else Path(tmp)
            write_export(folder, models, data, survey, codings, config.interactions)
            results = fit_lme4(folder) if models else {}
        lme4, lmertest = lme4_version().split()[:2]
        ddf = (f"Kenward-Roger df up to {config.kr_max_rows} rows, Satterthwaite above"
               if config.ddf == "auto" and r_has("pbkrtest") else f"{models[0].ddf if models else 'Satterthwaite'} df")
        engine_text = f"lme4 {lme4} + lmerTest {lmertest} (REML; {ddf})"
    else:
        if export_dir:
            write_export(Path(export_dir), models, data, survey, codings, config.interactions)
        results = {m.id: fit_statsmodels(m, d) for m, d in ready}
        engine_text = "statsmodels MixedLM (REML; t with speakers − between-speaker terms − 1 df)"
    rows, means = [], []
    spread = {}
    for m, d in ready:
        per_speaker = d.groupby("speaker_id")[m.measure].mean()
        spread[m.id] = float(per_speaker.std()) if len(per_speaker) > 1 else np.nan
    for m in models:
        r = results.get(m.id)
        if r is None:
            continue
        v = r["variances"]
        total = sum(v.values())
        icc = v.get("speaker_id", np.nan) / total if total > 0 and "speaker_id" in v else np.nan
        dropped = [] if engine == "lme4" else [g for g in m.random[1:]]
        shown = Model(**{**m.__dict__, "word_slopes": False}) if "simplified to (1 | word)" in r["status"] else m
        random = " + ".join(t for t in shown.random_terms(engine) if not any(f"| {g})" in t for g in dropped))
        labels = _labels(m)
        common = {"family": m.family, "role": role(m.family, config), "level": m.level, "measure": m.measure,
                  "language": m.language, "vowel": m.vowel, "attribute": m.attribute,
                  "n_speakers": r["n_speakers"], "n_rows": r["n_rows"],
                  "formula": shown.formula("lme4" if engine == "lme4" else "statsmodels"), "engine": engine_text,
                  "df_method": r.get("df_method", ""), "adjusted_for": m.adjusted_for,
                  "random": random or "none (one row per speaker)",
                  "left_out": ("(1 | " + ") + (1 | ".join(dropped) + "): statsmodels cannot cross random effects")
                  if dropped else "",
                  "var_speaker": v.get("speaker_id", np.nan), "var_word": v.get("word", np.nan),
                  "var_recording": v.get("recording_id", np.nan), "var_residual": v.get("residual", np.nan),
                  "icc": icc, "status": r["status"], "model_id": m.id, "sd_between": spread.get(m.id, np.nan)}
        if not r["rows"]:  # the model failed (lme4: its error is in status)
            rows += [{**common, "term": labels.get(col, col), "test": "coefficient", "primary": False}
                     for col in m.main]
            continue
        for row in r["rows"]:
            test = row["test"]
            term = row.get("term") or ""
            interaction = "_x_" in term
            if test == "coefficient":
                label = labels.get(term, term)
                headline = interaction or (m.trend is None and not m.joint)
            elif test == "trend":
                label, headline = "linear trend, per level", True
            else:
                label, headline = f"joint test of {m.attribute}", m.trend is None
            rows.append({**common, "term": label, "test": test, "headline": bool(headline),
                         "estimate": row.get("estimate"), "se": row.get("se"), "df": row.get("df"),
                         "statistic": row.get("statistic"), "p": row.get("p")})
        for row in r.get("means", []):
            means.append({"model_id": m.id, "family": m.family, "measure": m.measure, "language": m.language,
                          "vowel": m.vowel, "attribute": m.attribute, "level": row["level"],
                          "mean": row["estimate"], "se": row["se"], "df": row["df"]})
    curves = None
    if tracks is not None and (measures is None or "trajectories" in measures):
        from voli.profile.coding import declared_attributes
        from voli.profile.dynamics import fit_dynamics

        declared = declared_attributes(types, config) & (set(types) if attributes is None else set(attributes))
        dyn_rows, curves = fit_dynamics(tracks, tokens if dynamics_tokens is None else dynamics_tokens, survey,
                                        codings, declared, config, export_dir=export_dir)
        rows += dyn_rows
    table = pd.DataFrame(rows)
    if not len(table):
        return table
    for col in ("estimate", "se", "df", "statistic", "p", "edf"):
        table[col] = pd.to_numeric(table[col], errors="coerce") if col in table else np.nan
    from scipy import stats

    table["headline"] = table.headline.fillna(False).astype(bool)
    table["primary"] = table.headline & (table.role == "primary")
    half = stats.t.ppf(0.975, table.df.where(table.df > 0)) * table.se
    table["ci_low"], table["ci_high"] = table.estimate - half, table.estimate + half
    mean_abs = {m.id: float(np.nanmean(np.abs(d[m.measure].astype(float)))) or np.nan for m, d in ready}
    table["relative"] = table.estimate / table.model_id.map(mean_abs)
    table["estimate_sd"] = table.estimate / table.sd_between
    table["q"] = np.nan
    for _, idx in table[table.headline].groupby("family").groups.items():
        table.loc[idx, "q"] = fdr(table.loc[idx, "p"])
    table["q_report"] = np.nan
    table.loc[table.primary, "q_report"] = fdr(table.loc[table.primary, "p"])
    means = pd.DataFrame(means, columns=["model_id", "family", "measure", "language", "vowel", "attribute", "level",
                                         "mean", "se", "df"])
    if len(means):
        half = stats.t.ppf(0.975, means.df.where(means.df > 0)) * means.se
        means["ci_low"], means["ci_high"] = means["mean"] - half, means["mean"] + half
    table.attrs["means"] = means.to_dict("records")  # records: attrs must compare with ==, as concat does
    table.attrs["skipped"] = skipped
    table.attrs["engine"] = engine_text
    table.attrs["trajectories"] = curves.to_dict("records") if curves is not None else []
    return table
