"""Who says what in a mixed recording: sentences and questions, the interviewer's role, enrolment
clips, and the voices found by voli.asr.diarize named after the recording's speakers.

An interview has one voice that asks the questions: after the voices are separated
(voli.asr.diarize), enrolment clips name the voices they match, the voice that asks most questions
is the interviewer, and the others are interviewees by talk time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voli import languages
from voli.asr.vad import SAMPLE_RATE as SR
from voli.errors import AudioError
from voli.io.segments import SegmentReader
from voli.schema import RecordingSpeaker
from voli.text import is_filler, normalise_words

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
