"""The profile report: one self-contained HTML page with PNG figures and the tables.

:func:`write_report` writes, under the profile stage's directory,

* ``report/index.html``: the page, every figure embedded (base64 PNG), CSS inline, nothing fetched
  from the internet, so it can be mailed or opened offline;
* ``figures/<name>.png``: the same figures as files (vowel charts per language, PCA biplot,
  dendrogram, effect plots per level of analysis);
* ``report/tables/<name>.csv``: every table as CSV (the stage writes the Parquet files itself).

Every figure's caption says how many speakers and tokens (or utterances) it rests on.

How it is built, in reading order:

* ``page.py``: :func:`write_report`, the order of the sections and the page;
* ``findings.py``, ``pca.py``, ``sections.py``: each section's data, prepared from the tables (counts,
  words, which figures to draw), then rendered from its template;
* ``figures.py``: the matplotlib figures, pure functions of tables (DataFrames in, a Figure out);
* ``render.py``: the Jinja2 environment (every value escaped) and the figures' PNG files;
* ``format.py``: numbers for people and a table's cells;
* ``templates/*.html.j2``: the HTML, with the building blocks (tables, figures, "how to read this")
  in ``macros.html.j2``.
"""

from voli.profile.report.findings import _findings_section, format_calibration
from voli.profile.report.page import write_report
from voli.profile.report.pca import _association_words, _pca_section
from voli.profile.report.sections import _prediction_section

# the sections are imported here too: tests render one section at a time
__all__ = ["format_calibration", "write_report", "_association_words", "_findings_section", "_pca_section",
           "_prediction_section"]
