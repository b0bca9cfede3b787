"""CSV reading with errors a spreadsheet user can act on.

Corpus tables come from Excel or LibreOffice exports: they may carry a byte
order mark, use ';' as separator (French and Spanish locales), or be saved in
a legacy encoding. Every row keeps its line number for error messages.

Survey typing, in one place (the profile, ``voli query`` and ``voli browse`` read the same types).
Types come from ``<corpus>/survey.yaml`` when it exists (the format of the simulator's spec)::

    attributes:
      gender: {levels: [woman, man]}                      # categorical; the first level is the reference
      education: {levels: [primary, secondary, bachelor, master], ordered: true}   # ordinal
      age: {range: [18, 80]}                              # numeric (values outside the range are errors)
      income: {numeric: true, log: true}                  # numeric, no range; modelled as log(income)
      country: {levels: [France, Brazil, Venezuela], reference: France}   # the level the others are compared with
    controls: [gender, age]          # adjusted for in the model of every other attribute (with the profile config's)
    interactions: [education:gender] # the attribute's effect may differ by the control's level

and are inferred otherwise: a column whose every filled cell is a number is numeric, any other
is categorical with its levels in order of first appearance. Empty cells and the usual codes
(NA, n/a, -, ...) are missing values; "12,500" reads as twelve thousand five hundred, "3,5" as 3.5. survey.yaml may declare only some
columns; the rest are inferred. Empty cells are missing values (interviewers usually have none).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

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


# -- survey typing --------------------------------------------------------------------------------
ENROLMENT_COLUMN = "enrolment"  # speakers.csv: optional path of a clip of the speaker alone, for telling voices apart
NOT_ATTRIBUTES = ("speaker_id", ENROLMENT_COLUMN)  # speakers.csv columns that describe no social position


@dataclass(frozen=True)
class AttributeType:
    name: str
    kind: str  # "categorical", "ordinal" or "numeric"
    levels: tuple[str, ...] = ()  # categorical and ordinal, in order (the first is the reference)
    range: tuple[float, float] | None = None
    declared: bool = False  # from survey.yaml, not inferred
    reference: str | None = None  # categorical: the level the others are compared with (default: the first declared,
    # or the most frequent when inferred)
    log: bool = False  # numeric: modelled as its natural log (incomes)

    @property
    def ordered(self) -> bool:
        return self.kind == "ordinal"

    def position(self, value) -> float | None:
        """x for a per-unit effect: the number minus the range's low end, or an ordered level's
        rank; None for a categorical attribute (its effects are per level)."""
        if self.kind == "numeric":
            return float(value) - (self.range[0] if self.range else 0.0)
        if self.ordered:
            return float(self.levels.index(value))
        return None

    def describe(self) -> str:
        if self.kind == "numeric":
            return "numeric" + (f" {self.range[0]:g}-{self.range[1]:g}" if self.range else "")
        return f"{self.kind}: " + " < ".join(self.levels) if self.kind == "ordinal" else f"categorical: {', '.join(self.levels)}"


def parse_attributes(attrs, source: str, columns: list[str] | None = None,
                     error: type[Exception] = CorpusError) -> dict[str, AttributeType]:
    """The ``attributes:`` block of survey.yaml (and of the simulator's spec and the power design,
    which share its format), checked: name -> :class:`AttributeType`. ``columns``: the
    speakers.csv columns an attribute must be one of (None: any name). Errors name ``source``."""
    if not isinstance(attrs, dict):
        raise error(f"{source}: expected 'attributes:' with one entry per speakers.csv column")
    out = {}
    for name, spec in attrs.items():
        name = str(name)
        if columns is not None and name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; speakers.csv has {', '.join(columns)}"
            raise error(f"{source}: attribute {name!r} is not a column of speakers.csv{hint}")
        spec = spec or {}
        if not isinstance(spec, dict):
            raise error(f"{source}: attribute {name!r}: expected a mapping such as {{levels: [a, b]}}, got {spec!r}")
        unknown = set(spec) - {"levels", "ordered", "range", "numeric", "reference", "log"}
        if unknown:
            raise error(f"{source}: attribute {name!r}: unknown key(s) {', '.join(sorted(unknown))}; use levels, "
                        "ordered, reference, range, numeric, log")
        if "levels" in spec:
            kind = "ordinal" if spec.get("ordered") else "categorical"
            levels = tuple(str(v) for v in spec["levels"])
            reference = spec.get("reference")
            if reference is not None and str(reference) not in levels:
                raise error(f"{source}: attribute {name!r}: reference {reference!r} is not one of its levels "
                            f"{', '.join(levels)}")
            if spec.get("log"):
                raise error(f"{source}: attribute {name!r}: 'log' applies to numbers, not to levels")
            out[name] = AttributeType(name, kind, levels, declared=True,
                                      reference=None if reference is None else str(reference))
        elif "range" in spec:
            try:
                lo, hi = (float(x) for x in spec["range"])
            except (TypeError, ValueError):
                raise error(f"{source}: attribute {name!r}: range should be [low, high], got {spec['range']!r}") from None
            out[name] = AttributeType(name, "numeric", range=(lo, hi), declared=True, log=bool(spec.get("log")))
        elif spec.get("numeric"):
            out[name] = AttributeType(name, "numeric", declared=True, log=bool(spec.get("log")))
        else:
            raise error(f"{source}: attribute {name!r} needs 'levels: [...]' (add 'ordered: true' for an "
                        "ordinal scale), 'range: [low, high]' or 'numeric: true'")
    return out


def _declared(path: Path, columns: list[str]) -> dict[str, AttributeType]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise CorpusError(f"{path}: cannot read the survey types ({err})") from err
    attrs = data.get("attributes", data) if isinstance(data, dict) else data
    return parse_attributes(attrs, str(path), columns)


MISSING = frozenset({"na", "n/a", "nan", "-", ".", "?", "none", "null", "missing"})  # cells read as empty
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 12,500 or 1,250,000.5
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")  # 3,5 (French, Spanish, Portuguese spreadsheets)


def _cell(text) -> str:
    """A cell's text, '' when empty or a missing-value code (NA, n/a, -, ...)."""
    text = "" if text is None else str(text).strip()
    return "" if text.lower() in MISSING else text


