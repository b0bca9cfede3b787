"""The ``align`` stage: the model trained on the corpus (or a saved one), then Viterbi alignment of
each transcribed recording (voli.align.aligner)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa

from voli.corpus import prepared_ids
from voli.errors import VoliError
from voli.runner import Stage, StageContext, Trained, WorkItem, fingerprint, part_fingerprint, upstream_items
from voli.schema import AlignedUtterance, Phone, Word
from voli.workdir import Workdir


def corrections_dir(ctx: StageContext) -> Path:
    """Where a linguist's corrections are read from: ``WORKDIR/corrections/<recording_id>.TextGrid|.eaf``."""
    return Workdir(ctx.workdir).corrections()


def _correction(ctx: StageContext, recording_id: str) -> Path | None:
    """The recording's correction file, if any (None for two: it fails with that message when processed)."""
    from voli.align.corrections import correction_path

    try:
        return correction_path(corrections_dir(ctx), recording_id)
    except VoliError:
        return None


def plan(ctx: StageContext) -> list[WorkItem]:
    """Every transcribed recording; one whose correction is new or changed is redone (its
    fingerprint holds the correction's hash), and only it: the model is trained on the
    transcriptions (:func:`train`), so a correction does not retrain it."""
    from voli.align.corrections import digest

    settings = {k: v for k, v in dataclasses.asdict(ctx.config.align).items() if k != "retrain"}  # --retrain: the model's
    out = []
    for it in upstream_items(ctx, "transcribe", settings, prepared_ids(ctx.stage_dir("prepare"))):
        correction = _correction(ctx, it.recording_id)
        extra = [digest(correction)] if correction is not None else []  # no correction: the fingerprint as before
        out.append(WorkItem(it.recording_id, fingerprint(it.fingerprint, *extra)))
    return out


def train(ctx: StageContext, items: list[WorkItem]) -> Trained:
    """The corpus-level step: the acoustic model every planned recording is aligned with (trained
    on their transcriptions unless a matching one is saved, or ``align.model``), and its lexicon."""
    from voli.align.aligner import ensure_model

    rids = [it.recording_id for it in items]
    upstream = [part_fingerprint(ctx.stage_dir("transcribe"), rid) for rid in rids]
    model_dir, model_fp = ensure_model(ctx, rids, upstream, {rid: _correction(ctx, rid) for rid in rids})
    return Trained(model_fp, str(model_dir))


def process(item: WorkItem, ctx: StageContext) -> dict[str, pa.Table]:
    from voli.align.aligner import align_corrected, align_recording, cached_model, load_transcription
    from voli.align.corrections import correction_path

    rec, speakers, utterances, words = load_transcription(ctx, item.recording_id)
    model = cached_model(Path(item.payload), ctx.device)
    out = ctx.stage_dir("align")
    correction = correction_path(corrections_dir(ctx), item.recording_id)
    if correction is not None:
        return align_corrected(rec, speakers, utterances, words, model, ctx.config.align, ctx.device, correction,
                               textgrid_dir=out / "textgrids", eaf_dir=out / "eaf")
    return align_recording(rec, speakers, utterances, words, model, ctx.config.align, ctx.device,
                           textgrid_dir=out / "textgrids", eaf_dir=out / "eaf")


def _programs() -> dict[str, str]:
    """The programs align runs: libespeak-ng (G2P)."""
    from voli.espeak import version

    return {"libespeak-ng": version() or "not found"}


STAGE = Stage("align", "forced alignment of words and phones (HMM trained on the corpus); Praat TextGrids, ELAN files",
              outputs={"words": Word, "phones": Phone, "utterances": AlignedUtterance}, plan=plan, train=train,
              process=process,
              needs_device=True, keeps_model=True, libraries=("praatio", "pympi-ling", "num2words"),
              programs=_programs)
