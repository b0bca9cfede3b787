"""Praat files for linguists: PitchTiers of the F0 tracks, and TextGrids with a formant point tier."""

from __future__ import annotations

from pathlib import Path

from voli.io.tables import atomic_path


def write_pitch_tier(path: Path, times, values, *, xmin: float, xmax: float) -> Path:
    """A Praat PitchTier (text format) with one point per voiced frame."""
    lines = ['File type = "ooTextFile"', 'Object class = "PitchTier"', "",
             f"xmin = {xmin:.6f} ", f"xmax = {xmax:.6f} ", f"points: size = {len(times)} "]
    for k, (t, v) in enumerate(zip(times, values), start=1):
        lines += [f"points [{k}]:", f"    number = {t:.6f} ", f"    value = {v:.4f} "]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def pitch_tier_name(recording_id: str, speaker_id: str) -> str:
    return f"{recording_id}__{speaker_id}.PitchTier"


def write_pitch_tiers(directory: Path, rec, f0_rows) -> list[Path]:
    """One PitchTier per speaker of the recording: ``<recording>__<speaker>.PitchTier``."""
    by_speaker: dict[str, list] = {}
    for r in f0_rows:
        if r.f0_hz is not None:
            by_speaker.setdefault(r.speaker_id, []).append((r.time, r.f0_hz))
    paths = []
    for speaker, points in sorted(by_speaker.items()):
        points = sorted(dict(points).items())  # one value per time (overlapping utterance pads)
        paths.append(write_pitch_tier(Path(directory) / pitch_tier_name(rec.recording_id, speaker),
                                      [t for t, _ in points], [v for _, v in points], xmin=0.0, xmax=rec.duration_s))
    return paths


def write_formant_textgrid(path: Path, alignment_textgrid: Path, vowels) -> Path:
    """The alignment's TextGrid plus a ``<speaker> - formants`` point tier per speaker.

    Each point sits at a vowel's midpoint and reads ``phone F1 F2 F3`` (Hz, chosen ceiling), so a
    linguist can check measurements against the spectrogram in Praat.
    """
    from praatio import textgrid
    from praatio.data_classes.point_tier import PointTier

    grid = textgrid.openTextgrid(str(alignment_textgrid), includeEmptyIntervals=True)
    by_speaker: dict[str, dict[float, str]] = {}
    for v in vowels:
        if v.f1_50_hz is None or v.f2_50_hz is None:
            continue
        f3 = f"{v.f3_50_hz:.0f}" if v.f3_50_hz is not None else "--"
        by_speaker.setdefault(v.speaker_id, {})[round(0.5 * (v.start + v.end), 6)] = \
            f"{v.phone} {v.f1_50_hz:.0f} {v.f2_50_hz:.0f} {f3}"
    for speaker, points in sorted(by_speaker.items()):
        grid.addTier(PointTier(f"{speaker} - formants", sorted(points.items()), grid.minTimestamp, grid.maxTimestamp))
    with atomic_path(path) as tmp:
        grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return Path(path)
