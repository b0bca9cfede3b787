"""Small helpers of the report: tests on tables, numbers for people, and a table's cells for the template."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


def has(frame, *columns) -> bool:
    """Whether ``frame`` has rows and every one of ``columns``."""
    return frame is not None and len(frame) > 0 and all(c in frame.columns for c in columns)


def filled(value) -> bool:
    return value is not None and value == value and str(value) != ""


def safe_name(name: str) -> str:
    """A name usable as a file name or an HTML id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "x"


def fmt_number(x) -> str:
    """Numbers for people: 3 significant digits, thousands without exponent, NaN as blank."""
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(v):
        return ""
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):d}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_p(p) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "?"
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}".rstrip("0").rstrip(".") if p < 0.1 else f"{p:.2f}"


def to_float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cell(value) -> str:
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return str(value)


def table_view(frame, name: str, *, max_rows: int | None = None) -> dict:
    """A DataFrame as the ``table`` macro draws it: header, cells as text (numbers rounded), numeric columns.

    ``numeric`` holds the 1-based positions of the number columns (right-aligned); ``total`` is the frame's
    length when only its first ``max_rows`` rows are shown, else None.
    """
    total = len(frame) if max_rows is not None and len(frame) > max_rows else None
    shown = frame.head(max_rows) if total is not None else frame
    columns = []
    for col in shown.columns:
        kind = shown[col].dtype.kind
        if kind in "fiu":
            columns.append([fmt_number(v) for v in shown[col]])
        elif kind == "b":
            columns.append(["yes" if v else "no" for v in shown[col]])
        else:
            columns.append([_cell(v) for v in shown[col]])
    return {"id": f"table-{safe_name(name)}", "header": [str(c) for c in shown.columns],
            "rows": [list(row) for row in zip(*columns)] if columns else [],
            "numeric": [i + 1 for i, col in enumerate(shown.columns) if shown[col].dtype.kind in "fiu"],
            "max_rows": max_rows, "total": total}


def effect_label(r) -> str:
    """What a model row's effect is on: the measure, and for a vowel's models the vowel and language."""
    if r.get("level") == "token" and filled(r.get("vowel")):
        return f"{r['measure']} of /{r['vowel']}/ ({r['language']})"
    return str(r.get("measure"))
