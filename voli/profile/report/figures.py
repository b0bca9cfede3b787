"""The report's figures, each a pure function of tables: DataFrames in, a matplotlib Figure out.

Nothing here writes a file or knows the page: :mod:`voli.profile.report.render` saves and embeds the figures.
The figures use matplotlib's object API (no pyplot): no global state, no display needed.
"""

from __future__ import annotations

import numpy as np

from voli.profile.report.format import has, filled, plural

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")


def new_figure(width: float, height: float):
    """A figure of ``width`` x ``height`` inches on matplotlib's Agg canvas."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def colours(keys) -> dict:
    """The palette's colours for ``keys`` in their order (cycling past ten)."""
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


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


def vowel_chart(data, groups: list[str], colors: dict, *, language, legend_title: str, by_speaker: bool):
    """One language's vowel chart: F2 x F1 in Hz, and Lobanov-normalised beside it when the tokens have it.

    ``data``: that language's tokens with ``phone``, ``speaker_id``, ``f1_hz``, ``f2_hz`` (optionally
    ``f1_lobanov``, ``f2_lobanov``) and ``_group``, the colour group of each token; ``groups`` in legend
    order; ``by_speaker``: a group is one speaker (the legend then counts tokens only).
    """
    from matplotlib.lines import Line2D

    lobanov = {"f1_lobanov", "f2_lobanov"} <= set(data.columns)
    n_panels = 2 if lobanov and data[["f1_lobanov", "f2_lobanov"]].notna().all(axis=1).any() else 1
    fig = new_figure(6.2 * n_panels, 5.6)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    _vowel_panel(axes[0], data, "f2_hz", "f1_hz", groups, colors, "Hz")
    axes[0].set_title(f"language {language}: raw formants (Hz)", fontsize=12)
    if n_panels == 2:
        norm = data.dropna(subset=["f1_lobanov", "f2_lobanov"])
        _vowel_panel(axes[1], norm, "f2_lobanov", "f1_lobanov", groups, colors, "Lobanov z")
        axes[1].set_title(f"language {language}: Lobanov-normalised (z per speaker)", fontsize=12)

    def label(g):
        n_tokens = f"{(data._group == g).sum()} tokens"
        if by_speaker:
            return f"{g} ({n_tokens})"
        return f"{g} ({plural(data[data._group == g].speaker_id.nunique(), 'speaker')}, {n_tokens})"

    handles = [Line2D([], [], marker="o", linestyle="", color=colors[g], label=label(g)) for g in groups]
    legend_rows = -(-len(handles) // 4)
    fig.legend(handles=handles, title=legend_title, loc="lower center", ncol=min(len(handles), 4),
               bbox_to_anchor=(0.5, -0.02), frameon=False)
    fig.tight_layout(rect=(0, min(0.5, 0.04 + 0.045 * legend_rows), 1, 1))
    return fig


# -- PCA: scree plot, biplot, dendrogram ---------------------------------------------------------------------


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


def scree(explained, title: str):
    """Each component's share of the variance against the shuffled data's (mean and 95th percentile)."""
    rows = explained.reset_index(drop=True)
    k = len(rows)
    fig = new_figure(max(4.5, 0.45 * k + 2.0), 3.4)
    ax = fig.subplots()
    xs = np.arange(1, k + 1)
    real = [bool(r) if filled(r) else False for r in rows.real] if "real" in rows else [False] * k
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


def biplot(scores, loadings, share: dict, real: set, cmap: dict, title: str):
    """Speakers on PC1 x PC2 (colour: cluster) with the variables' loadings as arrows."""
    fig = new_figure(9.5, 7.5)
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
    name = "variable" if has(loadings, "variable") else "measure"
    if has(loadings, name, "pc1", "pc2"):
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


def dendrogram(linkage, scores, cmap: dict, title: str):
    """The Ward tree of the ``linkage`` table (left, right, distance, size), leaves in the clusters' colours."""
    from scipy.cluster import hierarchy

    n = len(scores)
    fig = new_figure(max(6.0, 0.45 * n + 2), 4.8)
    ax = fig.subplots()
    hierarchy.dendrogram(linkage[["left", "right", "distance", "size"]].to_numpy(float), ax=ax,
                         labels=[str(s) for s in scores.speaker_id], leaf_rotation=90, leaf_font_size=9,
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


# -- effect plots -----------------------------------------------------------------------------------------


def _effect_panel(ax, rows, ypos: dict, panel_height: float) -> None:
    """One attribute's estimates (``rel``, ``rel_low``, ``rel_high``), one colour per term."""
    from matplotlib.lines import Line2D

    terms = list(dict.fromkeys(rows.term))
    width = 0.7 / max(len(terms), 1)
    for j, term in enumerate(terms):
        t = rows[rows.term == term]
        color = PALETTE[j % len(PALETTE)]
        y = np.array([ypos[m] for m in t.measure]) + (j - (len(terms) - 1) / 2) * width
        ax.hlines(y, t.rel_low, t.rel_high, color=color, lw=1.6)
        significant = (t.q < 0.05).to_numpy() if "q" in t else np.zeros(len(t), bool)
        ax.scatter(t.rel[significant], y[significant], color=color, s=30, zorder=3)
        ax.scatter(t.rel[~significant], y[~significant], facecolor="white", edgecolor=color, s=30, zorder=3,
                   label=None)
    ax.axvline(0, color="#888", lw=0.9)
    attribute = rows.attribute.iloc[0]
    ax.set_title(f"{attribute}: {terms[0]}" if len(terms) == 1 else attribute, fontsize=11)
    ax.set_xlabel("effect, between-speaker SDs", fontsize=9)
    ax.grid(True, axis="x", color="#eee")
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)
    if len(terms) > 1:  # under the x label: 0.55 inch below the axes
        ax.legend(handles=[Line2D([], [], color=PALETTE[j % len(PALETTE)], marker="o", lw=1.6, label=term)
                           for j, term in enumerate(terms)], fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.55 / panel_height), frameon=False, ncol=min(len(terms), 3))


