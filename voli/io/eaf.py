"""ELAN .eaf files: reading users' transcripts and writing voli's alignments (via pympi-ling).

voli writes the tiers of its TextGrids (:mod:`voli.io.textgrid`), each a top-level time-aligned
tier whose participant is the speaker::

    <speaker> - utterances
    <speaker> - words
    <speaker> - phones

and links the recording's audio (absolute URL and relative to the .eaf), so the file opens in ELAN
with its sound. ELAN counts time in whole milliseconds: times are rounded to the millisecond.

Reading gives every tier's annotations as :class:`~voli.io.textgrid.Interval` lists in seconds.
Annotations without times of their own become one interval with the times they hang from, their
labels joined by spaces: those of a referring (symbolic) tier that point to one annotation, and
those chained by time slots that were never aligned (a time subdivision whose inner boundaries
were not set).
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

from voli.errors import CorpusError
from voli.io.textgrid import Interval, check_intervals

SCHEMA = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
OVERLAP_FIX = "ELAN allows no overlapping annotations on a tier: fix their times in ELAN or move one to another tier"
MIME_TYPES = {".wav": "audio/x-wav"}  # ELAN's types; any other audio is "audio/*"


def read_eaf(path: str | Path) -> dict[str, list[Interval]]:
    """The tiers of an ELAN file, in the file's order: tier name -> its annotations, sorted.

    Times are in seconds. Raises :class:`CorpusError` on a file that is not ELAN's XML, on times
    that are not milliseconds, and on overlapping or empty annotations, naming the tier.
    """
    from pympi import Elan

    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: ELAN file not found")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        line, column = err.position
        raise CorpusError(f"{path}: not a readable ELAN file (broken XML at line {line}, column {column}); "
                          "open it in ELAN and save it again") from err
    if root.tag != "ANNOTATION_DOCUMENT":
        raise CorpusError(f"{path}: not an ELAN file (its XML holds <{root.tag}>, not <ANNOTATION_DOCUMENT>)")
    units = next((h.get("TIME_UNITS") for h in root.iter("HEADER")), None) or "milliseconds"
    if units != "milliseconds":
        raise CorpusError(f"{path}: times are in {units}, not milliseconds; open it in ELAN and save it again")
    try:
        eaf = Elan.Eaf(str(path), suppress_version_warning=True)  # versions after 3.0 keep these tiers
    except (KeyError, ValueError, IndexError) as err:
        raise CorpusError(f"{path}: not a readable ELAN file ({type(err).__name__}: {err}); "
                          "open it in ELAN and save it again") from err
    intervals, part_of = {}, {}  # tier -> its intervals; time-aligned annotation ID -> the interval it is in
    for name, (aligned, _, _, _) in eaf.tiers.items():
        intervals[name], of_tier = _aligned_intervals(path, name, aligned, eaf.timeslots)
        part_of.update(of_tier)
    tiers = {}
    for name, (_, referring, _, _) in eaf.tiers.items():
        if referring:
            intervals[name] = _referring_intervals(path, name, referring, eaf, part_of)
        tiers[name] = check_intervals(name, intervals[name], source=str(path), fix=OVERLAP_FIX)
    return tiers


def _aligned_intervals(path: Path, tier: str, aligned: dict, slots: dict) -> tuple[list[Interval], dict[str, Interval]]:
    """A time-aligned tier's intervals, and the interval each annotation is in: a run of annotations
    joined by unaligned time slots is one interval, from the first one's start to the last one's
    end, their labels joined."""
    by_start = {ann[0]: aid for aid, ann in aligned.items()}
    intervals: list[Interval] = []
    times: dict[str, Interval] = {}
    for aid, (start_ts, end_ts, value, _) in aligned.items():
        if slots.get(start_ts) is None:
            continue  # inside a run: placed with the run's first annotation
        run, labels = [aid], [value]
        while slots.get(end_ts) is None:
            nxt = by_start.get(end_ts)
            if nxt is None or len(run) > len(aligned):
                raise CorpusError(f"{path}: tier {tier!r}: annotation {value!r} at {slots[start_ts] / 1000:.3f} s has "
                                  "no end time; align its end in ELAN")
            run.append(nxt)
            end_ts, value = aligned[nxt][1], aligned[nxt][2]
            labels.append(value)
        label = " ".join(x.strip() for x in labels if x and x.strip())
        intervals.append(Interval(slots[start_ts] / 1000, slots[end_ts] / 1000, label))
        times.update((a, intervals[-1]) for a in run)
    lost = [aligned[a][2] for a in aligned if a not in times]
    if lost:
        raise CorpusError(f"{path}: tier {tier!r}: annotation {lost[0]!r} has no start time, nor does any annotation "
                          "before it; align it in ELAN")
    return intervals, times


def _referring_intervals(path: Path, tier: str, referring: dict, eaf, part_of: dict[str, Interval]) -> list[Interval]:
    """A referring tier's annotations grouped by the time-aligned annotation they hang from
    (through any chain of references), in the order ELAN keeps them (PREVIOUS_ANNOTATION)."""
    refers_to = {aid: ann[0] for _, (_, ref, _, _) in eaf.tiers.items() for aid, ann in ref.items()}
    groups: dict[str, list[str]] = {}
    for aid in referring:
        top, steps = referring[aid][0], 0
        while top in refers_to and steps <= len(refers_to):
            top, steps = refers_to[top], steps + 1
        if top not in part_of:
            raise CorpusError(f"{path}: tier {tier!r}: annotation {referring[aid][1]!r} refers to annotation {top!r}, "
                              "which has no times; open the file in ELAN and save it again")
        groups.setdefault(top, []).append(aid)
    out = []
    for top, members in groups.items():
        after = {referring[a][2]: a for a in members if referring[a][2] in members}  # previous -> next
        first = [a for a in members if referring[a][2] not in members]
        order = [first[0]] if len(first) == 1 else []
        while order and order[-1] in after and len(order) < len(members):
            order.append(after[order[-1]])
        if len(order) != len(members):
            order = members  # no single chain: the file's order
        labels = [referring[a][1].strip() for a in order if referring[a][1] and referring[a][1].strip()]
        out.append(Interval(part_of[top].start, part_of[top].end, " ".join(labels)))
    return out


def write_eaf(path: str | Path, tiers: dict[str, list[Interval]], *, media_path: str | Path | None = None,
              duration_s: float | None = None) -> Path:
    """Write interval tiers, in the given order, as time-aligned ELAN tiers (EAF 3.0).

    A tier named ``<speaker> - <level>`` gets the speaker as its participant. ``media_path``, the
    recording's audio, is linked by its absolute URL and its path relative to the file. Written
    atomically; raises :class:`CorpusError` on overlapping or empty intervals (after rounding to
    the millisecond) or, with ``duration_s``, on an interval past the audio's end.
    """
    from pympi import Elan

    from voli.io.tables import atomic_path

    path = Path(path)
    eaf = Elan.Eaf(author="voli")
    eaf.adocument.update({"VERSION": "3.0", "FORMAT": "3.0", "xsi:noNamespaceSchemaLocation": SCHEMA})
    eaf.remove_tier("default")
    eaf.header.update({"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})  # as ELAN writes it
    if media_path is not None:
        media = Path(media_path).resolve()
        try:
            relative = Path(os.path.relpath(media, path.resolve().parent)).as_posix()
        except ValueError:  # another drive (Windows): the absolute URL only
            relative = None
        mime = MIME_TYPES.get(media.suffix.lower(), "audio/*")
        eaf.add_linked_file(media.as_uri(), relpath=relative, mimetype=mime)
    for name, intervals in tiers.items():
        rounded = [Interval(round(float(iv.start), 3), round(float(iv.end), 3), str(iv.label)) for iv in intervals]
        items = check_intervals(name, rounded, source=str(path), fix=OVERLAP_FIX)
        if items and duration_s is not None and items[-1].end > float(duration_s) + 1e-3:
            raise CorpusError(f"{path}: tier {name!r} ends at {items[-1].end:.3f} s, "
                              f"after the audio's {float(duration_s):.3f} s")
        speaker, sep, _ = name.partition(" - ")
        eaf.add_tier(name, part=speaker if sep else None)
        for iv in items:
            eaf.add_annotation(name, round(iv.start * 1000), round(iv.end * 1000), iv.label)
    eaf.properties = [("lastUsedAnnotationId", eaf.maxaid)]
    with atomic_path(path) as tmp:
        ElementTree.ElementTree(Elan.to_adocument(eaf)).write(str(tmp), encoding="UTF-8", xml_declaration=True)
    return path
