"""The profile report: one self-contained HTML page with PNG figures and the tables.

:func:`write_report` writes, under the profile stage's directory,

* ``report/index.html``: the page, every figure embedded (base64 PNG), CSS inline, nothing fetched
  from the internet, so it can be mailed or opened offline;
* ``figures/<name>.png``: the same figures as files (vowel charts per language, PCA biplot,
  dendrogram, effect plots per level of analysis);
* ``report/tables/<name>.csv``: every table as CSV (the stage writes the Parquet files itself).

Every figure's caption says how many speakers and tokens (or utterances) it rests on.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import logging
import re
from pathlib import Path

import numpy as np

from voli import problems
from voli.errors import bug_message

log = logging.getLogger("voli")

FIGURE_DPI = 110
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
LEVEL_ROWS = {"token": "vowel tokens", "utterance": "utterances", "speaker": "speakers"}

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1em 2em 4em; color: #222; line-height: 1.45; }
h1 { border-bottom: 3px solid #1f77b4; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
.meta { color: #555; }
.howto { background: #f3f7fb; border-left: 4px solid #1f77b4; padding: .6em 1em; margin: 1em 0; }
.howto p { margin: .4em 0; }
.note { color: #666; font-style: italic; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: .92em; margin-top: .3em; }
.tablewrap { overflow-x: auto; max-height: 36em; overflow-y: auto; border: 1px solid #ddd; margin: .6em 0 1.2em; }
table.dataframe { border-collapse: collapse; font-size: .82em; white-space: nowrap; }
table.dataframe th, table.dataframe td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; }
table.dataframe th { background: #eef2f6; position: sticky; top: 0; }
ul.findings li { margin: .3em 0; }
.yes { color: #1a7f37; font-weight: bold; }
.no { color: #666; }
nav a { margin-right: 1em; }
.problems li { color: #8a4b00; }
"""


# -- helpers -------------------------------------------------------------------------------------------


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _has(frame, *columns) -> bool:
    return frame is not None and len(frame) > 0 and all(c in frame.columns for c in columns)


def _filled(value) -> bool:
    return value is not None and value == value and str(value) != ""


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "x"


def _fmt_number(x) -> str:
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


def _fmt_p(p) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "?"
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}".rstrip("0").rstrip(".") if p < 0.1 else f"{p:.2f}"


def _float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _table_html(frame, name: str, *, max_rows: int | None = None) -> str:
    """A DataFrame as an escaped HTML table (numbers rounded, right-aligned), in a scrolling box."""
    frame = frame.copy()
    note = ""
    if max_rows is not None and len(frame) > max_rows:
        note = f'<p class="note">First {max_rows} of {len(frame)} rows; all of them are in the CSV file.</p>'
        frame = frame.head(max_rows)
    formatters = {}
    for col in frame.columns:
        if frame[col].dtype.kind in "fiu":
            formatters[col] = _fmt_number
        elif frame[col].dtype.kind == "b":
            formatters[col] = lambda v: "yes" if v else "no"
    table_id = f"table-{_safe_name(name)}"
    body = frame.to_html(index=False, escape=True, na_rep="", formatters=formatters, border=0,
                         classes="dataframe", table_id=table_id)
    numeric = [i + 1 for i, col in enumerate(frame.columns) if frame[col].dtype.kind in "fiu"]
    style = ""
    if numeric:
        selectors = ", ".join(f"#{table_id} td:nth-child({i}), #{table_id} th:nth-child({i})" for i in numeric)
        style = f"<style>{selectors} {{ text-align: right; }}</style>"
    return f'{style}<div class="tablewrap">{body}</div>{note}'


