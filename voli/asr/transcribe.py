"""The ``transcribe`` stage: Whisper on long interviews, with words, fillers, speakers and roles.

Per recording:

1. Streams: one per mapped channel of a multi-channel file (its speaker is
   known), else the mixed signal.
2. Speech regions from Silero VAD over a 16 kHz stream (bounded memory); on
   multi-channel files a region counts for a channel only where that channel
   is ``crosstalk_db`` louder than the others (lapel microphones hear each
   other).
3. Regions grouped into windows of at most 30 s, each decoded by Whisper
   with word timestamps (cross-attention DTW) and word probabilities; an
   initial prompt with filled pauses makes Whisper keep them.
4. Mixed recordings with several speakers: who says each word, from voice
   embeddings on sliding windows and the interview's turns of question and
   answer (voli.asr.diarize), into as many speakers as recordings.csv lists;
   each word gets ``speaker_confidence`` and ``overlap``; enrolment clips,
   then the role of the voice that asks the questions, name the voices. A
   ``speaker_summary`` row per recording says how (turns, overlap, how
   separable the voices were).
5. Digits are written out as words in the recording's language.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa

from voli import languages, problems
from voli.asr import vad
from voli.asr.decoding import (decode_window, decode_window_ct2, decode_windows, detect_language, detect_language_ct2,
                                previous_words)
from voli.config import AsrConfig
from voli.errors import AudioError
from voli.io.segments import SegmentReader
from voli.text import is_filler, normalise_words, spell_number, strip_punctuation
from voli.io.textgrid import sequential, speaker_tiers, write_textgrid
from voli.schema import Recording, RecordingSpeaker, SpeakerSummary, Utterance, Word, to_table

SR = vad.SAMPLE_RATE
MIN_WORD_S = 0.02  # shortest word duration written (Whisper's timestamps can collapse a word to 0 s)
_models: dict = {}


def get_model(name: str, device, backend: str = "openai-whisper"):
    key = (name, str(device), backend)
    if key not in _models:
        from voli.asr.models import load_faster_whisper, load_whisper

        if backend not in BACKENDS:
            from voli.errors import ConfigError

            raise ConfigError(f"transcribe.backend = {backend!r}: use one of {', '.join(BACKENDS)}")
        _models[key] = load_whisper(name, device) if backend == "openai-whisper" else load_faster_whisper(name, device)
    return _models[key]


BACKENDS = ("openai-whisper", "faster-whisper")


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


_encoder = None
SENTENCE_GAP_S = 1.0  # s: a pause this long ends a sentence even without punctuation
LOW_CONFIDENCE = 0.8  # speaker_confidence under which a word counts as doubtful in the summary


def sentences(words: list[dict], language: str | None) -> list[tuple[float, float, bool]]:
    """The decoded words (in time order) cut into sentences at . ? ! or a pause of
    ``SENTENCE_GAP_S``: (start, end, is_question) each."""
    out, current = [], []
    for i, w in enumerate(words):
        current.append(w)
        text = w["word"].strip()
        gap = words[i + 1]["start"] - w["end"] if i + 1 < len(words) else np.inf
        if text.endswith((".", "?", "!", "…")) or gap >= SENTENCE_GAP_S:
            out.append((current[0]["start"], current[-1]["end"],
                        looks_like_question(" ".join(x["word"].strip() for x in current), language)))
            current = []
    return out


def looks_like_question(text: str, language: str | None) -> bool:
    if text.strip().endswith("?") or text.strip().startswith("¿"):
        return True
    words = [w for w in normalise_words(text, keep_hyphens=True) if not is_filler(w, language)]
    head = " ".join(words[:2])  # hyphenated words stay whole: fr "est-ce", ru "где-то" (somewhere) is no "где"
    cues = languages.get(language).question_starts if language else ()
    return any(head == q or head.startswith(q + " ") for q in cues)


def _assign_roles(labels: np.ndarray, texts: list[str], durations: list[float], speakers: list[RecordingSpeaker],
                  language: str | None) -> dict[int, RecordingSpeaker]:
    """Cluster -> speaker: the cluster asking most questions is the interviewer (the one who
    speaks first breaks ties), then interviewees by talk time."""
    clusters = sorted(set(labels.tolist()))
    questions = {c: sum(looks_like_question(t, language) for t, lab in zip(texts, labels) if lab == c) /
                 max(1, sum(1 for lab in labels if lab == c)) + (0.25 if len(labels) and labels[0] == c else 0.0)
                 for c in clusters}
    talk = {c: sum(d for d, lab in zip(durations, labels) if lab == c) for c in clusters}
    interviewers = [s for s in speakers if s.role == "interviewer"]
    interviewees = [s for s in speakers if s.role != "interviewer"]
    mapping: dict[int, RecordingSpeaker] = {}
    for c, spk in zip(sorted(clusters, key=lambda c: -questions[c]), interviewers):
        mapping[c] = spk
    rest = sorted((c for c in clusters if c not in mapping), key=lambda c: -talk[c])
    for c, spk in zip(rest, interviewees + interviewers[len(mapping):]):
        mapping[c] = spk
    return mapping


def _enrolment_embeddings(speakers: list[RecordingSpeaker], enrolments: dict[str, Path], device) -> np.ndarray:
    from voli.io import audio

    encoder = _speaker_encoder(device)
    refs = []
    for s in speakers:
        try:
            refs.append(encoder.embed(audio.load(enrolments[s.speaker_id], sample_rate=SR)))
        except Exception as err:  # noqa: BLE001 - named in the message
            raise AudioError(f"{enrolments[s.speaker_id]}: cannot read the enrolment clip of {s.speaker_id} ({err})") from err
    return np.array(refs)


def enrolled_voices(centres: np.ndarray, speakers: list[RecordingSpeaker], enrolments: dict[str, Path],
                    device=None) -> dict[int, RecordingSpeaker]:
    """Voice -> speaker for the speakers that have an enrolment clip: each enrolled speaker gets
    the voice whose centre is closest to their clip's embedding (one voice each)."""
    from scipy.optimize import linear_sum_assignment

    enrolled = [s for s in speakers if s.speaker_id in enrolments]
    if not enrolled or not len(centres):
        return {}
    refs = _enrolment_embeddings(enrolled, enrolments, device)
    rows, cols = linear_sum_assignment(-refs @ centres.T)  # most similar overall
    return {int(c): enrolled[r] for r, c in zip(rows, cols)}


