"""TextGrids: MFA layout, rejected overlaps, and proof that the real Praat opens them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from voli.errors import CorpusError
from voli.io.textgrid import Interval, read_textgrid, speaker_tiers, write_textgrid

PRAAT_SCRIPT = Path(__file__).parent / "praat" / "count_tiers.praat"

ROWS = [
    ("INT01", "utterances", 0.10, 1.20, "¿Cuántas horas trabaja?"),
    ("INT01", "words", 0.10, 0.60, "cuántas"),
    ("INT01", "words", 0.60, 1.20, "horas"),
    ("INT01", "phones", 0.10, 0.25, "k"),
    ("INT01", "phones", 0.25, 0.40, "w"),
    ("S05", "utterances", 1.00, 2.50, "eh seis horas"),  # overlaps the interviewer: other tiers
    ("S05", "words", 1.00, 1.40, "eh"),
    ("S05", "words", 1.60, 2.50, "seis"),
]


def praat_tiers(path: Path) -> list[str]:
    out = subprocess.run(["praat", "--run", str(PRAAT_SCRIPT), str(path)], check=True, capture_output=True, text=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert int(lines[0]) == len(lines) - 1
    return lines[1:]


def test_mfa_layout_roundtrip(tmp_path):
    path = write_textgrid(tmp_path / "r.TextGrid", speaker_tiers(ROWS), duration_s=3.0)
    tg = read_textgrid(path)
    assert list(tg.tierNames) == ["INT01 - utterances", "INT01 - words", "INT01 - phones", "S05 - utterances", "S05 - words"]
    words = [(e.start, e.end, e.label) for e in tg.getTier("S05 - words").entries]
    assert words == [(1.0, 1.4, "eh"), (1.6, 2.5, "seis")]
    assert tg.getTier("INT01 - utterances").entries[0].label == "¿Cuántas horas trabaja?"


@pytest.mark.needs("praat")
def test_praat_opens_voli_textgrid(tmp_path):
    path = write_textgrid(tmp_path / "r.TextGrid", speaker_tiers(ROWS), duration_s=3.0)
    assert praat_tiers(path) == ["INT01 - utterances", "INT01 - words", "INT01 - phones", "S05 - utterances", "S05 - words"]


def test_overlap_is_rejected_naming_both_intervals(tmp_path):
    tiers = {"S1 - words": [Interval(0.0, 1.0, "oui"), Interval(0.8, 1.5, "non")]}
    with pytest.raises(CorpusError, match=r"tier 'S1 - words': intervals 'oui' \(0.000-1.000 s\) and 'non' \(0.800-1.500 s\) overlap"):
        write_textgrid(tmp_path / "x.TextGrid", tiers, duration_s=2.0)
    assert not (tmp_path / "x.TextGrid").exists()


def test_interval_past_the_audio_is_rejected(tmp_path):
    with pytest.raises(CorpusError, match="ends at 2.500 s, after the audio's 2.000 s"):
        write_textgrid(tmp_path / "x.TextGrid", {"a": [Interval(1.0, 2.5, "x")]}, duration_s=2.0)


def test_overlapping_user_textgrid_is_a_clear_error(tmp_path):
    path = tmp_path / "user.TextGrid"
    write_textgrid(path, {"S1": [Interval(0.0, 1.0, "a"), Interval(1.0, 2.0, "b")]}, duration_s=2.0)
    text = path.read_text().replace("xmin = 1 ", "xmin = 0.5 ", 1)
    path.write_text(text)
    with pytest.raises(CorpusError, match=r"user.TextGrid: not a readable TextGrid"):
        read_textgrid(path)


def test_numpy_times_are_written_as_numbers(tmp_path):
    import numpy as np

    path = write_textgrid(tmp_path / "n.TextGrid", {"S1": [Interval(np.float64(0.1), np.float64(0.5), "oui")]},
                          duration_s=np.float64(1.25))
    assert "np.float64" not in path.read_text()
    assert read_textgrid(path).maxTimestamp == 1.25