def _figure(fig, name: str, caption: str, alt: str, fig_dir: Path, written: list[str]) -> str:
    """Saves a figure as figures/<name>.png and returns its <figure> with the PNG embedded."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", facecolor="white")
    data = buf.getvalue()
    (fig_dir / f"{name}.png").write_bytes(data)
    written.append(name)
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<figure id="fig-{_esc(name)}"><img src="data:image/png;base64,{encoded}" alt="{_esc(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _howto(*paragraphs: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<div class="howto"><strong>How to read this.</strong>{body}</div>'


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure  # Agg canvas, no pyplot: no global state, no display needed

    return Figure(figsize=(width, height))


def _categorical_attribute(tables) -> str | None:
    """The first categorical survey attribute that the speakers table has values for."""
    attributes, speakers = tables.get("attributes"), tables.get("speakers")
    if not _has(attributes, "attribute", "kind") or not _has(speakers, "speaker_id"):
        return None
    for name, kind in zip(attributes.attribute, attributes.kind):
        if kind == "categorical" and name in speakers.columns and speakers[name].notna().any():
            return str(name)
    return None


def _levels(tables, attribute: str) -> list[str]:
    attributes = tables.get("attributes")
    if _has(attributes, "attribute", "levels"):
        row = attributes[attributes.attribute == attribute]
        if len(row) and isinstance(row.iloc[0]["levels"], str) and row.iloc[0]["levels"]:
            return row.iloc[0]["levels"].split("|")
    return []


# -- vowel charts ----------------------------------------------------------------------------------------


def _ellipse(ax, x, y, color):
    """The 1-SD covariance ellipse of points (x, y)."""
    from matplotlib.patches import Ellipse

    cov = np.cov(np.vstack([x, y]))
    if not np.all(np.isfinite(cov)):
        return
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0, None)
    if values.max() <= 0:
        return
    angle = float(np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1])))
    ax.add_patch(Ellipse((float(np.mean(x)), float(np.mean(y))), 2 * np.sqrt(values[-1]), 2 * np.sqrt(values[0]),
                         angle=angle, facecolor=color, alpha=0.10, edgecolor=color, linewidth=1.2))


def _vowel_panel(ax, data, x: str, y: str, groups: list[str], colors: dict, unit: str):
    for g in groups:
        d = data[data._group == g]
        ax.scatter(d[x], d[y], s=7, color=colors[g], alpha=0.25, linewidths=0)
    for (phone, g), d in data.groupby(["phone", "_group"], sort=True, observed=True):
        if g not in colors:
            continue
        if len(d) >= 3:
            _ellipse(ax, d[x].to_numpy(float), d[y].to_numpy(float), colors[g])
        few = len(d) < 3
        ax.text(float(d[x].mean()), float(d[y].mean()), str(phone), color=colors[g], ha="center", va="center",
                fontsize=9 if few else 12, fontweight="normal" if few else "bold", alpha=0.55 if few else 1.0,
                zorder=5)
    # the text above does not update the data limits: set them from the points
    xs, ys = data[x].to_numpy(float), data[y].to_numpy(float)
    pad_x, pad_y = 0.06 * (np.ptp(xs) or 1.0), 0.06 * (np.ptp(ys) or 1.0)
    ax.set_xlim(xs.max() + pad_x, xs.min() - pad_x)  # reversed: front vowels (high F2) left
    ax.set_ylim(ys.max() + pad_y, ys.min() - pad_y)  # reversed: open vowels (high F1) at the bottom
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.set_xlabel(f"F2 ({unit})")
    ax.set_ylabel(f"F1 ({unit})")
    ax.grid(True, color="#eee", linewidth=0.6)
    ax.set_axisbelow(True)


def _vowel_section(tables, fig_dir: Path, written: list[str]) -> str:
    tokens, speakers = tables.get("tokens"), tables.get("speakers")
    parts = ['<h2 id="vowels">Vowel charts</h2>',
             _howto("Each chart is a map of the vowels as phoneticians draw it: the second formant (F2, roughly how "
                    "far forward the tongue is) runs right to left, the first formant (F1, roughly how open the mouth "
                    "is) runs top to bottom. So [i] (front, closed) sits top left, [u] (back, closed) top right and "
                    "[a] (open) at the bottom. Each label is the average of one vowel (in IPA) for one group; the "
                    "shaded ellipse is one standard deviation around it (it holds roughly 40 % of that group's "
                    "tokens of that vowel; drawn when there are at least 3 tokens), so its size shows how variable "
                    "the vowel is. Small faint labels rest on fewer than 3 tokens; faint dots are single tokens.",
                    "The left panel is in hertz: men's vowels sit higher and more to the right, in a smaller space, "
                    "simply because their vocal tracts are longer (lower formants). The right panel is Lobanov-normalised (each speaker's formants as "
                    "z-scores), which removes most of those anatomical differences; compare groups there. Languages "
                    "have different vowel inventories, so each language gets its own chart.")]
    if not _has(tokens, "phone", "f1_hz", "f2_hz", "speaker_id"):
        return "".join(parts) + '<p class="note">No vowel tokens: no vowel charts.</p>'
    tokens = tokens.dropna(subset=["f1_hz", "f2_hz", "phone"])
    if "language" in tokens:
        tokens = tokens.assign(language=tokens.language.astype(object).where(tokens.language.notna(), "unknown"))
    attribute = _categorical_attribute(tables)
    if attribute is not None:
        values = speakers.drop_duplicates("speaker_id").set_index("speaker_id")[attribute].astype(object)
        group = tokens.speaker_id.map(values).astype(object).where(lambda s: s.notna(), "unknown").astype(str)
        order = [lvl for lvl in _levels(tables, attribute) if (group == lvl).any()]
        order += sorted(set(group) - set(order))
        legend_title = attribute
    else:
        group = tokens.speaker_id.astype(str)
        order = sorted(set(group))
        legend_title = "speaker"
    tokens = tokens.assign(_group=group.to_numpy())
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(order)}
    by_language = tokens.groupby("language", sort=True) if "language" in tokens else [("all", tokens)]
    lobanov = {"f1_lobanov", "f2_lobanov"} <= set(tokens.columns)
    for language, data in by_language:
        if not len(data):
            continue
        groups = [g for g in order if (data._group == g).any()]
        n_panels = 2 if lobanov and data[["f1_lobanov", "f2_lobanov"]].notna().all(axis=1).any() else 1
        fig = _new_figure(6.2 * n_panels, 5.6)
        axes = fig.subplots(1, n_panels, squeeze=False)[0]
        _vowel_panel(axes[0], data, "f2_hz", "f1_hz", groups, colors, "Hz")
        axes[0].set_title(f"language {language}: raw formants (Hz)", fontsize=12)
        if n_panels == 2:
            norm = data.dropna(subset=["f1_lobanov", "f2_lobanov"])
            _vowel_panel(axes[1], norm, "f2_lobanov", "f1_lobanov", groups, colors, "Lobanov z")
            axes[1].set_title(f"language {language}: Lobanov-normalised (z per speaker)", fontsize=12)
        from matplotlib.lines import Line2D

        def label(g):
            n_tokens = f"{(data._group == g).sum()} tokens"
            if attribute is None:  # a group is a speaker
                return f"{g} ({n_tokens})"
            return f"{g} ({_plural(data[data._group == g].speaker_id.nunique(), 'speaker')}, {n_tokens})"

        handles = [Line2D([], [], marker="o", linestyle="", color=colors[g], label=label(g)) for g in groups]
        legend_rows = -(-len(handles) // 4)
        fig.legend(handles=handles, title=legend_title, loc="lower center", ncol=min(len(handles), 4),
                   bbox_to_anchor=(0.5, -0.02), frameon=False)
        fig.tight_layout(rect=(0, min(0.5, 0.04 + 0.045 * legend_rows), 1, 1))
        n_speakers, n_tokens = data.speaker_id.nunique(), len(data)
        n_phones = data.phone.nunique()
        caption = (f"Vowel chart for language <b>{_esc(language)}</b>: {_plural(n_speakers, 'speaker')}, "
                   f"{n_tokens} vowel tokens, {n_phones} vowel categories; colours by "
                   f"{'survey attribute <i>' + _esc(attribute) + '</i>' if attribute else 'speaker'}.")
        parts.append(_figure(fig, f"vowels_{_safe_name(language)}", caption, f"vowel chart, {language}", fig_dir,
                             written))
    return "".join(parts)


# -- PCA biplot and dendrogram --------------------------------------------------------------------------


def _fit_labels(fig, ax, texts, floor: tuple[float, float], width: float = 9.5) -> None:
    """Moves overlapping labels apart (vertically), then fits the axes (equal aspect) around labels and points.

    The x and y ranges are fitted separately and the figure's height follows, so that a long measure name
    at the side does not leave empty bands above and below.
    """

    def fit():
        lx, ly = floor
        for _ in range(8):
            ax.set_xlim(-lx, lx)
            ax.set_ylim(-ly, ly)
            fig.set_size_inches(width, float(np.clip((width - 1.4) * ly / lx + 1.2, 4.0, 13.0)))
            fig.tight_layout()
            fig.draw_without_rendering()
            inverse = ax.transData.inverted()
            corners = np.abs(np.vstack([inverse.transform(t.get_window_extent().get_points()) for t in texts]))
            nx, ny = max(floor[0], 1.03 * corners[:, 0].max()), max(floor[1], 1.03 * corners[:, 1].max())
            if abs(nx - lx) < 0.01 * lx and abs(ny - ly) < 0.01 * ly:
                break
            lx, ly = nx, ny

    fit()
    boxes = [t.get_window_extent() for t in texts]
    for _ in range(30):
        moved = False
        for i in range(len(texts)):
            for j in range(i):
                a, b = boxes[i], boxes[j]
                if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1:
                    # push the later label away from the earlier one, by the overlap plus 2 pixels
                    up = (a.y0 + a.y1) >= (b.y0 + b.y1)
                    shift = (b.y1 - a.y0 + 2) if up else -(a.y1 - b.y0 + 2)
                    x, y = ax.transData.transform(texts[i].get_position())
                    texts[i].set_position(ax.transData.inverted().transform((x, y + shift)))
                    boxes[i] = a.translated(0, shift)
                    moved = True
        if not moved:
            break
    fit()


VIEW_FIGURES = (r"pca_scree_.+", r"pca_biplot_.+", r"dendrogram_.+")  # one of each per view


def _pca_views(scores) -> list:
    """The views of the PCA tables in reading order: vowels (by language), prosody, others; [None] without views."""
    if "view" not in scores:
        return [None]
    views = [str(v) for v in dict.fromkeys(scores.view.dropna())]
    vowels = sorted(v for v in views if v.startswith("vowels:"))
    return vowels + [v for v in views if v == "prosody"] + [v for v in views if v not in vowels and v != "prosody"]


def _view_title(view) -> str:
    if view is None:
        return "Speech measures"
    if view.startswith("vowels:"):
        return f"Vowels, language {view.split(':', 1)[1]}"
    return "Prosody and voice" if view == "prosody" else str(view)


def _of_view(frame, view):
    if frame is None or view is None or "view" not in frame:
        return frame
    return frame[frame.view.astype(str) == view]


def _n_real(explained) -> int | None:
    """The leading run of real components (None when the table has no permutation test)."""
    if not _has(explained, "real"):
        return None
    run = 0
    for real in explained.real:
        if not (_filled(real) and bool(real)):
            break
        run += 1
    return run


def _real_words(explained, n_real: int | None) -> str:
    """How many components are real, in plain words."""
    if n_real is None:
        return ""
    rows = explained.reset_index(drop=True)

    def pc(i):
        r = rows.iloc[i]
        return (f"{str(r.component).upper()} ({100 * _float(r.explained):.0f} % of the variance, against "
                f"{100 * _float(r.get('null_mean')):.0f} % on average in shuffled data; p = {_fmt_p(r.get('p'))})")

    if n_real == 0:
        first = rows.iloc[0]
        return (f"<p>The permutation test finds <b>no real component</b>: PC1 explains "
                f"{100 * _float(first.explained):.0f} % of the variance, no more than shuffled data reach "
                f"({100 * _float(first.get('null_q95')):.0f} % in 5 % of the shuffles; p = {_fmt_p(first.get('p'))}). "
                "The differences between speakers in these measures do not hang together, so the biplot and the "
                "clusters below describe noise as much as structure.</p>")
    named = "; ".join(pc(i) for i in range(n_real))
    after = (f" {str(rows.iloc[n_real].component).upper()} and later ones are no bigger than in shuffled data."
             if n_real < len(rows) else "")
    return (f"<p>The permutation test finds <b>{_plural(n_real, 'real component')}</b>: {named}.{after}</p>")


def _association_words(assoc) -> str:
    """Which attributes go with the clusters and the real components (q < 0.05), in plain words."""
    if not _has(assoc, "attribute", "target", "q"):
        return ""
    found = assoc[assoc.q.astype(float) < 0.05].sort_values("q", kind="stable")
    items = []
    for _, r in found.iterrows():
        target = "the clusters" if r.target == "cluster" else str(r.target).upper()
        detail = f"; {_esc(r['detail'])}" if _filled(r.get("detail")) else ""
        items.append(f'<li><span class="yes">{_esc(r.attribute)} goes with {_esc(target)}</span> '
                     f"({_esc(r.get('test', ''))}, p = {_fmt_p(r.p)}, q = {_fmt_p(r.q)}, "
                     f"{_plural(int(_float(r.get('n_speakers')) or 0), 'speaker')}{detail})</li>")
    tested = sorted(set(assoc.target.astype(str)) - {"cluster"}, key=lambda t: (len(t), t))
    against = "the clusters" + (f" or {', '.join(t.upper() for t in tested)}" if tested else "")
    adjusted = ""
    if "adjusted_for" in assoc:  # how each attribute's p was adjusted (one line per way)
        ways = assoc.groupby(assoc.adjusted_for.astype(str), sort=False).attribute.agg(
            lambda a: ", ".join(dict.fromkeys(a)))
        said = [f"{_esc(names)}: <i>{_esc(way)}</i>" for way, names in ways.items() if not way.startswith("none (not")]
        adjusted = "<p>How p was adjusted: " + "; ".join(said) + ".</p>" if said else ""
    if not items:
        return (f'{adjusted}<ul class="findings"><li class="no">No survey attribute goes with {_esc(against)} '
                "(no q below 0.05)</li></ul>")
    return f'{adjusted}<ul class="findings">{"".join(items)}</ul>'


def _scree(explained, title: str):
    """Each component's share of the variance against the shuffled data's (mean and 95th percentile)."""
    rows = explained.reset_index(drop=True)
    k = len(rows)
    fig = _new_figure(max(4.5, 0.45 * k + 2.0), 3.4)
    ax = fig.subplots()
    xs = np.arange(1, k + 1)
    real = [bool(r) if _filled(r) else False for r in rows.real] if "real" in rows else [False] * k
    ax.bar(xs, 100 * rows.explained.astype(float), color=[PALETTE[0] if r else "#b8c7d9" for r in real],
           label="observed (dark: real)")
    if "null_q95" in rows:
        ax.plot(xs, 100 * rows.null_mean.astype(float), color=PALETTE[1], marker="o", ms=3, lw=1,
                label="shuffled data, mean")
        ax.plot(xs, 100 * rows.null_q95.astype(float), color=PALETTE[1], ls="--", lw=1,
                label="shuffled data, 95th percentile")
    ax.set_xticks(xs)
    ax.set_xticklabels([str(c).upper() for c in rows.component], fontsize=8, rotation=90 if k > 12 else 0)
    ax.set_ylabel("% of the variance")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _biplot(scores, loadings, share: dict, real: set, cmap: dict, title: str):
    """Speakers on PC1 x PC2 (colour: cluster) with the variables' loadings as arrows."""
    fig = _new_figure(9.5, 7.5)
    ax = fig.subplots()
    if "cluster" in scores and cmap:
        for c in sorted(cmap):
            d = scores[scores.cluster == c]
            ax.scatter(d.pc1, d.pc2, s=60, color=cmap[c], label=f"cluster {c} ({len(d)})", zorder=3,
                       edgecolor="white")
        ax.legend(title="Ward cluster", loc="best", fontsize=9)
    else:
        ax.scatter(scores.pc1, scores.pc2, s=60, color=PALETTE[0], zorder=3)
    for sid, x, y in zip(scores.speaker_id, scores.pc1, scores.pc2):
        ax.annotate(str(sid), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9, zorder=4)
    reach = float(np.nanmax(np.abs(scores[["pc1", "pc2"]].to_numpy(float)))) or 1.0
    texts = []
    name = "variable" if _has(loadings, "variable") else "measure"
    if _has(loadings, name, "pc1", "pc2"):
        vec = loadings[["pc1", "pc2"]].to_numpy(float)
        longest = float(np.nanmax(np.hypot(vec[:, 0], vec[:, 1]))) or 1.0
        k = 0.9 * reach / longest
        for variable, (lx, ly) in zip(loadings[name], vec):
            if not (np.isfinite(lx) and np.isfinite(ly)):
                continue
            ax.annotate("", xy=(k * lx, k * ly), xytext=(0, 0),
                        arrowprops={"arrowstyle": "->", "color": "#555", "lw": 1.0, "alpha": 0.8}, zorder=2)
            cos, sin = np.cos(np.arctan2(ly, lx)), np.sin(np.arctan2(ly, lx))
            texts.append(ax.text(k * lx, k * ly, str(variable), fontsize=8, color="#333", zorder=2,
                                 ha="left" if cos > 0.3 else "right" if cos < -0.3 else "center",
                                 va="bottom" if sin > 0.3 else "top" if sin < -0.3 else "center",
                                 bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                                       "alpha": 0.7}))
    floor = tuple(1.15 * (float(np.nanmax(np.abs(scores[c].to_numpy(float)))) or 1.0) for c in ("pc1", "pc2"))
    ax.set_xlim(-floor[0], floor[0])
    ax.set_ylim(-floor[1], floor[1])
    ax.set_aspect("equal", adjustable="box")  # arrows' angles and speakers' distances as they are
    ax.axhline(0, color="#ccc", lw=0.8, zorder=1)
    ax.axvline(0, color="#ccc", lw=0.8, zorder=1)

    def axis_label(pc):
        if pc not in share:
            return pc.upper()
        return f"{pc.upper()} ({100 * share[pc]:.0f} % of variance{', real' if pc in real else ''})"

    ax.set_xlabel(axis_label("pc1"))
    ax.set_ylabel(axis_label("pc2"))
    ax.set_title(title)
    fig.tight_layout()
    if texts:
        _fit_labels(fig, ax, texts, floor)
    return fig