def attribute_speakers(reader: SegmentReader, found: list, speakers: list[RecordingSpeaker],
                       enrolments: dict[str, Path], device, language: str | None) -> tuple[list, dict]:
    """Who says each word of a mixed (mono) recording with several speakers (voli.asr.diarize).

    ``found``: (None, region, words) in time order. Each word dict gets ``voice``,
    ``speaker_confidence`` and ``overlap``; returns the words regrouped as (speaker, region, words)
    runs of one speaker inside one region, and the recording's summary (SpeakerSummary's fields)."""
    from voli.asr import diarize

    regions = [r for _, r, _ in found]
    words = [w for _, _, ws in found for w in ws]
    windows = diarize.embed_regions(_speaker_encoder(device), regions, lambda s, e: reader.read(s, e, None))
    # the voices are found in the recording itself (a clip recorded elsewhere sounds different); the
    # clips then name them, and the voice that asks the questions is the interviewer
    d = diarize.diarize(windows, len(speakers), cue=diarize.sentence_cues(windows, sentences(words, language)),
                        has_interviewer=any(s.role == "interviewer" for s in speakers))
    method = "voice and questions" if d.interviewer is not None else "voice"
    mapping = enrolled_voices(d.centres, speakers, enrolments, device)
    if mapping:
        method += " and enrolment"
    taken = {s.speaker_id for s in mapping.values()}
    interviewers = [s for s in speakers if s.role == "interviewer" and s.speaker_id not in taken]
    if d.interviewer is not None and d.interviewer not in mapping and interviewers:
        mapping[d.interviewer] = interviewers[0]
    for w in words:
        voice, w["speaker_confidence"], w["overlap"] = d.word(w["start"], w["end"])
        w["voice"] = voice
    runs = []  # (voice, region, words): one voice's words inside one region
    for (_, region, ws) in found:
        for w in ws:
            if runs and runs[-1][1] is region and runs[-1][0] == w["voice"]:
                runs[-1][2].append(w)
            else:
                runs.append((w["voice"], region, [w]))
    left = [v for v in range(len(d.centres)) if v not in mapping]
    if left:  # the voices no clip or question decided: who asks questions, then who talks most
        taken = {s.speaker_id for s in mapping.values()}
        mine = [r for r in runs if r[0] in left]
        mapping.update(_assign_roles(np.array([r[0] for r in mine]), [" ".join(w["word"] for w in r[2]) for r in mine],
                                     [r[2][-1]["end"] - r[2][0]["start"] for r in mine],
                                     [s for s in speakers if s.speaker_id not in taken], language))
    confidence = np.array([w["speaker_confidence"] for w in words])
    summary = {"method": method, "speakers": len(d.centres), "turns": len(runs),
               "overlap_s": float(d.overlapped.sum() * diarize.HOP_S),
               "separation": d.separation if np.isfinite(d.separation) else None,
               "mean_speaker_confidence": float(confidence.mean()) if len(confidence) else None,
               "low_confidence_words": float(np.mean(confidence < LOW_CONFIDENCE)) if len(confidence) else 0.0}
    return [(mapping.get(v), region, ws) for v, region, ws in runs], summary


