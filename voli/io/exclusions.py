"""Tokens a listener has excluded: ``<workdir>/exclusions.csv``.

One row per excluded vowel token, written by ``voli browse`` (or by hand) and read by the
profile stage:

=============  ==========================================================
recording_id   the token's recording
start, end     the token's times in seconds (as in the features stage's vowels.parquet; end may be empty)
phone          the token's phone
word           the word it belongs to (for the reader; not matched)
speaker_id     who says it (for the reader; not matched)
reason         free text: why it was excluded
excluded_at    when, ISO 8601 in UTC
=============  ==========================================================

A token matches a row on recording_id, start rounded to the millisecond and phone, so a
re-run of the features stage that keeps the alignment keeps the exclusions.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from voli.errors import VoliError
from voli.io.tables import atomic_path

FILENAME = "exclusions.csv"
COLUMNS = ("recording_id", "start", "end", "phone", "word", "speaker_id", "reason", "excluded_at")
KEY = ("recording_id", "start_ms", "phone")  # what a token is matched on


def exclusions_path(workdir: str | os.PathLike) -> Path:
    """``<workdir>/exclusions.csv``."""
    return Path(workdir) / FILENAME


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("start", "end") else "object") for c in COLUMNS})


def read_exclusions(workdir: str | os.PathLike) -> pd.DataFrame:
    """The excluded tokens, one row each (an empty table when there is no file).

    Raises
    ------
    VoliError
        If the file lacks a column or a start/end is not a number; the message names the line.
    """
    path = exclusions_path(workdir)
    if not path.is_file():
        return _empty()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as err:
        raise VoliError(f"{path}: cannot read it as UTF-8 CSV ({err}); fix the file or delete it "
                        "(it only lists excluded tokens)") from err
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise VoliError(f"{path}: missing column(s) {', '.join(missing)}; the header must be {','.join(COLUMNS)}")
    frame = frame[list(COLUMNS)].copy()
    for col in ("start", "end"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & ((frame[col].str.strip() != "") | (col == "start"))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise VoliError(f"{path}, line {i + 2}: {col} {frame[col].iloc[i]!r} is not a number of seconds; "
                            "write the token's time as in vowels.parquet (e.g. 1.049)")
        frame[col] = values.astype("float64")
    for col in ("recording_id", "phone"):
        empty = frame[col].str.strip() == ""
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise VoliError(f"{path}, line {i + 2}: {col} is empty; every excluded token needs its recording_id and phone")
    return frame.reset_index(drop=True)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "recording_id": frame["recording_id"].astype(str).to_numpy(),
        "start_ms": np.round(frame["start"].to_numpy(dtype="float64") * 1000).astype("int64"),
        "phone": frame["phone"].astype(str).to_numpy(),
    })


def _key_tuples(frame: pd.DataFrame) -> list[tuple]:
    return list(_keys(frame).itertuples(index=False, name=None))


def _write(workdir: str | os.PathLike, frame: pd.DataFrame) -> Path:
    path = exclusions_path(workdir)
    with atomic_path(path) as tmp:
        frame[list(COLUMNS)].to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL, encoding="utf-8")
    return path


def add_exclusion(workdir: str | os.PathLike, row: dict) -> pd.DataFrame:
    """Exclude one token; ``row`` holds at least recording_id, start and phone (the other columns
    may be left out; excluded_at defaults to now). A token already listed gets the new reason.
    Returns the table as written."""
    missing = [c for c in ("recording_id", "start", "phone") if c not in row or pd.isna(row[c]) or str(row[c]) == ""]
    if missing:
        raise VoliError(f"cannot exclude a token without {', '.join(missing)}; give the token's row from vowels.parquet")
    try:
        start = float(row["start"])
        end = float(row["end"]) if row.get("end") not in (None, "") else np.nan
    except (TypeError, ValueError) as err:
        raise VoliError(f"token start/end {row.get('start')!r}/{row.get('end')!r} are not numbers of seconds") from err
    new = {
        "recording_id": str(row["recording_id"]), "start": start, "end": end, "phone": str(row["phone"]),
        "word": str(row.get("word") or ""), "speaker_id": str(row.get("speaker_id") or ""),
        "reason": str(row.get("reason") or ""),
        "excluded_at": str(row.get("excluded_at") or datetime.now(UTC).isoformat(timespec="seconds")),
    }
    key = _key_tuples(pd.DataFrame([new]))[0]
    frame = read_exclusions(workdir)
    frame = frame[np.array([k != key for k in _key_tuples(frame)], dtype=bool)]
    frame = pd.concat([frame, pd.DataFrame([new])], ignore_index=True) if len(frame) else pd.DataFrame([new])
    _write(workdir, frame)
    return frame.reset_index(drop=True)


def remove_exclusion(workdir: str | os.PathLike, recording_id: str, start: float, phone: str) -> bool:
    """Take a token off the list (matched as in :func:`apply_exclusions`); False if it was not listed."""
    key = _key_tuples(pd.DataFrame([{"recording_id": recording_id, "start": float(start), "phone": phone}]))[0]
    frame = read_exclusions(workdir)
    same = np.array([k == key for k in _key_tuples(frame)], dtype=bool)
    if not same.any():
        return False
    _write(workdir, frame[~same])
    return True


def apply_exclusions(vowels: pd.DataFrame, exclusions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop the excluded tokens from a vowel table.

    Parameters
    ----------
    vowels : DataFrame
        Tokens with recording_id, start (s) and phone, e.g. the features stage's vowels.parquet.
    exclusions : DataFrame
        :func:`read_exclusions`'s table.

    Returns
    -------
    kept : DataFrame
        ``vowels`` without the matching tokens (index kept).
    n_excluded : int
        How many tokens were dropped.
    """
    if exclusions is None or not len(exclusions) or not len(vowels):
        return vowels, 0
    listed = set(_key_tuples(exclusions))
    hit = np.fromiter((k in listed for k in _key_tuples(vowels)), bool, len(vowels))
    return vowels[~hit], int(hit.sum())