def _dendrogram(link, scores, cmap: dict, title: str):
    from scipy.cluster.hierarchy import dendrogram

    n = len(scores)
    fig = _new_figure(max(6.0, 0.45 * n + 2), 4.8)
    ax = fig.subplots()
    dendrogram(link, ax=ax, labels=[str(s) for s in scores.speaker_id], leaf_rotation=90, leaf_font_size=9,
               color_threshold=0, above_threshold_color="#555")
    if cmap:  # leaves in the biplot's cluster colours
        cluster_of = dict(zip(scores.speaker_id.astype(str), scores.cluster))
        for label in ax.get_xticklabels():
            c = cluster_of.get(label.get_text())
            if c in cmap:
                label.set_color(cmap[c])
                label.set_fontweight("bold")
    ax.set_ylabel("Ward distance (larger: less alike)")
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _view_rests(view, scores, tables) -> str:
    """What a view's figures rest on, in words (speakers, and the tokens or utterances behind them)."""
    tokens, speakers = tables.get("tokens"), tables.get("speakers")
    ids = set(scores.speaker_id)
    n = _plural(len(ids), "speaker")
    n_utt = (int(speakers[speakers.speaker_id.isin(ids)].n_utterances.sum())
             if _has(speakers, "speaker_id", "n_utterances") else None)
    if view is not None and view.startswith("vowels:"):
        language = view.split(":", 1)[1]
        d = tokens[tokens.speaker_id.isin(ids)] if _has(tokens, "speaker_id") else None
        if d is not None and "language" in d:
            d = d[d.language.astype(str) == language]
        return f"{n} and {len(d) if d is not None else 0} vowel tokens of language {_esc(language)}"
    if view == "prosody":
        return f"{n}, whose measures come from {n_utt} utterances" if n_utt is not None else n
    n_tokens = int(tokens.speaker_id.isin(ids).sum()) if _has(tokens, "speaker_id") else 0
    return f"{n}, whose measures come from {n_tokens} vowel tokens" + (
        f" and {n_utt} utterances" if n_utt is not None else "")


