"""The ``features`` stage: pitch, formants and intensity of each aligned recording
(voli.features.measure), then each speaker's prosody over the corpus."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from voli.corpus import prepared_ids, prepared_recording
from voli.io.tables import read_table
from voli.runner import Stage, StageContext, WorkItem, upstream_items
from voli.schema import (AlignedUtterance, F0Frame, FormantFrame, IntensityFrame, Phone, SpeakerProsody, SpeakerSettings,
                         UtteranceProsody, VowelDct, VowelToken, VowelTrackPoint, Word, from_table, to_table)


def plan(ctx: StageContext) -> list[WorkItem]:
    return upstream_items(ctx, "align", dataclasses.asdict(ctx.config.features), prepared_ids(ctx.stage_dir("prepare")))


def process(item: WorkItem, ctx: StageContext) -> dict[str, pa.Table]:
    from voli.features.measure import measure_recording

    rec, speakers = prepared_recording(ctx.stage_dir("prepare"), item.recording_id)
    part = ctx.stage_dir("align") / "parts" / item.recording_id
    words = from_table(read_table(part / "words.parquet"), Word)
    phones = from_table(read_table(part / "phones.parquet"), Phone)
    utterances = from_table(read_table(part / "utterances.parquet"), AlignedUtterance)
    return measure_recording(rec, speakers, utterances, words, phones, ctx.config.features, ctx.device,
                             output_dir=ctx.stage_dir("features"),
                             alignment_textgrid=ctx.stage_dir("align") / "textgrids" / f"{item.recording_id}.TextGrid")


def finalize(ctx: StageContext) -> dict[str, pa.Table]:
    from voli.features.prosody import speaker_prosody

    stage_dir = ctx.stage_dir("features")
    done = sorted(p.parent.name for p in (stage_dir / "parts").glob("*/.done"))
    return {"speaker_prosody": to_table(speaker_prosody(stage_dir, done), SpeakerProsody)}


STAGE = Stage("features", "pitch, formants, intensity; vowel and prosody tables, F0/formant tracks",
              outputs={"vowels": VowelToken, "vowel_tracks": VowelTrackPoint, "vowel_dct": VowelDct,
                       "prosody": UtteranceProsody, "speaker_settings": SpeakerSettings,
                       "tracks/f0": F0Frame, "tracks/intensity": IntensityFrame, "tracks/formants": FormantFrame},
              plan=plan, process=process, finalize=finalize, needs_device=True, libraries=("praatio",))
