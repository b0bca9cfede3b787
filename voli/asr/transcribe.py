"""The ``transcribe`` stage: Whisper on long interviews, with words, fillers, speakers and roles.

Per recording:

1. Streams: one per mapped channel of a multi-channel file (its speaker is
   known), else the mixed signal.
2. Speech regions from Silero VAD over a 16 kHz stream (bounded memory); on
   multi-channel files a region counts for a channel only where that channel
   is ``crosstalk_db`` louder than the others (lapel microphones hear each
   other).
3. Regions grouped into windows of at most 30 s, decoded by Whisper in
   batches, each window encoded once (voli.asr.decoding: one decoding rule,
   word timestamps from cross-attention DTW, word probabilities); an initial
   prompt with filled pauses makes Whisper keep them.
4. Mixed recordings with several speakers: who says each word
   (voli.asr.roles, voli.asr.diarize), into as many speakers as
   recordings.csv lists; each word gets ``speaker_confidence`` and
   ``overlap``. A ``speaker_summary`` row per recording says how.
5. Digits are written out as words in the recording's language.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa

from voli import problems
from voli.asr import vad
from voli.asr.decoding import decode_windows, previous_words
from voli.asr.roles import attribute_speakers
from voli.config import AsrConfig
from voli.errors import AudioError
from voli.io.segments import SegmentReader
from voli.text import is_filler, spell_number, strip_punctuation
from voli.io.textgrid import sequential, speaker_tiers, write_textgrid
from voli.schema import Recording, RecordingSpeaker, SpeakerSummary, Utterance, Word, to_table

SR = vad.SAMPLE_RATE
MIN_WORD_S = 0.02  # shortest word duration written (Whisper's timestamps can collapse a word to 0 s)
_models: dict = {}


def get_model(name: str, device, backend: str = "openai-whisper"):
    key = (name, str(device), backend)
    if key not in _models:
        from voli.asr.models import load_faster_whisper, load_whisper

        _models[key] = load_whisper(name, device) if backend == "openai-whisper" else load_faster_whisper(name, device)
    return _models[key]


def resolve_backend(backend: str, device) -> str:
    """``auto``: faster-whisper's int8 CTranslate2 on the CPU (1.7x whisper.transcribe at equal
    WER, bench/asr.py), openai-whisper with batched windows on a GPU."""
    if backend == "auto":
        return "openai-whisper" if getattr(device, "type", "cpu") == "cuda" else "faster-whisper"
    return backend


def _dominant(reader: SegmentReader, region: vad.Region, channel: int, margin_db: float) -> bool:
    """Is ``channel`` the loudest by ``margin_db`` in this region (not crosstalk)?"""
    x = reader.frames(region.start, region.end)  # all channels in one read (an MP3 is read forward)
    levels = [10 * np.log10(np.mean(reader.to_16k(x[:, ch]) ** 2) + 1e-12) for ch in range(x.shape[1])]
    own = levels[channel - 1]
    others = [lv for i, lv in enumerate(levels) if i != channel - 1]
    return all(own >= lv + margin_db for lv in others)


_JOINERS = ("'", "’", "-")  # a decoded "word" starting with one of these continues the previous word


def join_word_pieces(words: list[dict]) -> list[dict]:
    """Whisper's word timestamps split some written words at an apostrophe or a hyphen ("nell"
    + "'elenco", "faites" + "-vous", "kind" + "-hearted"); a piece that starts with one (and no
    space) is joined to the word before it, which keeps its start and takes the piece's end and the
    lower probability. Elided and hyphenated words stay one word, as the lexicon pronounces them."""
    out: list[dict] = []
    for w in words:
        text = w["word"]
        if out and text.startswith(_JOINERS):
            prev = out[-1]
            out[-1] = {**prev, "word": prev["word"].rstrip() + text, "end": max(prev["end"], w["end"]),
                       "probability": min(prev.get("probability", 1.0), w.get("probability", 1.0))}
        else:
            out.append(dict(w))
    return out


def _expand_number(token: str, language: str) -> list[str]:
    """A written number as the words said ("3,5" -> trois virgule cinq), else the token itself."""
    spelt = spell_number(strip_punctuation(token), language)
    return spelt.split() if spelt else [token]


def transcribe_recording(rec: Recording, speakers: list[RecordingSpeaker], config: AsrConfig, device,
                         textgrid_dir: Path | None = None, enrolments: dict[str, Path] | None = None) -> dict[str, pa.Table]:
    """Transcribe one recording; returns its ``utterances`` and ``words`` tables.

    ``enrolments``: speaker_id -> a clip of that speaker alone; in a mixed (mono) recording,
    enrolled speakers are found by voice, the others by who asks the questions.
    """
    reader = SegmentReader(rec)
    try:
        return _transcribe(rec, speakers, config, device, textgrid_dir, reader, enrolments or {})
    finally:
        reader.close()


def _transcribe(rec, speakers, config, device, textgrid_dir, reader, enrolments) -> dict[str, pa.Table]:
    config = dataclasses.replace(config, backend=resolve_backend(config.backend, device))
    model = get_model(config.model, device, config.backend)
    fp16 = getattr(device, "type", "cpu") == "cuda"
    mapped = [s for s in speakers if s.channel is not None]
    streams = [(s.channel, s) for s in mapped] if mapped else [(None, None)]
    language, found = rec.language, []  # found: (speaker or None, region, [words])
    for channel, speaker in streams:
        regions, wins, probs = _windows(rec, reader, channel, config)
        decoded, language = _decode(model, reader, regions, wins, channel, language, config, fp16)
        found.extend((speaker, region, ws) for region, ws in _by_region(regions, wins, decoded, probs,
                                                                        config.vad_threshold))
    found.sort(key=lambda item: item[1].start)
    if not found:
        raise AudioError(f"{rec.audio_path}: no speech found (voice activity detection and Whisper heard nothing); "
                         "check that this is the right recording, or lower transcribe.vad_threshold")
    speech_s = sum(r.end - r.start for r in {(r.start, r.end): r for _, r, _ in found}.values())
    summary = {"method": "channels" if mapped else "single speaker", "speakers": max(1, len(mapped)),
               "turns": len(found), "overlap_s": 0.0, "separation": None,
               "mean_speaker_confidence": 1.0, "low_confidence_words": 0.0}
    if not mapped and len(speakers) > 1:
        found, summary = attribute_speakers(reader, found, speakers, enrolments, device, language)
    elif not mapped:
        found = [(speakers[0] if speakers else None, r, ws) for _, r, ws in found]
    unassigned = sum(len(ws) for speaker, _, ws in found if speaker is None)
    if unassigned:
        problems.report("speaker_unknown", f"{unassigned} words could not be given to any of the recording's "
                        "speakers and are written with speaker_id 'unknown'; list every speaker in recordings.csv")
    utterances, word_rows = _rows(rec.recording_id, found, language, config)
    if rec.transcript_path:  # the user's words win; Whisper gives times and speakers
        from voli.asr.user_transcripts import adopt_user_words, read_user_transcript

        utterances, word_rows = adopt_user_words(read_user_transcript(rec.transcript_path, speakers), word_rows,
                                                 speakers, language)
        summary["method"] = "user transcript"
    if textgrid_dir is not None:
        _write_textgrid(Path(textgrid_dir) / f"{rec.recording_id}.TextGrid", utterances, word_rows, rec.duration_s)
    summary = SpeakerSummary(recording_id=rec.recording_id, speech_s=round(speech_s, 3), **summary)
    return {"utterances": to_table(utterances, Utterance), "words": to_table(word_rows, Word),
            "speaker_summary": to_table([summary], SpeakerSummary)}


def _windows(rec: Recording, reader: SegmentReader, channel: int | None, config: AsrConfig):
    """The speech regions of one stream (a channel, or the mixed signal), the windows of at most
    ``max_window_s`` that group them, and the VAD's speech probability per frame."""
    from voli.io import audio

    probs: list[float] = []
    regions = vad.speech_regions(audio.iter_resampled(rec.audio_path, sample_rate=SR, channel=channel),
                                 threshold=config.vad_threshold, frames=probs)
    if channel is not None and rec.channels > 1:
        regions = [r for r in regions if _dominant(reader, r, channel, config.crosstalk_db)]
    # a stretch of speech longer than a window (no pause) is cut at its quietest point, so that
    # every window holds whole regions and every word falls in one
    regions = vad.split_long(regions, lambda s, e: reader.read(s, e, channel),
                             max_s=config.max_window_s - 2 * config.window_pad_s)
    return regions, vad.windows(regions, max_s=config.max_window_s, pad_s=config.window_pad_s,
                                duration_s=rec.duration_s), np.asarray(probs, np.float32)


