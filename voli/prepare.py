"""The ``prepare`` stage: validate recordings.csv, speakers.csv and the audio (voli.corpus), and
write the typed tables every later stage reads."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from voli import corpus
from voli.runner import Stage, StageContext, WorkItem, fingerprint
from voli.schema import Recording, RecordingSpeaker


def plan(ctx: StageContext) -> list[WorkItem]:
    _, speaker_rows = corpus.read_speakers(ctx.corpus_dir)
    rows = corpus.read_recordings(ctx.corpus_dir, {r.values["speaker_id"] for r in speaker_rows})
    config = dataclasses.asdict(ctx.config.prepare)
    return [WorkItem(r.recording_id, fingerprint(r.fingerprint, config), r) for r in rows]


def process(item: WorkItem, ctx: StageContext) -> dict[str, pa.Table]:
    return corpus.check_recording(item.payload, clip_level=ctx.config.prepare.clip_level)


def finalize(ctx: StageContext) -> dict[str, pa.Table]:
    return {"speakers": corpus.speakers_table(ctx.corpus_dir)}


STAGE = Stage("prepare", "validate recordings.csv, speakers.csv and the audio; write typed tables",
              outputs={"recordings": Recording, "recording_speakers": RecordingSpeaker},
              plan=plan, process=process, finalize=finalize, libraries=("soundfile", "soxr"))
