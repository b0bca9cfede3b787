"""Pseudonymise a work directory for sharing: speaker IDs, names and places, optionally the audio.

``voli anonymize CORPUS --names names.txt`` writes ``<workdir>/anonymized/``, a copy of every stage's
tables and TextGrids in which

* every speaker ID is replaced by a pseudonym (S01, S02, ... in sorted order; the key is written to
  ``speaker_map.csv`` beside the copy: keep it apart from anything shared);
* every word that is on the names list (one name or place per line; case and accents ignored) or
  that looks like a proper noun (capitalised inside a sentence) is replaced by ``[NAME]``, in word
  tables, utterance texts, vowel tables and TextGrids;
* with ``--mask-audio``, the corpus audio is copied with those words silenced (``audio/``);
* the profile report is written again from the pseudonymised tables.

Nothing is changed in the original work directory.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import unicodedata
from pathlib import Path

from voli.errors import VoliError
from voli.workdir import Workdir, dirname

log = logging.getLogger("voli")

MASK = "[NAME]"
_NOT_NAMES = {"i", "i'm", "i've", "i'll", "i'd"}  # capitalised inside English sentences, yet no names
_SENTENCE_END = re.compile(r"[.?!…:]$")


def _key(word: str) -> str:
    text = unicodedata.normalize("NFD", word.strip().strip(".,;:!?¿¡\"'()«»").lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def read_names(path: Path | None) -> set[str]:
    """The names list: one name or place per line (# comments); multi-word entries match each word."""
    if path is None:
        return set()
    path = Path(path)
    if not path.is_file():
        raise VoliError(f"{path}: names list not found; give a text file with one name or place per line")
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        names.update(_key(w) for w in line.split() if _key(w))
    return names


def masked_words(words, names: set[str], *, detect_proper_nouns: bool = True):
    """A boolean Series: which rows of a words table to mask."""
    import pandas as pd

    masked = pd.Series(False, index=words.index)
    for _, group in words.sort_values(["utterance_id", "start"]).groupby("utterance_id", sort=False):
        previous = None
        for idx, word in zip(group.index, group.word.astype(str)):
            text = word.strip()
            key = _key(text)
            if key in names:
                masked[idx] = True
            elif detect_proper_nouns and previous is not None and text[:1].isupper() and key not in _NOT_NAMES \
                    and not _SENTENCE_END.search(previous) and not words.loc[idx].get("is_filler", False):
                masked[idx] = True
            previous = text
    return masked


def anonymize(corpus_dir: Path, workdir: Path, *, names_file: Path | None = None, out: Path | None = None,
              mask_audio: bool = False, detect_proper_nouns: bool = True) -> Path:
    """Write the pseudonymised copy of ``workdir``; returns its directory."""
    import pandas as pd

    workdir, out = Path(workdir), Path(out) if out else Path(workdir) / "anonymized"
    if not Workdir(workdir).stage("prepare").is_dir():
        raise VoliError(f"{workdir}: no voli work directory here ({dirname('prepare')} is missing); "
                        "run `voli run` first")
    names = read_names(names_file)
    speakers = sorted(pd.read_parquet(Workdir(workdir).table("prepare", "speakers")).speaker_id.astype(str))
    pseudonym = {sid: f"S{i + 1:02d}" for i, sid in enumerate(speakers)}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with open(out.parent / f"{out.name}_speaker_map.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["speaker_id", "pseudonym"])
        writer.writerows(sorted(pseudonym.items()))
    # which words to mask: decided per utterance in each words table; the aligned one (first found)
    # also gives the spans to silence
    masked_keys: set[str] = set()
    silence = None
    for stage in ("align", "transcribe"):
        path = Workdir(workdir).table(stage, "words")
        if path.is_file():
            w = pd.read_parquet(path)
            m = masked_words(w, names, detect_proper_nouns=detect_proper_nouns)
            masked_keys.update(_key(x) for x in w.word[m])
            if silence is None:
                silence = w[m][["recording_id", "start", "end"]]
    n_tables = 0
    for path in sorted(workdir.glob("0*_*/**/*.parquet")):
        rel = path.relative_to(workdir)
        if "parts" in rel.parts or rel.parts[0] == out.name:
            continue
        table = pd.read_parquet(path)
        for col in ("speaker_id",):
            if col in table:
                table[col] = table[col].astype(str).map(lambda s: pseudonym.get(s, s))
        if "word" in table:
            table["word"] = [MASK if _key(w) in masked_keys else w for w in table.word.astype(str)]
        if "text" in table:
            table["text"] = [" ".join(MASK if _key(w) in masked_keys else w for w in str(t).split()) for t in table.text]
        for col in ("audio_path", "transcript_path"):  # no home directories
            if col in table:
                table[col] = [Path(p).name if isinstance(p, str) else p for p in table[col]]
        if "traceback" in table:  # a bug's traceback holds paths of this machine: not for sharing
            table["traceback"] = None
        if "message" in table:  # failures and problems name files, and speakers by their IDs
            table["message"] = [_scrub(m, pseudonym) if isinstance(m, str) else m for m in table.message]
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(out / rel, index=False)
        n_tables += 1
    for grid in sorted(workdir.glob("0*_*/textgrids/*.TextGrid")) + sorted(workdir.glob("corrections/*.TextGrid")):
        rel = grid.relative_to(workdir)
        _anonymize_textgrid(grid, out / rel, pseudonym, masked_keys)
    for eaf in sorted(workdir.glob("0*_*/eaf/*.eaf")) + sorted(workdir.glob("corrections/*.eaf")):
        _anonymize_eaf(eaf, out / eaf.relative_to(workdir), pseudonym, masked_keys)
    if mask_audio and silence is not None:
        _mask_audio(workdir, out, silence)
    if Workdir(out).table("profile", "speakers").is_file():
        from voli.profile.report import write_report

        stage_dir = Workdir(out).stage("profile")
        tables = {p.stem: pd.read_parquet(p) for p in sorted(stage_dir.glob("*.parquet")) if p.stem != "failures"}
        write_report(stage_dir, tables, corpus=Path("anonymized corpus"))
    log.info("anonymize: %d tables, %d speakers pseudonymised, %d distinct words masked -> %s",
             n_tables, len(pseudonym), len(masked_keys), out)
    return out


def _anonymize_textgrid(src: Path, dst: Path, pseudonym: dict, masked_keys: set[str]) -> None:
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    grid = textgrid.openTextgrid(str(src), includeEmptyIntervals=True)
    new = textgrid.Textgrid(minTimestamp=grid.minTimestamp, maxTimestamp=grid.maxTimestamp)
    for tier in grid.tiers:
        name = tier.name
        for sid, alias in pseudonym.items():
            if name.startswith(f"{sid} - "):
                name = alias + name[len(sid):]
        entries = []
        for e in tier.entries:
            label = " ".join(MASK if _key(w) in masked_keys else w for w in e.label.split()) if len(e) == 3 else e.label
            entries.append((e.start, e.end, label) if len(e) == 3 else e)
        if isinstance(tier, IntervalTier):
            new.addTier(IntervalTier(name, entries, tier.minTimestamp, tier.maxTimestamp))
        else:
            new.addTier(tier.new(name=name))
    dst.parent.mkdir(parents=True, exist_ok=True)
    new.save(str(dst), format="long_textgrid", includeBlankSpaces=True)


def _anonymize_eaf(src: Path, dst: Path, pseudonym: dict, masked_keys: set[str]) -> None:
    """An ELAN file as _anonymize_textgrid does a TextGrid; the link to the audio is left out (it
    names a path of this machine, and the audio is not shared unless masked)."""
    from voli.io.eaf import read_eaf, write_eaf
    from voli.io.textgrid import Interval

    tiers = {}
    for name, intervals in read_eaf(src).items():
        for sid, alias in pseudonym.items():
            if name.startswith(f"{sid} - ") or name == sid:
                name = alias + name[len(sid):]
        tiers[name] = [Interval(iv.start, iv.end, " ".join(MASK if _key(w) in masked_keys else w for w in iv.label.split()))
                       for iv in intervals]
    write_eaf(dst, tiers)


def _scrub(message: str, pseudonym: dict[str, str]) -> str:
    """A failure's or problem's message with speaker IDs pseudonymised and paths cut to file names."""
    message = re.sub(r"(?<![\w.-])/[^\s:;,()'\"]+", lambda m: Path(m.group(0)).name, message)
    if not pseudonym:
        return message
    ids = "|".join(re.escape(sid) for sid in sorted(pseudonym, key=len, reverse=True))
    return re.sub(rf"(?<![\w-])(?:{ids})(?![\w-])", lambda m: pseudonym[m.group(0)], message)  # one pass


def _mask_audio(workdir: Path, out: Path, rows) -> None:
    """Copy each recording's audio with the masked words' spans silenced (FLAC, the original rate)."""
    import pandas as pd
    import soundfile as sf

    recordings = pd.read_parquet(Workdir(workdir).table("prepare", "recordings"))
    from voli.io.audio import quiet_decoder

    for rec in recordings.itertuples():
        with quiet_decoder(rec.audio_format):
            audio, rate = sf.read(rec.audio_path, always_2d=True)
        for r in rows[rows.recording_id == rec.recording_id].itertuples():
            audio[int(r.start * rate): int(r.end * rate) + 1] = 0.0
        (out / "audio").mkdir(exist_ok=True)
        sf.write(out / "audio" / f"{rec.recording_id}.flac", audio, rate)
