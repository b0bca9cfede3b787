"""The profile stage: speech measures joined to the survey, statistics, tables and the report.

Reads 03_features (vowels, prosody, speaker_prosody) and the corpus's speakers.csv (with
survey.yaml when present); writes 04_profile/: speakers, tokens (filtered, normalised), models
(mixed effects), pca_scores, pca_loadings, associations, prediction, and report/;
problems found on the way (speakers left out, models that fell back) go to problems.parquet.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from voli import problems
from voli.config import ProfileConfig
from voli.errors import CorpusError
from voli.runner import Stage, StageContext, WorkItem, require_done
from voli.schema import Problem, to_table


# speaker measures that describe a speaker's profile (PCA, clusters, prediction)
PROFILE_COLUMNS = ("articulation_rate", "speech_rate", "pauses_per_minute", "filled_pauses_per_minute", "f0_median_st",
                   "f0_sd_st", "f0_range_st", "intensity_mean_db", "formant_scale_hz", "category_dispersion_lobanov",
                   "reduction_index", "vowel_space_area_means_lobanov")


def profile(corpus_dir: Path, features_dir: Path, config: ProfileConfig) -> dict:
    """All profile tables (pandas DataFrames) for one corpus."""
    import pandas as pd

    from voli.corpus import speakers_table
    from voli.profile.survey import attribute_types, survey_table

    raw = speakers_table(Path(corpus_dir)).to_pandas()  # speakers.csv with prepare's checks (IDs, duplicates)
    types = attribute_types(corpus_dir, raw)
    survey = survey_table(corpus_dir, raw, types)
    vowels = pd.read_parquet(features_dir / "vowels.parquet")
    utterances = pd.read_parquet(features_dir / "prosody.parquet")
    prosody = pd.read_parquet(features_dir / "speaker_prosody.parquet")
    return analyse(survey, types, vowels, utterances, prosody, config, source=Path(corpus_dir) / "speakers.csv")


def analyse(survey, types, vowels, utterances, prosody, config: ProfileConfig, *, source="speakers.csv") -> dict:
    """The statistics on in-memory tables: a typed survey (survey_table) and the features tables."""
    import pandas as pd

    from voli.profile.models import mixed_effects, pca_clusters, predict_attributes
    from voli.profile.speakers import speaker_measures

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
    columns = [c for c in PROFILE_COLUMNS if c in speakers]
    models = mixed_effects(tokens, utterances, analysed, types, word_effect=config.word_control, speakers=speakers)
    pca = pca_clusters(speakers, analysed, types, columns, n_clusters=config.clusters)
    prediction = predict_attributes(speakers, analysed, types, columns, permutations=config.permutations)
    table = speakers.merge(analysed.astype({n: object for n, t in types.items() if t.kind != "numeric"}),
                           on="speaker_id", how="left")
    out = {"speakers": table, "tokens": tokens, "models": models, "prediction": prediction,
           "attributes": pd.DataFrame([{"attribute": t.name, "kind": t.kind, "levels": "|".join(t.levels),
                                        "declared": t.declared, "description": t.describe()} for t in types.values()])}
    if pca is not None:
        scores, loadings, tests, link = pca
        out["pca_scores"], out["pca_loadings"], out["associations"] = scores, loadings, tests
        out["pca_explained"] = pd.DataFrame({"component": [f"pc{i + 1}" for i in range(len(loadings.attrs["explained"]))],
                                             "explained": loadings.attrs["explained"]})
        out["linkage"] = pd.DataFrame(link, columns=["left", "right", "distance", "size"])
    return out


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
        tables = profile(ctx.corpus_dir, ctx.stage_dir("features"), ctx.config.profile)
        write_report(stage_dir, {**tables, "problems": to_table(found, Problem).to_pandas()}, corpus=ctx.corpus_dir)
    return {name: to_arrow(frame) for name, frame in tables.items()}


STAGE = Stage("profile", "survey join, normalisation, speaker measures, mixed models, PCA, prediction, report",
              outputs={}, plan=plan, finalize=finalize)