def _pca_view(view, tables, fig_dir: Path, written: list[str]) -> str:
    scores = _of_view(tables.get("pca_scores"), view)
    loadings, explained = _of_view(tables.get("pca_loadings"), view), _of_view(tables.get("pca_explained"), view)
    linkage, assoc = _of_view(tables.get("linkage"), view), _of_view(tables.get("associations"), view)
    title = _view_title(view)
    suffix = "" if view is None else "_" + _safe_name(view.replace(":", "_"))
    parts = [f"<h3>{_esc(title)}</h3>"] if view is not None else []
    rests = _view_rests(view, scores, tables)
    n_real = _n_real(explained)
    if _has(explained, "n_variables"):
        first = explained.iloc[0]
        imputed = int(_float(first.get("n_imputed")) or 0)
        parts.append(f"<p>{rests[0].upper() + rests[1:]}; {_plural(int(_float(first.n_variables)), 'variable')}"
                     + (f", {_plural(imputed, 'missing value')} filled with the variable's mean" if imputed else "")
                     + ".</p>")
    parts.append(_real_words(explained, n_real))
    cmap = {}
    if "cluster" in scores:
        cmap = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(set(scores.cluster.dropna())))}
    share = dict(zip(explained.component.astype(str), explained.explained.astype(float))) if _has(
        explained, "component", "explained") else {}
    real = set(explained.component.astype(str).iloc[:n_real]) if n_real else set()
    if _has(explained, "component", "explained", "null_q95") and view is not None:
        fig = _scree(explained, f"{title}: variance explained")
        parts.append(_figure(fig, f"pca_scree{suffix}", f"Variance explained by each component, {title.lower()}: "
                             f"{rests}. Bars: this corpus (dark: real by the permutation test); red: the same "
                             "PCA on data with every variable shuffled between speakers.", f"scree plot, {title}",
                             fig_dir, written))
    if "pc2" in scores.columns and scores.pc2.notna().any():
        scores2 = scores.dropna(subset=["pc1", "pc2"])
        fig = _biplot(scores2, loadings, share, real, cmap, f"PCA biplot: {title.lower()}")
        parts.append(_figure(fig, f"pca_biplot{suffix}", f"PCA biplot, {title.lower()}: {rests}. Dots: speakers "
                             "(colour: cluster); arrows: the variables' loadings (scaled to the scores).",
                             f"PCA biplot, {title}", fig_dir, written))
    else:
        parts.append('<p class="note">Only one principal component: no biplot.</p>')
    n_speakers = scores.speaker_id.nunique()
    if _has(linkage, "left", "right", "distance", "size") and len(linkage) == n_speakers - 1:
        from scipy.cluster.hierarchy import is_valid_linkage

        z = linkage[["left", "right", "distance", "size"]].to_numpy(float)
        if is_valid_linkage(z):
            fig = _dendrogram(z, scores, cmap, f"Speakers clustered by their {title.lower()}")
            parts.append(_figure(fig, f"dendrogram{suffix}", f"Dendrogram (Ward clustering), {title.lower()}: "
                                 f"{rests}. Speaker names in the colours of their cluster in the biplot.",
                                 f"dendrogram, {title}", fig_dir, written))
        else:
            parts.append('<p class="note">The linkage table is not a valid clustering: no dendrogram.</p>')
    else:
        parts.append('<p class="note">No clustering table (or it does not match the speakers of the PCA): no '
                     "dendrogram.</p>")
    parts.append(f"<h4>{_esc(title)}: survey attributes against the clusters and components</h4>")
    if _has(assoc, "attribute"):
        parts.append(_association_words(assoc))
        table = assoc.drop(columns="view") if "view" in assoc else assoc.copy()
        if "q" in table:
            table = table.sort_values("q", na_position="last", kind="stable")
        parts.append(_table_html(table, f"associations{suffix}"))
    else:
        parts.append('<p class="note">No association tests.</p>')
    return "".join(parts)


