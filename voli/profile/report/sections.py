"""The report's other sections, each prepared from the tables then rendered from its template: the header,
the survey attributes and problems, the vowel charts, the effect plots, prediction and the tables."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from voli.profile.report import figures
from voli.profile.report.format import (effect_label, filled, fmt_number, fmt_p, has, plural, safe_name,
                                        table_view, to_float)
from voli.profile.report.render import embed, render

LEVEL_ROWS = {"token": "vowel tokens", "utterance": "utterances", "speaker": "speakers"}
MODEL_COLUMNS = ("q<0.05", "family", "role", "level", "measure", "attribute", "term", "estimate", "ci_low", "ci_high",
                 "estimate_sd", "p", "q", "q_report", "df_method", "n_speakers", "n_rows", "status")


# -- header, survey attributes, problems -----------------------------------------------------------------------


def _header(tables, corpus: Path) -> str:
    """The title, when and from where, what the corpus holds, and the links to the sections."""
    speakers, tokens = tables.get("speakers"), tables.get("tokens")
    languages = sorted(tokens.language.dropna().astype(str).unique()) if has(tokens, "language") else []
    return render("header.html.j2", name=Path(corpus).resolve().name, path=str(Path(corpus).resolve()),
                  written=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                  n_speakers=plural(speakers.speaker_id.nunique() if has(speakers, "speaker_id") else 0, "speaker"),
                  n_tokens=len(tokens) if tokens is not None else 0,
                  n_utterances=int(speakers.n_utterances.sum()) if has(speakers, "n_utterances") else None,
                  languages=", ".join(languages))


def who(problem) -> str:
    """Whom a problem is about: the speaker and/or the recording, else the corpus."""
    named = [f"speaker {problem['speaker_id']}" if filled(problem.get("speaker_id")) else "",
             f"recording {problem['recording_id']}" if filled(problem.get("recording_id")) else ""]
    return ", ".join(x for x in named if x) or "the corpus"


def _survey_section(tables) -> str:
    """How voli read each survey column, then the problems found on the way."""
    attributes, listed = tables.get("attributes"), tables.get("problems")
    return render("survey.html.j2",
                  attributes=table_view(attributes, "attributes") if has(attributes, "attribute") else None,
                  problems=[{"who": who(r), "message": r["message"]} for _, r in listed.iterrows()]
                  if has(listed, "message") else [])


# -- vowel charts ----------------------------------------------------------------------------------------


def categorical_attribute(tables) -> str | None:
    """The first categorical survey attribute that the speakers table has values for."""
    attributes, speakers = tables.get("attributes"), tables.get("speakers")
    if not has(attributes, "attribute", "kind") or not has(speakers, "speaker_id"):
        return None
    for name, kind in zip(attributes.attribute, attributes.kind):
        if kind == "categorical" and name in speakers.columns and speakers[name].notna().any():
            return str(name)
    return None


def levels(tables, attribute: str) -> list[str]:
    """The attribute's levels in the survey's order (the first is the reference), [] when not listed."""
    attributes = tables.get("attributes")
    if has(attributes, "attribute", "levels"):
        row = attributes[attributes.attribute == attribute]
        if len(row) and isinstance(row.iloc[0]["levels"], str) and row.iloc[0]["levels"]:
            return row.iloc[0]["levels"].split("|")
    return []


def colour_groups(tokens, tables, attribute: str | None):
    """Each token's colour group (its speaker's level of ``attribute``, or its speaker) and the groups' order."""
    if attribute is None:
        group = tokens.speaker_id.astype(str)
        return group, sorted(set(group))
    speakers = tables["speakers"]
    values = speakers.drop_duplicates("speaker_id").set_index("speaker_id")[attribute].astype(object)
    group = tokens.speaker_id.map(values).astype(object).where(lambda s: s.notna(), "unknown").astype(str)
    order = [lvl for lvl in levels(tables, attribute) if (group == lvl).any()]
    return group, order + sorted(set(group) - set(order))


