"""Vowel trajectories with known truth, without audio: for checking the vowel-dynamics models.

:func:`trajectory_tables` writes what the features and profile stages would hand the dynamics
models (:mod:`voli.profile.dynamics`): 11-point F1/F2 trajectories of one gliding vowel per
replicate, the speakers' other vowels (for their Lobanov scales) and a survey with a planted
attribute ``group`` (its B speakers glide ``glide`` times as far in F2, midpoint unchanged) and two
null ones (drawn at random per speaker): ``null`` (two levels) and ``score`` (a number, 0-100);
``gender`` is drawn per speaker too, apart from them, and may change the glide (``gender_extent``). Speakers differ in level, glide extent and
midpoint; tokens differ again around their speaker; points carry measurement noise. With
``context_hz``, each token is followed by one of several segments that pull its F2 offset apart,
in a mix of contexts drawn per speaker (as real tokens: a speaker's words decide their contexts). Each replicate
is a separate set of speakers and vowel (``v00``, ``v01``...), so one model fit per replicate and
attribute gives independent tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POINTS = tuple(range(0, 101, 10))
CONTEXT_PHONES = ("t", "k", "p", "a")  # the following phone of each context (classes: coronal, dorsal, labial, vowel)
OTHER_VOWELS = ((300, 2300), (700, 1300), (400, 800), (500, 1900), (350, 1000))  # (F1, F2) Hz of the rest


@dataclass(frozen=True)
class TrajectoryDesign:
    speakers: int = 12  # per replicate, half in group A, half in B
    tokens: int = 10  # of the gliding vowel per speaker
    glide: float = 1.2  # B's F2 glide extent over A's (1.0: no effect)
    f2_extent_hz: float = 300.0  # half of A's F2 movement, onset to offset
    f1_extent_hz: float = 150.0  # F1 falls by twice this over the vowel, alike in both groups
    speaker_extent_sd: float = 0.15  # log-scale variation of a speaker's glide extent
    token_extent_sd: float = 0.15  # ... and of a token's around its speaker's
    speaker_mid_sd_hz: float = 80.0
    token_mid_sd_hz: float = 50.0
    point_sd_hz: float = 30.0  # measurement noise per point
    # following contexts: each one's F2 shift at the vowel's end, a transition into the next segment over the
    # vowel's last 40 % (transition(): the midpoint does not move); empty: one context for every token
    context_hz: tuple[float, ...] = ()
    context_mix: float = 1.0  # Dirichlet concentration of each speaker's mix of those contexts (small: speakers differ more)
    gender_extent: float = 1.0  # men's F2 glide extent over women's (gender is drawn per speaker, apart from group)
    gender_offset_hz: float = 0.0  # ... and men's F2 shift at the vowel's end (transition(): the last 40 %)


def transition(t: float) -> float:
    """The share of a following context's F2 shift at time ``t`` (0-1) of the vowel: 0 up to 60 %, then a
    smooth step (3u² - 2u³) to 1 at the offset. No polynomial of low degree follows it, as real transitions:
    a speaker's own level, slope and curvature cannot absorb a context mix."""
    u = min(1.0, max(0.0, (t - 0.6) / 0.4))
    return u * u * (3 - 2 * u)


def trajectory_tables(replicates: int, design: TrajectoryDesign = TrajectoryDesign(), seed: int = 0):
    """(tracks, tokens, survey) DataFrames in vowel_tracks.parquet's, the profile tokens' and the
    typed survey's shapes (language "en"; the gliding vowels are v00, v01, ...)."""
    import pandas as pd

    if len(design.context_hz) > len(CONTEXT_PHONES):
        raise ValueError(f"context_hz: at most {len(CONTEXT_PHONES)} contexts (one per phone class), not "
                         f"{len(design.context_hz)}")
    rng = np.random.default_rng(seed)
    numeric = np.random.default_rng([seed, 1])  # the numeric null attribute: the other draws stay seed for seed
    contexts = np.random.default_rng([seed, 2])  # ... and the following contexts
    genders = np.random.default_rng([seed, 3])  # ... and gender
    tracks, tokens, survey = [], [], []
    for r in range(replicates):
        vowel = f"v{r:02d}"
        for s in range(design.speakers):
            speaker = f"R{r:03d}S{s:02d}"
            group = "A" if s < design.speakers // 2 else "B"
            gender = str(genders.choice(["woman", "man"]))
            survey.append({"speaker_id": speaker, "group": group, "null": str(rng.choice(["x", "y"])),
                           "score": float(numeric.uniform(0, 100)), "gender": gender})
            extent = design.f2_extent_hz * (design.glide if group == "B" else 1.0) * np.exp(
                rng.normal(0, design.speaker_extent_sd)) * (design.gender_extent if gender == "man" else 1.0)
            mid2, mid1 = 1500 + rng.normal(0, design.speaker_mid_sd_hz), 650 + rng.normal(0, design.speaker_mid_sd_hz / 2)
            n_ctx = len(design.context_hz)
            mix = contexts.dirichlet([design.context_mix] * n_ctx) if n_ctx else None
            for k in range(design.tokens):
                start = 10.0 * k
                c = int(contexts.choice(n_ctx, p=mix)) if n_ctx else -1
                shift = (design.context_hz[c] if n_ctx else 0.0) + (design.gender_offset_hz if gender == "man" else 0.0)
                tok_extent = extent * np.exp(rng.normal(0, design.token_extent_sd))
                tok_mid2 = mid2 + rng.normal(0, design.token_mid_sd_hz)
                tok_mid1 = mid1 + rng.normal(0, design.token_mid_sd_hz / 2)
                for p in POINTS:
                    x = 2 * (p / 100 - 0.5)  # -1 .. 1 over the vowel
                    tracks.append({"recording_id": f"rec{speaker}", "speaker_id": speaker, "language": "en",
                                   "phone": vowel, "start": start, "end": start + 0.2, "point": p,
                                   "f1_hz": tok_mid1 - design.f1_extent_hz * x + rng.normal(0, design.point_sd_hz),
                                   "f2_hz": tok_mid2 + tok_extent * x + shift * transition(p / 100)
                                   + rng.normal(0, design.point_sd_hz),
                                   "reliable": True})
                tokens.append({"recording_id": f"rec{speaker}", "speaker_id": speaker, "language": "en",
                               "phone": vowel, "start": start, "f1_hz": tok_mid1, "f2_hz": tok_mid2,
                               "previous_phone": None, "next_phone": CONTEXT_PHONES[c] if n_ctx else None})
            for j, (f1, f2) in enumerate(OTHER_VOWELS * 4):
                tokens.append({"recording_id": f"rec{speaker}", "speaker_id": speaker, "language": "en",
                               "phone": "other", "start": 200.0 + j, "f1_hz": f1 + rng.normal(0, 30),
                               "f2_hz": f2 + rng.normal(0, 80)})
    return pd.DataFrame(tracks), pd.DataFrame(tokens), pd.DataFrame(survey)


def survey_types(gender: bool = False):
    """The survey's attribute types: ``group`` (A, B; planted), ``null`` (x, y) and ``score`` (0-100): no effect;
    with ``gender``, also ``gender`` (woman, man; drawn apart from the others, its effect ``gender_extent``)."""
    from voli.io.survey import AttributeType

    types = {"group": AttributeType("group", "categorical", ("A", "B"), declared=True),
             "null": AttributeType("null", "categorical", ("x", "y"), declared=True),
             "score": AttributeType("score", "numeric", range=(0.0, 100.0), declared=True)}
    if gender:
        types["gender"] = AttributeType("gender", "categorical", ("woman", "man"), declared=True)
    return types
