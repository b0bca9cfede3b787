"""The ``align`` stage: the model trained on the corpus (or a saved one), then Viterbi alignment of
each transcribed recording (voli.align.aligner)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa

from voli.corpus import prepared_ids
from voli.runner import Stage, StageContext, WorkItem, fingerprint, part_fingerprint, upstream_items
from voli.schema import AlignedUtterance, Phone, Word


def plan(ctx: StageContext) -> list[WorkItem]:
    from voli.align.aligner import ensure_model

    items = upstream_items(ctx, "transcribe", dataclasses.asdict(ctx.config.align), prepared_ids(ctx.stage_dir("prepare")))
    upstream = [part_fingerprint(ctx.stage_dir("transcribe"), it.recording_id) for it in items]
    model_dir, model_fp = ensure_model(ctx, [it.recording_id for it in items], upstream)
    return [WorkItem(it.recording_id, fingerprint(it.fingerprint, model_fp), str(model_dir)) for it in items]


def process(item: WorkItem, ctx: StageContext) -> dict[str, pa.Table]:
    from voli.align.aligner import align_recording, cached_model, load_transcription

    rec, speakers, utterances, words = load_transcription(ctx, item.recording_id)
    model = cached_model(Path(item.payload), ctx.device)
    out = ctx.stage_dir("align")
    return align_recording(rec, speakers, utterances, words, model, ctx.config.align, ctx.device,
                           textgrid_dir=out / "textgrids", eaf_dir=out / "eaf")


STAGE = Stage("align", "forced alignment of words and phones (HMM trained on the corpus); Praat TextGrids, ELAN files",
              outputs={"words": Word, "phones": Phone, "utterances": AlignedUtterance}, plan=plan, process=process,
              needs_device=True, keeps_model=True)
