"""Statistics of speech against survey attributes.

* :func:`mixed_effects`: for each measure and each attribute, a linear mixed model
  ``measure ~ attribute + controls + (1 | speaker)`` (statsmodels MixedLM, REML) on tokens
  (vowel formants, with the phone and log duration as controls) or utterances (prosody). The
  attribute varies between speakers only, so its test uses a t distribution with
  ``speakers − attribute terms − 1`` degrees of freedom (the Wald z of MixedLM is too liberal
  with few speakers). One attribute per model: interview corpora rarely have enough speakers
  for all attributes at once. p-values are corrected for the false discovery rate
  (Benjamini-Hochberg) over every row.
* :func:`pca_clusters`: PCA of the standardised speaker measures, Ward clustering of the speakers
  on the leading components, and tests of each attribute against the clusters and components.
* :func:`predict_attributes`: can the speech measures predict an attribute at all? Leave-one-
  speaker-out prediction (logistic regression or ridge), scored against a permutation test.
"""

from __future__ import annotations

import warnings

import numpy as np

from voli import problems
from voli.profile.survey import AttributeType, encode


def fdr(p) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN p-values stay NaN)."""
    p = np.asarray(p, dtype=float)
    q = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return q
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * len(ok) / np.arange(1, len(ok) + 1)
    q[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    return q


def _terms(t: AttributeType) -> list[tuple[str, str]]:
    """(formula term, label) of an attribute's coefficients."""
    if t.kind == "categorical":
        return [(f"C(attr, Treatment({t.levels[0]!r}))[T.{lvl}]", f"{lvl} vs {t.levels[0]}") for lvl in t.levels[1:]]
    return [("attr", "per unit" if t.kind == "numeric" else "per level")]


def _prepare(data, measure: str, t: AttributeType):
    """Rows with the measure and the attribute; categorical levels cut to those present. None if < 2 levels."""
    d = data.dropna(subset=[measure, "attr"])
    if d[measure].nunique() < 2:
        return None  # a constant measure says nothing
    if t.kind != "categorical":
        return d, t, "attr", _terms(t)
    d = d[d.attr.isin(t.levels)]
    present = tuple(lvl for lvl in t.levels if (d.attr == lvl).any())
    if len(present) < 2:
        return None
    t = AttributeType(t.name, t.kind, present)
    return d, t, f"C(attr, Treatment({t.levels[0]!r}))", _terms(t)


def fit_mixed(data, measure: str, t: AttributeType, controls: str = "", group: str = "speaker_id",
              centred: bool = False) -> list[dict]:
    """One mixed model; rows for the attribute's coefficients (estimate, 95 % CI, t-test p).

    ``centred``: the measure is centred per speaker by construction (Lobanov values), so there is
    no between-speaker variance for a random intercept: least squares with speaker-clustered errors
    is fitted directly. Elsewhere it only stands in when the mixed model is unusable (a problem).
    """
    import statsmodels.formula.api as smf

    prepared = _prepare(data, measure, t)
    if prepared is None:
        return []
    d, t, term, terms = prepared
    n_groups = d[group].nunique()
    df = n_groups - len(terms) - 1
    if df < 1 or d.groupby(group).attr.first().nunique() < 2:
        return []
    formula = f"{measure} ~ {term}" + (f" + {controls}" if controls else "")
    if centred:
        codes = d[group].astype("category").cat.codes.to_numpy()
        fit = smf.ols(formula, d).fit(cov_type="cluster", cov_kwds={"groups": codes})
        return _coefficient_rows(fit, terms, d, measure, t, n_groups, df,
                                 "OLS, speaker-clustered errors (speaker-centred measure)")
    with warnings.catch_warnings(record=True) as caught:  # kept, and reported with the fit they concern
        warnings.simplefilter("always")
        try:
            fit = smf.mixedlm(formula, d, groups=d[group]).fit(reml=True)
            status = "converged" if fit.converged else "not converged"
            spread = float(d[measure].std())
            usable = all(0 < fit.bse.get(name, np.nan) <= 100 * spread for name, _ in terms)  # NaN fails too
        except (np.linalg.LinAlgError, ValueError) as err:
            usable, status = False, f"failed ({err})"
        said = "; ".join(sorted({str(w.message).split("\n")[0] for w in caught}))
        if not usable:
            # no variance left between speakers for a random intercept (e.g. Lobanov values, whose speaker
            # means are all 0): least squares with standard errors clustered by speaker instead
            codes = d[group].astype("category").cat.codes.to_numpy()
            fit = smf.ols(formula, d).fit(cov_type="cluster", cov_kwds={"groups": codes})
            problems.report("model_fallback", f"{formula} (by {t.name}): the mixed model was unusable ({status}"
                            + (f"; statsmodels said: {said}" if said else "") + "); least squares with "
                            "speaker-clustered errors stands in (liberal with few speakers)")
            status = "OLS, speaker-clustered errors (no between-speaker variance)"
        elif status != "converged":
            problems.report("not_converged", f"{formula} (by {t.name}): the mixed model did not converge"
                            + (f" (statsmodels said: {said})" if said else "") + "; its estimates are kept: treat "
                            "them with care")
    return _coefficient_rows(fit, terms, d, measure, t, n_groups, df, status)