def vowel_charts(tables, fig_dir: Path, written: list[str]) -> list[dict]:
    """One chart per language, drawn and written, with what its caption says."""
    tokens = tables["tokens"].dropna(subset=["f1_hz", "f2_hz", "phone"])
    if "language" in tokens:
        tokens = tokens.assign(language=tokens.language.astype(object).where(tokens.language.notna(), "unknown"))
    attribute = categorical_attribute(tables)
    group, order = colour_groups(tokens, tables, attribute)
    tokens = tokens.assign(_group=group.to_numpy())
    colors = figures.colours(order)
    charts = []
    for language, data in tokens.groupby("language", sort=True) if "language" in tokens else [("all", tokens)]:
        if not len(data):
            continue
        fig = figures.vowel_chart(data, [g for g in order if (data._group == g).any()], colors, language=language,
                                  legend_title=attribute or "speaker", by_speaker=attribute is None)
        charts.append({"figure": embed(fig, f"vowels_{safe_name(language)}", f"vowel chart, {language}", fig_dir,
                                       written),
                       "language": language, "speakers": plural(data.speaker_id.nunique(), "speaker"),
                       "n_tokens": len(data), "n_phones": data.phone.nunique(), "attribute": attribute})
    return charts


def _vowel_section(tables, fig_dir: Path, written: list[str]) -> str:
    fitted = has(tables.get("tokens"), "phone", "f1_hz", "f2_hz", "speaker_id")
    return render("vowels.html.j2", charts=vowel_charts(tables, fig_dir, written) if fitted else None)


# -- effect plots ---------------------------------------------------------------------------------------


def effect_rows(models, level: str):
    """One level's primary tests with their estimates in between-speaker SDs (``rel``, ``rel_low``, ``rel_high``)."""
    d = models[models.level == level].copy()
    if "primary" in d:  # one test per model: the coefficient, an ordinal's trend, each interaction
        d = d[d.primary.astype(bool) & (d.test != "joint")] if "test" in d else d[d.primary.astype(bool)]
    if len(d):
        d["measure"] = d.apply(effect_label, axis=1)  # a vowel's models: "f2_hz of /u/ (fr)"
    for col in ("estimate", "sd_between", "ci_low", "ci_high", "q"):
        d[col] = d[col].astype(float) if col in d else np.nan
    # in between-speaker SDs of the measure (semitones, z-scores and Hz alike): estimate / SD, and so the bounds
    scale = d.sd_between.where(d.sd_between > 0)
    d["rel"], d["rel_low"], d["rel_high"] = d.estimate / scale, d.ci_low / scale, d.ci_high / scale
    return d


def model_levels(models) -> list[str]:
    """The levels of the models in reading order: speaker, utterance, token, then any other (the trajectory
    models have their own section: their headline test is a curve's, with no estimate to plot)."""
    known = ("speaker", "utterance", "token")
    return [lvl for lvl in known if (models.level == lvl).any()] + sorted(set(models.level.dropna()) - set(known)
                                                                          - {"trajectory"})


def effect_plot(models, level: str, fig_dir: Path, written: list[str]) -> dict:
    """One level's effect plot, drawn and written, with what its caption says (no figure without intervals)."""
    d = effect_rows(models, level)
    shown = d[np.isfinite(d.rel) & np.isfinite(d.rel_low) & np.isfinite(d.rel_high)]
    plot = {"level": level, "n_rows_table": len(d), "figure": None}
    if not len(shown):
        return plot
    measures = [m for m in dict.fromkeys(d.measure) if (shown.measure == m).any()]  # the models' order
    fig = figures.effect_plot(shown, measures, level)
    n_speakers = int(np.nanmax(shown.n_speakers)) if "n_speakers" in shown else 0
    n_rows = int(np.nanmax(shown.n_rows)) if "n_rows" in shown else 0
    return {**plot, "figure": embed(fig, f"effects_{safe_name(level)}", f"effect plot, {level} level", fig_dir,
                                    written),
            "speakers": plural(n_speakers, "speaker"),
            "rows": f"{n_rows} {LEVEL_ROWS.get(level, 'rows')}" if level != "speaker" else None,
            "n_shown": len(shown), "hidden": len(d) - len(shown)}


def models_table(models):
    """Every model, family by family and by q within each, a star on q < 0.05, the main columns first."""
    table = models.copy()
    if "q" in table:
        keys = [c for c in ("role", "family", "q", "p") if c in table]
        table = table.sort_values(keys, na_position="last", kind="stable")
        table.insert(0, "q<0.05", np.where(table.q.astype(float) < 0.05, "★", ""))
    first = [c for c in MODEL_COLUMNS if c in table]
    return table[first + [c for c in table if c not in first]]


