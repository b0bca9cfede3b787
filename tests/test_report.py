"""The profile report: a self-contained HTML page, PNG figures and CSV tables from synthetic profile tables."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from voli.profile.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOWELS = {"i": (300, 2300), "a": (750, 1400), "u": (320, 800)}  # woman-ish F1, F2 in Hz


def synthetic_tables(n_speakers: int = 12, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"S{i:02d}" for i in range(n_speakers)]
    gender = ["woman" if i % 2 == 0 else "man" for i in range(n_speakers)]
    language = ["es" if i < n_speakers // 2 else "fr" for i in range(n_speakers)]
    age = rng.integers(20, 70, n_speakers).astype(float)
    rows = []
    for sid, g, lang in zip(ids, gender, language):
        scale = 0.85 if g == "man" else 1.0
        for phone, (f1, f2) in VOWELS.items():
            for k in range(8):
                rows.append({"speaker_id": sid, "utterance_id": f"{sid}-{k % 3}", "language": lang, "phone": phone,
                             "word": "casa", "duration_s": rng.uniform(0.05, 0.2),
                             "f1_hz": scale * f1 + rng.normal(0, 40), "f2_hz": scale * f2 + rng.normal(0, 120)})
    tokens = pd.DataFrame(rows)
    for f in ("f1", "f2"):
        by = tokens.groupby("speaker_id")[f"{f}_hz"]
        tokens[f"{f}_lobanov"] = (tokens[f"{f}_hz"] - by.transform("mean")) / by.transform("std")
    measures = ["articulation_rate", "f0_median_hz", "formant_scale_hz", "category_dispersion_lobanov"]
    speakers = pd.DataFrame({
        "speaker_id": ids, "n_utterances": 3, "n_tokens": tokens.groupby("speaker_id").size().loc[ids].to_numpy(),
        "language": language,
        "articulation_rate": rng.normal(5, 0.5, n_speakers),
        "f0_median_hz": [rng.normal(210 if g == "woman" else 115, 15) for g in gender],
        "formant_scale_hz": rng.normal(1000, 80, n_speakers),
        "category_dispersion_lobanov": rng.normal(1, 0.1, n_speakers),
        "gender": gender, "age": age})
    model_rows = []
    for level, measure_list, n_rows in (("speaker", measures, n_speakers), ("token", ["f1_hz", "f2_hz"], len(tokens)),
                                        ("utterance", ["articulation_rate"], 3 * n_speakers)):
        for attribute, term in (("gender", "man vs woman"), ("age", "per unit")):
            for m in measure_list:
                est, se = rng.normal(0, 10), abs(rng.normal(5, 1))
                model_rows.append({"measure": m, "attribute": attribute, "term": term, "estimate": est, "se": se,
                                   "relative": est / 500, "sd_between": 25.0, "n_speakers": n_speakers,
                                   "n_rows": n_rows, "df": 10,
                                   "status": "converged", "ci_low": est - 2 * se, "ci_high": est + 2 * se,
                                   "p": rng.uniform(0, 0.2), "level": level})
    models = pd.DataFrame(model_rows)
    models["q"] = np.minimum(models.p * 3, 1.0)
    models.loc[0, ["p", "q"]] = [0.0001, 0.001]
    x = speakers[measures].to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    scores = pd.DataFrame({"speaker_id": ids, "pc1": u[:, 0] * s[0], "pc2": u[:, 1] * s[1], "pc3": u[:, 2] * s[2]})
    from scipy.cluster.hierarchy import fcluster, linkage

    link = linkage(scores[["pc1", "pc2", "pc3"]].to_numpy(), method="ward")
    scores["cluster"] = fcluster(link, 3, criterion="maxclust").astype("int32")
    explained = s**2 / (s**2).sum()
    return {
        "speakers": speakers,
        "tokens": tokens,
        "models": models,
        "prediction": pd.DataFrame({"attribute": ["gender", "age"], "model": ["logistic", "ridge"],
                                    "metric": ["balanced accuracy", "R2"], "score": [0.9, -0.2], "chance": [0.5, 0.0],
                                    "p": [0.01, 0.6], "n_speakers": n_speakers, "n_measures": 4,
                                    "status": "ok"}),
        "associations": pd.DataFrame({"attribute": ["gender", "age"], "target": ["cluster", "pc1"],
                                      "test": ["chi-square", "Spearman"], "statistic": [3.1, 0.2], "p": [0.2, 0.5],
                                      "n_speakers": n_speakers, "q": [0.4, 0.5]}),
        "pca_scores": scores,
        "pca_loadings": pd.DataFrame({"measure": measures, "pc1": vt[0], "pc2": vt[1], "pc3": vt[2]}),
        "pca_explained": pd.DataFrame({"component": ["pc1", "pc2", "pc3"], "explained": explained[:3]}),
        "linkage": pd.DataFrame(link, columns=["left", "right", "distance", "size"]),
        "problems": pd.DataFrame({"stage": ["profile"], "recording_id": [None], "speaker_id": ["S03"], "kind": ["few_tokens"],
                                  "message": ["only 12 vowel tokens <pass> the filters"]}),
        "attributes": pd.DataFrame({"attribute": ["gender", "age"], "kind": ["categorical", "numeric"],
                                    "levels": ["woman|man", ""], "declared": [True, False],
                                    "description": ["categorical: woman, man", "numeric 20-70"]}),
    }


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables()


def embedded_images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_with_every_table(tmp_path, tables):
    path = write_report(tmp_path, tables, corpus=tmp_path / "my_corpus")
    assert path == tmp_path / "report" / "index.html"
    page = path.read_text(encoding="utf-8")
    assert "my_corpus" in page
    assert "could not be drawn" not in page
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    expected = {"vowels_es", "vowels_fr", "pca_biplot", "dendrogram", "effects_speaker", "effects_token",
                "effects_utterance"}
    figures = {p.stem: p.read_bytes() for p in (tmp_path / "figures").glob("*.png")}
    assert set(figures) == expected
    for name, data in figures.items():
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5000, name
    images = embedded_images(page)
    assert len(images) == len(expected)
    assert sorted(images) == sorted(figures.values())  # the page embeds exactly the written files
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)
    assert len(captions) == len(expected)
    for caption in captions:
        assert re.search(r"\d+ speakers?", caption), caption
    assert "6 speakers, 144 vowel tokens" in page  # each language's chart: its own speakers and tokens
    assert "12 speakers, whose measures come from 288 vowel tokens" in page
    assert "12 speakers" in page and "288 vowel tokens" in page and "36 utterances" in page
    assert "&lt;pass&gt;" in page and "<pass>" not in page  # table and list text is escaped
    assert "Speech predicts gender better than chance" in page
    assert "No evidence that speech predicts age" in page
    for name in tables:
        csv = tmp_path / "report" / "tables" / f"{name}.csv"
        assert csv.exists(), name
        assert len(pd.read_csv(csv)) == len(tables[name])


def test_report_without_pca(tmp_path, tables):
    partial = {k: v for k, v in tables.items() if k not in ("pca_scores", "pca_loadings", "pca_explained", "linkage",
                                                            "associations")}
    write_report(tmp_path, tables, corpus=tmp_path / "c")  # a first run with PCA: its figures must go
    path = write_report(tmp_path, partial, corpus=tmp_path / "c")
    page = path.read_text(encoding="utf-8")
    figures = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert "pca_biplot" not in figures and "dendrogram" not in figures
    assert {"vowels_es", "vowels_fr", "effects_speaker"} <= figures
    assert len(embedded_images(page)) == len(figures)
    assert "No PCA" in page
    assert not (tmp_path / "report" / "tables" / "pca_scores.csv").exists()


def test_report_minimal_tables(tmp_path, tables):
    """No categorical attribute (colours per speaker), no models, no prediction: still a page."""
    minimal = {"speakers": tables["speakers"].drop(columns="gender"), "tokens": tables["tokens"],
               "models": pd.DataFrame(), "problems": pd.DataFrame(columns=["stage", "recording_id", "speaker_id", "kind", "message"]),
               "attributes": tables["attributes"].iloc[1:]}
    page = write_report(tmp_path, minimal, corpus=tmp_path / "c").read_text(encoding="utf-8")
    assert {p.stem for p in (tmp_path / "figures").glob("*.png")} == {"vowels_es", "vowels_fr"}
    assert "No models were fitted" in page and "No prediction was run" in page
    assert "could not be drawn" not in page


def test_survey_values_with_html_are_escaped(tmp_path, tables):
    """A speaker ID, an attribute level and a problem with markup in them come out as text, never as markup."""
    speakers = tables["speakers"].assign(gender=tables["speakers"].gender.replace({"woman": "<b>x</b> & y"}))
    speakers.loc[0, "speaker_id"] = "<i>S00</i>"
    tokens = tables["tokens"].assign(speaker_id=tables["tokens"].speaker_id.replace({"S00": "<i>S00</i>"}))
    attributes = tables["attributes"].assign(levels=["<b>x</b> & y|man", ""])
    problems = tables["problems"].assign(speaker_id=["<i>S00</i>"], message=["<script>alert('x')</script> & co"])
    page = write_report(tmp_path, {**tables, "speakers": speakers, "tokens": tokens, "attributes": attributes,
                                   "problems": problems}, corpus=tmp_path / "c&<d>").read_text(encoding="utf-8")
    assert "<b>x</b>" not in page and "<i>S00</i>" not in page
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page  # the level in the speakers table and the attributes table
    assert "<b>speaker &lt;i&gt;S00&lt;/i&gt;</b>: &lt;script&gt;" in page  # the problem list: speaker and message
    assert "c&amp;&lt;d&gt;" in page and "c&<d>" not in page  # the corpus name in the title and the heading
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "could not be drawn" not in page and len(embedded_images(page)) == 7


def test_templates_ship_with_the_package():
    """The templates are package data: a wheel has them (pyproject's package-data) beside the modules."""
    import tomllib
    from pathlib import Path

    import voli.profile.report as report

    folder = Path(report.__file__).parent / "templates"
    names = {p.name for p in folder.iterdir()}
    assert {"page.html.j2", "macros.html.j2", "findings.html.j2", "style.css"} <= names
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["voli.profile.report"]
    assert all(any(folder.joinpath(n).match(p) for p in patterns) for n in names), (names, patterns)
