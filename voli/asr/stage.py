"""The ``transcribe`` stage: Whisper on each prepared recording (voli.asr.transcribe)."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from voli.corpus import enrolment_clips, prepared_ids, prepared_recording
from voli.runner import Stage, StageContext, WorkItem, upstream_items
from voli.schema import SpeakerSummary, Utterance, Word


def plan(ctx: StageContext) -> list[WorkItem]:
    clips = {sid: [str(p), p.stat().st_size, p.stat().st_mtime_ns] for sid, p in enrolment_clips(ctx.corpus_dir).items()}
    config = {**dataclasses.asdict(ctx.config.transcribe), "enrolment": clips}
    return upstream_items(ctx, "prepare", config, prepared_ids(ctx.stage_dir("prepare")))


def process(item: WorkItem, ctx: StageContext) -> dict[str, pa.Table]:
    from voli.asr.transcribe import transcribe_recording

    rec, speakers = prepared_recording(ctx.stage_dir("prepare"), item.recording_id)
    return transcribe_recording(rec, speakers, ctx.config.transcribe, ctx.device,
                                textgrid_dir=ctx.stage_dir("transcribe") / "textgrids",
                                enrolments=enrolment_clips(ctx.corpus_dir))


STAGE = Stage("transcribe", "Whisper transcription with word timings, fillers, speakers and roles",
              outputs={"utterances": Utterance, "words": Word, "speaker_summary": SpeakerSummary}, plan=plan, process=process,
              needs_device=True, keeps_model=True,
              libraries=("ctranslate2", "faster-whisper", "openai-whisper", "silero-vad", "onnxruntime", "Resemblyzer",
                         "num2words"))
