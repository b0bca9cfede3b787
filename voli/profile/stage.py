"""The profile stage: speech measures joined to the survey, statistics, tables and the report.

Reads the features stage's tables (vowels, prosody, speaker_prosody) and the corpus's speakers.csv
(with survey.yaml when present, and WORKDIR/exclusions.csv); writes to its directory: speakers, tokens
(filtered, normalised), models (voli.profile.models), checks (attributes following a control,
aliasing, confounds), the speaker structure (pca_*, associations adjusted for the controls and
language, linkage: voli.profile.structure), prediction, export/ (the R reproduction) and report/;
problems found on the way go to problems.parquet.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from voli import problems
from voli.config import ProfileConfig
from voli.errors import CorpusError
from voli.runner import Stage, StageContext, WorkItem, require_done
from voli.schema import Problem, to_table
from voli.workdir import Workdir


# speaker measures of the prosodic PCA view (the vowel view is built from the tokens: voli.profile.structure)
PROSODY_COLUMNS = ("articulation_rate", "speech_rate", "pauses_per_minute", "filled_pauses_per_minute", "f0_median_st",
                   "f0_sd_st", "f0_range_st", "intensity_mean_db")
# ... and those prediction learns from
PROFILE_COLUMNS = PROSODY_COLUMNS + ("formant_scale_hz", "vowel_space_area_nearey")


def load_inputs(corpus_dir: Path, features_dir: Path, config: ProfileConfig) -> dict:
    """What the profile models read: the typed survey and its types, the configuration with survey.yaml's
    controls and interactions, and the features tables (vowels less the tokens excluded by hand)."""
    import dataclasses

    import pandas as pd

    from voli.corpus import speakers_table
    from voli.io.exclusions import apply_exclusions, read_exclusions
    from voli.io.survey import attribute_types, model_options, survey_table

    raw = speakers_table(Path(corpus_dir)).to_pandas()  # speakers.csv with prepare's checks (IDs, duplicates)
    types = attribute_types(corpus_dir, raw)
    survey = survey_table(corpus_dir, raw, types)
    options = model_options(corpus_dir)  # survey.yaml's controls and interactions join the config's
    config = dataclasses.replace(config, controls=tuple(dict.fromkeys(config.controls + options["controls"])),
                                 interactions=tuple(dict.fromkeys(config.interactions + options["interactions"])))
    vowels = pd.read_parquet(features_dir / "vowels.parquet")
    workdir = Path(features_dir).parent
    excluded = read_exclusions(workdir)
    vowels, n_excluded = apply_exclusions(vowels, excluded)
    utterances = pd.read_parquet(features_dir / "prosody.parquet")
    prosody = pd.read_parquet(features_dir / "speaker_prosody.parquet")
    tracks_path = features_dir / "vowel_tracks.parquet"  # older work directories have none: no dynamics family
    tracks = pd.read_parquet(tracks_path) if tracks_path.is_file() else None
    if config.checked_only:
        vowels, utterances, prosody = checked_only(vowels, utterances, prosody)
    return {"survey": survey, "types": types, "config": config, "vowels": vowels, "tracks": tracks, "excluded": excluded,
            "n_excluded": n_excluded, "utterances": utterances, "prosody": prosody,
            "checked_tokens": int(vowels.checked.sum()) if "checked" in vowels else 0}


def checked_only(vowels, utterances, prosody):
    """The tables restricted to the recordings a linguist corrected (``profile.checked_only``):
    their vowel tokens and utterances, and the speaker prosody of speakers all of whose recordings
    were corrected (a speaker's prosody pools their recordings; the others are left out, and said)."""
    checked = set(vowels.recording_id[vowels.checked]) if "checked" in vowels else set()
    if not checked:
        raise CorpusError("profile.checked_only is true but no recording has been corrected: save a corrected "
                          "TextGrid or ELAN file under WORKDIR/corrections/ and run align again, or set "
                          "checked_only: false")
    utterances = utterances[utterances.recording_id.isin(checked)]
    per_speaker = utterances.groupby("speaker_id").recording_id.nunique()
    n_recordings = prosody.set_index("speaker_id").n_recordings
    whole = [s for s, n in per_speaker.items() if n == int(n_recordings.get(s, -1))]
    left = sorted(set(per_speaker.index) - set(whole))
    if left:
        problems.report("checked_only_prosody", f"speaker(s) {', '.join(left)} have recordings not corrected by "
                        "hand: their speaker prosody (which pools all their recordings) is left out of the models; "
                        "their checked vowel tokens are kept")
    return vowels[vowels.checked], utterances, prosody[prosody.speaker_id.isin(whole)]


def profile(corpus_dir: Path, features_dir: Path, config: ProfileConfig, *, export_dir: Path | None = None) -> dict:
    """All profile tables (pandas DataFrames) for one corpus; the R export goes to ``export_dir``."""
    inputs = load_inputs(corpus_dir, features_dir, config)
    workdir = Path(features_dir).parent
    excluded, n_excluded = inputs["excluded"], inputs["n_excluded"]
    if len(excluded):
        problems.report("tokens_excluded", f"{n_excluded} vowel token(s) left out as marked by hand in "
                        f"{workdir / 'exclusions.csv'} ({len(excluded) - n_excluded} of its rows match no token)"
                        if len(excluded) > n_excluded else
                        f"{n_excluded} vowel token(s) left out as marked by hand in {workdir / 'exclusions.csv'}")
    utterances = inputs["utterances"]
    out = analyse(inputs["survey"], inputs["types"], inputs["vowels"], utterances, inputs["prosody"],
                  inputs["config"], source=Path(corpus_dir) / "speakers.csv",
                  context=speaker_context(workdir, utterances), export_dir=export_dir, tracks=inputs["tracks"])
    out["models"].attrs["excluded_tokens"] = n_excluded
    out["models"].attrs["checked_tokens"] = inputs["checked_tokens"]
    out["models"].attrs["checked_only"] = bool(config.checked_only)
    return out


def speaker_context(workdir: Path, utterances):
    """Per speaker: language, interviewer(s) and recording channel, for the aliasing checks (None if unknown)."""
    import pandas as pd

    layout = Workdir(workdir)
    if not layout.table("prepare", "recording_speakers").is_file():
        return None
    links = pd.read_parquet(layout.table("prepare", "recording_speakers"))
    recordings = pd.read_parquet(layout.table("prepare", "recordings"))
    channel = recordings.set_index("recording_id").apply(
        lambda r: f"{int(r.sample_rate)} Hz" + (f", {int(r.channels)} channels" if r.channels > 1 else ""), axis=1)
    interviewers = links[links.role == "interviewer"].groupby("recording_id").speaker_id.agg(lambda s: "+".join(sorted(s)))
    rows = []
    for sid, own in links[links.role != "interviewer"].groupby("speaker_id"):
        recs = own.recording_id
        lang = utterances[utterances.speaker_id == sid].language
        rows.append({"speaker_id": sid, "language": lang.mode().iloc[0] if len(lang.dropna()) else None,
                     "interviewer": "|".join(sorted({interviewers.get(r, "none") for r in recs})),
                     "channel": "|".join(sorted({channel.get(r, "?") for r in recs}))})
    return pd.DataFrame(rows)


def analyse(survey, types, vowels, utterances, prosody, config: ProfileConfig, *, source="speakers.csv",
            context=None, export_dir: Path | None = None, engine: str | None = None, tracks=None) -> dict:
    """The statistics on in-memory tables: a typed survey (survey_table) and the features tables
    (``tracks``: vowel_tracks, for the vowel-dynamics models)."""
    import pandas as pd

    from voli.profile.checks import aliasing, confounds
    from voli.profile.models import fit_models
    from voli.profile.speakers import speaker_languages, speaker_measures
    from voli.profile.structure import follows_control, predict_attributes, speaker_structure

    unknown = sorted((set(vowels.speaker_id) | set(prosody.speaker_id)) - set(survey.speaker_id))
    if unknown:
        raise CorpusError(f"{source}: the measurements have speaker(s) {', '.join(unknown)} "
                          "that speakers.csv lacks; add them, or rerun the pipeline if they were renamed")
    speakers, tokens = speaker_measures(vowels, prosody, config)
    analysed = survey[survey.speaker_id.isin(speakers.speaker_id)]
    with_attributes = survey[survey.drop(columns="speaker_id").notna().any(axis=1)].speaker_id
    measured = set(prosody.speaker_id)  # in any role
    for sid in sorted(set(with_attributes) - measured):
        problems.report("speaker_left_out", "has survey answers but no measurements (its recordings failed or are "
                        "missing; see the stages' failures.parquet): left out", speaker_id=sid)
    for sid in speakers.speaker_id:
        row = speakers[speakers.speaker_id == sid].iloc[0]
        if row.get("n_tokens", 0) != row.get("n_tokens", 0) or row.get("n_tokens", 0) < 20:
            problems.report("few_tokens", f"only {int(row.get('n_tokens', 0) or 0)} vowel tokens pass the filters: "
                            "vowel measures are rough", speaker_id=sid)
    utterances = utterances[utterances.role.isin(config.roles)]
    known = [a for a in config.controls + tuple(x.strip() for e in config.interactions for x in e.split(":"))
             if a not in types]
    if known:
        raise CorpusError(f"profile: {known[0]!r} (in controls or interactions) is not a column of {source}; it has "
                          f"{', '.join(types) or 'no survey columns'}")
    models = fit_models(tokens, utterances, speakers, analysed, types, config, export_dir=export_dir, engine=engine,
                        tracks=tracks)
    trajectories = pd.DataFrame(models.attrs.get("trajectories", []) if len(models) else [],
                                columns=["model_id", "family", "language", "vowel", "measure", "attribute", "level",
                                         "time", "fit", "se", "ci_low", "ci_high", "difference"])
    means = pd.DataFrame(models.attrs.get("means", []) if len(models) else [],
                         columns=["model_id", "family", "measure", "language", "vowel", "attribute", "level", "mean",
                                  "se", "df", "ci_low", "ci_high"])
    if len(models):
        fits = models.drop_duplicates("model_id")
        irregular = fits[fits.status != "ok"]
        if len(irregular):
            kinds = irregular.status.str.split(r"[;(:]").str[0].str.strip().value_counts()
            problems.report("model_fit", f"{len(irregular)} of {len(fits)} models are not regular fits ("
                            + ", ".join(f"{n} {k}" for k, n in kinds.items()) + "): their rows say so in "
                            "models.parquet's status. Singular (a speaker variance of 0, common with few speakers): "
                            "a mixed model would then count each token as independent evidence about a speaker's "
                            "attribute, so voli tests those terms on the speakers' means instead (one row per speaker; "
                            "more speakers, or fewer terms, restore the mixed model). "
                            "A fit that did not converge or failed is not usable: simplify the model (fewer controls, "
                            "word_effect: false) or read its status")
        declared = set(models.attribute)
        undeclared = [n for n in types if n not in declared and not types[n].declared
                      and n not in config.attributes and not config.explore]
        if undeclared:
            problems.report("attribute_described", f"{', '.join(undeclared)}: not declared in survey.yaml or "
                            "profile.attributes, so described and not tested; declare the ones your questions are "
                            "about, or set profile.explore: true to test them in families of their own")
    # attributes that follow a control come first: their unadjusted associations would be the control's
    checks = [{"kind": "follows_control", **c} for c in follows_control(analysed, types, config.controls)]
    if context is not None and len(context):
        checks += [{"kind": "aliased", **c} for c in aliasing(analysed, types, context)]
    checks += [{"kind": "confounded", **c} for c in confounds(speakers, utterances, analysed, types, config.controls)]
    for c in checks:
        problems.report(c["kind"], c["message"])
    columns = [c for c in PROFILE_COLUMNS if c in speakers]
    strata = tuple(c for c in config.controls if c in types and types[c].kind in ("categorical", "ordinal"))
    languages = None  # each speaker's language: the context's, else their utterances' most frequent
    if context is not None and _has_languages(context):
        languages = context.dropna(subset=["language"]).set_index("speaker_id").language.astype(str)
    elif "language" in utterances and utterances.language.notna().any():
        languages = speaker_languages(utterances)
    structure = speaker_structure(tokens, speakers, analysed, types,
                                  prosody_columns=[c for c in PROSODY_COLUMNS if c in speakers],
                                  permutations=config.permutations, n_clusters=config.clusters,
                                  controls=config.controls, languages=languages)
    prediction = predict_attributes(speakers, analysed, types, columns, permutations=config.permutations,
                                    strata=strata, languages=languages)
    table = speakers.merge(analysed.astype({n: object for n, t in types.items() if t.kind != "numeric"}),
                           on="speaker_id", how="left")
    out = {"speakers": table, "tokens": tokens, "models": models, "prediction": prediction,
           "means": means, "trajectories": trajectories,
           "checks": pd.DataFrame(checks, columns=["kind", "attribute", "measure", "with", "share", "strength", "p",
                                                   "message"]),
           "attributes": pd.DataFrame([{"attribute": t.name, "kind": t.kind, "levels": "|".join(t.levels),
                                        "reference": t.reference or "", "log": t.log, "declared": t.declared,
                                        "control": t.name in config.controls, "description": t.describe()}
                                       for t in types.values()])}
    out.update({k: v for k, v in structure.items() if v is not None})
    return out


def _has_languages(context) -> bool:
    return "language" in context and "speaker_id" in context and context.language.notna().any()


def to_arrow(frame) -> pa.Table:
    """A DataFrame as an Arrow table, categories as strings (Parquet-friendly)."""
    frame = frame.copy()
    for col in frame.columns:
        if str(frame[col].dtype) == "category":
            frame[col] = frame[col].astype(object)
    return pa.Table.from_pandas(frame, preserve_index=False)


# -- the stage ----------------------------------------------------------------------------------


def plan(ctx: StageContext) -> list[WorkItem]:
    require_done(ctx, "features")
    return []  # a corpus-level stage: everything happens in finalize


def finalize(ctx: StageContext) -> dict[str, pa.Table]:
    """All profile tables, and the report (which lists the problems found on the way)."""
    from voli.profile.report import write_report

    stage_dir = ctx.stage_dir("profile")
    with problems.collecting("profile") as found:
        tables = profile(ctx.corpus_dir, ctx.stage_dir("features"), ctx.config.profile, export_dir=stage_dir / "export")
        write_report(stage_dir, {**tables, "problems": to_table(found, Problem).to_pandas()}, corpus=ctx.corpus_dir)
    return {name: to_arrow(frame) for name, frame in tables.items()}


def _r_versions() -> dict[str, str]:
    from voli.profile.engines import r_versions

    return r_versions()


STAGE = Stage("profile", "survey join, normalisation, speaker measures, mixed models, PCA, prediction, report",
              outputs={}, plan=plan, finalize=finalize,
              libraries=("statsmodels", "scipy", "scikit-learn", "matplotlib", "jinja2"), programs=_r_versions)