def _coefficient_rows(fit, terms, d, measure, t, n_groups, df, status) -> list[dict]:
    from scipy import stats

    spread = float(d[measure].std())
    scale = float(d[measure].abs().mean()) or 1.0
    rows = []
    for name, label in terms:
        if name not in fit.params.index:
            continue
        est, se = float(fit.params[name]), float(fit.bse[name])
        row = {"measure": measure, "attribute": t.name, "term": label, "estimate": est, "se": se,
               "relative": est / scale, "n_speakers": int(n_groups), "n_rows": len(d), "df": df, "status": status}
        if not np.isfinite(se) or se <= 0 or se > 100 * spread:
            # e.g. Lobanov values: normalisation set every speaker's mean to 0, nothing is left between speakers
            rows.append({**row, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
                         "status": "degenerate: no between-speaker variance left"})
            continue
        half = stats.t.ppf(0.975, df) * se
        rows.append({**row, "ci_low": est - half, "ci_high": est + half, "p": float(2 * stats.t.sf(abs(est / se), df))})
    return rows


def fit_speaker_level(data, measure: str, t: AttributeType) -> list[dict]:
    """Ordinary least squares of one speaker-level measure on one attribute (one row per speaker)."""
    import statsmodels.formula.api as smf

    prepared = _prepare(data, measure, t)
    if prepared is None:
        return []
    d, t, term, terms = prepared
    df = len(d) - len(terms) - 1
    if df < 1 or d.attr.nunique() < 2:
        return []
    fit = smf.ols(f"{measure} ~ {term}", d).fit()
    return _coefficient_rows(fit, terms, d, measure, t, len(d), df, "fitted")


TOKEN_MEASURES = ("f1_hz", "f2_hz", "f1_lobanov", "f2_lobanov", "log_duration")
UTTERANCE_MEASURES = ("articulation_rate", "speech_rate", "f0_mean_st", "f0_sd_st", "intensity_mean_db")
SPEAKER_MEASURES = ("formant_scale_hz", "vowel_dispersion_hz", "category_dispersion_lobanov", "reduction_index",
                    "vowel_space_area_means_lobanov", "articulation_rate", "f0_median_hz", "f0_median_st", "f0_sd_st",
                    "f0_range_st", "pauses_per_minute", "filled_pauses_per_minute", "filled_pause_f1_hz",
                    "filled_pause_f2_hz")


