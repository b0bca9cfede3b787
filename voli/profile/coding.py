"""How survey attributes become model columns: treatment contrasts against a reference level, an
ordinal's steps, centred numbers, interactions; the same recipe written out in R (:class:`Coding`),
and which attributes the models test (:func:`declared_attributes`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from voli.errors import ConfigError
from voli.io.survey import AttributeType


def _name(*parts: str) -> str:
    """An identifier both R and patsy accept: ASCII letters, digits and underscores."""
    text = "_".join(str(p) for p in parts)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\W+", "_", text).strip("_") or "x"
    return text if text[0].isalpha() else f"x_{text}"


def _r_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Coding:
    """How one attribute becomes model columns: names, labels, and the same recipe in R."""

    attribute: str
    kind: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]  # what each column's coefficient means
    reference: str | None = None  # categorical / ordinal
    levels: tuple[str, ...] = ()
    centre: float | None = None  # numeric: the speakers' mean (of the log with ``log``)
    log: bool = False
    trend: tuple[float, ...] | None = None  # ordinal: weights of the columns giving the per-level slope

    @property
    def ranks(self) -> tuple[str, ...]:
        """Ordinal: the levels in order, one step apart (the trend's scale); () otherwise."""
        return self.levels if self.kind == "ordinal" else ()

    def values(self, raw):
        """The coded columns (a dict of arrays) from the raw survey values (a Series)."""
        if self.kind == "numeric":
            x = raw.astype(float).to_numpy()
            if self.log:
                x = np.log(np.where(x > 0, x, np.nan))
            return {self.columns[0]: x - self.centre}
        text = raw.astype(object)
        missing = text.isna().to_numpy()
        out = {}
        for column, level in zip(self.columns, [lvl for lvl in self.levels if lvl != self.reference]):
            out[column] = np.where(missing, np.nan, (text.astype(str) == level).to_numpy(float))
        return out

    def r_lines(self, frame: str = "speakers") -> list[str]:
        """R code building the same columns in ``frame``."""
        a = f"{frame}[[{_r_string(self.attribute)}]]"
        if self.kind == "numeric":
            x = f"log(ifelse({a} > 0, {a}, NA))" if self.log else f"as.numeric({a})"
            return [f"{frame}${self.columns[0]} <- {x} - mean({x}, na.rm = TRUE)"
                    f"  # {self.attribute}, centred{' (log)' if self.log else ''}"]
        lines = []
        for column, level in zip(self.columns, [lvl for lvl in self.levels if lvl != self.reference]):
            lines.append(f"{frame}${column} <- ifelse(is.na({a}), NA, as.numeric({a} == {_r_string(level)}))"
                         f"  # {self.attribute}: {level} vs {self.reference}")
        return lines

    def describe(self) -> str:
        if self.kind == "numeric":
            return f"{self.attribute}{' (log)' if self.log else ''} centred at {self.centre:.4g}"
        return f"{self.attribute} (reference {self.reference})"


def code_attribute(t: AttributeType, survey) -> Coding | None:
    """The coding of attribute ``t`` over the speakers of ``survey`` (None when it does not vary)."""
    values = survey[t.name]
    if t.kind == "numeric":
        x = values.astype(float)
        log = bool(getattr(t, "log", False))
        if log:
            if (x <= 0).any():
                bad = survey.speaker_id[x <= 0].iloc[0]
                raise ConfigError(f"survey.yaml: {t.name} has 'log: true' but speaker {bad} has "
                                  f"{x[x <= 0].iloc[0]:g}; a log needs positive values (drop 'log' or fix the value)")
            x = np.log(x)
        if x.dropna().nunique() < 2:
            return None
        label = f"per {'log unit' if log else 'unit'} of {t.name}"
        return Coding(t.name, "numeric", (_name(t.name, "c"),), (label,), centre=float(x.mean()), log=log)
    present = [lvl for lvl in t.levels if (values.astype(object) == lvl).any()]
    if len(present) < 2:
        return None
    declared = getattr(t, "reference", None)
    if declared and declared in present:
        reference = declared
    elif t.kind == "ordinal" or t.declared:
        reference = present[0]  # the lowest step; a declared list's first level
    else:  # undeclared: the most frequent level, not whichever row came first in the CSV
        counts = values.astype(object).value_counts()
        reference = max(present, key=lambda lvl: (counts.get(lvl, 0), -present.index(lvl)))
    others = [lvl for lvl in present if lvl != reference]
    columns = tuple(_name(t.name, lvl) for lvl in others)
    if len(set(columns)) < len(columns):
        columns = tuple(_name(t.name, f"l{i + 1}") for i in range(len(others)))
    labels = tuple(f"{lvl} vs {reference}" for lvl in others)
    trend = None
    if t.kind == "ordinal" and len(present) > 2:
        ranks = np.arange(len(present), dtype=float)
        c = ranks - ranks.mean()
        trend = tuple(float(w) for w in (c / np.sum(c ** 2))[1:])  # slope of the level means, per level
    return Coding(t.name, t.kind, columns, labels, reference=reference, levels=tuple(present), trend=trend)


def interaction_columns(codings: dict[str, Coding], interactions) -> list[tuple[str, str, str]]:
    """(product column, attribute column, control column) of each ``"attribute:control"`` entry."""
    out = []
    for entry in interactions:
        a, _, c = (x.strip() for x in entry.partition(":"))
        if a in codings and c in codings:
            out += [(f"{col}_x_{ccol}", col, ccol) for col in codings[a].columns for ccol in codings[c].columns]
    return out


def declared_attributes(types, config) -> set[str]:
    """The attributes the models test: declared in survey.yaml, listed in profile.attributes, or named
    as a control or in an interaction. The other speakers.csv columns are described, not tested
    (``profile.explore: true`` tests them too, in families of their own)."""
    named = set(config.attributes) | set(config.controls)
    named |= {x.strip() for entry in config.interactions for x in entry.split(":")}
    unknown = sorted(set(config.attributes) - set(types))
    if unknown:
        raise ConfigError(f"profile.attributes: {unknown[0]!r} is not a column of speakers.csv; it has "
                          f"{', '.join(types) or 'no survey columns'}")
    return {n for n, t in types.items() if t.declared or n in named}