def _clear_view_figures(fig_dir: Path, written: list[str]) -> None:
    """Removes per-view PCA figures of an earlier run that this one did not draw (e.g. a language now absent)."""
    for path in Path(fig_dir).glob("*.png"):
        if path.stem not in written and any(re.fullmatch(p, path.stem) for p in VIEW_FIGURES):
            path.unlink()


def _pca_section(tables, fig_dir: Path, written: list[str]) -> str:
    scores = tables.get("pca_scores")
    parts = ['<h2 id="pca">Speaker profiles: PCA and clusters</h2>',
             _howto("Speakers are compared in separate <i>views</i>: their vowels (for each language, where each "
                    "vowel sits on average in the normalised F1/F2 space: one variable per vowel and formant, e.g. "
                    "<i>u_F2</i>, how front a speaker's /u/ is) and their prosody and voice (speaking rate, pitch "
                    "level and range, pauses...). In each view, principal component analysis (PCA) finds the "
                    "directions along which speakers differ together: in the biplot every dot is a speaker, "
                    "speakers close together speak alike, and each arrow shows in which direction a variable grows; "
                    "arrows pointing the same way are variables that go together.",
                    "Not every component is real. A permutation test tells them from noise: every variable is "
                    "shuffled between the speakers on its own, which keeps its values but destroys any link between "
                    "variables, and the PCA is redone many times. A component is <i>real</i> when it explains more "
                    "of the differences than in 95 % of the shuffled copies (and every component before it is real "
                    "too); the scree plot shows both. With few speakers, expect few real components: a single "
                    "variable that differs between speakers on its own (one vowel) is not a shared dimension.",
                    "The dendrogram groups speakers step by step (Ward clustering on the real components, at least "
                    "the first two): the lower two speakers join, the more alike they are. The colours in the biplot "
                    "are the clusters cut from this tree. With few speakers, clusters are fragile: treat them as a "
                    "description of this sample, not as types of speakers.",
                    "Each survey attribute is then tested against the clusters (Fisher's exact test for two groups "
                    "and two clusters, otherwise a chi-square test whose p comes from 2000 shuffles; Kruskal-Wallis "
                    "for numbers) and against each real component, or PC1 when none is (Kruskal-Wallis for groups, "
                    "Spearman correlation for numbers). <i>q</i> corrects p for the number of tests within the view "
                    "(false discovery rate): trust q, and q &lt; 0.05 at most as a hint worth a closer look.",
                    "These tests are adjusted for the controls (e.g. gender) and language: an attribute's p comes "
                    "from shuffling its answers only among speakers of the same gender (and language; a numeric "
                    "control is cut at its median), so an attribute that goes with the clusters only because it "
                    "goes with gender is not reported; <i>p_unadjusted</i> is the plain test's p and "
                    "<i>adjusted_for</i> says what each test was shuffled within. A control itself is adjusted "
                    "for the other controls only. The components are not adjusted: PC1 of the prosody is often "
                    "gender (pitch).")]
    follow = tables.get("checks")
    if _has(follow, "kind", "message") and (follow.kind == "follows_control").any():
        parts.append('<ul class="problems">' + "".join(
            f"<li><b>follows_control</b>: {_esc(m)}</li>" for m in follow[follow.kind == "follows_control"].message)
            + "</ul>")
    if not _has(scores, "speaker_id", "pc1"):
        _clear_view_figures(fig_dir, written)
        return "".join(parts) + ('<p class="note">No PCA: too few speakers with measures (a view needs at least 4 '
                                 "speakers and 2 variables).</p>")
    for view in _pca_views(scores):
        parts.append(_pca_view(view, tables, fig_dir, written))
    _clear_view_figures(fig_dir, written)
    return "".join(parts)


# -- effect plots ---------------------------------------------------------------------------------------


def _effect_rows(models, level: str):
    d = models[models.level == level].copy()
    if "primary" in d:  # one test per model: the coefficient, an ordinal's trend, each interaction
        d = d[d.primary.astype(bool) & (d.test != "joint")] if "test" in d else d[d.primary.astype(bool)]
    if len(d):
        d["measure"] = d.apply(_effect_label, axis=1)  # a vowel's models: "f2_hz of /u/ (fr)"
    for col in ("estimate", "sd_between", "ci_low", "ci_high", "q"):
        d[col] = d[col].astype(float) if col in d else np.nan
    # in between-speaker SDs of the measure (semitones, z-scores and Hz alike): estimate / SD, and so the bounds
    scale = d.sd_between.where(d.sd_between > 0)
    d["rel"], d["rel_low"], d["rel_high"] = d.estimate / scale, d.ci_low / scale, d.ci_high / scale
    return d


