"""voli anonymize: pseudonyms for speakers, masks for names, silence in the audio."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voli.anonymize import MASK, masked_words
from voli.workdir import Workdir, dirname


def test_proper_nouns_inside_sentences_are_found():
    words = pd.DataFrame({"utterance_id": ["u1"] * 6 + ["u2"] * 3, "start": np.arange(9.0),
                          "word": ["Je", "travaille", "à", "Lyon", "avec", "Marie.", "Yes,", "I", "do."],
                          "is_filler": [False] * 9})
    masked = masked_words(words, {"marie"})
    assert words.word[masked].tolist() == ["Lyon", "Marie."]  # "Je" starts the sentence, "I" is no name


def _texts(out: Path):
    """Every text the copy holds: parquet string cells, TextGrids, ELAN files, CSVs and the report (images out)."""
    for path in sorted(out.rglob("*")):
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
            yield path, " ".join(" ".join(map(str, table[c].dropna())) for c in table.columns
                                 if table[c].dtype == object or str(table[c].dtype) in ("str", "string"))
        elif path.suffix in (".TextGrid", ".eaf", ".csv", ".html"):
            yield path, re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_anonymized_copy_has_no_speaker_ids_or_listed_names(profiled, tmp_path):
    from voli.cli import main

    _, work, corpus = profiled
    words = pd.read_parquet(Workdir(work).table("align", "words"))
    stripped = words.word.str.strip(" .,?!").str.lower()
    once = stripped[(stripped.str.len() >= 6) & ~stripped.duplicated(keep=False)]
    name = once.iloc[0]  # a word said once: it plays a person's name
    names = tmp_path / "names.txt"
    names.write_text(f"# people and places\n{name}\n", encoding="utf-8")
    out = tmp_path / "shared"
    assert main(["anonymize", str(corpus), "--workdir", str(work), "--names", str(names), "--out", str(out),
                 "--mask-audio", "-q"]) == 0
    speakers = pd.read_csv(corpus / "speakers.csv").speaker_id.tolist()
    key = pd.read_csv(tmp_path / "shared_speaker_map.csv")
    assert sorted(key.speaker_id) == sorted(speakers) and not (out / "shared_speaker_map.csv").exists()
    checked = 0
    for path, text in _texts(out):
        leaked = [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", text)]
        assert not leaked, (path, leaked)
        if dirname("profile") not in path.parts and dirname("prepare") not in path.parts:  # survey values may name places
            assert name not in text.lower(), path
        checked += 1
    assert checked > 30
    shared = pd.read_parquet(Workdir(out).table("align", "words"))
    (row,) = words.index[stripped == name]
    assert shared.word[row] == MASK
    # the word is silent in the shared audio, and speech around it is kept
    rec, start, end = words.loc[row, ["recording_id", "start", "end"]]
    audio, rate = sf.read(out / "audio" / f"{rec}.flac", always_2d=True)
    assert np.abs(audio[int(start * rate) + 1: int(end * rate)]).max() == 0
    assert np.abs(audio).max() > 0.1
    assert Workdir(out).report().is_file()
    eafs = [sorted((Workdir(w).stage("align") / "eaf").glob("*.eaf")) for w in (out, work)]
    assert len(eafs[0]) == len(eafs[1]) > 0


def test_failure_and_problem_messages_lose_speaker_ids_and_paths():
    """Messages that name speakers and files (a TextGrid tier not read) are shared pseudonymised."""
    from voli.anonymize import _scrub

    message = "/home/ana/corpus/transcripts/r1.TextGrid: tier 'S01 - x' is not read; speakers are INT_FR, S01"
    assert _scrub(message, {"S01": "S02", "INT_FR": "S01"}) == \
        "r1.TextGrid: tier 'S02 - x' is not read; speakers are S01, S02"  # one pass: no ID renamed twice