def mixed_effects(tokens, utterances, survey, types: dict[str, AttributeType], *, word_effect: bool = False,
                  speakers=None):
    """Every (measure, attribute) model: a table with estimates, CIs, p and FDR q.

    ``level`` says what a row of the data was: a vowel token, an utterance (both mixed models with
    a random intercept per speaker) or a speaker (``speakers`` given: least squares on the speaker
    measures, Pillai scores included).
    """
    import pandas as pd

    tokens = tokens.assign(log_duration=np.log(tokens.duration_s))
    rows = []
    for name, t in types.items():
        attr = pd.Series(encode(survey[name], t).to_numpy(), index=survey.speaker_id)
        tk = tokens.assign(attr=tokens.speaker_id.map(attr))
        ut = utterances.assign(attr=utterances.speaker_id.map(attr))
        if speakers is not None:
            sp = speakers.assign(attr=speakers.speaker_id.map(attr))
            for m in [c for c in SPEAKER_MEASURES if c in sp] + [c for c in sp if c.startswith("pillai_")]:
                for r in fit_speaker_level(sp, m, t):
                    rows.append({**r, "level": "speaker"})
        for m in TOKEN_MEASURES:
            controls = "C(phone)" if m == "log_duration" else "C(phone) + log_duration"
            if word_effect:
                controls += " + C(word)"
            for r in fit_mixed(tk, m, t, controls, centred=m.endswith("_lobanov")):
                rows.append({**r, "level": "token"})
        for m in UTTERANCE_MEASURES:
            if m in ut:
                for r in fit_mixed(ut, m, t):
                    rows.append({**r, "level": "utterance"})
    table = pd.DataFrame(rows)
    if len(table) and "p" in table:
        table["q"] = fdr(table.p)
    return table


# -- speaker profiles: PCA, clusters ---------------------------------------------------------------


def profile_matrix(speakers, columns, *, max_missing: float = 0.5):
    """Standardised speaker x measure matrix; columns with too many gaps dropped, gaps by the median."""
    x = speakers.set_index("speaker_id")[list(columns)].astype(float)
    x = x.loc[:, x.isna().mean() <= max_missing]
    x = x.loc[:, x.std() > 0]
    x = x.fillna(x.median())
    return (x - x.mean()) / x.std()


def _association(values, groups_or_scores, kind: str, target: str) -> tuple[str, float, float]:
    """(test, statistic, p) for one attribute against cluster labels or a component's scores."""
    from scipy import stats

    ok = values.notna().to_numpy()
    v, g = values[ok], np.asarray(groups_or_scores)[ok]
    if ok.sum() < 4:
        return "too few speakers", np.nan, np.nan
    if target == "cluster":
        if kind == "categorical":
            table = np.array([[np.sum((v == a) & (g == c)) for c in np.unique(g)] for a in np.unique(v)])
            if table.shape[0] < 2 or table.shape[1] < 2:
                return "chi-square", np.nan, np.nan
            chi2, p, *_ = stats.chi2_contingency(table)
            return "chi-square", float(chi2), float(p)
        samples = [v[g == c].astype(float) for c in np.unique(g)]
        if len([s for s in samples if len(s)]) < 2:
            return "Kruskal-Wallis", np.nan, np.nan
        h, p = stats.kruskal(*[s for s in samples if len(s)])
        return "Kruskal-Wallis", float(h), float(p)
    if kind == "categorical":
        samples = [g[v == a] for a in np.unique(v)]
        if len(samples) < 2:
            return "Kruskal-Wallis", np.nan, np.nan
        h, p = stats.kruskal(*samples)
        return "Kruskal-Wallis", float(h), float(p)
    rho, p = stats.spearmanr(v.astype(float), g)
    return "Spearman", float(rho), float(p)


def pca_clusters(speakers, survey, types, columns, *, n_clusters: int = 0, n_components: int = 3):
    """PCA + Ward clusters of the speakers, and attribute tests. Returns (scores, loadings, tests, linkage)."""
    import pandas as pd
    from scipy.cluster.hierarchy import fcluster, linkage

    x = profile_matrix(speakers, columns)
    k = min(n_components, x.shape[0] - 1, x.shape[1])
    if k < 1:
        return None
    u, s, vt = np.linalg.svd(x.to_numpy(), full_matrices=False)
    scores = u[:, :k] * s[:k]
    explained = s ** 2 / np.sum(s ** 2)
    link = linkage(scores, method="ward")
    if n_clusters <= 0:
        from sklearn.metrics import silhouette_score

        best = (2, -1.0)
        for c in range(2, min(6, len(x) - 1) + 1):
            labels = fcluster(link, c, criterion="maxclust")
            if len(set(labels)) > 1:
                best = max(best, (c, silhouette_score(scores, labels)), key=lambda b: b[1])
        n_clusters = best[0]
    labels = fcluster(link, n_clusters, criterion="maxclust")
    score_table = pd.DataFrame(scores, columns=[f"pc{i + 1}" for i in range(k)], index=x.index).reset_index()
    score_table["cluster"] = labels
    loadings = pd.DataFrame(vt[:k].T, index=x.columns, columns=[f"pc{i + 1}" for i in range(k)]).reset_index(names="measure")
    loadings.attrs["explained"] = explained[:k].tolist()
    merged = score_table.merge(survey, on="speaker_id", how="left")
    tests = []
    for name, t in types.items():
        values = merged[name] if t.kind == "categorical" else encode(merged[name], t)
        for target in ["cluster"] + [f"pc{i + 1}" for i in range(min(k, 2))]:
            test, stat, p = _association(values, merged[target], "categorical" if t.kind == "categorical" else "numeric",
                                         "cluster" if target == "cluster" else "component")
            tests.append({"attribute": name, "target": target, "test": test, "statistic": stat, "p": p,
                          "n_speakers": int(values.notna().sum())})
    tests = pd.DataFrame(tests)
    tests["q"] = fdr(tests.p)
    return score_table, loadings, tests, link


