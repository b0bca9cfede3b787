"""The profile report's page: :func:`write_report` writes the tables as CSV, draws every section and assembles
``report/index.html`` from the templates (see the package's docstring)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from voli import problems
from voli.errors import bug_message
from voli.profile.report.findings import _findings_section
from voli.profile.report.format import safe_name
from voli.profile.report.pca import _pca_section
from voli.profile.report.render import render
from voli.profile.report.sections import (_dynamics_section, _effects_section, _header, _prediction_section,
                                          _survey_section, _tables_section, _vowel_section)

log = logging.getLogger("voli")

FIGURES = (r"vowels_.+", r"pca_biplot", r"dendrogram", r"effects_.+", r"dynamics_.+")  # the names of figures without views


def _clear_stale(directory: Path, suffix: str, keep: set[str], patterns: tuple[str, ...]) -> None:
    """Removes files of an earlier run that this one did not write (a table or a figure now absent)."""
    for path in directory.glob(f"*{suffix}"):
        if path.stem not in keep and any(re.fullmatch(p, path.stem) for p in patterns):
            path.unlink()


def write_tables(tables: dict, table_dir: Path) -> None:
    """Every table as ``report/tables/<name>.csv``; CSV files of tables no longer there go."""
    for name, frame in tables.items():
        frame.to_csv(table_dir / f"{safe_name(name)}.csv", index=False)
    _clear_stale(table_dir, ".csv", {safe_name(n) for n in tables}, (r".+",))


def figure_section(build, tables: dict, fig_dir: Path, written: list[str]) -> str:
    """A section with figures; one that raises becomes a problem and a note, so it does not sink the stage."""
    try:
        return build(tables, fig_dir, written)
    except Exception as err:  # noqa: BLE001 - a figure must not sink the stage: it is a problem, in the page too
        log.debug("report: %s failed", build.__name__, exc_info=True)
        problems.report("figure_failed", f"the report's {build.__name__.strip('_').replace('_', ' ')} could not be "
                        f"drawn ({bug_message(err)})")
        return render("failed.html.j2", kind=type(err).__name__, message=str(err))


def write_report(stage_dir: Path, tables: dict, *, corpus: Path) -> Path:
    """Writes report/index.html (figures embedded), figures/*.png and report/tables/*.csv; returns the HTML path."""
    stage_dir = Path(stage_dir)
    report_dir, fig_dir = stage_dir / "report", stage_dir / "figures"
    table_dir = report_dir / "tables"
    for d in (report_dir, fig_dir, table_dir):
        d.mkdir(parents=True, exist_ok=True)
    tables = {name: frame for name, frame in tables.items() if frame is not None}
    write_tables(tables, table_dir)

    written: list[str] = []
    sections = [_header(tables, corpus), _findings_section(tables), _survey_section(tables)]
    sections += [figure_section(build, tables, fig_dir, written)
                 for build in (_vowel_section, _pca_section, _effects_section, _dynamics_section)]
    sections += [_prediction_section(tables), _tables_section(tables)]
    _clear_stale(fig_dir, ".png", set(written), FIGURES)

    page = render("page.html.j2", name=Path(corpus).resolve().name, sections=sections)
    path = report_dir / "index.html"
    path.write_text(page + "\n", encoding="utf-8")
    log.info("profile: report written to %s (%d figures)", path, len(written))
    return path
