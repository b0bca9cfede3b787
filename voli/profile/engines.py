"""The two engines that fit a model: statsmodels in-process (:func:`fit_statsmodels`) and lme4 +
lmerTest through ``Rscript`` (:func:`write_export` writes the data and ``models.R``,
:func:`fit_lme4` runs it and reads its results). Both return the same long-form results: test rows,
variance components, status, adjusted level means."""

from __future__ import annotations

import functools
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np

from voli.errors import ConfigError, VoliError
from voli.profile.coding import Coding, _r_string, interaction_columns
from voli.profile.specs import Model
from voli.workdir import rel


@functools.lru_cache(maxsize=1)
def lme4_version() -> str | None:
    """lme4's version when Rscript can load lme4 and lmerTest, else None."""
    rscript = shutil.which("Rscript")
    if not rscript:
        return None
    try:
        out = subprocess.run([rscript, "-e", 'suppressPackageStartupMessages({library(lme4); library(lmerTest)});'
                              'cat(as.character(packageVersion("lme4")), as.character(packageVersion("lmerTest")))'],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


R_PACKAGES = ("lme4", "lmerTest", "pbkrtest", "emmeans", "mgcv")  # what models.R, the lme4 engine and dynamics.R load


@functools.lru_cache(maxsize=1)
def r_versions() -> dict[str, str]:
    """R's version and its packages' that the lme4 engine uses ({} without Rscript), for config.yaml."""
    rscript = shutil.which("Rscript")
    if not rscript:
        return {"R": "not found"}
    code = ('cat("R", paste(R.version$major, R.version$minor, sep = "."), "\\n");'
            + "".join(f'cat("{p}", tryCatch(as.character(packageVersion("{p}")), error = function(e) "not installed"), "\\n");'
                      for p in R_PACKAGES))
    try:
        out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return {"R": "did not answer"}
    return {name: value.strip() for name, value in (line.split(None, 1) for line in out.stdout.splitlines() if " " in line)}


def resolve_engine(engine: str) -> str:
    if engine not in ("auto", "lme4", "statsmodels"):
        raise ConfigError(f"profile.engine: {engine!r}; use auto, lme4 or statsmodels")
    if engine == "auto":
        return "lme4" if lme4_version() else "statsmodels"
    if engine == "lme4" and not lme4_version():
        raise VoliError("profile.engine is lme4 but Rscript cannot load lme4 and lmerTest; install them "
                        "(Debian: sudo apt-get install r-cran-lmertest) or set profile.engine: statsmodels")
    return engine


def _wald(b, v, weights=None):
    """(estimate, se) of w·b, or (F, k) of the joint test of b = 0."""
    if weights is not None:
        w = np.asarray(weights)
        return float(w @ b), float(np.sqrt(w @ v @ w))
    k = len(b)
    return float(b @ np.linalg.solve(v, b) / k), k


SINGULAR_VARIANCE = 1e-4  # a speaker variance below this share of the residual is 0 (statsmodels stops short of the
# boundary, at 1e-7..1e-5 where lme4 reaches 0; the R script uses 1e-8, lme4's theta < 1e-4)
SINGULAR_SPEAKERS = ("singular fit: the speaker variance is 0; tested on the speakers' means (least squares, one row "
                     "per speaker, speakers - between-speaker terms - 1 df)")
MEANS_DF = "speaker means: speakers - between-speaker terms - 1"


def level_weights(m: Model, names, d) -> list[tuple[str, np.ndarray]]:
    """(level, weights over the coefficients ``names``) giving each level's adjusted mean: the attribute's
    columns at that level, every other term at its mean over the rows ``d`` (as emmeans sets covariates).
    The exported R script builds the same weights."""
    if not m.reference:
        return []
    main = [c for c in m.main if c in names]
    out = []
    for level, at in [(m.reference, None)] + [(m.level_of[c], c) for c in main]:
        w = []
        for n in names:
            if n == "Intercept":
                w.append(1.0)
            elif n in main:
                w.append(float(n == at))
            elif "_x_" in n:
                a, c = n.split("_x_", 1)
                w.append(float(a == at) * float(d[c].mean()))
            else:
                w.append(float(d[n].mean()))
        out.append((level, np.array(w)))
    return out


def fit_statsmodels(m: Model, d) -> dict:
    """Long-form results of one model with statsmodels (see :func:`_results_rows`)."""
    import statsmodels.formula.api as smf
    from scipy import stats

    rhs = " + ".join(m.fixed)
    formula = f"{m.measure} ~ {rhs}"
    n_speakers, n_rows = d.speaker_id.nunique(), len(d)
    df = n_speakers - m.between - 1
    variances, status = {}, "ok"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if m.random:
            vc = {"recording": "0 + C(recording_id)"} if "recording_id" in m.random else None
            try:
                fit = smf.mixedlm(formula, d, groups=d.speaker_id, vc_formula=vc).fit(reml=True)
                if not fit.converged:
                    status = "not converged"
                variances["speaker_id"] = float(fit.cov_re.iloc[0, 0])
                if vc:
                    variances["recording_id"] = float(fit.vcomp[0])
                variances["residual"] = float(fit.scale)
            except (np.linalg.LinAlgError, ValueError) as err:
                status = f"mixed model failed ({str(err).splitlines()[0]}): tested on the speakers' means"
                fit = None
        else:
            fit = smf.ols(formula, d).fit()
            variances["residual"] = float(fit.scale)
    said = sorted({str(w.message).splitlines()[0] for w in caught if "converge" in str(w.message).lower()
                   or "singular" in str(w.message).lower() or "boundary" in str(w.message).lower()})
    if said and status == "ok":
        status = "warning: " + "; ".join(said)[:200]
    if fit is not None and m.random:
        se = fit.bse.reindex(m.tested).to_numpy(float)
        if variances["speaker_id"] <= SINGULAR_VARIANCE * variances["residual"]:
            status, fit = SINGULAR_SPEAKERS, None  # tokens would count as independent for a between-speaker term
        elif not np.all(np.isfinite(se) & (se > 0) & (se <= 100 * float(d[m.measure].std()))):
            status = f"mixed model degenerate ({status}; standard errors unusable): tested on the speakers' means"
            fit = None
    df_method = "speakers - between-speaker terms - 1"
    if fit is None:  # the between-speaker terms tested on one row per speaker (exact df; within-speaker terms averaged)
        fit, d = _speaker_means_fit(m, d)
        variances, df_method = {"residual": float(fit.scale)}, MEANS_DF
    v = fit.cov_params()
    names = list(m.tested)
    b = fit.params[names].to_numpy(float)
    vv = v.loc[names, names].to_numpy(float)
    rows = []
    for name, est, se in zip(names, b, np.sqrt(np.diag(vv))):
        t = est / se if se > 0 else np.nan
        rows.append({"test": "coefficient", "term": name, "estimate": float(est), "se": float(se), "df": float(df),
                     "statistic": float(t), "p": float(2 * stats.t.sf(abs(t), df))})
    if m.trend is not None:
        est, se = _wald(b[:len(m.trend)], vv[:len(m.trend), :len(m.trend)], m.trend)
        t = est / se
        rows.append({"test": "trend", "term": "", "estimate": est, "se": se, "df": float(df), "statistic": t,
                     "p": float(2 * stats.t.sf(abs(t), df))})
    if m.joint:
        k = len(m.main)
        f, _ = _wald(b[:k], vv[:k, :k])
        rows.append({"test": "joint", "term": "", "estimate": np.nan, "se": np.nan, "df": float(df),
                     "statistic": f, "numdf": float(k), "p": float(stats.f.sf(f, k, df))})
    fixed = [n for n in fit.params.index if n in m.fixed or n == "Intercept"]
    bf, vf = fit.params[fixed].to_numpy(float), v.loc[fixed, fixed].to_numpy(float)
    means = []
    for level, w in level_weights(m, fixed, d):
        est, se = float(w @ bf), float(np.sqrt(w @ vf @ w))
        means.append({"level": level, "estimate": est, "se": se, "df": float(df), "statistic": est / se,
                      "p": float(2 * stats.t.sf(abs(est / se), df))})
    return {"rows": rows, "variances": variances, "status": status, "n_rows": n_rows, "n_speakers": n_speakers,
            "means": means, "df_method": df_method}


def _speaker_means_fit(m: Model, d):
    """Least squares of the speakers' means of the measure on the between-speaker terms: the test of a
    speaker attribute that cannot count tokens as independent (used when the speaker variance is 0 or
    the mixed model fails). Returns (fit, the speaker-mean rows)."""
    import statsmodels.formula.api as smf

    means = d.groupby("speaker_id")[[m.measure, *m.between_terms]].mean().reset_index()
    return smf.ols(f"{m.measure} ~ {' + '.join(m.between_terms) or '1'}", means).fit(), means


# -- the R engine, and the export ---------------------------------------------------------------------------


R_SCRIPT = r'''# voli: every model of @MODELS@, refitted in R from the files beside this script.
#   cd <this folder> && Rscript models.R     (writes results.csv, variances.csv, status.csv, means.csv)
# Needs lme4 and lmerTest (Debian: r-cran-lmertest; CRAN: install.packages("lmerTest")), and pbkrtest for the
# models whose ddf is Kenward-Roger (Debian: r-cran-pbkrtest). A model that fails is named in status.csv.
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
read <- function(f) read.csv(f, encoding = "UTF-8", stringsAsFactors = FALSE, na.strings = c("", "NA"),
                             check.names = FALSE)
speakers <- read("speakers.csv")  # one row per speaker: survey answers and speaker measures
speakers$speaker_id <- as.character(speakers$speaker_id)

# -- the survey, coded as voli coded it (treatment contrasts; numbers centred on the speakers' mean) --
@CODING@

coded <- speakers[, c("speaker_id", @CODED@), drop = FALSE]
data <- list(
  tokens = merge(transform(read("tokens.csv"), speaker_id = as.character(speaker_id)), coded, by = "speaker_id"),
  utterances = merge(transform(read("utterances.csv"), speaker_id = as.character(speaker_id)), coded, by = "speaker_id"),
  speakers = speakers)
data$tokens$log_duration <- log(data$tokens$duration_s)

# -- the models: one row of models.csv each --
specs <- read("models.csv")
dummies <- function(d, column, prefix) {  # treatment dummies, the most frequent value as reference (as voli)
  counts <- table(d[[column]])
  lv <- names(counts)[order(-counts, names(counts))]
  for (l in lv[-1]) d[[make_name(prefix, l)]] <- as.numeric(d[[column]] == l)
  d
}
make_name <- function(prefix, level) {
  x <- iconv(paste(prefix, level, sep = "_"), "UTF-8", "ASCII//TRANSLIT", sub = "")
  x <- gsub("^_+|_+$", "", gsub("[^A-Za-z0-9_]+", "_", x))
  if (!grepl("^[A-Za-z]", x)) x <- paste0("x_", x)
  x
}
fit_one <- function(s, d) {  # one model: its test rows, variances, status and adjusted level means
  said <- character(0)
  catch <- function(expr) withCallingHandlers(expr,
    warning = function(w) { said <<- c(said, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { said <<- c(said, trimws(conditionMessage(m))); invokeRestart("muffleMessage") })
  notes <- character(0)
  fit <- catch(if (s$mixed) lmer(as.formula(s$formula), d, REML = TRUE) else lm(as.formula(s$formula), d))
  if (s$mixed && s$formula != s$simple_formula && (isSingular(fit) || length(said))) {
    notes <- c(notes, paste0("(attribute | word) simplified to (1 | word): ",
                             if (isSingular(fit)) "singular" else paste(unique(said), collapse = "; ")))
    said <- character(0)
    fit <- catch(lmer(as.formula(s$simple_formula), d, REML = TRUE))
  }
  n_speakers <- length(unique(d$speaker_id)); n_rows <- nrow(d)
  if (s$mixed) {
    vc <- as.data.frame(VarCorr(fit))
    vc <- vc[is.na(vc$var2) & (is.na(vc$var1) | vc$var1 == "(Intercept)"), ]
    var <- data.frame(model = s$id, group = ifelse(vc$grp == "Residual", "residual", vc$grp), variance = vc$vcov)
  } else var <- data.frame(model = s$id, group = "residual", variance = sigma(fit)^2)
  speaker_zero <- s$mixed && any(var$group == "speaker_id" & var$variance <= 1e-8 * sigma(fit)^2)
  mode <- if (!s$mixed) "lm" else if (speaker_zero) "means" else "lmer"
  ddf <- s$ddf
  if (mode == "means") {  # a speaker variance of 0 would let tokens count as independent for between-speaker terms
    between <- strsplit(s$between_terms, " ", fixed = TRUE)[[1]]
    d <- aggregate(d[, c(s$measure, between), drop = FALSE], by = list(speaker_id = d$speaker_id), FUN = mean)
    fit <- lm(as.formula(paste(s$measure, "~", paste(c("1", between), collapse = " + "))), d)
    V <- vcov(fit); df_fixed <- df.residual(fit)
    st <- paste("singular fit: the speaker variance is 0; tested on the speakers' means (least squares, one row",
                "per speaker, speakers - between-speaker terms - 1 df)")
  } else if (mode == "lm") { V <- vcov(fit); df_fixed <- df.residual(fit); st <- "ok"
  } else st <- if (isSingular(fit)) "singular fit (a random-effect variance other than the speaker's is 0)" else "ok"
  b <- if (mode == "lmer") fixef(fit) else coef(fit)
  one <- function(L) {  # a contrast L %*% b: estimate, se, df, t, p
    if (mode == "lmer") { ct <- contest(fit, L, joint = FALSE, ddf = ddf)
      return(data.frame(estimate = ct$Estimate, se = ct[["Std. Error"]], df = ct$df, statistic = ct[["t value"]],
                        p = ct[["Pr(>|t|)"]])) }
    est <- drop(L %*% b); se <- sqrt(drop(L %*% V %*% t(L)))
    data.frame(estimate = est, se = se, df = df_fixed, statistic = est / se, p = 2 * pt(-abs(est / se), df_fixed))
  }
  L <- function(w, cols) { m <- matrix(0, nrow = 1, ncol = length(b), dimnames = list(NULL, names(b)));
                           m[1, match(cols, names(b))] <- w; m }  # one contrast: sum of w * coefficients
  tested <- intersect(strsplit(s$tested, " ", fixed = TRUE)[[1]], names(b))
  res <- lapply(tested, function(col) cbind(data.frame(model = s$id, test = "coefficient", term = col),
                                            one(L(1, col)), numdf = NA))
  if (!is.na(s$trend)) {
    w <- as.numeric(strsplit(s$trend, " ", fixed = TRUE)[[1]])
    res[[length(res) + 1]] <- cbind(data.frame(model = s$id, test = "trend", term = ""),
                                    one(L(w, tested[seq_along(w)])), numdf = NA)
  }
  if (s$joint) {
    cols <- tested[!grepl("_x_", tested)]
    Lj <- matrix(0, nrow = length(cols), ncol = length(b), dimnames = list(NULL, names(b)))
    Lj[cbind(seq_along(cols), match(cols, names(b)))] <- 1
    if (mode == "lmer") { ct <- contest(fit, Lj, joint = TRUE, ddf = ddf)
      r <- data.frame(df = ct$DenDF, statistic = ct[["F value"]], numdf = ct$NumDF, p = ct[["Pr(>F)"]])
    } else { bb <- drop(Lj %*% b); f <- drop(t(bb) %*% solve(Lj %*% V %*% t(Lj), bb)) / length(cols)
      r <- data.frame(df = df_fixed, statistic = f, numdf = length(cols),
                      p = pf(f, length(cols), df_fixed, lower.tail = FALSE)) }
    res[[length(res) + 1]] <- data.frame(model = s$id, test = "joint", term = "", estimate = NA, se = NA,
                                         df = r$df, statistic = r$statistic, numdf = r$numdf, p = r$p)
  }
  # adjusted level means (as emmeans gives them: the other terms at their means over these rows)
  means <- NULL
  if (!is.na(s$levels)) {
    main <- tested[!grepl("_x_", tested)]
    levels <- strsplit(s$levels, " | ", fixed = TRUE)[[1]]
    at <- c(list(rep(0, length(main))), lapply(seq_along(main), function(k) as.numeric(seq_along(main) == k)))
    means <- do.call(rbind, lapply(seq_along(at), function(k) {
      x <- setNames(at[[k]], main)
      w <- sapply(names(b), function(n) {
        if (n == "(Intercept)") 1 else if (n %in% main) x[[n]]
        else if (grepl("_x_", n)) { p <- strsplit(n, "_x_", fixed = TRUE)[[1]]; x[[p[1]]] * mean(d[[p[2]]]) }
        else mean(d[[n]]) })
      cbind(data.frame(model = s$id, level = levels[k]), one(matrix(w, nrow = 1, dimnames = list(NULL, names(b)))))
    }))
  }
  if (mode != "means" && length(said)) st <- paste0(st, "; R said: ", paste(unique(said), collapse = "; "))
  if (length(notes)) st <- paste0(st, "; ", paste(notes, collapse = "; "))
  df_method <- if (mode == "lmer") ddf else if (mode == "means") "@MEANS_DF@" else "residual"
  list(results = do.call(rbind, res), variances = var, means = means,
       status = data.frame(model = s$id, status = st, n_rows = n_rows, n_speakers = n_speakers, df_method = df_method))
}
results <- list(); variances <- list(); status <- list(); means <- list()
for (i in seq_len(nrow(specs))) {
  s <- specs[i, ]
  d <- data[[s$data]]
  if (!is.na(s$language)) d <- d[d$language == s$language, ]
  if (!is.na(s$vowel)) d <- d[d$phone == s$vowel, ]
  needed <- strsplit(s$needed, " ", fixed = TRUE)[[1]]
  d <- d[complete.cases(d[, needed, drop = FALSE]), ]
  if (s$min_tokens > 0) d <- d[ave(seq_len(nrow(d)), d$speaker_id, FUN = length) >= s$min_tokens, ]
  if (grepl("log_duration_c", s$formula)) d$log_duration_c <- d$log_duration - ave(d$log_duration, d$speaker_id)
  if (grepl("lang_", s$formula)) d <- dummies(d, "language", "lang")
  if (grepl("ctx_previous", s$formula)) d <- dummies(d, "previous_class", "ctx_previous")
  if (grepl("ctx_next", s$formula)) d <- dummies(d, "next_class", "ctx_next")
  s$mixed <- s$mixed == 1; s$joint <- s$joint == 1
  out <- tryCatch(fit_one(s, d), error = function(e) list(status = data.frame(model = s$id,
    status = paste("failed:", gsub("[\r\n]+", " ", conditionMessage(e))), n_rows = nrow(d),
    n_speakers = length(unique(d$speaker_id)), df_method = NA)))
  results[[i]] <- out$results; variances[[i]] <- out$variances; status[[i]] <- out$status; means[[i]] <- out$means
}
empty <- function(x, cols) if (length(x)) x else setNames(data.frame(matrix(nrow = 0, ncol = length(cols))), cols)
write.csv(empty(do.call(rbind, means), c("model", "level", "estimate", "se", "df", "statistic", "p")), "means.csv",
          row.names = FALSE)
write.csv(empty(do.call(rbind, results), c("model", "test", "term", "estimate", "se", "df", "statistic", "numdf", "p")),
          "results.csv", row.names = FALSE)
write.csv(empty(do.call(rbind, variances), c("model", "group", "variance")), "variances.csv", row.names = FALSE)
write.csv(do.call(rbind, status), "status.csv", row.names = FALSE)
'''


def write_export(directory: Path, models: list[Model], data, survey, codings: dict[str, Coding],
                 interactions=()) -> Path:
    """export/: tokens.csv, utterances.csv, speakers.csv, models.csv and models.R (see R_SCRIPT)."""
    import pandas as pd

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    products = interaction_columns(codings, interactions)
    coded_columns = {col for c in codings.values() for col in c.columns} | {p[0] for p in products}
    keep_tokens = [c for c in ("speaker_id", "recording_id", "language", "phone", "word", "duration_s", "log_duration",
                               "previous_class", "next_class", "stressed", "f1_hz", "f2_hz", "f3_hz", "f1_lobanov",
                               "f2_lobanov", "f1_lobanov2", "f2_lobanov2", "f1_nearey", "f2_nearey")
                   if c in data["tokens"]]
    data["tokens"][keep_tokens].drop(columns=["log_duration"], errors="ignore").to_csv(
        directory / "tokens.csv", index=False)
    ut = data["utterances"]
    ut[[c for c in ut if c not in coded_columns]].to_csv(directory / "utterances.csv", index=False)
    sp = data["speakers"]
    measures = sp[[c for c in sp if c not in coded_columns]]
    raw = survey.astype({c: object for c in survey if c != "speaker_id"})
    extra = [c for c in raw if c != "speaker_id" and c not in measures]
    measures.merge(raw[["speaker_id", *extra]], on="speaker_id", how="left").to_csv(directory / "speakers.csv",
                                                                                     index=False)
    rows = []
    for m in models:
        needed = m.needed
        simple = Model(**{**m.__dict__, "word_slopes": False})
        rows.append({"id": m.id, "family": m.family, "data": m.data, "language": m.language or None,
                     "vowel": m.vowel or None, "measure": m.measure, "attribute": m.attribute,
                     "formula": m.formula("lme4"), "simple_formula": simple.formula("lme4"),
                     "fixed_formula": f"{m.measure} ~ {' + '.join(m.fixed) or '1'}",
                     "mixed": int(bool(m.random)), "tested": " ".join(m.tested),
                     "needed": " ".join(dict.fromkeys(needed)), "min_tokens": m.min_tokens,
                     "trend": " ".join(f"{w:.12g}" for w in m.trend) if m.trend is not None else None,
                     "joint": int(bool(m.joint)), "between_terms": " ".join(m.between_terms), "ddf": m.ddf,
                     "levels": " | ".join([m.reference] + [m.level_of[c] for c in m.main]) if m.reference else None})
    pd.DataFrame(rows, columns=["id", "family", "data", "language", "vowel", "measure", "attribute", "formula",
                                "simple_formula", "fixed_formula", "mixed", "tested", "needed", "min_tokens", "trend",
                                "joint", "between_terms", "ddf", "levels"]).to_csv(directory / "models.csv", index=False)
    lines = [line for c in codings.values() for line in c.r_lines()]
    lines += [f"speakers${name} <- speakers${a} * speakers${c}  # interaction" for name, a, c in products]
    coding = "\n".join(lines) or "# (no attributes)"
    coded = ", ".join(_r_string(col) for c in codings.values() for col in c.columns)
    coded = ", ".join(x for x in [coded] + [_r_string(p[0]) for p in products] if x)
    script = R_SCRIPT.replace("@MODELS@", rel("profile", "models.parquet")).replace("@MEANS_DF@", MEANS_DF).replace("@CODING@", coding).replace("@CODED@", coded).replace('c("speaker_id", )',
                                                                                     'c("speaker_id")')
    (directory / "models.R").write_text(script, encoding="utf-8")
    return directory


def run_r_script(directory: Path, script: str, instead: str) -> None:
    """Run ``Rscript <script>`` in ``directory`` (the export folder); an error names the script, R's last
    lines and what to set ``instead`` to do without it."""
    try:
        run = subprocess.run([shutil.which("Rscript") or "Rscript", script], cwd=directory, capture_output=True,
                             text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise VoliError(f"{directory}/{script}: Rscript failed to run ({err})") from err
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-8:])
        raise VoliError(f"{directory}/{script}: R stopped with an error; rerun it there to see why, or set "
                        f"{instead}.\n{tail}")


