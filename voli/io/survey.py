"""CSV reading with errors a spreadsheet user can act on.

Corpus tables come from Excel or LibreOffice exports: they may carry a byte
order mark, use ';' as separator (French and Spanish locales), or be saved in
a legacy encoding. Every row keeps its line number for error messages.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

from voli.errors import CorpusError

UTF8_FIX = (
    "save it as UTF-8 (LibreOffice: Save As > Text CSV > Character set 'Unicode (UTF-8)'; "
    "Excel: Save As > 'CSV UTF-8')"
)


@dataclass(frozen=True)
class CsvRow:
    line: int  # 1-based line number in the file (the header is line 1)
    values: dict[str, str]  # column -> stripped cell text ('' when empty)


def read_csv(path: Path, *, required: tuple[str, ...], known: tuple[str, ...] | None = None) -> tuple[list[str], list[CsvRow]]:
    """Read a CSV table, checking its header.

    Parameters
    ----------
    required : columns that must be present.
    known : every column the table may have; ``None`` allows any extra column.
        An unknown column that looks like a misspelt known one is an error.

    Returns
    -------
    (columns, rows)
    """
    if not path.exists():
        raise CorpusError(f"{path}: file not found; every corpus needs {path.name} (see the README, 'Corpus format')")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CorpusError(f"{path}, line {line}: bytes {raw[err.start:err.start + 4]!r} are not UTF-8 text; {UTF8_FIX}") from err
    if not text.strip():
        raise CorpusError(f"{path}: file is empty; it needs a header line with the columns {', '.join(required)}")
    header_line = text.splitlines()[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    if header_line.count("\t") > max(header_line.count(";"), header_line.count(",")):
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    problems = []
    seen = set()
    for col in header:
        if not col:
            problems.append(f"{path}, line 1: a column has an empty name; name it or delete it")
        elif col in seen:
            problems.append(f"{path}, line 1: column {col!r} appears twice; keep one")
        seen.add(col)
    for col in required:
        if col not in header:
            close = difflib.get_close_matches(col, header, n=1, cutoff=0.6)
            hint = f" (is {close[0]!r} a misspelling of it?)" if close else ""
            problems.append(f"{path}, line 1: required column {col!r} is missing{hint}; the header has {header}")
    if known is not None:
        for col in header:
            if col and col not in known:
                close = difflib.get_close_matches(col, known, n=1, cutoff=0.75)
                if close and close[0] not in header:
                    problems.append(f"{path}, line 1: unknown column {col!r}; did you mean {close[0]!r}?")
    if problems:
        raise CorpusError(problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems in the header", problems)
    rows = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) > len(header) and any(v.strip() for v in values[len(header):]):
            problems.append(
                f"{path}, line {line}: {len(values)} cells but the header has {len(header)} columns; "
                f"check for a stray '{delimiter}' in a cell (quote cells that contain it)"
            )
            continue
        cells = [v.strip() for v in values] + [""] * (len(header) - len(values))
        rows.append(CsvRow(line, dict(zip(header, cells))))
    if problems:
        raise CorpusError(problems[0] if len(problems) == 1 else f"{path}: {len(problems)} malformed rows", problems)
    return header, rows
