"""Praat TextGrids: reading users' files and writing voli's (via praatio).

voli writes the Montreal Forced Aligner layout, a group of tiers per speaker::

    <speaker> - utterances   one interval per utterance (transcript text)
    <speaker> - words
    <speaker> - phones

Utterances are per speaker because speakers overlap in interviews and a
Praat interval tier cannot hold overlapping intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from voli.errors import CorpusError

TIER_KINDS = ("utterances", "words", "phones")


@dataclass(frozen=True)
class Interval:
    start: float  # s
    end: float  # s
    label: str


def read_textgrid(path: str | Path):
    """Open a TextGrid with praatio; malformed files raise :class:`CorpusError`.

    Returns a ``praatio`` Textgrid (``.tiers``, ``.minTimestamp``, ``.maxTimestamp``).
    """
    from praatio import textgrid
    from praatio.utilities.errors import PraatioException

    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: TextGrid not found")
    try:
        return textgrid.openTextgrid(str(path), includeEmptyIntervals=False, duplicateNamesMode="error")
    except (PraatioException, ValueError, IndexError, KeyError, UnicodeError) as err:
        detail = str(err).strip().splitlines()
        detail = detail[0] if detail else type(err).__name__
        raise CorpusError(
            f"{path}: not a readable TextGrid ({detail}); open it in Praat and save it again "
            "(Save as text file), or fix the reported interval"
        ) from err


def check_intervals(tier_name: str, intervals: Iterable[Interval], *, source: str = "",
                    fix: str = "an interval tier cannot hold overlaps") -> list[Interval]:
    """Sort intervals and reject empty or overlapping ones, naming both; ``fix`` ends the overlap's message."""
    where = f"{source}: " if source else ""
    items = sorted(intervals, key=lambda iv: (iv.start, iv.end))
    for iv in items:
        if not iv.end > iv.start:
            raise CorpusError(f"{where}tier {tier_name!r}: interval {iv.label!r} has end {iv.end:.4f} s <= start {iv.start:.4f} s")
    for a, b in zip(items, items[1:]):
        if b.start < a.end - 1e-9:
            raise CorpusError(
                f"{where}tier {tier_name!r}: intervals {a.label!r} ({a.start:.3f}-{a.end:.3f} s) and "
                f"{b.label!r} ({b.start:.3f}-{b.end:.3f} s) overlap; {fix}"
            )
    return items


def write_textgrid(path: str | Path, tiers: dict[str, list[Interval]], *, duration_s: float) -> Path:
    """Write interval tiers, in the given order, as a long-format TextGrid.

    Gaps between intervals become empty intervals, as Praat expects. Written
    atomically; raises :class:`CorpusError` on overlapping intervals or an
    interval past ``duration_s``.
    """
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    from voli.io.tables import atomic_path

    path = Path(path)
    duration_s = float(duration_s)  # a numpy float would be written as "np.float64(...)"
    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=duration_s)
    for name, intervals in tiers.items():
        # times to the microsecond: floating-point sums must not make touching intervals overlap
        rounded = [Interval(round(float(iv.start), 6), round(float(iv.end), 6), str(iv.label)) for iv in intervals]
        items = check_intervals(name, rounded, source=str(path))
        if items and items[-1].end > duration_s + 1e-6:
            raise CorpusError(f"{path}: tier {name!r} ends at {items[-1].end:.3f} s, after the audio's {duration_s:.3f} s")
        entries = [(iv.start, iv.end, iv.label) for iv in items]
        tg.addTier(IntervalTier(name, entries, 0.0, duration_s))
    with atomic_path(path) as tmp:
        tg.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return path


def sequential(intervals: list[Interval], *, min_s: float = 0.001) -> list[Interval]:
    """Make overlapping intervals (e.g. ASR word times) sequential: each starts where the one
    before ends, and lasts at least ``min_s``. For display tiers, not for measurements."""
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: (i.start, i.end)):
        start = max(iv.start, out[-1].end) if out else iv.start
        out.append(Interval(start, max(iv.end, start + min_s), iv.label))
    return out


def speaker_tiers(rows: Iterable[tuple[str, str, float, float, str]]) -> dict[str, list[Interval]]:
    """(speaker_id, kind, start, end, label) rows -> MFA-style tiers, grouped by speaker.

    ``kind`` is one of ``utterances``, ``words``, ``phones``.
    """
    grouped: dict[str, dict[str, list[Interval]]] = {}
    for speaker, kind, start, end, label in rows:
        if kind not in TIER_KINDS:
            raise ValueError(f"tier kind {kind!r} is not one of {TIER_KINDS}")
        grouped.setdefault(speaker, {k: [] for k in TIER_KINDS})[kind].append(Interval(start, end, label))
    tiers = {}
    for speaker in sorted(grouped):
        for kind in TIER_KINDS:
            if grouped[speaker][kind]:
                tiers[f"{speaker} - {kind}"] = grouped[speaker][kind]
    return tiers
