"""Vowel dynamics: whether a vowel's formant trajectory has a different shape with social position.

The midpoint models (:mod:`voli.profile.specs`, "vowels ..." families) ask whether a vowel sits
elsewhere; these ask whether it *moves* differently: a diphthong that glides further, an onset or
offset that differs while the midpoint does not. One generalised additive mixed model (mgcv's
``bam``, as Sóskuthy 2017/2021 and Wieling 2018 lay out) per language, vowel, formant and attribute,
on the 11-point trajectories of the features stage (``vowel_tracks.parquet``: F1-F3 at 0, 10, ...,
100 % of each vowel, reliable points only), averaged per speaker (one mean trajectory per speaker,
the mean of their tokens at each point)::

    F ~ A + s(time) + s(time, by = A) [+ each control c: c + s(time, by = c, pc = 0.5)]
        + s(speaker_id, bs = "re") + s(speaker_id, p1, bs = "re") + ... + s(speaker_id, p4, bs = "re")

with ``A`` the attribute as an ordered factor with treatment contrasts, so that ``A``'s coefficient
is the difference in level and ``s(time, by = A)`` the *difference smooth*: how the other level's
trajectory differs in shape from the reference's (Sóskuthy 2021). Each speaker has their own level
and their own shape (random coefficients on the orthogonal polynomials p1..p4 of time over the
vowel's 11 points): the attribute is a property of speakers, and a test that ignored how much
speakers differ in shape would count every point as evidence. Why speaker means, not tokens: a
model of every token needs each token's own level and
slope (two random coefficients per token), and mgcv's cost grows with the cube of the coefficients:
24 speakers of 20 tokens took 20 s per model, a corpus of hundreds of tokens per speaker hours. The
attribute is tested between speakers anyway (below), and a speaker's mean trajectory carries what
their tokens say about it; the test then costs the same for 10 tokens per speaker as for 1000.
By-speaker factor smooths
(``s(time, speaker_id, bs = "fs", m = 1)``, the usual choice) were measured too: a null attribute
came out at p < 0.05 in 6-30 % of simulated corpora of 12 speakers (``bench/dynamics_fpr.py
--random fs``). A numeric attribute (centred) enters as a varying
coefficient held at 0 in the vowel's middle beside a term for its level,
``x + s(time, by = x, pc = 0.5)``, so its smooth tests the shape only, as a factor's difference smooth. F is in each speaker's Lobanov z-scores (the speaker's mean and SD
of that formant over their vowel tokens' midpoints), so vocal-tract length does not masquerade as an
attribute's effect.

The phonetic context comes out first (``profile.dynamics_context``, on by default): a vowel's offset
and onset follow the segments around it, and a speaker's tokens mix those contexts in proportions of
their own (their words decide them), so a speaker's mean trajectory would otherwise carry their mix
of contexts as if it were their shape. At each point of the vowel, ``lm(F ~ speaker + preceding +
following)`` over the tokens (the segments' classes: pause, vowel, labial, coronal, dorsal) estimates
each context's effect within speakers (an attribute, constant within a speaker, cannot leak into it),
and each token loses its contexts' effects, centred on the tokens' own mix; the means per speaker
follow. Measured (``bench/dynamics_fpr.py --contexts=-300,0,300 --context-mix 0.5``, 300 corpora of
12 speakers whose tokens end in three contexts, their mixes drawn per speaker): without the step
the null attributes' F2 came out at p < 0.05 in 14-20 % of corpora, with it in 4-6 %; and power
rose from 22 % to 38 % (the same as without contexts).

Tokens next to another vowel (hiatus: "my hours", no consonant or pause between) are left out
(``profile.dynamics_keep_hiatus: false``): nothing in the signal marks where one vowel ends and the
next begins, so the aligner's boundary is a guess and the token's trajectory runs into its
neighbour. On bench/dynamics_audio.py's interviews "my" before "hours" ran 45-64 ms into the /aʊ/
and the measured /aɪ/ F2 of a 48-speaker corpus fell over the vowel where the truth rises.

A control enters with its level and its shape (``c + s(time, by = c, pc = 0.5)``, as a numeric
attribute): men's and women's trajectories differ in shape, and with gender's level only, an
attribute unbalanced by gender carried gender's shape (``bench/dynamics_fpr.py --gender-extent 1.5
--gender-offset 300 [--control-level-only]``, 300 corpora: null attributes' F2 at p < 0.05 in 15 %
with the level only, 3-4 % with the shape; power 18 % and 32 %).

Tests, one row each in ``models.parquet`` (family ``vowel dynamics: <language>``):

* ``smooth``: a level's shape difference (its difference smooth's ``edf`` beside it): the
  *headline* test of a two-level attribute and of a numeric one. Its p is **the speakers'**: each
  speaker's mean trajectory (after the context step) gives its direction and curvature (least-squares
  coefficients on the orthogonal polynomials p1 and p2, ``SHAPE_TERMS``), one row per speaker, and a
  multivariate linear model of those rows on the attribute and the controls tests the attribute's
  column by Pillai's trace (``statistic`` its approximate F, ``df`` the denominator df; exact for a
  two-level or numeric attribute). mgcv's own test of the difference smooth is kept as ``p_mgcv``.
  Why not mgcv's: on the pipeline's own audio (bench/dynamics_audio.py --shuffles 40, attributes
  shuffled among speakers within gender), mgcv's F for the difference smooth called a null attribute
  significant in 14.8 % of 1760 tests even on the speakers' df (18.3 % on its own df) with each
  speaker's level, slope and curvature as random terms, and in 7.6 % (9.7 % on its own df) with the
  degree-4 shapes above: the speakers' tracks have wiggles of their own (an aligner's boundary, a
  formant tracker's ceiling) that a few random coefficients do not hold, and the GAMM counts them
  as evidence about the attribute. The speakers' test: 3.9 % there (4.2 % and 3.2 % on two more
  corpora); pooled over the null tests of 300 simulated corpora (bench/dynamics_fpr.py), 4.6-5.2 %
  with and without mixed contexts and a shaping control, where mgcv's own p gives 7.3-10.6 %. It
  finds the planted x1.2 glide in 27-31 % of those corpora of 12 speakers (mgcv's own p 41-47 %,
  at that false-positive rate);
* ``joint``: with more than two levels, the smallest level's p times their number (Bonferroni):
  the headline;
* ``coefficient``: the difference in level (not a headline: the midpoint models test that), its t
  on the speakers' df (speakers - between-speaker terms - 1).

The predicted trajectory of each level (controls at their reference, random smooths left out) and
the difference curve with 95 % pointwise intervals go to ``trajectories.parquet`` (and the report).
Everything runs from ``export/dynamics.R`` on ``export/vowel_tracks.csv``, so R users refit it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voli.errors import VoliError
from voli.profile.coding import Coding, _name
from voli.profile.specs import _context_class

FAMILY = "vowel dynamics"
TOKEN_KEY = ("recording_id", "speaker_id", "phone", "start")  # joins a token's trajectory points to its row
FORMANTS = ("f1", "f2")
TIME_POINTS = 21  # points of each predicted curve over 0-1
BASIS = 6  # basis dimension k of every smooth over time (11 points per token: k <= 10)
MIN_TOKENS_PER_LEVEL = 5  # tokens each compared level needs in a vowel's model
MIN_SPEAKERS_PER_LEVEL = 2  # ... and speakers (one speaker per level: the attribute is the speaker)
# Random effects, on each speaker's mean trajectory: the speaker's own level and shape, their coefficients on the
# orthogonal polynomials of degree 1..SHAPE_DEGREE over the vowel's 11 points (p1..p4 in the R data). Measured on
# the pipeline's own audio corpus (bench/dynamics_audio.py --shuffles 40: the attributes shuffled among speakers
# within gender, 1760 null tests): with level, slope and curvature only, mgcv's test of the difference smooth (F on
# the speakers' df) came out at p < 0.05 in 14.8 % (speakers' tracks have shapes of their own beyond a parabola);
# with degree 4, in 7.6 %; degree 5, 8.1 %. The tables' simulator (bench/dynamics_fpr.py) has no such shapes: 3-4 %
# with any of them. Degree 4 is kept for the curves' intervals; the headline test is the speakers' (SHAPE_TERMS).
SHAPE_DEGREE = 4
RANDOM = ('s(speaker_id, bs = "re")',) + tuple(f's(speaker_id, p{j}, bs = "re")' for j in range(1, SHAPE_DEGREE + 1))
# The headline test of a shape difference, between speakers: each speaker's mean trajectory's coefficients on the
# first SHAPE_TERMS orthogonal polynomials (its direction and curvature over the vowel), one row per speaker in a
# multivariate linear model with the controls, the attribute's term tested by Pillai's trace (see the module's text).
SHAPE_TERMS = 2
# The phonetic context each token's trajectory is adjusted for (profile.dynamics_context): the class of the
# segment before and after the vowel (voli.profile.specs._context_class: pause, vowel, labial, coronal, dorsal).
CONTEXT_PHONES = {"preceding_f": "previous_phone", "following_f": "next_phone"}


@dataclass
class Dynamics:
    """One trajectory model: a formant of one vowel of one language against one attribute."""

    id: str
    language: str
    vowel: str
    measure: str  # f1_z / f2_z (per-speaker Lobanov z of the trajectory points)
    attribute: str
    kind: str
    factor: str = ""  # categorical / ordinal: the ordered factor's column; "" for a numeric attribute
    levels: tuple[str, ...] = ()  # reference first
    by: str = ""  # numeric: the centred column
    controls: list[str] = field(default_factory=list)
    context: tuple[str, ...] = ()  # context columns whose within-speaker effects leave each token first
    adjusted_for: str = ""
    random: tuple[str, ...] = RANDOM  # the random terms (a bench compares others)
    control_shapes: bool = True  # each control column's shape over the vowel too, not only its level (a bench compares)

    @property
    def family(self) -> str:
        return f"{FAMILY}: {self.language}"

    def formula(self) -> str:
        k = f", k = {BASIS}"
        if self.factor:
            terms = [self.factor, f"s(time{k})", f"s(time, by = {self.factor}{k})"]
        else:
            # the level (at the vowel's middle) as a term of its own, the shape as a varying coefficient held at 0
            # in the middle (pc = 0.5): the smooth then tests the shape only, as a factor's difference smooth does
            terms = [self.by, f"s(time{k})", f"s(time, by = {self.by}{k}, pc = 0.5)"]
        # a control's level and, held at 0 in the vowel's middle as a numeric attribute's, its shape: men's and
        # women's trajectories differ in shape, and an attribute unbalanced by gender would otherwise carry that
        controls = [t for c in self.controls for t in
                    ([c, f"s(time, by = {c}{k}, pc = 0.5)"] if self.control_shapes else [c])]
        return f"{self.measure} ~ " + " + ".join(terms + controls + list(self.random))


def trajectory_data(tracks, tokens, survey, codings: dict[str, Coding]):
    """The trajectory points of the tokens the profile kept (its filters, exclusions and roles), with
    ``time`` (0-1), per-speaker Lobanov z-scores ``f1_z``/``f2_z``, each categorical attribute as a
    level column (``<name>_f``) and every coded survey column; ``None`` without usable points."""
    import pandas as pd

    if tracks is None or not len(tracks) or not len(tokens):
        return None
    key = list(TOKEN_KEY)
    context = [c for c in CONTEXT_PHONES.values() if c in tokens]
    kept = tokens[key + ["language"] + context].copy()
    kept["start"] = kept.start.round(4)
    pts = tracks[tracks.reliable].copy() if "reliable" in tracks else tracks.copy()
    pts["start"] = pts.start.round(4)
    pts = pts.drop(columns=["language"], errors="ignore").merge(kept.drop_duplicates(key), on=key, how="inner")
    if not len(pts):
        return None
    pts["token"] = (pts.recording_id.astype(str) + "|" + pts.speaker_id.astype(str) + "|"
                    + pts.start.map("{:.4f}".format) + "|" + pts.phone.astype(str))
    pts["time"] = pts.point.astype(float) / 100.0
    for column, phone in CONTEXT_PHONES.items():  # the neighbouring segments' classes (pause, vowel, labial, ...)
        pts[column] = pts[phone].map(_context_class) if phone in pts else "pause"
    for f in FORMANTS:  # the speaker's mean and SD over their tokens' midpoints (as the Lobanov columns)
        by_speaker = tokens.groupby("speaker_id")[f"{f}_hz"].agg(["mean", "std"])
        mean, sd = pts.speaker_id.map(by_speaker["mean"]), pts.speaker_id.map(by_speaker["std"])
        pts[f"{f}_z"] = (pts[f"{f}_hz"] - mean) / sd.where(sd > 0)
    sv = survey.set_index("speaker_id")
    for name, coding in codings.items():
        raw = pts.speaker_id.map(sv[name]) if name in sv else pd.Series(np.nan, index=pts.index)
        for column, values in coding.values(raw.reset_index(drop=True)).items():
            pts[column] = values
        if coding.kind != "numeric":
            pts[f"{_name(name)}_f"] = raw.astype(object).where(raw.notna(), None).map(
                lambda v: None if v is None else str(v)).to_numpy()
    pts = pts.sort_values(["token", "time"]).reset_index(drop=True)
    return pts


def specs(points, codings: dict[str, Coding], declared: set[str], config, vowels,
          control_shapes: bool = True) -> list[Dynamics]:
    """The trajectory models of ``vowels`` ({language: set of phones}) for every declared attribute
    that varies within them; a vowel-attribute pair whose levels each lack MIN_TOKENS_PER_LEVEL
    tokens or MIN_SPEAKERS_PER_LEVEL speakers is not fitted. ``config`` (the profile's): the controls,
    and with ``dynamics_context`` each model adjusts for the preceding and following segment's class
    where it varies among the model's tokens. ``control_shapes``: the controls' shapes too, not only
    their levels (a bench compares)."""
    controls, keep_hiatus = tuple(config.controls), config.dynamics_keep_hiatus
    out = []
    for language in sorted(vowels):
        lang = points[points.language == language]
        for vowel in sorted(vowels[language]):
            d = lang[lang.phone == vowel]
            if not len(d):
                continue
            for name, coding in codings.items():
                if name not in declared:
                    continue
                others = [c for c in controls if c != name and c in codings]
                ctrl_cols = [col for c in others for col in codings[c].columns
                             if col in d and d[col].nunique() > 1]
                words = (", ".join(codings[c].describe() for c in others)
                         + (" (level and shape over the vowel)" if control_shapes else " (level)")
                         if others else "nothing")
                if coding.kind == "numeric":
                    column = coding.columns[0]
                    if d.drop_duplicates("speaker_id")[column].nunique() < 3:
                        continue
                    base = dict(kind="numeric", by=column)
                else:
                    factor = f"{_name(name)}_f"
                    per_level = d.groupby(factor).agg(tokens=("token", "nunique"), speakers=("speaker_id", "nunique"))
                    ok = per_level[(per_level.tokens >= MIN_TOKENS_PER_LEVEL)
                                   & (per_level.speakers >= MIN_SPEAKERS_PER_LEVEL)].index
                    levels = [lvl for lvl in coding.levels if lvl in set(ok)]
                    if coding.reference in levels:  # the reference first, as the treatment contrasts need
                        levels = [coding.reference] + [lvl for lvl in levels if lvl != coding.reference]
                    if len(levels) < 2:
                        continue
                    base = dict(kind=coding.kind, factor=factor, levels=tuple(levels))
                mine = d[d[factor].isin(levels)] if coding.kind != "numeric" else d[d[column].notna()]
                sides = tuple(c for c in CONTEXT_PHONES if config.dynamics_context and c in mine
                              and mine[c].nunique() > 1)
                around = ("the " + " and ".join(c.removesuffix("_f") for c in sides) + " segment's class (its "
                          "within-speaker effect on the trajectory taken out of each token); ") if sides else ""
                for formant in FORMANTS:
                    out.append(Dynamics(id="", language=language, vowel=vowel, measure=f"{formant}_z", attribute=name,
                                        controls=ctrl_cols, context=sides, control_shapes=control_shapes,
                                        adjusted_for=words + "; " + around
                                        + ("" if keep_hiatus else "tokens next to another vowel left out; ")
                                        + "each speaker's own level and curve (on the speaker's "
                                        "mean trajectory); the shape tested between speakers", **base))
    return out


def dynamic_vowels(tokens, config) -> dict[str, set[str]]:
    """The vowels whose trajectories are modelled, per language: ``profile.dynamics`` = diphthongs
    (those the language file marks as gliding), all (every vowel) or off."""
    from voli import languages

    out: dict[str, set[str]] = {}
    if config.dynamics == "off" or not len(tokens):
        return out
    for language, phones in tokens.groupby("language").phone:
        try:
            spec = languages.get(language)
        except VoliError:
            continue
        out[language] = {p for p in set(phones) if config.dynamics == "all"
                         or (p in spec.vowels and spec.vowels[p].diphthong)}
    return {k: v for k, v in out.items() if v}


R_SCRIPT = r'''# voli: the vowel-dynamics GAMMs of models.parquet (family "vowel dynamics: <language>"), refitted
# with mgcv from vowel_tracks.csv beside this script: Rscript dynamics.R
suppressPackageStartupMessages(library(mgcv))
header <- names(read.csv("vowel_tracks.csv", nrows = 1, check.names = FALSE))
# labels stay text: a level "01" or "T" read as a number or a logical would match no level
labels <- grepl("_f$", header) | header %in% c("token", "speaker_id", "language", "phone")
tracks <- read.csv("vowel_tracks.csv", colClasses = ifelse(labels, "character", NA), check.names = FALSE)
models <- read.csv("dynamics_models.csv", colClasses = "character", na.strings = character(0))
# The phonetic context (the models' "context" columns: the preceding and following segment's class): at each point
# of the vowel, its effect on the formant estimated within speakers (a coefficient per speaker, so that an attribute,
# which is the speaker's, cannot leak into it), then taken out of each token, centred on the tokens' own mix: a
# speaker's mean is then what it would be with the corpus's mix of contexts, not with their own
without_context <- function(d, measure, context) {
  y <- d[[measure]]
  for (tm in unique(d$time)) {
    i <- which(d$time == tm)
    x <- d[i, c("speaker_id", context, measure)]
    varying <- context[vapply(context, function(cc) length(unique(x[[cc]])) > 1, logical(1))]
    if (!length(varying) || length(unique(x$speaker_id)) < 2) next
    fit <- lm(reformulate(c("factor(speaker_id)", varying), response = measure), data = x)
    X <- model.matrix(fit)
    cols <- grep(paste0("^(", paste(varying, collapse = "|"), ")"), colnames(X))
    b <- coef(fit)[cols]
    b[is.na(b)] <- 0  # a context only some speakers have, alone: aliased with them, no within-speaker estimate
    effect <- as.vector(X[, cols, drop = FALSE] %*% b)
    y[i] <- y[i] - (effect - mean(effect))
  }
  y
}
# each speaker's own shape: orthogonal polynomials of degree 1..@DEGREE@ over the vowel's 11 points (the speakers'
# random coefficients on them, beside their level)
shape_basis <- function(time) {
  P <- predict(poly(seq(0, 1, by = 0.1), @DEGREE@), time)
  colnames(P) <- paste0("p", seq_len(ncol(P)))
  as.data.frame(P)
}
# The test of a shape difference, between speakers: each speaker's mean trajectory's coefficients on p1..p@TERMS@
# (direction and curvature over the vowel), one row per speaker; the multivariate linear model of those rows on
# the speaker-level design X (intercept, the attribute's columns, the controls) tests column j by Pillai's trace
# (exact F for one column). A speaker is one row whatever their tokens or their own wiggles: the test's error is
# the speakers' spread of shapes, as a between-speaker attribute's must be.
speaker_shapes <- function(d, measure) {
  terms <- paste0("p", seq_len(@TERMS@))
  shapes <- lapply(split(d, d$speaker_id, drop = TRUE), function(x) {
    if (nrow(x) < length(terms) + 2) return(NULL)  # too few reliable points for a shape
    b <- coef(lm(reformulate(terms, response = measure), data = x))[terms]
    if (anyNA(b)) NULL else data.frame(speaker_id = as.character(x$speaker_id[1]), t(b), check.names = FALSE)
  })
  do.call(rbind, shapes)
}
shape_test <- function(Y, X, j) {
  none <- c(statistic = NA, df = NA, p = NA)
  if (is.null(Y) || nrow(Y) - ncol(X) < ncol(Y) || qr(X)$rank < ncol(X)) return(none)
  a <- tryCatch(anova(lm(Y ~ X - 1), lm(Y ~ X[, -j, drop = FALSE] - 1), test = "Pillai"), error = function(e) NULL)
  if (is.null(a)) none else c(statistic = a[2, "approx F"], df = a[2, "den Df"], p = a[2, "Pr(>F)"])
}
results <- list(); status <- list(); curves <- list()
grid_time <- seq(0, 1, length.out = @POINTS@)
for (i in seq_len(nrow(models))) {
  m <- models[i, ]
  d <- tracks[tracks$language == m$language & tracks$phone == m$vowel & !is.na(tracks[[m$measure]]), ]
  levels_ <- if (nzchar(m$factor)) strsplit(m$levels, "|", fixed = TRUE)[[1]] else character(0)
  controls <- if (nzchar(m$controls)) strsplit(m$controls, "|", fixed = TRUE)[[1]] else character(0)
  if (nzchar(m$factor)) d <- d[d[[m$factor]] %in% levels_, ]
  context <- if (nzchar(m$context)) strsplit(m$context, "|", fixed = TRUE)[[1]] else character(0)
  n_tokens <- length(unique(d$token))
  if (!nrow(d)) {
    status[[i]] <- data.frame(model = m$id, status = "failed: no trajectory points of its levels", n_rows = 0,
                              n_speakers = 0, n_tokens = 0, n_shape_speakers = 0)
    next
  }
  if (length(context)) d[[m$measure]] <- without_context(d, m$measure, context)
  # one trajectory per speaker: the mean of their tokens at each point (the attribute and controls are the speaker's)
  keys <- c("speaker_id", "time", if (nzchar(m$factor)) m$factor else m$by, controls)
  d <- aggregate(d[m$measure], by = d[keys], FUN = mean)
  d <- d[order(d$speaker_id, d$time), ]
  if (nzchar(m$factor)) {
    d[[m$factor]] <- factor(d[[m$factor]], levels = levels_, ordered = TRUE)
    contrasts(d[[m$factor]]) <- "contr.treatment"  # the ordered factor's smooths: differences from the reference
  }
  d$speaker_id <- factor(d$speaker_id)
  d <- cbind(d, shape_basis(d$time))
  f <- as.formula(m$formula)
  fit <- tryCatch(bam(f, data = d, method = "fREML", discrete = TRUE), error = function(e) e)
  if (inherits(fit, "error")) {
    status[[i]] <- data.frame(model = m$id, status = paste("failed:", conditionMessage(fit)),
                              n_rows = nrow(d), n_speakers = length(unique(d$speaker_id)), n_tokens = n_tokens,
                              n_shape_speakers = 0)
    next
  }
  s <- summary(fit)
  ptab <- s$p.table; st <- s$s.table
  # the attribute varies between speakers: its level's t test gets speakers - between-speaker terms - 1 df (mgcv's
  # own use the residual df of every trajectory point, too many with few speakers; kept as p_mgcv); its shape's
  # test is the speakers' (shape_test), mgcv's own p of the difference smooth kept beside it as p_mgcv
  n_between <- (if (nzchar(m$factor)) length(levels_) - 1 else 1) + length(controls)
  df_speakers <- max(1, length(unique(d$speaker_id)) - n_between - 1)
  shapes <- speaker_shapes(d, m$measure)
  X <- Y <- NULL  # no speaker with enough reliable points: no shape test (shape_test says NA)
  if (!is.null(shapes)) {
    per_speaker <- d[match(shapes$speaker_id, as.character(d$speaker_id)), ]
    X <- as.matrix(cbind("(Intercept)" = 1, if (nzchar(m$factor)) sapply(setNames(levels_[-1], levels_[-1]),
      function(lv) as.numeric(per_speaker[[m$factor]] == lv)) else setNames(data.frame(per_speaker[[m$by]]), m$by),
      per_speaker[, controls, drop = FALSE]))
    Y <- as.matrix(shapes[, -1, drop = FALSE])
  }
  smooth_row <- function(sm, column) {
    tst <- shape_test(Y, X, match(column, colnames(X)))
    data.frame(model = m$id, test = "smooth", level = if (nzchar(m$factor)) column else "", estimate = NA, se = NA,
               statistic = tst[["statistic"]], p = tst[["p"]], edf = st[sm, "edf"], ref_df = st[sm, "Ref.df"],
               df = tst[["df"]], p_mgcv = st[sm, "p-value"])
  }
  coefficient_row <- function(term, lv) data.frame(model = m$id, test = "coefficient", level = lv,
    estimate = ptab[term, 1], se = ptab[term, 2], statistic = ptab[term, 3],
    p = 2 * pt(-abs(ptab[term, 3]), df_speakers), edf = NA, ref_df = NA, df = df_speakers, p_mgcv = ptab[term, 4])
  rows <- list()
  if (nzchar(m$factor)) {
    for (lv in levels_[-1]) {
      term <- paste0(m$factor, lv)
      if (term %in% rownames(ptab)) rows[[length(rows) + 1]] <- coefficient_row(term, lv)
      sm <- paste0("s(time):", term)
      if (sm %in% rownames(st)) rows[[length(rows) + 1]] <- smooth_row(sm, lv)
    }
    grid <- expand.grid(time = grid_time, level = levels_, stringsAsFactors = FALSE)
    grid[[m$factor]] <- factor(grid$level, levels = levels_, ordered = TRUE)
    contrasts(grid[[m$factor]]) <- "contr.treatment"
  } else {
    if (m$by %in% rownames(ptab)) rows[[1]] <- coefficient_row(m$by, "")
    sm <- paste0("s(time):", m$by)
    if (sm %in% rownames(st)) rows[[length(rows) + 1]] <- smooth_row(sm, m$by)
    x <- unique(d[, c("speaker_id", m$by)])[[m$by]]
    at <- quantile(x, c(0.1, 0.9), names = FALSE)
    grid <- expand.grid(time = grid_time, level = c("10th percentile", "90th percentile"), stringsAsFactors = FALSE)
    grid[[m$by]] <- ifelse(grid$level == "10th percentile", at[1], at[2])
  }
  for (cc in controls) grid[[cc]] <- 0
  grid$speaker_id <- factor(levels(d$speaker_id)[1], levels = levels(d$speaker_id))
  grid <- cbind(grid, shape_basis(grid$time))
  X <- predict(fit, newdata = grid, type = "lpmatrix")
  X[, grepl("speaker_id", colnames(X), fixed = TRUE)] <- 0  # the random terms
  b <- coef(fit); V <- vcov(fit)
  fitv <- as.vector(X %*% b); sev <- sqrt(rowSums((X %*% V) * X))
  curves[[length(curves) + 1]] <- data.frame(model = m$id, level = grid$level, time = grid$time, fit = fitv, se = sev)
  ref <- grid$level == unique(grid$level)[1]
  for (lv in unique(grid$level)[-1]) {
    D <- X[grid$level == lv, , drop = FALSE] - X[ref, , drop = FALSE]
    curves[[length(curves) + 1]] <- data.frame(model = m$id, level = paste0("difference: ", lv, " - ",
      unique(grid$level)[1]), time = grid_time, fit = as.vector(D %*% b), se = sqrt(rowSums((D %*% V) * D)))
  }
  if (length(rows)) results[[length(results) + 1]] <- do.call(rbind, rows)
  status[[i]] <- data.frame(model = m$id, status = "ok", n_rows = nrow(d),
                            n_speakers = length(unique(d$speaker_id)), n_tokens = n_tokens,
                            n_shape_speakers = if (is.null(shapes)) 0 else nrow(shapes))
}
empty <- data.frame(model = character(0))
write.csv(if (length(results)) do.call(rbind, results) else empty, "dynamics_results.csv", row.names = FALSE)
write.csv(do.call(rbind, status), "dynamics_status.csv", row.names = FALSE)
write.csv(if (length(curves)) do.call(rbind, curves) else empty, "dynamics_curves.csv", row.names = FALSE)
'''


def mgcv_version() -> str | None:
    """mgcv's version, or None without R or mgcv."""
    from voli.profile.engines import r_versions

    version = r_versions().get("mgcv", "")
    return version if version[:1].isdigit() else None


def write_export(directory: Path, models: list[Dynamics], points) -> None:
    """export/: vowel_tracks.csv, dynamics_models.csv and dynamics.R."""
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    columns = {"token", "speaker_id", "language", "phone", "time", *(f"{f}_z" for f in FORMANTS),
               *(f"{f}_hz" for f in FORMANTS)}
    for m in models:
        columns.update([m.factor or m.by, *m.controls, *m.context])
    points[[c for c in points.columns if c in columns]].to_csv(directory / "vowel_tracks.csv", index=False)
    pd.DataFrame([{"id": m.id, "family": m.family, "language": m.language, "vowel": m.vowel, "measure": m.measure,
                   "attribute": m.attribute, "factor": m.factor, "levels": "|".join(m.levels), "by": m.by,
                   "controls": "|".join(m.controls), "context": "|".join(m.context), "formula": m.formula()}
                  for m in models]).to_csv(
        directory / "dynamics_models.csv", index=False)
    (directory / "dynamics.R").write_text(R_SCRIPT.replace("@POINTS@", str(TIME_POINTS)).replace(
        "@DEGREE@", str(SHAPE_DEGREE)).replace("@TERMS@", str(SHAPE_TERMS)), encoding="utf-8")


def run_export(directory: Path) -> dict:
    """Run export/dynamics.R; its results, status and curves tables."""
    import pandas as pd

    from voli.profile.engines import run_r_script

    run_r_script(directory, "dynamics.R", "profile.dynamics: off")
    read = lambda name: pd.read_csv(directory / name, keep_default_na=False, na_values=["NA"])  # noqa: E731
    return {"results": read("dynamics_results.csv"), "status": read("dynamics_status.csv"),
            "curves": read("dynamics_curves.csv")}


def _left_out(status) -> str:
    """Speakers of a fitted model whose mean trajectory has too few reliable points for the shape test."""
    if status is None or str(status.status) != "ok" or "n_shape_speakers" not in status:
        return ""
    missing = int(status.n_speakers) - int(status.n_shape_speakers)
    return (f"{missing} speaker{'s' if missing != 1 else ''} with fewer than {SHAPE_TERMS + 2} reliable points in "
            "their mean trajectory: in the GAMM, not in the shape test") if missing > 0 else ""


def fit_dynamics(tracks, tokens, survey, codings: dict[str, Coding], declared: set[str], config, *,
                 export_dir: Path | None = None, first_id: int = 1, random: tuple[str, ...] = RANDOM,
                 control_shapes: bool = True):
    """The vowel-dynamics family: (rows for models.parquet, as :func:`voli.profile.models.fit_models`
    builds them, before the FDR; the predicted curves), or ([], None) when there is nothing to fit.
    Needs R with mgcv; without it the family is left out and a problem says so."""
    import tempfile

    import pandas as pd

    from voli import problems

    vowels = dynamic_vowels(tokens, config)
    points = trajectory_data(tracks, tokens, survey, codings) if vowels else None
    if points is not None and not config.dynamics_keep_hiatus:  # tokens next to another vowel: see the module's text
        points = points[(points.preceding_f != "vowel") & (points.following_f != "vowel")]
    if points is None or not len(points):
        return [], None
    models = specs(points, codings, declared, config, vowels, control_shapes)
    if not models:
        return [], None
    version = mgcv_version()
    if version is None:
        problems.report("dynamics_skipped", "the vowel-dynamics models need R with mgcv (apt-get install r-cran-mgcv); "
                        f"{len(models)} trajectory models were not fitted")
        return [], None
    for i, m in enumerate(models):
        m.id, m.random = f"d{first_id + i:04d}", tuple(random)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(export_dir) if export_dir else Path(tmp)
        write_export(folder, models, points)
        out = run_export(folder)
    status = out["status"].set_index("model")
    results = out["results"]
    rows = []
    for m in models:
        s = status.loc[m.id] if m.id in status.index else None
        state = str(s.status) if s is not None else "failed: no result"
        engine = f"mgcv {version} (bam, fREML, discrete)"
        common = {"family": m.family, "role": "primary", "level": "trajectory", "measure": m.measure,
                  "language": m.language, "vowel": m.vowel, "attribute": m.attribute,
                  "n_speakers": int(s.n_speakers) if s is not None else 0, "n_rows": int(s.n_rows) if s is not None else 0,
                  "formula": m.formula(), "engine": engine, "df_method": "", "adjusted_for": m.adjusted_for,
                  "random": " + ".join(m.random), "left_out": _left_out(s), "status": state,
                  "model_id": m.id, "icc": np.nan, "sd_between": np.nan}
        mine = results[results.model == m.id] if "model" in results and len(results) else results.iloc[0:0]
        if not len(mine):
            rows.append({**common, "term": f"shape of {m.attribute}", "test": "smooth", "headline": False})
            continue
        smooths = mine[mine.test == "smooth"]
        for r in mine.itertuples():
            level = "" if pd.isna(r.level) else str(r.level)
            what = f"{level} vs {m.levels[0]}" if m.factor else m.attribute
            label = f"shape: {what} (difference smooth)" if r.test == "smooth" else f"level: {what}"
            rows.append({**common, "term": label, "test": r.test, "headline": r.test == "smooth" and len(smooths) == 1,
                         "estimate": r.estimate, "se": r.se, "df": r.df, "statistic": r.statistic, "p": r.p,
                         "edf": r.edf, "p_mgcv": r.p_mgcv})
        if len(smooths) > 1:
            p = float(min(1.0, smooths.p.min() * len(smooths)))
            rows.append({**common, "term": f"shape, any level of {m.attribute} (Bonferroni over {len(smooths)} "
                         "difference smooths)", "test": "joint", "headline": True, "p": p})
    curves = out["curves"]
    if len(curves):
        meta = pd.DataFrame([{"model": m.id, "family": m.family, "language": m.language, "vowel": m.vowel,
                              "measure": m.measure, "attribute": m.attribute} for m in models])
        curves = curves.merge(meta, on="model").rename(columns={"model": "model_id"})
        curves["ci_low"], curves["ci_high"] = curves.fit - 1.96 * curves.se, curves.fit + 1.96 * curves.se
        curves["difference"] = curves.level.astype(str).str.startswith("difference: ")
    return rows, curves