def _decode(model, reader: SegmentReader, regions: list, wins: list, channel: int | None, language: str | None,
            config: AsrConfig, fp16: bool) -> tuple[list[list[dict]], str | None]:
    """Each window's words (times in the window), ``batch_size`` windows at a time (only one batch
    of audio is in memory); with ``condition_on_previous_text`` one window at a time, each after
    the words before it."""
    step = 1 if config.condition_on_previous_text else config.batch_size
    decoded, context = [], ""
    for b in range(0, len(wins), step):
        batch = wins[b: b + step]
        speech = [[span for r in _inside(regions, w) for span in w.from_recording(r)] for w in batch]
        audios = [w.audio(lambda s, e: reader.read(s, e, channel)) for w in batch]
        words, language = decode_windows(model, audios, language, config, fp16=fp16, context=context, speech=speech)
        decoded.extend(words)
        if config.condition_on_previous_text:
            context = previous_words(context, words[-1])
    return decoded, language


def _inside(regions: list, window: vad.Window) -> list:
    """The speech regions heard in ``window`` (its pieces where none is)."""
    return [r for r in regions if any(r.end > p.start and r.start < p.end for p in window.pieces)] or list(window.pieces)


def _by_region(regions: list, wins: list, decoded: list[list[dict]], probs: np.ndarray, threshold: float):
    """(region, words) for every speech region that has words: each word of a window goes to the
    region that holds its middle, or the nearest one, with times in the recording (a word that
    Whisper heard across the join of two pieces is kept in the piece that holds its middle), kept
    inside its region and starting after a pause that Whisper's timing put at its beginning (the VAD's
    frame ``probs`` at its ``threshold``: vad.onset_after_pause)."""
    for window, words in zip(wins, decoded):
        inside = _inside(regions, window)
        per_region: dict[int, list] = {i: [] for i in range(len(inside))}
        for w in join_word_pieces(words):
            piece = window.piece_at((w["start"] + w["end"]) / 2)
            start, end = window.to_recording(w["start"], piece), window.to_recording(w["end"], piece)
            start = vad.onset_after_pause(start, end, probs, threshold, MIN_WORD_S)
            mid = (start + end) / 2
            i = min(range(len(inside)), key=lambda k: max(inside[k].start - mid, mid - inside[k].end, 0.0))
            per_region[i].append({**w, **_within(start, end, inside[i])})
        yield from ((inside[i], ws) for i, ws in per_region.items() if ws)