def _effects_section(tables, fig_dir: Path, written: list[str]) -> str:
    models = tables.get("models")
    parts = ['<h2 id="effects">Effects of the survey attributes on speech</h2>',
             _howto("For each speech measure and each survey attribute, a model estimates how much the measure "
                    "changes with the attribute, the controls held constant: for a group attribute, the difference "
                    "from the reference group (e.g. <i>man vs woman</i>: men's value minus women's); for a number "
                    "(e.g. age), the change per unit (per year); for an ordered attribute (e.g. education), the "
                    "linear trend per step. Token- and utterance-level models are <i>mixed models</i>: they use "
                    "every vowel or utterance but know that tokens of one speaker are not independent (a random "
                    "intercept per speaker, and per word for vowels), and the token models take one vowel at a "
                    "time. Speaker-level models use one value per speaker.",
                    "To put measures in different units on one axis, each estimate is shown in standard deviations "
                    "of the speakers' means of the measure (how much speakers differ in it), with its 95 % "
                    "confidence interval (the bar). A bar that crosses 0 means "
                    "the data are compatible with no effect. Filled dots have <i>q</i> &lt; 0.05: q is the p-value "
                    "corrected for the number of tests (false discovery rate), so among filled dots about 1 in 20 "
                    "may still be a fluke. The attribute varies between speakers only, so what matters is the number "
                    "of speakers, not of tokens: with few speakers, intervals are wide and most effects are not "
                    "detectable. The estimate in the measure's own unit is in the table below.")]
    if not _has(models, "level", "measure", "attribute", "term", "estimate", "sd_between", "ci_low", "ci_high"):
        return "".join(parts) + '<p class="note">No models were fitted.</p>'
    from matplotlib.lines import Line2D

    for level in [lvl for lvl in ("speaker", "utterance", "token") if (models.level == lvl).any()] + sorted(
            set(models.level.dropna()) - {"speaker", "utterance", "token"}):
        d = _effect_rows(models, level)
        shown = d[np.isfinite(d.rel) & np.isfinite(d.rel_low) & np.isfinite(d.rel_high)]
        hidden = len(d) - len(shown)
        if not len(shown):
            parts.append(f'<p class="note">{_esc(level)} level: no model gave an interval ({len(d)} rows, see the '
                         "table).</p>")
            continue
        measures = [m for m in dict.fromkeys(d.measure) if (shown.measure == m).any()]  # the models' order
        attributes = list(dict.fromkeys(shown.attribute))
        ncols = min(len(attributes), 3)
        nrows = -(-len(attributes) // ncols)
        panel_height = 0.26 * len(measures) + 0.3
        legend_room = 0.35 * max(-(-len(set(shown[shown.attribute == a].term)) // 3) for a in attributes)
        fig = _new_figure(3.4 * ncols + 2.4, (panel_height + 1.0 + legend_room) * nrows + 0.5)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        ypos = {m: i for i, m in enumerate(measures)}
        for i, attribute in enumerate(attributes):
            ax = axes[i // ncols][i % ncols]
            a = shown[shown.attribute == attribute]
            terms = list(dict.fromkeys(a.term))
            width = 0.7 / max(len(terms), 1)
            for j, term in enumerate(terms):
                t = a[a.term == term]
                color = PALETTE[j % len(PALETTE)]
                y = np.array([ypos[m] for m in t.measure]) + (j - (len(terms) - 1) / 2) * width
                ax.hlines(y, t.rel_low, t.rel_high, color=color, lw=1.6)
                significant = (t.q < 0.05).to_numpy() if "q" in t else np.zeros(len(t), bool)
                ax.scatter(t.rel[significant], y[significant], color=color, s=30, zorder=3)
                ax.scatter(t.rel[~significant], y[~significant], facecolor="white", edgecolor=color, s=30, zorder=3,
                           label=None)
            ax.axvline(0, color="#888", lw=0.9)
            ax.set_title(f"{attribute}: {terms[0]}" if len(terms) == 1 else attribute, fontsize=11)
            ax.set_xlabel("effect, between-speaker SDs", fontsize=9)
            ax.grid(True, axis="x", color="#eee")
            ax.set_axisbelow(True)
            ax.tick_params(labelsize=8)
            if len(terms) > 1:  # under the x label: 0.55 inch below the axes
                ax.legend(handles=[Line2D([], [], color=PALETTE[j % len(PALETTE)], marker="o", lw=1.6, label=term)
                                   for j, term in enumerate(terms)], fontsize=8, loc="upper center",
                          bbox_to_anchor=(0.5, -0.55 / panel_height), frameon=False, ncol=min(len(terms), 3))
        for i in range(len(attributes), nrows * ncols):
            axes[i // ncols][i % ncols].set_visible(False)
        ax0 = axes[0][0]
        ax0.set_yticks(range(len(measures)))
        ax0.set_yticklabels(measures)
        ax0.set_ylim(len(measures) - 0.5, -0.5)
        fig.suptitle(f"Effects at the {level} level (95 % intervals; filled: q < 0.05)", fontsize=12)
        fig.tight_layout()
        n_speakers = int(np.nanmax(shown.n_speakers)) if "n_speakers" in shown else 0
        n_rows = int(np.nanmax(shown.n_rows)) if "n_rows" in shown else 0
        rows_word = LEVEL_ROWS.get(level, "rows")
        caption = (f"Effect plot, <b>{_esc(level)}</b> level: up to {_plural(n_speakers, 'speaker')}"
                   + (f" and {n_rows} {rows_word}" if level != "speaker" else "") + " per model; "
                   + f"{len(shown)} estimates with intervals"
                   + (f", {hidden} more not shown (not fitted or degenerate; see the table)" if hidden else "") + ".")
        parts.append(f"<h3>{_esc(level.capitalize())} level</h3>")
        parts.append(_figure(fig, f"effects_{_safe_name(level)}", caption, f"effect plot, {level} level", fig_dir,
                             written))
    parts.append("<h3>All models, family by family, by q within each</h3>")
    parts.append('<p class="note">q is corrected within its family; q_report over every primary test of the report. '
                 "Families with role <i>sensitivity</i> (the per-vowel models on the other formant scale) and "
                 "<i>explore</i> (undeclared attributes) are outside the report-wide correction.</p>")
    table = models.copy()
    if "q" in table:
        keys = [c for c in ("role", "family", "q", "p") if c in table]
        table = table.sort_values(keys, na_position="last", kind="stable")
        table.insert(0, "q<0.05", np.where(table.q.astype(float) < 0.05, "★", ""))
    first = [c for c in ("q<0.05", "family", "role", "level", "measure", "attribute", "term", "estimate", "ci_low",
                         "ci_high", "estimate_sd", "p", "q", "q_report", "df_method", "n_speakers", "n_rows", "status")
             if c in table]
    table = table[first + [c for c in table if c not in first]]
    parts.append(_table_html(table, "models"))
    return "".join(parts)


# -- what the models found, first --------------------------------------------------------------------------


def _effect_label(r) -> str:
    if r.get("level") == "token" and _filled(r.get("vowel")):
        return f"{r['measure']} of /{r['vowel']}/ ({r['language']})"
    return str(r.get("measure"))


def _adjustments(models) -> str:
    """In plain words: what the models of each attribute adjusted for, per level."""
    items = []
    for attribute, d in models.groupby("attribute", sort=False):
        said = []
        for level, words in (("utterance", "prosody (one row per utterance)"), ("token", "each vowel (one row per token)"),
                             ("speaker", "speaker measures (one row per speaker)")):
            e = d[d.level == level]
            if not len(e):
                continue
            adjusted = e.adjusted_for.mode().iloc[0] if "adjusted_for" in e else "?"
            random = e.random.mode().iloc[0] if "random" in e else ""
            said.append(f"{words}: adjusted for <b>{_esc(adjusted)}</b>"
                        + (f"; random intercepts {_esc(random)}" if random and not random.startswith("none") else ""))
        items.append(f"<li><b>{_esc(attribute)}</b>: " + "; ".join(said) + "</li>")
    return "<ul>" + "".join(items) + "</ul>"


def format_calibration(table) -> str:
    """The calibration table as lines of text (voli calibrate's output)."""
    if table is None or not len(table):
        return "calibration: no family was fitted"
    lines = [f"calibration on this corpus: {int(table.shuffles.iloc[0])} shuffles within {table.strata.iloc[0]}, "
             f"engine {table.engine.iloc[0]}"]
    for _, r in table.iterrows():
        lines.append(f"  {r.family:<32} {r.what:<16} {r.threshold:<40} {r.rate:6.1%} "
                     f"[{r.ci_low:.1%}, {r.ci_high:.1%}] ({int(r.hits)}/{int(r.tests)})"
                     + ("  FLAGGED" if r.flagged else ""))
    return "\n".join(lines)


def _calibration_html(calibration) -> str:
    """The lead's calibration paragraph: flagged families first, then the table."""
    if calibration is None or not len(calibration):
        return ('<p class="note">Not calibrated on this corpus yet: <code>voli calibrate CORPUS</code> estimates how '
                "often these models find an effect that is not there, and how often they find one that is.</p>")
    flagged = calibration[calibration.flagged.astype(bool)]
    parts = ["<h3>Calibration on this corpus</h3>"]
    if len(flagged):
        items = "".join(f"<li><b>{_esc(r.family)}</b>: {r.rate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}] "
                        f"({_esc(r.threshold)}) with the attributes shuffled: read its findings with caution</li>"
                        for _, r in flagged.iterrows())
        parts.append(f'<ul class="problems">{items}</ul>')
    c = calibration.iloc[0]
    parts.append(_howto(f"The models were refitted {int(c.shuffles)} times with the tested attributes shuffled among "
                        f"speakers within {_esc(c.strata)} (so no attribute has an effect), and with a shift of "
                        f"{c.shift_sd:g} between-speaker SD spliced into the real measures (power). A family above "
                        "7.5 % false positives is flagged."))
    shown = calibration[["family", "what", "threshold", "rate", "ci_low", "ci_high", "hits", "tests"]]
    parts.append(_table_html(shown, "calibration"))
    return "".join(parts)


def _findings_section(tables) -> str:
    """The report's lead: controlled per-vowel and prosodic effects, the checks, and how to rerun them in R."""
    models, checks = tables.get("models"), tables.get("checks")
    parts = ['<h2 id="findings">Findings: effects of the survey attributes, controlled</h2>']
    calibration = tables.get("calibration")
    if calibration is not None and len(calibration) and calibration.flagged.astype(bool).any():
        names = ", ".join(sorted(set(calibration[calibration.flagged.astype(bool)].family)))
        parts.append(f'<p class="problems"><b>Calibration flags</b>: {_esc(names)} found effects in more than 7.5 % of '
                     "shuffled corpora (below).</p>")
    if not _has(models, "family", "primary", "p", "q"):
        return "".join(parts) + '<p class="note">No model could be fitted (too few speakers per attribute level).</p>'
    engine = models.engine.iloc[0] if "engine" in models else "?"
    n_models = models.model_id.nunique() if "model_id" in models else len(models)
    excluded = models.attrs.get("excluded_tokens", 0) if hasattr(models, "attrs") else 0
    parts.append(_howto(
        "Each row is one model: a speech measure against one survey attribute, <i>with the other attributes "
        "listed as controls held constant</i>. A vowel's formants are modelled one vowel at a time within one "
        "language (does /u/ front with education?), in Hz and after Lobanov 2.0 normalisation; prosody one "
        "utterance at a time. Random intercepts per speaker (and per word, for vowels, with lme4) let every token "
        "count while the attribute is judged on the number of speakers. <i>q</i> corrects p for the number of "
        "tests within one family of models (one family per measure set and language); an effect with q &lt; 0.05 "
        "is listed below. The estimate is in the measure's unit (Hz, semitones, syllables/s, Lobanov z).",
        f"Engine: <b>{_esc(engine)}</b>; {n_models} models. "
        + (f"{int(excluded)} vowel tokens were left out as marked by hand (exclusions.csv). " if excluded else "")
        + "Every model is in <code>models.parquet</code> with its formula; <code>export/models.R</code> refits "
        "them all in R from <code>export/*.csv</code>: <code>cd 04_profile/export &amp;&amp; Rscript models.R</code>."))
    if _has(checks, "message"):
        first = checks.kind.astype(str) == "follows_control" if "kind" in checks else checks.message.isna()
        items = "".join(f"<li><b>{_esc(r['kind'])}</b>: {_esc(r['message'])}</li>"
                        for rows in (checks[first], checks[~first]) for _, r in rows.iterrows())
        parts.append(f'<h3>Before reading the effects</h3><ul class="problems">{items}</ul>')
    parts.append("<h3>What each model adjusted for</h3>" + _adjustments(models))
    parts.append(_calibration_html(calibration))
    primary = models[models.primary.astype(bool)].copy()
    primary["effect on"] = primary.apply(_effect_label, axis=1)
    cols = ["effect on", "attribute", "term", "estimate", "ci_low", "ci_high", "estimate_sd", "p", "q", "q_report",
            "n_speakers", "formula"]
    for title, rows in (("Per vowel", primary[primary.level == "token"]),
                        ("Prosody and speaker measures", primary[primary.level != "token"])):
        found = rows[rows.q.astype(float) < 0.05].sort_values("q", kind="stable")
        if not len(rows):
            parts.append(f"<h3>{title}: no model</h3>" + '<p class="note">None could be fitted: a model needs more '
                         "speakers than terms (per vowel: speakers of one language with enough tokens of the vowel, "
                         "profile.min_vowel_tokens), and an attribute that varies among them.</p>")
            continue
        parts.append(f"<h3>{title}: {_plural(len(found), 'effect')} with q &lt; 0.05 "
                     f"(of {len(rows)} tests)</h3>")
        if len(found):
            parts.append(_table_html(found[[c for c in cols if c in found]], f"findings_{_safe_name(title)}"))
        else:
            near = rows.sort_values("p", kind="stable").head(5)
            parts.append('<p class="note">None; the smallest p-values were:</p>'
                         + _table_html(near[[c for c in cols if c in near]], f"nearest_{_safe_name(title)}"))
    return "".join(parts)


# -- prediction, header, tables ------------------------------------------------------------------------


def _prediction_section(tables) -> str:
    prediction = tables.get("prediction")
    parts = ['<h2 id="prediction">Can speech tell the survey answers?</h2>',
             _howto("For each attribute, a simple model (logistic regression for groups, ridge regression for numbers "
                    "and ordered answers) learns it from the speech measures of all speakers but one and guesses it "
                    "for the one left out, in turn for every speaker (<i>cv</i>: leave one out; above 20 speakers, "
                    "10-fold: a tenth of the speakers held out at a time). Everything the model uses is learnt from "
                    "the training speakers only, down to how a missing measure is filled and how each measure is "
                    "scaled, so nothing of the held-out speaker leaks into its guess.",
                    "The score is compared with what guessing achieves (<i>chance</i>: balanced accuracy of 1/number "
                    "of groups, or R² of 0 for numbers; R² below 0 is worse than guessing the average). <i>p</i> "
                    "comes from repeating the exercise with the answers shuffled between speakers; when <i>strata</i> "
                    "names an attribute (e.g. gender), they are shuffled only among speakers of the same level of it, "
                    "so that a link with that attribute is not mistaken for a link with this one. “No evidence” does "
                    "not mean there is no link: with few speakers, only strong links show. These p-values are not "
                    "corrected for testing several attributes.")]
    if not _has(prediction, "attribute"):
        return "".join(parts) + '<p class="note">No prediction was run.</p>'
    items = []
    for _, r in prediction.iterrows():
        attribute = _esc(r["attribute"])
        status = str(r.get("status", "ok"))
        score, chance, p = (_float(r.get(k)) for k in ("score", "chance", "p"))
        metric = _esc(r.get("metric", "score"))
        n = _float(r.get("n_speakers"))
        n_text = f", {_plural(int(n), 'speaker')}" if np.isfinite(n) else ""
        strata = r.get("strata")
        within = f", answers shuffled within {_esc(strata)}" if _filled(strata) and str(strata) != "none" else ""
        detail = (f"({metric} {_fmt_number(score)} against {_fmt_number(chance)} by chance, p = {_fmt_p(p)}"
                  f"{n_text}{within})")
        if status != "ok" or not np.isfinite(p):
            items.append(f'<li class="no">{attribute}: not tested ({_esc(status)})</li>')
        elif p < 0.05 and score > chance:
            items.append(f'<li><span class="yes">Speech predicts {attribute} better than chance</span> {detail}</li>')
        else:
            items.append(f'<li><span class="no">No evidence that speech predicts {attribute}</span> {detail}</li>')
    parts.append(f'<ul class="findings">{"".join(items)}</ul>')
    parts.append(_table_html(prediction, "prediction"))
    return "".join(parts)


def _header(tables, corpus: Path) -> str:
    speakers, tokens = tables.get("speakers"), tables.get("tokens")
    n_speakers = speakers.speaker_id.nunique() if _has(speakers, "speaker_id") else 0
    n_tokens = len(tokens) if tokens is not None else 0
    n_utt = int(speakers.n_utterances.sum()) if _has(speakers, "n_utterances") else None
    languages = ""
    if _has(tokens, "language"):
        langs = sorted(tokens.language.dropna().astype(str).unique())
        languages = f", languages: {_esc(', '.join(langs))}" if langs else ""
    name = Path(corpus).resolve().name
    today = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<h1>Speech profile of the corpus “{_esc(name)}”</h1>",
             f'<p class="meta">Written {today} by voli from <code>{_esc(Path(corpus).resolve())}</code>.</p>',
             f"<p><b>{_plural(n_speakers, 'speaker')}</b>, <b>{n_tokens} vowel tokens</b>"
             + (f", <b>{n_utt} utterances</b>" if n_utt is not None else "") + f"{languages}.</p>",
             '<nav><a href="#findings">Findings</a><a href="#vowels">Vowel charts</a><a href="#pca">Profiles (PCA)</a><a href="#effects">Effects</a>'
             '<a href="#prediction">Prediction</a><a href="#tables">Tables</a></nav>',
             _findings_section(tables),
             "<h2 id=\"survey\">Survey attributes</h2>",
             _howto("How voli read each survey column: <i>categorical</i> (groups without order; the first level is "
                    "the reference the others are compared with), <i>ordinal</i> (ordered steps, treated as equally "
                    "spaced) or <i>numeric</i>. <i>declared</i> says whether survey.yaml stated it; otherwise voli "
                    "guessed it from the values: check the guess.")]
    attributes = tables.get("attributes")
    parts.append(_table_html(attributes, "attributes") if _has(attributes, "attribute")
                 else '<p class="note">No survey attributes.</p>')
    listed = tables.get("problems")
    parts.append("<h2 id=\"problems\">Problems</h2>")
    if _has(listed, "message"):
        def who(r) -> str:
            named = [f"speaker {r['speaker_id']}" if _filled(r.get("speaker_id")) else "",
                     f"recording {r['recording_id']}" if _filled(r.get("recording_id")) else ""]
            return ", ".join(x for x in named if x) or "the corpus"

        items = "".join(f"<li><b>{_esc(who(r))}</b>: {_esc(r['message'])}</li>" for _, r in listed.iterrows())
        parts.append(f'<ul class="problems">{items}</ul>')
    else:
        parts.append("<p>None found.</p>")
    return "".join(parts)


def _tables_section(tables) -> str:
    parts = ['<h2 id="tables">Tables</h2>',
             _howto("Every table of this report is also in <code>report/tables/</code> as CSV (for a spreadsheet) "
                    "and next to the report folder as Parquet (for R or Python). One row of <i>speakers</i> is one "
                    "speaker's measures with the survey answers; <i>tokens</i>, one row per vowel, is too long to "
                    "show here.")]
    links = " · ".join(f'<a href="tables/{_esc(_safe_name(n))}.csv">{_esc(n)}.csv</a>' for n in tables)
    parts.append(f"<p>CSV files: {links}</p>")
    speakers = tables.get("speakers")
    parts.append("<h3>Speakers</h3>")
    parts.append(_table_html(speakers, "speakers") if _has(speakers, "speaker_id")
                 else '<p class="note">No speakers.</p>')
    return "".join(parts)


# -- the report --------------------------------------------------------------------------------------------


def _clear_stale(directory: Path, suffix: str, keep: set[str], patterns: tuple[str, ...]) -> None:
    for path in directory.glob(f"*{suffix}"):
        if path.stem not in keep and any(re.fullmatch(p, path.stem) for p in patterns):
            path.unlink()


def write_report(stage_dir: Path, tables: dict, *, corpus: Path) -> Path:
    """Writes report/index.html (figures embedded), figures/*.png and report/tables/*.csv; returns the HTML path."""
    stage_dir = Path(stage_dir)
    report_dir, fig_dir = stage_dir / "report", stage_dir / "figures"
    table_dir = report_dir / "tables"
    for d in (report_dir, fig_dir, table_dir):
        d.mkdir(parents=True, exist_ok=True)
    tables = {name: frame for name, frame in tables.items() if frame is not None}
    for name, frame in tables.items():
        frame.to_csv(table_dir / f"{_safe_name(name)}.csv", index=False)
    _clear_stale(table_dir, ".csv", {_safe_name(n) for n in tables}, (r".+",))

    written: list[str] = []
    sections = [_header(tables, corpus)]
    for build in (_vowel_section, _pca_section, _effects_section):
        try:
            sections.append(build(tables, fig_dir, written))
        except Exception as err:  # noqa: BLE001 - a figure must not sink the stage: it is a problem, in the page too
            log.debug("report: %s failed", build.__name__, exc_info=True)
            problems.report("figure_failed", f"the report's {build.__name__.strip('_').replace('_', ' ')} could not be "
                            f"drawn ({bug_message(err)})")
            sections.append(f'<p class="note">This section could not be drawn: {_esc(type(err).__name__)}: '
                            f"{_esc(err)}</p>")
    sections.append(_prediction_section(tables))
    sections.append(_tables_section(tables))
    _clear_stale(fig_dir, ".png", set(written), (r"vowels_.+", r"pca_biplot", r"dendrogram", r"effects_.+"))

    name = Path(corpus).resolve().name
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>voli profile: {_esc(name)}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
    path = report_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    log.info("profile: report written to %s (%d figures)", path, len(written))
    return path
