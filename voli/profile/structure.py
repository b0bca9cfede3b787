"""Speaker structure: PCA with a permutation test, Ward clusters, and what the survey says about them.

The analysis the VOLI project published (HAL hal-04312441): principal components and hierarchical
clusters of the speakers' vowel formant values, set against their socio-demographic attributes.

* :func:`vowel_matrix`: per language, a speakers x (vowel_F1, vowel_F2) matrix of category means of
  normalised formants (Lobanov 2.0 when present), gaps filled and counted.
* :func:`pca_test`: PCA of a standardised matrix and a permutation test of how many components are
  real (each column permuted on its own destroys the covariation and keeps each variable's values,
  as in nzilbb.vowels' ``pca_test``).
* :func:`speaker_structure`: one "view" per language's vowels plus one over the prosodic speaker
  measures: PCA, Ward clusters on the real components, and tests of every attribute against the
  clusters and each real component (FDR within each view), adjusted for the controls and
  language: the p-value comes from shuffling the attribute only within strata of the controls
  (:func:`control_strata`; a numeric control is cut at its median) and language, which keeps the
  attribute's association with them, so an attribute that goes with the structure only through
  gender is not reported. The plain test's p stays as ``p_unadjusted``; ``adjusted_for`` says
  what each test was shuffled within. The PCA itself is not adjusted.
* :func:`follows_control`: attributes associated with a control at FOLLOWS_CONTROL (0.5) or more,
  whose unadjusted associations would be the control's.
* :func:`predict_attributes`: can the speech measures predict an attribute at all? Cross-validated
  prediction in which imputation and scaling are fitted inside each fold, scored against a
  permutation test that can shuffle within strata (the categorical controls × language).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voli import problems
from voli.errors import ConfigError
from voli.profile.models import fdr
from voli.profile.speakers import speaker_languages
from voli.io.survey import AttributeType, encode

ALPHA = 0.05  # a component is real when its permutation p is below this (and every earlier one's is)
MAX_CLUSTERS = 6  # the silhouette chooses among 2..MAX_CLUSTERS clusters
MIN_VIEW_SPEAKERS = 4  # a view (PCA + clusters) needs at least this many speakers
CHI2_DRAWS = 2000  # Monte Carlo draws behind a chi-square p-value on a table larger than 2x2
LOO_MAX_SPEAKERS = 20  # leave one speaker out up to this many speakers, 10 folds above
N_FOLDS = 10
LOGISTIC_C = 1.0  # inverse L2 penalty of the logistic regression (sklearn's C)
RIDGE_ALPHAS = tuple(10.0 ** np.arange(-2, 4.5, 0.5))  # ridge penalties, chosen by leave-one-out in each fold
# an attribute whose association with a control (Cramér's V, η or |Spearman rho|) reaches this is flagged: the
# control then explains at least a quarter of its variance (0.5 is Cohen's "large" r), enough for the attribute's
# unadjusted tests against the speaker structure to repeat the control's when the control drives the structure
FOLLOWS_CONTROL = 0.5

SCORE_COLUMNS = ("view", "speaker_id")  # + pc1.., cluster
EXPLAINED_COLUMNS = ("view", "component", "explained", "null_mean", "null_q95", "p", "real", "n_speakers",
                     "n_variables", "n_imputed")
ASSOCIATION_COLUMNS = ("view", "attribute", "target", "test", "statistic", "p", "q", "p_unadjusted", "adjusted_for",
                       "n_speakers", "detail")
LINKAGE_COLUMNS = ("view", "left", "right", "distance", "size")
PREDICTION_COLUMNS = ("attribute", "model", "metric", "score", "chance", "p", "n_speakers", "n_measures", "cv",
                      "strata", "status")


# -- the vowel matrix ----------------------------------------------------------------------------------


def _complete(x, what: str):
    """Gaps handled the same way for every view.

    Drops the columns missing for more than half the speakers and the constant ones, then the
    speakers missing more than half of the remaining columns (their row would be mostly invented),
    and fills the remaining gaps with the column mean. Returns (matrix, info) where info has
    ``dropped_columns``, ``dropped_speakers`` and ``imputed`` (the number of filled cells).
    """
    x = x.astype(float)
    missing = x.isna().mean()
    dropped_columns = list(missing.index[missing > 0.5])
    x = x.drop(columns=dropped_columns)
    constant = [c for c in x.columns if x[c].nunique(dropna=True) < 2]
    x = x.drop(columns=constant)
    dropped_columns += constant
    if x.shape[1]:
        sparse = x.isna().mean(axis=1) > 0.5
        dropped_speakers = list(x.index[sparse])
        x = x[~sparse]
    else:
        dropped_speakers = []
    imputed = int(x.isna().to_numpy().sum())
    x = x.fillna(x.mean())
    for sid in dropped_speakers:
        problems.report("speaker_left_out", f"{what}: more than half of the variables are missing for this speaker "
                        "(too few tokens or measures): left out of this PCA", speaker_id=str(sid))
    return x, {"dropped_columns": dropped_columns, "dropped_speakers": dropped_speakers, "imputed": imputed}


def _formant_columns(tokens, f1: str, f2: str) -> tuple[str, str]:
    """The formant columns to use: f1/f2, or their plain Lobanov version when the Lobanov 2.0 ones are absent."""
    chosen = []
    for col in (f1, f2):
        if col in tokens:
            chosen.append(col)
        elif "lobanov2" in col and col.replace("lobanov2", "lobanov") in tokens:
            chosen.append(col.replace("lobanov2", "lobanov"))
        else:
            have = ", ".join(c for c in tokens.columns if c.startswith(("f1_", "f2_"))) or "none"
            raise ValueError(f"vowel_matrix: the tokens have no column {col!r} (formant columns present: {have}); "
                             "pass f1=/f2= naming normalised formant columns, or normalise the tokens first "
                             "(voli.profile.normalise.normalise)")
    if (chosen[0], chosen[1]) != (f1, f2):
        problems.report("normalisation_fallback", f"the vowel PCA uses {chosen[0]}/{chosen[1]}: the tokens have no "
                        f"{f1}/{f2} columns (plain Lobanov z-scores lean towards a speaker's most frequent vowels)")
    return chosen[0], chosen[1]


def vowel_matrix(tokens, *, f1: str = "f1_lobanov2", f2: str = "f2_lobanov2", min_tokens: int = 3) -> dict:
    """Per-speaker vowel category means of normalised formants, one matrix per language.

    Parameters
    ----------
    tokens : DataFrame
        One row per vowel token: ``speaker_id``, ``language``, ``phone`` and the formant columns.
    f1, f2 : str
        Normalised formant columns. When the Lobanov 2.0 columns (``*_lobanov2``) are absent, the
        plain Lobanov ones are used instead (reported as a problem).
    min_tokens : int
        A speaker's mean of a vowel rests on at least this many tokens; fewer makes it missing.

    Returns
    -------
    dict of {language: DataFrame}
        Rows: speakers (index ``speaker_id``); columns ``<vowel>_F1``, ``<vowel>_F2`` (the mean
        normalised F1 and F2 of that vowel). Vowels missing for more than half the speakers are
        dropped, so are speakers missing more than half of the rest; the remaining gaps are filled
        with the column mean. ``attrs`` says what was done: ``formants`` (the columns used),
        ``dropped_vowels``, ``dropped_speakers`` and ``imputed`` (the number of filled cells).
    """
    import pandas as pd

    if min_tokens < 1:
        raise ValueError(f"vowel_matrix: min_tokens={min_tokens!r}; it must be at least 1")
    for col in ("speaker_id", "phone"):
        if col not in tokens:
            raise ValueError(f"vowel_matrix: the tokens have no {col!r} column (columns: {', '.join(tokens.columns)})")
    f1, f2 = _formant_columns(tokens, f1, f2)
    data = tokens.dropna(subset=[f1, f2, "phone"])
    if "language" in data:
        data = data.assign(language=data.language.astype(object).where(data.language.notna(), "unknown"))
    else:
        data = data.assign(language="all")
    out = {}
    for language, d in data.groupby("language", sort=True):
        grouped = d.assign(phone=d.phone.astype(str)).groupby(["speaker_id", "phone"], observed=True)
        means = grouped[[f1, f2]].mean()
        means = means[grouped.size() >= min_tokens]
        speakers = sorted(d.speaker_id.unique(), key=str)
        if len(means):
            wide = means.unstack("phone")
            phones = sorted(wide.columns.get_level_values(1).unique())
            matrix = wide.reindex(index=speakers)[[(f, p) for p in phones for f in (f1, f2)]]
            matrix.columns = [f"{p}_{'F1' if f == f1 else 'F2'}" for f, p in matrix.columns]
        else:
            matrix = pd.DataFrame(index=speakers, dtype=float)
        matrix.index.name = "speaker_id"
        matrix, info = _complete(matrix, f"vowels of language {language}")
        kept = {c.rsplit("_", 1)[0] for c in matrix.columns}
        dropped_vowels = sorted({c.rsplit("_", 1)[0] for c in info["dropped_columns"]} - kept)
        if dropped_vowels:
            problems.report("vowels_left_out", f"vowels of language {language}: {', '.join(dropped_vowels)} left out "
                            f"of the vowel PCA (fewer than {min_tokens} tokens for more than half the speakers, "
                            "or the same value for everyone)")
        matrix.attrs.update({"formants": (f1, f2), "dropped_vowels": dropped_vowels,
                             "dropped_speakers": info["dropped_speakers"], "imputed": info["imputed"]})
        out[str(language)] = matrix
    return out


# -- PCA with a permutation test ---------------------------------------------------------------------


@dataclass(frozen=True)
class PCATest:
    """A PCA and its permutation test.

    scores : DataFrame, speakers x pc1..pcK: the speakers' coordinates (standardised data times
        the loadings); K = min(speakers - 1, variables).
    loadings : DataFrame, variables x pc1..pcK: unit-length directions; each component's sign is
        set so that its largest loading is positive.
    explained : DataFrame, one row per component: ``component``, ``explained`` (share of the total
        variance), ``null_mean`` and ``null_q95`` (the same share's mean and 95th percentile when
        every column is permuted on its own), ``p`` ((1 + permutations at least as high) /
        (1 + permutations)) and ``real`` (in the leading run of components with p < 0.05).
    n_real : int, the number of real components.
    """

    scores: object
    loadings: object
    explained: object
    n_real: int


def _standardise(x):
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        index, columns, values = list(x.index), [str(c) for c in x.columns], x.to_numpy(float)
    else:
        values = np.asarray(x, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"pca_test: expected a 2-D matrix (speakers x variables), got shape {values.shape}")
        index, columns = list(range(values.shape[0])), [f"x{j + 1}" for j in range(values.shape[1])]
    n, p = values.shape
    if n < 3 or p < 2:
        raise ValueError(f"pca_test: a {n} x {p} matrix is too small; a PCA needs at least 3 speakers and 2 variables")
    bad = [columns[j] for j in range(p) if not np.isfinite(values[:, j]).all()]
    if bad:
        raise ValueError(f"pca_test: column(s) {', '.join(bad)} have missing or infinite values; fill or drop them "
                         "first (vowel_matrix does)")
    sd = values.std(axis=0, ddof=1)
    if (sd == 0).any():
        raise ValueError(f"pca_test: column(s) {', '.join(c for c, s in zip(columns, sd) if s == 0)} are constant "
                         "and cannot be standardised; drop them")
    return (values - values.mean(axis=0)) / sd, index, columns


def _shares(singular_values) -> np.ndarray:
    v = np.asarray(singular_values) ** 2
    return v / v.sum(axis=-1, keepdims=True)


def pca_test(x, *, permutations: int = 200, seed: int = 0) -> PCATest:
    """PCA of the standardised matrix ``x`` and a permutation test of each component.

    Parameters
    ----------
    x : DataFrame or array, speakers x variables, no gaps and no constant column.
    permutations : int
        Permuted copies of the data behind the null distribution (at least 19 for a p below 0.05
        to be possible; 200 or more for a stable answer).
    seed : int
        Seed of the permutations: the same seed gives the same answer.

    Returns
    -------
    PCATest
        Scores, loadings, the per-component test and the number of real components: the leading
        run of components whose share of variance is higher than in 95 % of the permuted data.
    """
    import pandas as pd

    if int(permutations) < 1:
        raise ValueError(f"pca_test: permutations={permutations!r}; it must be at least 1 (200 is usual)")
    z, index, columns = _standardise(x)
    n, p = z.shape
    k = min(n - 1, p)
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    u, s, vt = u[:, :k], s[:k], vt[:k]
    flip = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])
    u, vt = u * flip, vt * flip[:, None]
    observed = _shares(s)
    rng = np.random.default_rng(seed)
    null = np.empty((permutations, k))
    batch = max(1, int(2_000_000 // (n * p)))
    for start in range(0, permutations, batch):
        b = min(batch, permutations - start)
        order = rng.random((b, n, p)).argsort(axis=1)  # each column of each copy permuted on its own
        shuffled = np.take_along_axis(np.broadcast_to(z, (b, n, p)), order, axis=1)
        null[start:start + b] = _shares(np.linalg.svd(shuffled, compute_uv=False))[:, :k]
    pvalues = (1 + (null >= observed - 1e-12).sum(axis=0)) / (1 + permutations)
    real = np.cumprod(pvalues < ALPHA).astype(bool)
    names = [f"pc{i + 1}" for i in range(k)]
    explained = pd.DataFrame({"component": names, "explained": observed, "null_mean": null.mean(axis=0),
                              "null_q95": np.quantile(null, 0.95, axis=0), "p": pvalues, "real": real})
    scores = pd.DataFrame(u * s, index=index, columns=names)
    loadings = pd.DataFrame(vt.T, index=columns, columns=names)
    return PCATest(scores, loadings, explained, int(real.sum()))


# -- associations -------------------------------------------------------------------------------------


def _contingency(a: np.ndarray, c: np.ndarray, n_a: int, n_c: int) -> np.ndarray:
    """Tables of codes a (..., n) against c (n,): shape (..., n_a, n_c)."""
    lead = a.shape[:-1]
    flat = a.reshape(-1, a.shape[-1]) * n_c + c
    offsets = np.arange(flat.shape[0])[:, None] * (n_a * n_c)
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_a * n_c)
    return counts.reshape(*lead, n_a, n_c)


def _chi2(tables: np.ndarray) -> np.ndarray:
    n = tables.sum(axis=(-2, -1), keepdims=True)
    expected = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True) / n
    return ((tables - expected) ** 2 / expected).sum(axis=(-2, -1))


def _stratified_p(kind: str, target_kind: str, a: np.ndarray, g: np.ndarray, strata, permutations: int,
                  seed: int) -> float:
    """Permutation p of the association of ``a`` with ``g``, ``a`` shuffled only within each stratum.

    ``a``: level codes (categorical) or numbers; ``g``: cluster codes or component scores; no gaps.
    The statistic is the unadjusted test's, computed for every shuffle at once: Pearson's chi-square
    of the table (for 2x2 tables too), Kruskal-Wallis' sum of squared rank sums (its ties and
    group sizes do not change between shuffles), or |Spearman's rho|. The shuffles keep the
    attribute's association with the strata, so the null is "no association beyond the strata's".
    """
    from scipy.stats import rankdata

    n = len(a)
    index = np.vstack([np.arange(n), permute_within(strata, permutations, np.random.default_rng(seed))])
    if kind == "categorical" and target_kind == "cluster":
        stat = _chi2(_contingency(a[index], g, int(a.max()) + 1, int(g.max()) + 1).astype(float))
    elif kind == "categorical":
        onehot = np.eye(int(a.max()) + 1)[a[index]]  # (B, n, levels)
        sums = np.einsum("bnk,n->bk", onehot, rankdata(g))
        stat = (sums ** 2 / np.maximum(onehot[0].sum(axis=0), 1)).sum(axis=1)
    elif target_kind == "cluster":
        onehot = np.eye(int(g.max()) + 1)[g]  # (n, clusters)
        sums = rankdata(a)[index] @ onehot
        stat = (sums ** 2 / np.maximum(onehot.sum(axis=0), 1)).sum(axis=1)
    else:
        ra, rg = rankdata(a), rankdata(g)
        stat = np.abs((ra[index] - ra.mean()) @ (rg - rg.mean()))
    observed, null = stat[0], stat[1:]
    return float((1 + np.sum(null >= observed - 1e-9 * max(1.0, abs(observed)))) / (1 + permutations))


def association(values, target, *, kind: str, target_kind: str, levels=(), seed: int = 0,
                draws: int = CHI2_DRAWS, strata=None, permutations: int = 0) -> dict:
    """One attribute against cluster labels or a component's scores.

    Parameters
    ----------
    values : Series or array, the attribute per speaker (labels for ``kind="categorical"``,
        numbers or ranks for ``kind="numeric"``); missing values are left out.
    target : array, cluster labels (``target_kind="cluster"``) or scores (``"component"``).
    levels : the categorical levels in the order to report them (the survey's order); the levels
        present that it lacks follow in sorted order. On a 2x2 table, the odds ratio compares the
        first level's odds of the first cluster with the second level's.
    strata : array or None, one label per speaker (e.g. from :func:`control_strata`): with
        ``permutations`` > 0, p comes from ``permutations`` shuffles of the attribute within each
        stratum (see :func:`_stratified_p`), which keep its association with the strata: an
        attribute that goes with the structure only through a control is not reported as going with
        it. None: the unadjusted p.

    Returns
    -------
    dict with ``test``, ``statistic``, ``p`` (the stratified permutation p when strata are given,
    else the same as ``p_unadjusted``), ``p_unadjusted``, ``n_speakers`` and ``detail`` (the counts
    or means behind the test, in words). Tests: categorical x clusters: Fisher's exact test
    (statistic: the odds ratio) on a 2x2 table, otherwise a Monte Carlo chi-square (``draws``
    shuffles of the labels with a fixed seed; statistic: Pearson's chi-square); categorical x
    component: Kruskal-Wallis; numeric x clusters: Kruskal-Wallis; numeric x component: Spearman's rho.
    """
    row = _association(values, target, kind=kind, target_kind=target_kind, levels=levels, seed=seed, draws=draws,
                       strata=strata)
    coded = row.pop("coded")
    row["p_unadjusted"] = row["p"]
    if coded is not None and strata is not None and int(permutations) > 0:
        a, g, groups = coded
        row["p"] = _stratified_p(kind, target_kind, a, g, groups, int(permutations), seed)
    return row


def _association(values, target, *, kind, target_kind, levels, seed, draws, strata) -> dict:
    """:func:`association`'s unadjusted test, and the coded values a stratified permutation needs (or None)."""
    import pandas as pd
    from scipy import stats

    if kind not in ("categorical", "numeric") or target_kind not in ("cluster", "component"):
        raise ValueError(f"association: kind={kind!r}, target_kind={target_kind!r}; expected kind 'categorical' or "
                         "'numeric' and target_kind 'cluster' or 'component'")
    values = pd.Series(np.asarray(values, dtype=object))
    target = np.asarray(target)
    if strata is not None and len(strata) != len(target):
        raise ValueError(f"association: {len(strata)} strata labels for {len(target)} speakers; pass one per speaker")
    ok = values.notna().to_numpy() & pd.notna(target)
    v, g = values[ok].to_numpy(), target[ok]
    groups = np.asarray(strata, dtype=object)[ok] if strata is not None else None
    n = int(ok.sum())
    row = {"test": "", "statistic": np.nan, "p": np.nan, "n_speakers": n, "detail": "", "coded": None}
    if n < 4:
        return {**row, "test": "too few speakers"}
    if target_kind == "cluster":
        clusters = sorted(set(g.tolist()))
        c = np.array([clusters.index(x) for x in g])
    if kind == "categorical":
        v = np.array([str(x) for x in v])
        present = set(v.tolist())
        levels = [str(lvl) for lvl in levels if str(lvl) in present]
        levels += sorted(present - set(levels))
        if len(levels) < 2:
            return {**row, "test": "one level only"}
        a = np.array([levels.index(x) for x in v])
        if target_kind == "cluster":
            if len(clusters) < 2:
                return {**row, "test": "one cluster only"}
            table = _contingency(a, c, len(levels), len(clusters))
            detail = "; ".join(f"cluster {cl}: " + ", ".join(f"{lvl} {table[i, j]}" for i, lvl in enumerate(levels))
                               for j, cl in enumerate(clusters))
            row = {**row, "detail": detail, "coded": (a, c, groups)}
            if table.shape == (2, 2):
                odds, p = stats.fisher_exact(table)
                return {**row, "test": "Fisher exact", "statistic": float(odds), "p": float(p)}
            rng = np.random.default_rng(seed)
            shuffled = a[rng.random((draws, n)).argsort(axis=1)]
            null = _chi2(_contingency(shuffled, c, len(levels), len(clusters)).astype(float))
            observed = float(_chi2(table.astype(float)))
            p = (1 + np.sum(null >= observed - 1e-9)) / (1 + draws)
            return {**row, "test": f"chi-square (Monte Carlo, {draws} draws)", "statistic": observed, "p": float(p)}
        g = g.astype(float)
        by_level = [g[v == lvl] for lvl in levels]
        detail = "mean: " + ", ".join(f"{lvl} {np.mean(x):.2f}" for lvl, x in zip(levels, by_level))
        if np.ptp(g) == 0:
            return {**row, "test": "constant scores", "detail": detail}
        h, p = stats.kruskal(*by_level)
        return {**row, "test": "Kruskal-Wallis", "statistic": float(h), "p": float(p), "detail": detail,
                "coded": (a, g, groups)}
    v = v.astype(float)
    if np.ptp(v) == 0:
        return {**row, "test": "constant attribute"}
    if target_kind == "cluster":
        by_cluster = [v[g == cl] for cl in clusters]
        detail = "median: " + ", ".join(f"cluster {cl} {np.median(x):.3g}" for cl, x in zip(clusters, by_cluster))
        if len(clusters) < 2:
            return {**row, "test": "one cluster only", "detail": detail}
        h, p = stats.kruskal(*by_cluster)
        return {**row, "test": "Kruskal-Wallis", "statistic": float(h), "p": float(p), "detail": detail,
                "coded": (v, c, groups)}
    if np.ptp(g.astype(float)) == 0:
        return {**row, "test": "constant scores"}
    rho, p = stats.spearmanr(v, g.astype(float))
    return {**row, "test": "Spearman", "statistic": float(rho), "p": float(p), "coded": (v, g.astype(float), groups)}


# -- controls ------------------------------------------------------------------------------------------


def control_strata(survey, types: dict[str, AttributeType], controls, languages=None) -> tuple[object, str]:
    """Strata of the speakers by the controls (and language), for permutations within them.

    Categorical and ordinal controls give their levels; a numeric control cannot be stratified
    as it is, so it is cut at its median into two halves (said in the description: within a
    half, some of its association with the attribute remains). ``languages``: one language per
    row of ``survey`` (or None); it joins the strata when the speakers have more than one.
    A missing value is a stratum of its own. Returns (labels, description): one label per row
    and e.g. "permuted within gender × language", or (None, "none") without controls.
    """
    parts, words = [], []
    for name in controls:
        t = types.get(name)
        if t is None or name not in survey:
            continue
        col = survey[name]
        if t.kind == "numeric":
            x = col.astype(float)
            median = float(x.median())
            parts.append(np.where(x.isna(), "(missing)", np.where(x > median, "above", "at or below")))
            words.append(f"{name} (halves at its median, {median:.3g})")
        else:
            parts.append(col.astype(object).where(col.notna(), "(missing)").astype(str).to_numpy())
            words.append(name)
    if languages is not None:
        lang = np.asarray(languages, dtype=object)
        if len({str(x) for x in lang}) > 1:
            parts.append(np.array([str(x) for x in lang], dtype=object))
            words.append("language")
    if not parts:
        return None, "none"
    labels = np.array(["\x1f".join(row) for row in zip(*parts)], dtype=object)
    return labels, "permuted within " + " × ".join(words)


def _strength(x, tx: AttributeType, y, ty: AttributeType) -> tuple[float, str]:
    """How strongly two attributes go together (0-1) and the measure's name: Cramér's V, η or |Spearman rho|."""
    from scipy import stats

    from voli.profile.checks import _cramers_v, correlation_ratio

    cat_x, cat_y = tx.kind == "categorical", ty.kind == "categorical"
    if cat_x and cat_y:
        return _cramers_v(x.astype(str).to_numpy(), y.astype(str).to_numpy()), "Cramér's V"
    if cat_x or cat_y:
        groups, numbers = (x, y) if cat_x else (y, x)
        return correlation_ratio(encode(numbers, ty if cat_x else tx).to_numpy(float), groups.astype(str)), "η"
    a, b = encode(x, tx).to_numpy(float), encode(y, ty).to_numpy(float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan, "|Spearman rho|"
    return float(abs(stats.spearmanr(a, b)[0])), "|Spearman rho|"


def follows_control(survey, types: dict[str, AttributeType], controls, *,
                    threshold: float = FOLLOWS_CONTROL) -> list[dict]:
    """Attributes that go with a control so strongly that their unadjusted tests would be the control's.

    For every attribute that is not a control and every control: Cramér's V (two categorical
    attributes), the correlation ratio η (a categorical one against a numeric or ordinal one) or
    |Spearman's rho| (two numeric or ordinal ones), over the speakers who have both. From
    ``threshold`` (FOLLOWS_CONTROL = 0.5: the control explains a quarter of the attribute's
    variance) the attribute is flagged. This describes the sample, not a population: it is the
    overlap in these speakers that lets a control's effect pass for the attribute's.

    Returns
    -------
    list of dict: attribute, with (the control), strength, strength_measure (Cramér's V, η or
    |Spearman rho|), message.
    """
    out = []
    for control in [c for c in controls if c in types and c in survey]:
        for name, t in types.items():
            if name in controls or name not in survey:
                continue
            ok = (survey[name].notna() & survey[control].notna()).to_numpy()
            if ok.sum() < 4:
                continue
            x, y = survey.loc[ok, name], survey.loc[ok, control]
            if x.astype(str).nunique() < 2 or y.astype(str).nunique() < 2:
                continue
            strength, measure = _strength(x, t, y, types[control])
            if np.isfinite(strength) and strength >= threshold:
                out.append({"attribute": name, "with": control, "strength": strength, "strength_measure": measure,
                            "message": f"{name} follows the control {control} ({measure} {strength:.2f} of 1, "
                                       f"{int(ok.sum())} speakers): unadjusted, its associations with the speaker "
                                       f"structure would be {control}'s. The structure tests shuffle {name} only "
                                       f"among speakers of the same {control} and the models hold {control} "
                                       f"constant: read those, and expect little power for {name} beyond {control}"})
    return out


# -- the speaker structure -----------------------------------------------------------------------------


def _one_row_per_speaker(speakers, caller: str) -> None:
    repeated = sorted(set(speakers.speaker_id[speakers.speaker_id.duplicated()].astype(str)))
    if repeated:
        raise ValueError(f"{caller}: the speaker table has several rows for speaker(s) {', '.join(repeated[:5])}; "
                         "it needs one row per speaker (e.g. keep one role per speaker)")


def _clusters(scores: np.ndarray, n_clusters: int, view: str):
    """Ward linkage of the rows and the cluster labels (1..k), k chosen by the silhouette when n_clusters is 0."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    n = len(scores)
    link = linkage(scores, method="ward")
    if n_clusters > n - 1:
        problems.report("clusters_reduced", f"{view}: {n_clusters} clusters asked for {n} speakers; "
                        f"{n - 1} used (set profile.clusters lower, or 0 to let the silhouette choose)")
        n_clusters = n - 1
    if n_clusters <= 0:
        best = (2, -np.inf)
        for k in range(2, min(MAX_CLUSTERS, n - 1) + 1):
            labels = fcluster(link, k, criterion="maxclust")
            if 1 < len(set(labels)) < n:
                best = max(best, (k, float(silhouette_score(scores, labels))), key=lambda b: b[1])
        n_clusters = best[0]
    return link, fcluster(link, n_clusters, criterion="maxclust").astype(int)


def _analyse_view(view: str, x, info: dict, survey, types, *, permutations: int, n_clusters: int, seed: int,
                  controls=(), languages=None) -> dict:
    import pandas as pd

    result = pca_test(x, permutations=permutations, seed=seed)
    n_real = result.n_real
    k = result.scores.shape[1]
    kept = min(k, max(3, n_real))  # the real components, and at least pc1-pc3 to look at
    cluster_on = min(k, max(2, n_real))
    link, labels = _clusters(result.scores.iloc[:, :cluster_on].to_numpy(), n_clusters, view)
    scores = result.scores.iloc[:, :kept].rename_axis("speaker_id").reset_index()
    scores.insert(0, "view", view)
    scores["cluster"] = labels
    loadings = result.loadings.iloc[:, :kept].rename_axis("variable").reset_index()
    loadings.insert(0, "view", view)
    explained = result.explained.assign(view=view, n_speakers=len(x), n_variables=x.shape[1],
                                        n_imputed=info["imputed"])
    linkage = pd.DataFrame(link, columns=["left", "right", "distance", "size"])
    linkage.insert(0, "view", view)
    merged = scores.merge(survey, on="speaker_id", how="left")
    language = None
    if languages is not None:
        language = merged.speaker_id.map(languages).astype(object).fillna("unknown").to_numpy()
    rows = []
    for name, t in types.items():
        if name not in merged:
            continue
        kind = "categorical" if t.kind == "categorical" else "numeric"
        values = merged[name].astype(object) if kind == "categorical" else encode(merged[name], t)
        # each attribute is shuffled within the other controls (a control is not adjusted for itself)
        strata, adjusted = control_strata(merged, types, [c for c in controls if c != name], language)
        if strata is not None:
            adjusted += f" ({permutations} shuffles)"
        elif name in controls:
            adjusted = "none (a control)"
        for target in ["cluster"] + [f"pc{i + 1}" for i in range(max(1, n_real))]:
            test = association(values, merged[target], kind=kind, levels=t.levels,
                               target_kind="cluster" if target == "cluster" else "component", seed=seed,
                               strata=strata, permutations=permutations)
            rows.append({"view": view, "attribute": name, "target": target, **test,
                         "adjusted_for": adjusted if np.isfinite(test["p"]) else "none (not tested)"})
    associations = pd.DataFrame(rows, columns=[c for c in ASSOCIATION_COLUMNS if c != "q"])
    associations.insert(associations.columns.get_loc("p") + 1, "q", fdr(associations.p) if len(rows) else [])
    return {"pca_scores": scores, "pca_loadings": loadings, "pca_explained": explained[list(EXPLAINED_COLUMNS)],
            "associations": associations, "linkage": linkage}


def speaker_structure(tokens, speakers, survey, types: dict[str, AttributeType], *, prosody_columns,
                      permutations: int = 200, n_clusters: int = 0, seed: int = 0, f1: str = "f1_lobanov2",
                      f2: str = "f2_lobanov2", min_tokens: int = 3, controls=(), languages=None) -> dict:
    """PCA, permutation test, Ward clusters and attribute tests, per view of the speakers.

    Views: ``vowels:<language>`` (:func:`vowel_matrix`, for each language with at least 4
    speakers) and ``prosody`` (the ``prosody_columns`` of the speaker table). Clusters: Ward on the
    real components (at least the first 2), their number chosen by the silhouette (2-6) when
    ``n_clusters`` is 0. Each survey attribute is tested against the clusters and against each real
    component (at least pc1) with :func:`association`; q is the Benjamini-Hochberg FDR within a view.

    The tests are adjusted for the ``controls`` (survey attributes, e.g. ``("gender",)``) and
    language: an attribute's p comes from ``permutations`` shuffles of it among speakers of the
    same stratum (:func:`control_strata`: the levels of the other controls, numeric ones cut at
    the median, times the speaker's language where a view has several), so an attribute that
    goes with the structure only because it goes with a control is not reported. A control is
    adjusted for the other controls only (unadjusted when it is the only one). ``languages``: a
    mapping or Series speaker_id -> language (default: each speaker's most frequent language in
    ``tokens``). The PCA itself is not adjusted: its components still show what the controls do.

    Returns
    -------
    dict of DataFrames, every one with a ``view`` column:

    * ``pca_scores``: speaker_id, pc1.. (the real components, at least 3), cluster (1..k);
    * ``pca_loadings``: variable (``<vowel>_F1``, ``<vowel>_F2`` or a prosodic measure), pc1..;
    * ``pca_explained``: component, explained, null_mean, null_q95, p, real (see :class:`PCATest`),
      n_speakers, n_variables, n_imputed (cells filled with the column mean);
    * ``associations``: attribute, target (cluster, pc1..), test, statistic, p (adjusted), q,
      p_unadjusted (the test's own p), adjusted_for ("permuted within gender × language (200
      shuffles)", or "none"), n_speakers, detail;
    * ``linkage``: left, right, distance, size: scipy's Ward linkage, leaves numbered in the order
      of the view's rows in pca_scores.
    """
    import pandas as pd

    _one_row_per_speaker(speakers, "speaker_structure")
    unknown = [c for c in controls if c not in types or c not in survey]
    if unknown:
        raise ConfigError(f"speaker_structure: control {unknown[0]!r} is not a survey attribute; use one of "
                          f"{', '.join(t for t in types if t in survey) or '(none)'}")
    if languages is None and tokens is not None and "language" in tokens and len(tokens):
        languages = speaker_languages(tokens)
    elif languages is not None and not hasattr(languages, "get"):
        raise ValueError(f"speaker_structure: languages is a {type(languages).__name__}; pass a mapping or Series "
                         "speaker_id -> language")
    views = {}
    if tokens is not None and len(tokens):
        for language, matrix in vowel_matrix(tokens, f1=f1, f2=f2, min_tokens=min_tokens).items():
            info = {"imputed": matrix.attrs.get("imputed", 0)}
            views[f"vowels:{language}"] = (matrix, info)
    columns = [c for c in prosody_columns if c in speakers]
    absent = [c for c in prosody_columns if c not in speakers]
    if absent:
        raise ValueError(f"speaker_structure: prosody column(s) {', '.join(absent)} are not in the speaker table; "
                         "pass only measures it has")
    if columns:
        prosody, info = _complete(speakers.set_index("speaker_id")[columns], "prosody")
        views["prosody"] = (prosody, info)
    parts = []
    for view, (x, info) in views.items():
        if len(x) < MIN_VIEW_SPEAKERS or x.shape[1] < 2:
            problems.report("view_skipped", f"{view}: {len(x)} speakers and {x.shape[1]} variables usable; a PCA "
                            f"needs at least {MIN_VIEW_SPEAKERS} speakers and 2 variables: no PCA for this view")
            continue
        parts.append(_analyse_view(view, x, info, survey, types, permutations=permutations, n_clusters=n_clusters,
                                   seed=seed, controls=tuple(controls), languages=languages))
    empty = {"pca_scores": list(SCORE_COLUMNS) + ["pc1", "cluster"], "pca_loadings": ["view", "variable", "pc1"],
             "pca_explained": list(EXPLAINED_COLUMNS), "associations": list(ASSOCIATION_COLUMNS),
             "linkage": list(LINKAGE_COLUMNS)}
    out = {}
    for name, cols in empty.items():
        frames = [p[name] for p in parts if len(p[name])]
        out[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    if len(out["pca_scores"]):
        pcs = sorted([c for c in out["pca_scores"] if c.startswith("pc")], key=lambda c: int(c[2:]))
        out["pca_scores"] = out["pca_scores"][list(SCORE_COLUMNS) + pcs + ["cluster"]]
    return out


# -- prediction -----------------------------------------------------------------------------------------


def _folds(n: int, seed: int) -> list[np.ndarray]:
    """Test-set indexes: leave one speaker out up to LOO_MAX_SPEAKERS speakers, else N_FOLDS folds."""
    if n <= LOO_MAX_SPEAKERS:
        return [np.array([i]) for i in range(n)]
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[k::N_FOLDS]) for k in range(N_FOLDS)]


def permute_within(groups, permutations: int, rng) -> np.ndarray:
    """Index permutations (permutations x n) that move each element only within its group.

    ``y[index[r]]`` is the r-th shuffle of ``y``: every group keeps its members' values as a set
    (each stratum keeps its label counts). ``groups``: one label per element (None: one group).
    """
    groups = np.asarray(groups, dtype=object)
    n = len(groups)
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    keys = codes[None, :] * 2.0 + rng.random((permutations, n))  # sorts by group, at random within a group
    shuffled = np.argsort(keys, axis=1, kind="stable")  # members of group 0 in random order, then group 1, ...
    slots = np.argsort(codes, kind="stable")  # the positions of group 0 in order, then group 1, ...
    index = np.empty_like(shuffled)
    index[:, slots] = shuffled
    return index


def _preprocessor():
    """The y-blind steps of the prediction pipeline, fitted on each training fold."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])


def pipeline(model: str):
    """The full sklearn Pipeline that :func:`predict_attributes` fits in each fold (for reruns and checks)."""
    from sklearn.linear_model import LogisticRegression, RidgeCV

    steps = _preprocessor().steps
    final = LogisticRegression(C=LOGISTIC_C, max_iter=1000) if model == "logistic" else RidgeCV(alphas=RIDGE_ALPHAS)
    from sklearn.pipeline import Pipeline

    return Pipeline([*steps, ("model", final)])


def _logistic_objective(theta, x1, onehot, binary: bool, penalty: np.ndarray):
    """Penalised log-loss of each row of theta (B, L, d) on x1 (n, d), onehot (B, n, K); and the probabilities."""
    z = np.swapaxes(theta @ x1.T, 1, 2)  # (B, n, L)
    if binary:
        z = np.concatenate([np.zeros_like(z), z], axis=2)
    zmax = z.max(axis=2, keepdims=True)
    logp = z - zmax - np.log(np.exp(z - zmax).sum(axis=2, keepdims=True))
    return -(onehot * logp).sum(axis=(1, 2)) + 0.5 * (penalty * theta ** 2).sum(axis=(1, 2)), np.exp(logp)


def _fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, *, c: float = LOGISTIC_C, max_iter: int = 100):
    """sklearn's L2 logistic regression (binary, or multinomial for 3+ classes), fitted to many label rows at once.

    Minimises sum(log-loss) + ||w||² / (2c) with an unpenalised intercept, the objective of
    ``LogisticRegression(C=c)``, by Newton's method with a backtracking line search, for every row
    of ``y`` (B, n) at once. Returns theta (B, L, d): L = 1 (binary) or n_classes, d = features + 1
    (the intercept last). Every row should have every class (:func:`_cross_validate` groups the
    rows by the classes they have, as sklearn fits only the classes present).
    """
    b, n = y.shape
    x1 = np.hstack([x, np.ones((n, 1))])
    d = x1.shape[1]
    binary = n_classes == 2
    n_logits = 1 if binary else n_classes
    size = n_logits * d
    onehot = np.eye(n_classes)[y]  # (B, n, K)
    penalty = np.zeros((n_logits, d))
    penalty[:, :-1] = 1.0 / c
    free = np.ones(size, dtype=bool)
    if not binary:
        free[-1] = False  # softmax is unchanged by a shift of every intercept: the last one stays 0
    fixed = np.diag((~free).astype(float))
    same = np.eye(n_logits)
    theta = np.zeros((b, n_logits, d))
    f, prob = _logistic_objective(theta, x1, onehot, binary, penalty)
    active = np.arange(b)  # rows still improving
    for _ in range(max_iter):
        th, oh, fa, pr = theta[active], onehot[active], f[active], prob[active]
        m = len(active)
        own = pr[:, :, -n_logits:]  # probabilities of the classes with their own logits, (m, n, L)
        grad = (np.swapaxes(own - oh[:, :, -n_logits:], 1, 2) @ x1 + penalty * th).reshape(m, size) * free
        weights = own[:, :, :, None] * (same - own[:, :, None, :])  # (m, n, L, L)
        w = np.moveaxis(weights, 1, 3).reshape(m * n_logits * n_logits, 1, n)
        blocks = ((x1.T[None] * w) @ x1).reshape(m, n_logits, n_logits, d, d)
        hess = np.swapaxes(blocks, 2, 3).reshape(m, size, size) + np.diag(penalty.ravel())
        hess = hess * np.outer(free, free) + fixed
        delta = -np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        slope = (grad * delta).sum(axis=1)  # the directional derivative (negative)
        delta = delta.reshape(m, n_logits, d)
        step = np.zeros(m)
        new_f, new_prob = fa.copy(), pr.copy()
        for t in 0.5 ** np.arange(12):
            todo = np.flatnonzero(step == 0)
            if not len(todo):
                break
            cand_f, cand_prob = _logistic_objective(th[todo] + t * delta[todo], x1, oh[todo], binary, penalty)
            good = cand_f <= fa[todo] + 1e-4 * t * slope[todo]
            step[todo[good]] = t
            new_f[todo[good]], new_prob[todo[good]] = cand_f[good], cand_prob[good]
        theta[active] = th + step[:, None, None] * delta
        f[active], prob[active] = new_f, new_prob
        active = active[np.abs(fa - new_f) > 1e-10 * (1 + np.abs(fa))]
        if not len(active):
            break
    return theta


def _predict_logistic(theta: np.ndarray, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class codes (B, m) from theta (B, L, d) and x (m, features)."""
    z = np.swapaxes(theta @ np.hstack([x, np.ones((len(x), 1))]).T, 1, 2)  # (B, m, L)
    if n_classes == 2:
        return (z[:, :, 0] > 0).astype(int)
    return z.argmax(axis=2)


def _cross_validate(x: np.ndarray, targets: np.ndarray, folds, model: str, n_classes: int = 0) -> np.ndarray:
    """Out-of-fold predictions (B, n) for every row of ``targets`` (B, n).

    In each fold the imputer and scaler are fitted on the training speakers only (they do not see
    the targets, so one fit serves every row); the model is refitted for every row: ridge as one
    multi-output sklearn fit, logistic regression by :func:`_fit_logistic`.
    """
    from sklearn.linear_model import RidgeCV

    b, n = targets.shape
    pred = np.empty((b, n), dtype=float if model == "ridge" else int)
    for test in folds:
        train = np.setdiff1d(np.arange(n), test)
        prep = _preprocessor().fit(x[train])
        x_train, x_test = prep.transform(x[train]), prep.transform(x[test])
        if model == "ridge":
            fit = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True).fit(x_train, targets[:, train].T)
            pred[:, test] = fit.predict(x_test).T.reshape(b, -1)
        else:
            labels = targets[:, train]
            # like sklearn, a model knows only the classes its training labels have: rows grouped by those
            present = np.zeros((b, n_classes), dtype=bool)
            present[np.repeat(np.arange(b), labels.shape[1]), labels.ravel()] = True
            kinds, which = np.unique(present, axis=0, return_inverse=True)
            for kind, classes in enumerate(kinds):
                rows = np.flatnonzero(which.ravel() == kind)
                codes = np.flatnonzero(classes)
                if len(codes) == 1:
                    pred[np.ix_(rows, test)] = codes[0]
                    continue
                local = np.searchsorted(codes, labels[rows])
                theta = _fit_logistic(x_train, local, len(codes))
                pred[np.ix_(rows, test)] = codes[_predict_logistic(theta, x_test, len(codes))]
    return pred


def _balanced_accuracy(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Balanced accuracy of each row (the mean recall over the classes present in that row's truth)."""
    recalls = []
    for k in range(n_classes):
        is_k = truth == k
        count = is_k.sum(axis=1)
        hit = (is_k & (pred == k)).sum(axis=1)
        recalls.append(np.where(count > 0, hit / np.maximum(count, 1), np.nan))
    return np.nanmean(np.vstack(recalls), axis=0)


def predict_attributes(speakers, survey, types: dict[str, AttributeType], columns, *, permutations: int = 200,
                       seed: int = 0, strata=None, languages=None):
    """Cross-validated prediction of each attribute from the speech measures, with a permutation p.

    Each fold fits ``SimpleImputer(median) -> StandardScaler -> model`` (see :func:`pipeline`) on
    its training speakers only, on the raw speaker measures: nothing about a held-out speaker
    leaks into its prediction. Folds: leave one speaker out up to 20 speakers, 10 folds above.
    Categorical attributes: logistic regression, scored by balanced accuracy (chance: 1 / levels);
    numeric and ordinal (as ranks): ridge regression, scored by R² (chance: 0). The p-value is
    (1 + shuffles scoring at least as well) / (1 + ``permutations``), the attribute shuffled
    between speakers within each stratum of ``strata``: a categorical attribute such as gender, a
    sequence of them (shuffled within their combinations, e.g. gender × region), or None. An
    attribute of the strata is shuffled within the others (freely when it is the only one).
    ``languages`` (a mapping or Series speaker_id -> language, or None) joins the strata when the
    speakers have more than one.

    Returns
    -------
    DataFrame, one row per attribute: attribute, model (logistic or ridge), metric, score, chance,
    p, n_speakers, n_measures (speech measures used), cv (leave one out or 10-fold), strata (what
    the attribute was shuffled within, e.g. "gender × language", or "none"), status ("ok" or why
    the attribute was not tested).
    """
    import pandas as pd

    if int(permutations) < 1:
        raise ValueError(f"predict_attributes: permutations={permutations!r}; it must be at least 1 (200 is usual)")
    _one_row_per_speaker(speakers, "predict_attributes")
    absent = [c for c in columns if c not in speakers]
    if absent:
        raise ValueError(f"predict_attributes: measure(s) {', '.join(absent)} are not in the speaker table; pass "
                         "only columns it has")
    strata = (strata,) if isinstance(strata, str) else tuple(strata or ())
    usable = [n for n, t in types.items() if t.kind in ("categorical", "ordinal")]
    for name in strata:
        if name not in usable:
            raise ConfigError(f"prediction strata {name!r} is not a categorical survey attribute; use one of "
                              f"{', '.join(usable) or '(none: the survey has no categorical attribute)'}, or none")
    x_all = speakers.set_index("speaker_id")[list(columns)].astype(float)
    x_all = x_all.loc[:, x_all.notna().any()]
    data = survey.set_index("speaker_id").reindex(x_all.index)
    rows = []
    for name, t in types.items():
        if name not in data:
            continue
        ok = data[name].notna().to_numpy()
        x = x_all.to_numpy()[ok]
        n = int(ok.sum())
        folds = _folds(n, seed)
        language = (None if languages is None else
                    data.index[ok].map(languages).astype(object).fillna("unknown").to_numpy())
        groups, within = control_strata(data[ok], types, [c for c in strata if c != name], language)
        base = {"attribute": name, "n_speakers": n, "n_measures": x.shape[1],
                "cv": "leave one out" if len(folds) == n else f"{len(folds)}-fold",
                "strata": within.removeprefix("permuted within ")}
        if x.shape[1] == 0:
            rows.append({**base, "model": "", "status": "no speech measures"})
            continue
        if t.kind == "categorical":
            labels = data[name][ok].astype(str).to_numpy()
            levels, codes = np.unique(labels, return_inverse=True)
            counts = np.bincount(codes)
            if len(levels) < 2 or counts.min() < 2:
                rare = ", ".join(f"{lvl} ({c})" for lvl, c in zip(levels, counts) if c < 2)
                rows.append({**base, "model": "logistic", "status": "too few per level: needs 2 speakers in each of 2+ "
                             "levels" + (f"; {rare}" if rare else "")})
                continue
            model, metric, chance, y = "logistic", "balanced accuracy", 1 / len(levels), codes
        else:
            y = encode(data[name][ok], t).to_numpy(float)
            if n < 6 or np.ptp(y) == 0:
                rows.append({**base, "model": "ridge", "status": "too few speakers (needs 6)" if n < 6
                             else "the same value for every speaker"})
                continue
            model, metric, chance = "ridge", "R2", 0.0
        groups = np.zeros(n) if groups is None else groups
        rng = np.random.default_rng(seed)
        index = np.vstack([np.arange(n), permute_within(groups, permutations, rng)])
        targets = y[index]
        pred = _cross_validate(x, targets, folds, model, len(levels) if model == "logistic" else 0)
        if model == "logistic":
            scores = _balanced_accuracy(targets, pred, len(levels))
        else:
            spread = ((targets - targets.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            scores = 1 - ((targets - pred) ** 2).sum(axis=1) / spread  # R² of each row
        observed, null = float(scores[0]), scores[1:]
        rows.append({**base, "model": model, "metric": metric, "score": observed, "chance": chance,
                     "p": float((1 + np.sum(null >= observed - 1e-12)) / (1 + permutations)), "status": "ok"})
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
