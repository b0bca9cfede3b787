"""User transcripts win: keep the user's words, take only timings and speakers from Whisper.

A user's transcript is aligned to Whisper's words (longest matching runs
of normalised words, difflib). A user word matched to a Whisper word takes its times,
probability and speaker; an unmatched one shares the time between its
matched neighbours. A TextGrid's intervals or an ELAN file's annotations also
fix the speaker (tier ``<speaker>``, ``<speaker> - utterances`` or
``<speaker> - words``) and bound the words' times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from voli import problems
from voli.text import is_filler, normalise_words, strip_punctuation
from voli.io.eaf import read_eaf
from voli.io.textgrid import Interval, read_textgrid
from voli.schema import RecordingSpeaker, Utterance, Word


@dataclass(frozen=True)
class UserSpan:
    start: float | None  # s; None for a plain-text transcript
    end: float | None
    speaker_id: str | None
    words: list[str]


def read_user_transcript(path: str | Path, speakers: list[RecordingSpeaker]) -> list[UserSpan]:
    """A .txt (one span, no times), or a TextGrid or ELAN .eaf (one span per labelled interval or
    annotation of a speaker's tier)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".textgrid":
        tiers = {}
        for tier in read_textgrid(path).tiers:
            if tier.tierType == "IntervalTier":
                tiers[tier.name] = [Interval(e.start, e.end, e.label) for e in tier.entries]
            else:
                problems.report("transcript_tier_ignored", f"{path}: tier {tier.name!r} is a point tier and is not "
                                "read: voli reads the words of interval tiers")
    elif suffix == ".eaf":
        tiers = read_eaf(path)
    else:
        text = path.read_bytes().decode("utf-8-sig")
        text = re.sub(r"^\s*[A-Za-z0-9_.-]+\s*:\s*", "", text, flags=re.M)  # "S01: ..." speaker labels
        return [UserSpan(None, None, None, text.split())]
    return _speaker_spans(path, tiers, {s.speaker_id for s in speakers})


def _speaker_spans(path: Path, tiers: dict[str, list[Interval]], known: set[str]) -> list[UserSpan]:
    """The labelled intervals of the tiers named for a speaker, in time order; other tiers are
    reported (``transcript_tier_ignored``), a phones tier silently."""
    spans = []
    for name, intervals in tiers.items():
        speaker, _, kind = name.partition(" - ")
        if speaker not in known or (kind and kind not in ("utterances", "words")):
            if kind not in ("phones",):  # a phones tier is expected to go unread
                problems.report("transcript_tier_ignored", f"{path}: tier {name!r} is not read: voli reads tiers "
                                f"named '<speaker> - utterances' or '<speaker> - words' for this recording's speakers "
                                f"({', '.join(sorted(known))}); rename the tier to keep its words")
            continue
        if kind == "words" and (f"{speaker} - utterances" in tiers or speaker in tiers):
            continue  # the utterance tier carries the same words
        for iv in intervals:
            if iv.label.strip():
                spans.append(UserSpan(iv.start, iv.end, speaker, iv.label.split()))
    return sorted(spans, key=lambda s: s.start)


def adopt_user_words(spans: list[UserSpan], hyp: list[Word], speakers: list[RecordingSpeaker],
                     language: str) -> tuple[list[Utterance], list[Word]]:
    """Words and utterances with the user's words, Whisper's times and speakers where they match."""
    roles = {s.speaker_id: s.role for s in speakers}
    hyp = sorted(hyp, key=lambda w: w.start)
    words: list[Word] = []
    utterances: list[Utterance] = []
    rid = hyp[0].recording_id if hyp else ""
    for span in spans:
        pool = hyp if span.start is None else [w for w in hyp if w.end > span.start and w.start < span.end]
        user = [w for w in span.words if normalise_words(w)]
        matched = _match([" ".join(normalise_words(u)) for u in user], [" ".join(normalise_words(h.word)) for h in pool])
        placed: list[Word | None] = [None] * len(user)
        for i, token in enumerate(user):
            if i in matched:
                h = pool[matched[i]]
                placed[i] = replace(h, word=strip_punctuation(token), is_filler=is_filler(token, language))
        _fill_gaps(placed, user, span, pool, language, roles)
        for w in placed:
            if span.speaker_id is not None:
                w = replace(w, speaker_id=span.speaker_id, role=roles.get(span.speaker_id, w.role), speaker_confidence=1.0)
            words.append(w)
    # utterances: runs of words of one speaker that Whisper also heard as one utterance
    groups: list[list[Word]] = []
    for w in words:
        if groups and w.speaker_id == groups[-1][-1].speaker_id and w.utterance_id == groups[-1][-1].utterance_id:
            groups[-1].append(w)
        else:
            groups.append([w])
    out: list[Word] = []
    for n, group in enumerate(groups):
        uid = f"{rid}-{n:06d}"
        utterances.append(Utterance(uid, rid, group[0].speaker_id, group[0].role, group[0].start, group[-1].end,
                                    " ".join(w.word for w in group), language))
        out.extend(replace(w, utterance_id=uid) for w in group)
    return utterances, out


def _match(user: list[str], hyp: list[str]) -> dict[int, int]:
    """Index pairs of identical words in order (difflib: fast enough for hours of speech)."""
    import difflib

    blocks = difflib.SequenceMatcher(None, user, hyp, autojunk=False).get_matching_blocks()
    return {b.a + k: b.b + k for b in blocks for k in range(b.size)}


def _fill_gaps(placed, user, span, pool, language, roles):
    """Give unmatched user words the time between their matched neighbours, shared evenly."""
    n = len(placed)
    i = 0
    template = next((w for w in placed if w is not None), pool[0] if pool else None)
    while i < n:
        if placed[i] is not None:
            i += 1
            continue
        j = i
        while j < n and placed[j] is None:
            j += 1
        left = placed[i - 1].end if i > 0 else (span.start if span.start is not None else (pool[0].start if pool else 0.0))
        right = placed[j].start if j < n else (span.end if span.end is not None else (pool[-1].end if pool else left + 0.3 * (j - i)))
        right = max(right, left + 0.02 * (j - i))
        step = (right - left) / (j - i)
        for k in range(i, j):
            base = template if template is not None else Word("", "", span.speaker_id or "unknown",
                                                                roles.get(span.speaker_id, "unknown"), 0, 0, "", None, False, language)
            placed[k] = replace(base, start=left + (k - i) * step, end=left + (k - i + 1) * step,
                                word=strip_punctuation(user[k]), probability=None, is_filler=is_filler(user[k], language))
        i = j