def _speaker_encoder(device):
    global _encoder
    if _encoder is None:
        from voli.asr.speakers import SpeakerEncoder

        _encoder = SpeakerEncoder(device)
    return _encoder


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
    from voli.io import audio

    config = dataclasses.replace(config, backend=resolve_backend(config.backend, device))
    model = get_model(config.model, device, config.backend)
    fp16 = getattr(device, "type", "cpu") == "cuda"
    mapped = [s for s in speakers if s.channel is not None]
    streams = [(s.channel, s) for s in mapped] if mapped else [(None, None)]
    language = rec.language
    found = []  # (speaker or None, region, [words])
    for channel, speaker in streams:
        regions = vad.speech_regions(audio.iter_resampled(rec.audio_path, sample_rate=SR, channel=channel),
                                     threshold=config.vad_threshold)
        if channel is not None and rec.channels > 1:
            regions = [r for r in regions if _dominant(reader, r, channel, config.crosstalk_db)]
        # a stretch of speech longer than a window (no pause) is cut at its quietest point, so that
        # every window holds whole regions and every word falls in one
        regions = vad.split_long(regions, lambda s, e: reader.read(s, e, channel), max_s=config.max_window_s)
        wins = vad.windows(regions, max_s=config.max_window_s)
        decoded, context = [], ""
        step = max(1, config.batch_size)
        for b in range(0, len(wins), step):  # only one batch of windows is in memory at a time
            audios = [reader.read(w.start, w.end, channel) for w in wins[b: b + step]]
            if language is None:
                language = (detect_language(model, audios[0]) if config.backend == "openai-whisper"
                            else detect_language_ct2(model, audios[0]))
            if config.backend == "faster-whisper":  # one window after the other, each in the context of the last
                for x in audios:
                    decoded.append(decode_window_ct2(model, x, language, config, context=context))
                    context = previous_words(context, decoded[-1])
            elif config.batch_size > 1:
                decoded.extend(decode_windows(model, audios, language, config, fp16))
            else:
                decoded.extend(decode_window(model, x, language, config, fp16) for x in audios)
        for window, words in zip(wins, decoded):
            words = join_word_pieces(words)
            inside = [r for r in regions if r.end > window.start and r.start < window.end] or [window]
            per_region: dict[int, list] = {i: [] for i in range(len(inside))}
            for w in words:  # each word to the region that holds its middle, or the nearest one
                mid = window.start + (w["start"] + w["end"]) / 2
                i = min(range(len(inside)), key=lambda k: max(inside[k].start - mid, mid - inside[k].end, 0.0))
                per_region[i].append({**w, "start": window.start + w["start"], "end": window.start + w["end"]})
            found.extend((speaker, inside[i], ws) for i, ws in per_region.items() if ws)
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
    utterances, word_rows = [], []
    for index, (speaker, region, ws) in enumerate(found):
        uid = f"{rec.recording_id}-{index:06d}"
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
                word_rows.append(Word(rec.recording_id, uid, sid, role, round(w["start"] + k * span, 3),
                                      round(w["start"] + (k + 1) * span, 3), text, float(w.get("probability", np.nan)),
                                      is_filler(text, language), language,
                                      round(float(w.get("speaker_confidence", 1.0)), 3), bool(w.get("overlap", False))))
        mine = word_rows[first_word:]
        if mine:
            utterances.append(Utterance(uid, rec.recording_id, sid, role, mine[0].start, mine[-1].end,
                                        " ".join(w["word"].strip() for w in ws), language))
    if rec.transcript_path:  # the user's words win; Whisper gives times and speakers
        from voli.asr.user_transcripts import adopt_user_words, read_user_transcript

        utterances, word_rows = adopt_user_words(read_user_transcript(rec.transcript_path, speakers), word_rows,
                                                 speakers, language)
    if textgrid_dir is not None:
        rows = [(u.speaker_id, "utterances", u.start, u.end, u.text) for u in utterances]
        rows += [(w.speaker_id, "words", w.start, w.end, w.word) for w in word_rows if w.end > w.start]
        tiers = {name: sequential(iv) for name, iv in speaker_tiers(rows).items()}  # Whisper's times can overlap
        write_textgrid(Path(textgrid_dir) / f"{rec.recording_id}.TextGrid", tiers, duration_s=rec.duration_s)
    if rec.transcript_path:
        summary["method"] = "user transcript"
    summary = SpeakerSummary(recording_id=rec.recording_id, speech_s=round(speech_s, 3), **summary)
    return {"utterances": to_table(utterances, Utterance), "words": to_table(word_rows, Word),
            "speaker_summary": to_table([summary], SpeakerSummary)}
