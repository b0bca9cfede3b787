"""The report's PCA section: per view (vowels of each language, prosody), the scree plot, the biplot, the
dendrogram, how many components are real and which survey attributes go with the clusters and components."""

from __future__ import annotations

import re
from pathlib import Path

from voli.profile.report import figures
from voli.profile.report.format import filled, fmt_p, has, plural, safe_name, table_view, to_float
from voli.profile.report.render import embed, render, render_macro

VIEW_FIGURES = (r"pca_scree_.+", r"pca_biplot_.+", r"dendrogram_.+")  # one of each per view


def pca_views(scores) -> list:
    """The views of the PCA tables in reading order: vowels (by language), prosody, others; [None] without views."""
    if "view" not in scores:
        return [None]
    views = [str(v) for v in dict.fromkeys(scores.view.dropna())]
    vowels = sorted(v for v in views if v.startswith("vowels:"))
    return vowels + [v for v in views if v == "prosody"] + [v for v in views if v not in vowels and v != "prosody"]


def view_title(view) -> str:
    if view is None:
        return "Speech measures"
    if view.startswith("vowels:"):
        return f"Vowels, language {view.split(':', 1)[1]}"
    return "Prosody and voice" if view == "prosody" else str(view)


def of_view(frame, view):
    if frame is None or view is None or "view" not in frame:
        return frame
    return frame[frame.view.astype(str) == view]


def n_real(explained) -> int | None:
    """The leading run of real components (None when the table has no permutation test)."""
    if not has(explained, "real"):
        return None
    run = 0
    for real in explained.real:
        if not (filled(real) and bool(real)):
            break
        run += 1
    return run


def real_components(explained, n: int | None) -> dict | None:
    """How many components are real, for the ``real_words`` macro (None without a permutation test)."""
    if n is None:
        return None
    rows = explained.reset_index(drop=True)
    first = rows.iloc[0]
    if n == 0:
        return {"n": 0, "first_share": f"{100 * to_float(first.explained):.0f}",
                "first_q95": f"{100 * to_float(first.get('null_q95')):.0f}", "first_p": fmt_p(first.get("p"))}

    def described(r) -> str:
        return (f"{str(r.component).upper()} ({100 * to_float(r.explained):.0f} % of the variance, against "
                f"{100 * to_float(r.get('null_mean')):.0f} % on average in shuffled data; p = {fmt_p(r.get('p'))})")

    return {"n": n, "count": plural(n, "real component"), "named": "; ".join(described(rows.iloc[i]) for i in range(n)),
            "next": str(rows.iloc[n].component).upper() if n < len(rows) else None}


def associations_found(assoc) -> dict | None:
    """Which attributes go with the clusters and the real components (q < 0.05), and how each p was adjusted."""
    if not has(assoc, "attribute", "target", "q"):
        return None
    found = assoc[assoc.q.astype(float) < 0.05].sort_values("q", kind="stable")
    items = [{"attribute": r.attribute, "target": "the clusters" if r.target == "cluster" else str(r.target).upper(),
              "test": r.get("test", ""), "p": fmt_p(r.p), "q": fmt_p(r.q),
              "speakers": plural(int(to_float(r.get("n_speakers")) or 0), "speaker"),
              "detail": r["detail"] if filled(r.get("detail")) else None} for _, r in found.iterrows()]
    tested = sorted(set(assoc.target.astype(str)) - {"cluster"}, key=lambda t: (len(t), t))
    adjusted = []
    if "adjusted_for" in assoc:  # how each attribute's p was adjusted (one line per way)
        ways = assoc.groupby(assoc.adjusted_for.astype(str), sort=False).attribute.agg(
            lambda a: ", ".join(dict.fromkeys(a)))
        adjusted = [{"names": names, "way": way} for way, names in ways.items() if not way.startswith("none (not")]
    return {"items": items, "adjusted": adjusted,
            "against": "the clusters" + (f" or {', '.join(t.upper() for t in tested)}" if tested else "")}


def _association_words(assoc) -> str:
    """Which attributes go with the clusters and the real components (q < 0.05), in plain words."""
    found = associations_found(assoc)
    return render_macro("pca_macros.html.j2", "association_words", found) if found else ""


def view_rests(view, scores, tables) -> str:
    """What a view's figures rest on, in words (speakers, and the tokens or utterances behind them)."""
    tokens, speakers = tables.get("tokens"), tables.get("speakers")
    ids = set(scores.speaker_id)
    n = plural(len(ids), "speaker")
    n_utt = (int(speakers[speakers.speaker_id.isin(ids)].n_utterances.sum())
             if has(speakers, "speaker_id", "n_utterances") else None)
    if view is not None and view.startswith("vowels:"):
        language = view.split(":", 1)[1]
        d = tokens[tokens.speaker_id.isin(ids)] if has(tokens, "speaker_id") else None
        if d is not None and "language" in d:
            d = d[d.language.astype(str) == language]
        return f"{n} and {len(d) if d is not None else 0} vowel tokens of language {language}"
    if view == "prosody":
        return f"{n}, whose measures come from {n_utt} utterances" if n_utt is not None else n
    n_tokens = int(tokens.speaker_id.isin(ids).sum()) if has(tokens, "speaker_id") else 0
    return f"{n}, whose measures come from {n_tokens} vowel tokens" + (
        f" and {n_utt} utterances" if n_utt is not None else "")