def _folds(n: int, seed: int) -> list[np.ndarray]:
    """Test-set indexes: leave one speaker out up to 20 speakers, else 10 folds."""
    if n <= 20:
        return [np.array([i]) for i in range(n)]
    order = np.random.default_rng(seed).permutation(n)
    return [order[k::10] for k in range(10)]


def predict_attributes(speakers, survey, types, columns, *, permutations: int = 200, seed: int = 0):
    """Cross-validated prediction of each attribute from the speech measures, with a permutation p.

    Speakers are the units (one row each): leave-one-speaker-out up to 20 speakers, 10-fold above.
    Categorical attributes: logistic regression, balanced accuracy (chance = 1 / levels); numeric
    and ordinal: ridge regression, R² (chance = 0). The p-value is the share of ``permutations``
    shuffles of the attribute that score at least as well.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import balanced_accuracy_score, r2_score

    x = profile_matrix(speakers, columns)
    data = x.join(survey.set_index("speaker_id"), how="left")
    rng = np.random.default_rng(seed)
    rows = []
    for name, t in types.items():
        ok = data[name].notna().to_numpy()
        xs, y = x.to_numpy()[ok], data[name][ok]
        folds = _folds(len(y), seed)
        if t.kind == "categorical":
            y = y.astype(str).to_numpy()
            if len(set(y)) < 2 or min(np.unique(y, return_counts=True)[1]) < 2:
                rows.append({"attribute": name, "model": "logistic", "n_speakers": int(ok.sum()), "status": "too few per level"})
                continue

            def score(target):
                pred = np.empty(len(target), dtype=object)
                for test in folds:
                    train = np.setdiff1d(np.arange(len(target)), test)
                    if len(set(target[train])) < 2:
                        pred[test] = target[train][0]
                        continue
                    pred[test] = LogisticRegression(C=1.0, max_iter=1000).fit(xs[train], target[train]).predict(xs[test])
                return balanced_accuracy_score(target, pred.astype(str))
            model, metric, chance = "logistic", "balanced accuracy", 1 / len(set(y))
        else:
            y = encode(y, t).to_numpy(float)
            if len(y) < 6:
                rows.append({"attribute": name, "model": "ridge", "n_speakers": int(ok.sum()), "status": "too few speakers"})
                continue

            def score(target):
                pred = np.empty(len(target))
                for test in folds:
                    train = np.setdiff1d(np.arange(len(target)), test)
                    pred[test] = Ridge(alpha=1.0).fit(xs[train], target[train]).predict(xs[test])
                return r2_score(target, pred)
            model, metric, chance = "ridge", "R2", 0.0
        observed = score(y)
        null = np.array([score(rng.permutation(y)) for _ in range(permutations)])
        rows.append({"attribute": name, "model": model, "metric": metric, "score": float(observed), "chance": chance,
                     "p": float((1 + np.sum(null >= observed)) / (1 + permutations)), "n_speakers": int(ok.sum()),
                     "n_measures": xs.shape[1], "cv": "leave one out" if len(folds) == len(y) else f"{len(folds)}-fold",
                     "status": "ok"})
    return pd.DataFrame(rows)