def _within(start: float, end: float, region) -> dict:
    """A word's times kept inside its speech region: Whisper's timing stretches a window's first
    word back over the silence before it (the padding around the speech; 0.4 s early on the
    sample's interviews), where the VAD heard no speech. A word wholly outside the region (a
    quiet word the VAD missed) keeps its times."""
    if end - MIN_WORD_S > region.start:
        start = max(start, region.start)
    if start + MIN_WORD_S < region.end:
        end = min(end, region.end)
    return {"start": start, "end": end}


def _rows(recording_id: str, found: list, language: str | None, config: AsrConfig) -> tuple[list, list]:
    """Utterances (one per speaker run) and words, numbers spelt out as said."""
    utterances, word_rows = [], []
    for index, (speaker, region, ws) in enumerate(found):
        uid = f"{recording_id}-{index:06d}"
        first_word = len(word_rows)
        sid = speaker.speaker_id if speaker else "unknown"
        role = speaker.role if speaker else "unknown"
        for w in ws:
            tokens = w["word"].strip()
            pieces = _expand_number(tokens, language) if config.expand_numbers else [tokens]
            w["end"] = max(w["end"], w["start"] + MIN_WORD_S * len(pieces))  # Whisper's DTW can give 0 s words
            span = (w["end"] - w["start"]) / len(pieces)
            for k, piece in enumerate(pieces):
                text = strip_punctuation(piece)
                if not text:
                    continue
                word_rows.append(Word(recording_id, uid, sid, role, round(w["start"] + k * span, 3),
                                      round(w["start"] + (k + 1) * span, 3), text, float(w.get("probability", np.nan)),
                                      is_filler(text, language), language,
                                      round(float(w.get("speaker_confidence", 1.0)), 3), bool(w.get("overlap", False))))
        mine = word_rows[first_word:]
        if mine:
            utterances.append(Utterance(uid, recording_id, sid, role, mine[0].start, mine[-1].end,
                                        " ".join(w["word"].strip() for w in ws), language))
    return utterances, word_rows


def _write_textgrid(path: Path, utterances: list, word_rows: list, duration_s: float) -> None:
    rows = [(u.speaker_id, "utterances", u.start, u.end, u.text) for u in utterances]
    rows += [(w.speaker_id, "words", w.start, w.end, w.word) for w in word_rows if w.end > w.start]
    tiers = {name: sequential(iv) for name, iv in speaker_tiers(rows).items()}  # Whisper's times can overlap
    write_textgrid(path, tiers, duration_s=duration_s)