def variables_sentence(explained, rests: str) -> str | None:
    """"12 speakers ...; 9 variables, 2 missing values filled with the variable's mean." (None without counts)."""
    if not has(explained, "n_variables"):
        return None
    first = explained.iloc[0]
    imputed = int(to_float(first.get("n_imputed")) or 0)
    return (f"{rests[:1].upper() + rests[1:]}; {plural(int(to_float(first.n_variables)), 'variable')}"
            + (f", {plural(imputed, 'missing value')} filled with the variable's mean" if imputed else "") + ".")


def _dendrogram(linkage, scores, cmap: dict, title: str, name: str, fig_dir: Path, written: list[str]):
    """The view's dendrogram embedded, or why there is none ("missing" or "invalid")."""
    if not (has(linkage, "left", "right", "distance", "size") and len(linkage) == scores.speaker_id.nunique() - 1):
        return "missing"
    from scipy.cluster.hierarchy import is_valid_linkage

    if not is_valid_linkage(linkage[["left", "right", "distance", "size"]].to_numpy(float)):
        return "invalid"
    fig = figures.dendrogram(linkage, scores, cmap, f"Speakers clustered by their {title.lower()}")
    return embed(fig, name, f"dendrogram, {title}", fig_dir, written)


def view_context(view, tables, fig_dir: Path, written: list[str]) -> dict:
    """One view's figures (drawn and written) and words, for the ``view`` macro."""
    scores = of_view(tables.get("pca_scores"), view)
    loadings, explained = of_view(tables.get("pca_loadings"), view), of_view(tables.get("pca_explained"), view)
    linkage, assoc = of_view(tables.get("linkage"), view), of_view(tables.get("associations"), view)
    title = view_title(view)
    suffix = "" if view is None else "_" + safe_name(view.replace(":", "_"))
    rests = view_rests(view, scores, tables)
    n = n_real(explained)
    cmap = figures.colours(sorted(set(scores.cluster.dropna()))) if "cluster" in scores else {}
    share = dict(zip(explained.component.astype(str), explained.explained.astype(float))) if has(
        explained, "component", "explained") else {}
    real = set(explained.component.astype(str).iloc[:n]) if n else set()
    context = {"title": title, "heading": view is not None, "rests": rests,
               "variables": variables_sentence(explained, rests), "real": real_components(explained, n),
               "scree": None, "biplot": None}
    if has(explained, "component", "explained", "null_q95") and view is not None:
        fig = figures.scree(explained, f"{title}: variance explained")
        context["scree"] = embed(fig, f"pca_scree{suffix}", f"scree plot, {title}", fig_dir, written)
    if "pc2" in scores.columns and scores.pc2.notna().any():
        fig = figures.biplot(scores.dropna(subset=["pc1", "pc2"]), loadings, share, real, cmap,
                             f"PCA biplot: {title.lower()}")
        context["biplot"] = embed(fig, f"pca_biplot{suffix}", f"PCA biplot, {title}", fig_dir, written)
    context["dendrogram"] = _dendrogram(linkage, scores, cmap, title, f"dendrogram{suffix}", fig_dir, written)
    context["associations"] = None
    if has(assoc, "attribute"):
        table = assoc.drop(columns="view") if "view" in assoc else assoc.copy()
        if "q" in table:
            table = table.sort_values("q", na_position="last", kind="stable")
        context["associations"] = {"found": associations_found(assoc),
                                   "table": table_view(table, f"associations{suffix}")}
    return context


def clear_view_figures(fig_dir: Path, written: list[str]) -> None:
    """Removes per-view PCA figures of an earlier run that this one did not draw (e.g. a language now absent)."""
    for path in Path(fig_dir).glob("*.png"):
        if path.stem not in written and any(re.fullmatch(p, path.stem) for p in VIEW_FIGURES):
            path.unlink()


def _pca_section(tables, fig_dir: Path, written: list[str]) -> str:
    scores, follow = tables.get("pca_scores"), tables.get("checks")
    followers = []
    if has(follow, "kind", "message"):
        followers = list(follow[follow.kind == "follows_control"].message)
    fitted = has(scores, "speaker_id", "pc1")
    views = [view_context(view, tables, fig_dir, written) for view in pca_views(scores)] if fitted else []
    clear_view_figures(fig_dir, written)
    return render("pca.html.j2", followers=followers, fitted=fitted, views=views)