def _number(text: str) -> float | None:
    """The number in a cell, or None. "12,500" is twelve thousand five hundred; "3,5" is three and a half."""
    if not text:
        return None
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    try:
        x = float(text)
    except ValueError:
        return None
    return x if np.isfinite(x) else None


def attribute_types(corpus_dir: Path, speakers) -> dict[str, AttributeType]:
    """The type of every attribute column of ``speakers`` (a DataFrame of speakers.csv, as strings)."""
    columns = [c for c in speakers.columns if c not in NOT_ATTRIBUTES]
    path = Path(corpus_dir) / "survey.yaml"
    types = _declared(path, columns) if path.is_file() else {}
    for name in columns:
        if name in types:
            continue
        filled = [v for v in (_cell(x) for x in speakers[name].fillna("")) if v]
        if filled and all(_number(v) is not None for v in filled):
            types[name] = AttributeType(name, "numeric")
        else:
            types[name] = AttributeType(name, "categorical", tuple(dict.fromkeys(filled)))
    return {name: types[name] for name in columns}


def survey_table(corpus_dir: Path, speakers, types: dict[str, AttributeType]):
    """speakers.csv with typed columns: numbers as floats, levels checked. Errors name the speaker and value."""
    import pandas as pd

    source = Path(corpus_dir) / "speakers.csv"
    out = pd.DataFrame({"speaker_id": speakers["speaker_id"].astype(str)})
    for name, t in types.items():
        cells = pd.Series([_cell(x) for x in speakers[name].fillna("")], index=speakers.index)
        if t.kind == "numeric":
            values = []
            for sid, cell in zip(out.speaker_id, cells):
                x = _number(cell)
                if cell and x is None:
                    raise CorpusError(f"{source}: speaker {sid}, column {name!r}: {cell!r} is not a number "
                                      "(numbers only, e.g. 42 or 3.5; leave the cell empty when unknown)")
                if x is not None and t.range and not t.range[0] <= x <= t.range[1]:
                    raise CorpusError(f"{source}: speaker {sid}, column {name!r}: {x:g} is outside the declared "
                                      f"range {t.range[0]:g}-{t.range[1]:g} (survey.yaml)")
                values.append(np.nan if x is None else x)
            out[name] = np.array(values, dtype=float)
        else:
            for sid, cell in zip(out.speaker_id, cells):
                if cell and cell not in t.levels:
                    close = difflib.get_close_matches(cell, t.levels, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise CorpusError(f"{source}: speaker {sid}, column {name!r}: {cell!r} is not one of the levels "
                                      f"{', '.join(t.levels)} declared in survey.yaml{hint}")
            out[name] = pd.Categorical(cells.where(cells != "", None), categories=list(t.levels),
                                       ordered=t.kind == "ordinal")
    return out


def encode(values, t: AttributeType):
    """Model-ready values: numbers as they are, ordinal levels as ranks 0, 1, ..., categorical as labels."""
    if t.kind == "numeric":
        return values.astype(float)
    if t.kind == "ordinal":
        return values.cat.codes.replace(-1, np.nan).astype(float)
    return values.astype(object)


def model_options(corpus_dir: Path) -> dict:
    """survey.yaml's ``controls`` and ``interactions`` (lists; empty when absent)."""
    path = Path(corpus_dir) / "survey.yaml"
    if not path.is_file():
        return {"controls": (), "interactions": ()}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise CorpusError(f"{path}: cannot read the survey types ({err})") from err
    if not isinstance(data, dict) or "attributes" not in data:
        return {"controls": (), "interactions": ()}
    out = {}
    for key in ("controls", "interactions"):
        value = data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise CorpusError(f"{path}: {key} should be a list, e.g. {key}: [gender]")
        out[key] = tuple(str(v) for v in value)
    return out