def _effects_section(tables, fig_dir: Path, written: list[str]) -> str:
    models = tables.get("models")
    if not has(models, "level", "measure", "attribute", "term", "estimate", "sd_between", "ci_low", "ci_high"):
        return render("effects.html.j2", plots=None, models=None)
    return render("effects.html.j2", plots=[effect_plot(models, level, fig_dir, written)
                                            for level in model_levels(models)],
                  models=table_view(models_table(models), "models"))


# -- vowel dynamics ----------------------------------------------------------------------------------------------

MAX_TRAJECTORY_PLOTS = 12


def _dynamics_section(tables, fig_dir: Path, written: list[str]) -> str:
    """The vowel-dynamics family: how many models, and a trajectory plot for each shape difference at q < 0.05."""
    models, curves = tables.get("models"), tables.get("trajectories")
    dyn = models[models.family.astype(str).str.startswith("vowel dynamics")] if has(models, "family") else None
    if dyn is None or not len(dyn):
        reason = ("No vowel-dynamics models: profile.dynamics is off, the features stage wrote no vowel_tracks, or "
                  "no gliding vowel has enough tokens in two groups of an attribute.")
        return render("dynamics.html.j2", models=None, reason=reason)
    heads = dyn[dyn.headline.astype(bool)] if "headline" in dyn else dyn
    found = heads[heads.q.astype(float) < 0.05].sort_values("p") if "q" in heads else heads.iloc[0:0]
    plots = []
    for r in found.head(MAX_TRAJECTORY_PLOTS).itertuples():
        c = curves[curves.model_id == r.model_id] if has(curves, "model_id") else None
        if c is None or not len(c):
            continue
        formant = str(r.measure).split("_")[0].upper()
        title = f"/{r.vowel}/ ({r.language}), {formant} by {r.attribute}"
        fig = figures.trajectory_plot(c, title)
        plots.append({"figure": embed(fig, f"dynamics_{safe_name(r.model_id)}", title, fig_dir, written),
                      "caption": f"{title}: {r.term}, p = {fmt_p(r.p)}, q = {fmt_p(r.q)}; "
                                 f"{plural(int(r.n_speakers), 'speaker')}, {int(r.n_rows)} trajectory points."})
    vowels = ", ".join(f"/{v}/ ({lang})" for lang, v in dyn[["language", "vowel"]].drop_duplicates().itertuples(index=False))
    return render("dynamics.html.j2", models=dyn.model_id.nunique(), vowels=vowels, found=len(found), plots=plots,
                  more=max(0, len(found) - MAX_TRAJECTORY_PLOTS), reason="")


# -- prediction, tables ------------------------------------------------------------------------------------------


def prediction_outcome(r) -> dict:
    """One attribute's prediction: whether it was tested, whether speech beats chance, and the numbers."""
    score, chance, p = (to_float(r.get(k)) for k in ("score", "chance", "p"))
    n = to_float(r.get("n_speakers"))
    strata = r.get("strata")
    status = str(r.get("status", "ok"))
    outcome = ("untested" if status != "ok" or not np.isfinite(p) else
               "predicts" if p < 0.05 and score > chance else "no evidence")
    return {"attribute": r["attribute"], "status": status, "outcome": outcome, "metric": r.get("metric", "score"),
            "score": fmt_number(score), "chance": fmt_number(chance), "p": fmt_p(p),
            "speakers": plural(int(n), "speaker") if np.isfinite(n) else None,
            "strata": strata if filled(strata) and str(strata) != "none" else None}


def _prediction_section(tables) -> str:
    prediction = tables.get("prediction")
    if not has(prediction, "attribute"):
        return render("prediction.html.j2", outcomes=None)
    return render("prediction.html.j2", outcomes=[prediction_outcome(r) for _, r in prediction.iterrows()],
                  table=table_view(prediction, "prediction"))


def _tables_section(tables) -> str:
    speakers = tables.get("speakers")
    return render("tables.html.j2", files=[{"name": n, "file": safe_name(n)} for n in tables],
                  speakers=table_view(speakers, "speakers") if has(speakers, "speaker_id") else None)