def effect_plot(shown, measures: list[str], level: str):
    """One level's effects: a panel per attribute, a row per measure (in ``measures``' order), 95 % intervals.

    ``shown``: model rows with ``measure``, ``attribute``, ``term``, ``rel``, ``rel_low``, ``rel_high``
    (in between-speaker SDs, all finite) and ``q`` (filled dot below 0.05).
    """
    attributes = list(dict.fromkeys(shown.attribute))
    ncols = min(len(attributes), 3)
    nrows = -(-len(attributes) // ncols)
    panel_height = 0.26 * len(measures) + 0.3
    legend_room = 0.35 * max(-(-len(set(shown[shown.attribute == a].term)) // 3) for a in attributes)
    fig = new_figure(3.4 * ncols + 2.4, (panel_height + 1.0 + legend_room) * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    ypos = {m: i for i, m in enumerate(measures)}
    for i, attribute in enumerate(attributes):
        _effect_panel(axes[i // ncols][i % ncols], shown[shown.attribute == attribute], ypos, panel_height)
    for i in range(len(attributes), nrows * ncols):
        axes[i // ncols][i % ncols].set_visible(False)
    ax0 = axes[0][0]
    ax0.set_yticks(range(len(measures)))
    ax0.set_yticklabels(measures)
    ax0.set_ylim(len(measures) - 0.5, -0.5)
    fig.suptitle(f"Effects at the {level} level (95 % intervals; filled: q < 0.05)", fontsize=12)
    fig.tight_layout()
    return fig


# -- vowel dynamics ----------------------------------------------------------------------------------------------


def trajectory_plot(curves, title: str):
    """One vowel-dynamics model: each level's predicted trajectory (left) and the difference curve(s) from the
    reference (right), with 95 % pointwise intervals. ``curves``: rows of trajectories.parquet for one model
    (level, time, fit, ci_low, ci_high, difference)."""
    fig = new_figure(8.6, 3.3)
    left, right = fig.subplots(1, 2)
    levels = [lvl for lvl in dict.fromkeys(curves.level) if not str(lvl).startswith("difference: ")]
    colors = colours(levels)
    for lvl in levels:
        c = curves[curves.level == lvl].sort_values("time")
        left.fill_between(100 * c.time, c.ci_low, c.ci_high, color=colors[lvl], alpha=0.18, lw=0)
        left.plot(100 * c.time, c.fit, color=colors[lvl], lw=1.8, label=str(lvl))
    left.set_xlabel("% of the vowel", fontsize=9)
    left.set_ylabel("formant, speaker z-score", fontsize=9)
    left.legend(fontsize=8, frameon=False)
    left.set_title("predicted trajectories", fontsize=10)
    for j, lvl in enumerate(lvl for lvl in dict.fromkeys(curves.level) if str(lvl).startswith("difference: ")):
        c = curves[curves.level == lvl].sort_values("time")
        color = PALETTE[(j + 1) % len(PALETTE)]
        right.fill_between(100 * c.time, c.ci_low, c.ci_high, color=color, alpha=0.18, lw=0)
        right.plot(100 * c.time, c.fit, color=color, lw=1.8, label=str(lvl)[len("difference: "):])
    right.axhline(0, color="#888", lw=0.9)
    right.set_xlabel("% of the vowel", fontsize=9)
    right.set_title("difference from the reference", fontsize=10)
    right.legend(fontsize=8, frameon=False)
    for ax in (left, right):
        ax.grid(True, color="#eee")
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