def fit_lme4(directory: Path) -> dict:
    """Runs export/models.R; returns {model id: long-form results} as :func:`fit_statsmodels` does."""
    import pandas as pd

    run_r_script(directory, "models.R", "profile.engine: statsmodels")
    results = pd.read_csv(directory / "results.csv", keep_default_na=False, na_values=["NA"])
    variances = pd.read_csv(directory / "variances.csv")
    status = pd.read_csv(directory / "status.csv", keep_default_na=False, na_values=["NA"])
    means = pd.read_csv(directory / "means.csv", keep_default_na=False, na_values=["NA"])
    out = {}
    for _, s in status.iterrows():
        r = results[results.model == s.model]
        v = variances[variances.model == s.model]
        out[s.model] = {"rows": r.drop(columns="model").to_dict("records"),
                        "variances": dict(zip(v.group, v.variance.astype(float))),
                        "means": means[means.model == s.model].drop(columns="model").to_dict("records"),
                        "status": s.status, "n_rows": int(s.n_rows), "n_speakers": int(s.n_speakers),
                        "df_method": s.df_method if isinstance(s.df_method, str) else ""}
    return out


def _ddf(config, n_rows: int) -> str:
    """lme4's df method for a model of ``n_rows`` rows (see ProfileConfig.ddf)."""
    choice = config.ddf  # one of voli.config's choices, checked when the config was read
    if choice == "satterthwaite" or not r_has("pbkrtest"):
        return "Satterthwaite"
    return "Kenward-Roger" if choice == "kenward-roger" or n_rows <= config.kr_max_rows else "Satterthwaite"


@functools.lru_cache(maxsize=None)
def r_has(package: str) -> bool:
    """Can Rscript load ``package``?"""
    rscript = shutil.which("Rscript")
    if not rscript:
        return False
    try:
        run = subprocess.run([rscript, "-e", f"quit(status = !requireNamespace({_r_string(package)}, quietly = TRUE))"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0
