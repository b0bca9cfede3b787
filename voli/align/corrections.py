"""A linguist's corrections: ``WORKDIR/corrections/<recording_id>.TextGrid`` (or ``.eaf``).

The linguist opens what the align stage wrote (``textgrids/<rid>.TextGrid`` in align's directory, tiers
``<speaker> - utterances|words|phones``), fixes it in Praat or ELAN and saves it under
``corrections/``. Against voli's own alignment of the recording (the one the model gives the
transcript; :func:`compare`), the correction says:

* **words**: the words tiers hold the words as they were said: added, removed, respelt. A new
  word is pronounced by the lexicon, or as written between braces after it (``bonjour {b ɔ̃ ʒ u ʁ}``).
* **locked boundaries**: a word or phone boundary more than ``LOCK_TOLERANCE_S`` from every
  boundary voli wrote for that speaker was moved by hand; the aligner keeps it to the sample and
  realigns only what lies between locked boundaries.
* **phone labels**: a word whose phones were relabelled (same word, same number of phones, other
  labels) keeps the linguist's labels.
* **speakers**: the tier a word is on gives its speaker.

Everything of a corrected recording is ``checked`` downstream.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from voli.errors import CorpusError
from voli.workdir import rel

LOCK_TOLERANCE_S = 0.001  # a boundary moved by more than this was moved by hand
DURATION_TOLERANCE_S = 0.01  # a TextGrid longer or shorter than its recording by more is another recording's
SUFFIXES = (".TextGrid", ".eaf")
_HAND_PRONUNCIATION = re.compile(r"^(?P<word>.*?)\s*\{(?P<phones>[^{}]*)\}\s*$")


@dataclass(frozen=True)
class CorrectedWord:
    speaker_id: str
    start: float  # s
    end: float  # s
    word: str
    hand_phones: tuple[str, ...] | None = None  # the pronunciation given between braces
    phones: tuple[tuple[float, float, str], ...] = ()  # the phones tier's intervals inside the word


@dataclass
class Correction:
    path: Path
    words: list[CorrectedWord]  # in time order
    utterances: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # speaker -> utterance spans


def correction_path(corrections_dir: Path, recording_id: str) -> Path | None:
    """The recording's correction file, or None."""
    found = [Path(corrections_dir) / f"{recording_id}{s}" for s in SUFFIXES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise CorpusError(f"{found[0]} and {found[1]}: two corrections for recording {recording_id!r}; "
                          "keep one of them (voli reads a TextGrid or an ELAN file, not both)")
    return found[0] if found else None


def digest(path: Path | None) -> str | None:
    """The correction's content hash (its recording is redone when this changes)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path is not None else None


def read_correction(path: Path, speakers: list[str], duration_s: float) -> Correction:
    """Read and check a correction: tiers ``<speaker> - utterances|words|phones`` of this
    recording's speakers, no overlapping intervals, the recording's duration."""
    path = Path(path)
    tiers, length = _read_tiers(path)
    last = max((iv[1] for ivs in tiers.values() for iv in ivs), default=0.0)
    length = max(length, last) if length is not None else last  # an ELAN file: only its last annotation is known
    if length > duration_s + DURATION_TOLERANCE_S or (tiers and length < duration_s - DURATION_TOLERANCE_S
                                                      and path.suffix.lower() != ".eaf"):
        raise CorpusError(f"{path}: it lasts {length:.3f} s but the recording lasts {duration_s:.3f} s; this "
                          "correction belongs to another recording or another version of it: start again from "
                          f"this recording's {rel('align', 'textgrids')}/ (or {rel('align', 'eaf')}/) file")
    words_by_speaker: dict[str, list] = {}
    phones_by_speaker: dict[str, list] = {}
    utterances: dict[str, list[tuple[float, float]]] = {}
    for name, intervals in tiers.items():
        speaker, _, kind = name.partition(" - ")
        if speaker not in speakers or kind not in ("utterances", "words", "phones"):
            raise CorpusError(f"{path}: tier {name!r} is not one voli wrote: a correction keeps the tiers "
                              f"'<speaker> - utterances|words|phones' of this recording's speakers "
                              f"({', '.join(sorted(speakers))}); rename or remove it")
        labelled = sorted((a, b, lab.strip()) for a, b, lab in intervals if lab.strip())
        for (a0, b0, l0), (a1, b1, l1) in zip(labelled, labelled[1:]):
            if a1 < b0 - 1e-6:
                raise CorpusError(f"{path}: tier {name!r}: {l0!r} ({a0:.3f}-{b0:.3f} s) and {l1!r} "
                                  f"({a1:.3f}-{b1:.3f} s) overlap; move one boundary so that they follow each other")
        if kind == "words":
            words_by_speaker[speaker] = labelled
        elif kind == "phones":
            phones_by_speaker[speaker] = labelled
        else:
            utterances[speaker] = [(a, b) for a, b, _ in labelled]
    words = []
    for speaker, labelled in words_by_speaker.items():
        phones = phones_by_speaker.get(speaker, [])
        for a, b, label in labelled:
            m = _HAND_PRONUNCIATION.match(label)
            text, hand = (m["word"], tuple(m["phones"].split())) if m else (label, None)
            if hand == ():
                raise CorpusError(f"{path}: tier '{speaker} - words' at {a:.3f} s: {label!r} has empty braces; "
                                  "write the phones between them (e.g. 'bonjour {b ɔ̃ ʒ u ʁ}') or remove them")
            inside = tuple(p for p in phones if p[0] >= a - LOCK_TOLERANCE_S and p[1] <= b + LOCK_TOLERANCE_S)
            words.append(CorrectedWord(speaker, a, b, text.strip() or label, hand, inside))
    return Correction(path, sorted(words, key=lambda w: (w.start, w.speaker_id)), utterances)


def _read_tiers(path: Path) -> tuple[dict[str, list[tuple[float, float, str]]], float | None]:
    """The file's interval tiers ((start, end, label) each) and its duration (None for an ELAN
    file, which does not say it)."""
    if path.suffix.lower() == ".eaf":
        from voli.io.eaf import read_eaf

        tiers = {name: [(iv.start, iv.end, iv.label) for iv in ivs] for name, ivs in read_eaf(path).items()}
        return tiers, None
    from voli.io.textgrid import read_textgrid

    try:
        tg = read_textgrid(path)
    except CorpusError:
        raise
    except Exception as err:  # noqa: BLE001 - praatio's parse errors
        raise CorpusError(f"{path}: not a TextGrid Praat can save ({err}); save it again from Praat "
                          "(Save as text file)") from err
    out = {}
    for name in tg.tierNames:
        tier = tg.getTier(name)
        if not hasattr(tier, "entries") or (tier.entries and len(tier.entries[0]) != 3):
            raise CorpusError(f"{path}: tier {name!r} is a point tier; a correction holds interval tiers only")
        out[name] = [(e.start, e.end, e.label) for e in tier.entries]
    return out, tg.maxTimestamp


@dataclass(frozen=True)
class Lock:
    """A boundary kept where the linguist put it: before phone ``phone`` of word ``word`` (0: the
    word's start; the word's phone count: its end), ``time`` s."""

    word: int
    phone: int
    time: float


def locked_boundaries(correction: Correction, own_words: list, own_phones: list) -> dict[str, list[float]]:
    """Per speaker, the correction's boundaries (words and phones) that are more than
    ``LOCK_TOLERANCE_S`` from every boundary voli wrote for that speaker (own words and phones)."""
    import numpy as np

    own: dict[str, list[float]] = {}
    for x in list(own_words) + list(own_phones):
        own.setdefault(x.speaker_id, []).extend((x.start, x.end))
    out: dict[str, list[float]] = {}
    for w in correction.words:
        ref = np.sort(np.asarray(own.get(w.speaker_id, []), float))
        times = {w.start, w.end} | {t for a, b, _ in w.phones for t in (a, b)}
        for t in sorted(times):
            k = np.searchsorted(ref, t)
            near = min((abs(ref[j] - t) for j in (k - 1, k) if 0 <= j < len(ref)), default=np.inf)
            if near > LOCK_TOLERANCE_S:
                out.setdefault(w.speaker_id, []).append(t)
    return {s: sorted(set(ts)) for s, ts in out.items()}


def word_locks(word_index: int, word: CorrectedWord, n_phones: int, locked: list[float]) -> list[Lock]:
    """The locks that fall on one corrected word pronounced with ``n_phones`` phones: its start,
    its end, and the inner phone boundaries where the correction's phones match the
    pronunciation in number."""
    def is_locked(t: float) -> bool:
        return any(abs(t - x) <= 1e-9 for x in locked)

    locks = []
    if is_locked(word.start):
        locks.append(Lock(word_index, 0, word.start))
    if len(word.phones) == n_phones:
        locks += [Lock(word_index, k, word.phones[k][0]) for k in range(1, n_phones) if is_locked(word.phones[k][0])]
    if is_locked(word.end):
        locks.append(Lock(word_index, n_phones, word.end))
    return locks


def check_lock_order(locks, speaker_id: str, path: Path) -> None:
    """Locked boundaries must keep the order of the words and phones they bound (a word's end moved
    past a phone boundary the linguist left inside the next word cannot be kept)."""
    ordered = sorted(locks, key=lambda lock: (lock.word, lock.phone))
    for a, b in zip(ordered, ordered[1:]):  # equal times are one boundary: a word's end and the next one's start
        if b.time < a.time:
            raise CorpusError(f"{path}: tier '{speaker_id} - words'/'{speaker_id} - phones': the boundary moved to "
                              f"{b.time:.3f} s comes before the one at {a.time:.3f} s that precedes it in the "
                              "transcript; move the words' and the phones' boundaries together so that each "
                              "word's phones stay inside it")
