"""From prepared sections to HTML: the Jinja2 templates (``templates/*.html.j2``) and the figures' PNG files.

Every value a template prints is escaped (``autoescape=True``); the one thing marked safe is a template's own
output (:func:`render`), when a rendered section goes into the page.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIGURE_DPI = 110


@cache
def environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("voli.profile.report", "templates"), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=False)


def render(template: str, **context) -> str:
    """``template`` rendered with ``context``: HTML in which every value is escaped (a markupsafe.Markup)."""
    from markupsafe import Markup

    return Markup(environment().get_template(template).render(**context))  # escaped by the template itself


@dataclass(frozen=True)
class Embedded:
    """A figure written as ``figures/<name>.png``, for the page: its PNG as base64 and its alt text."""

    name: str
    png_base64: str
    alt: str


def embed(fig, name: str, alt: str, fig_dir: Path, written: list[str]) -> Embedded:
    """Saves ``fig`` as ``fig_dir/<name>.png``, adds ``name`` to ``written`` and returns it for the page."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", facecolor="white")
    data = buf.getvalue()
    (Path(fig_dir) / f"{name}.png").write_bytes(data)
    written.append(name)
    return Embedded(name, base64.b64encode(data).decode("ascii"), alt)


def render_macro(template: str, macro: str, *args, **kwargs) -> str:
    """The macro ``macro`` of ``template`` (a file of macros only) called with the arguments: escaped HTML."""
    return getattr(environment().get_template(template).module, macro)(*args, **kwargs)
