"""False positives of the profile stage's models on corpora with confounds and no planted effect.

Each simulated corpus (voli.simulate.tables, fixed seed) has what makes interview corpora hard:

- gender unbalanced (drawn per speaker) and strongly tied to the tested attribute: education
  (ordinal, 3 levels) follows gender for ``--association`` (default 60 %) of the speakers;
- gender changes everything: men's F0 × 0.55, formants × 0.85, F0 spread × 0.85, rate × 0.95;
- two languages (Spanish and French, one per speaker), with their own vowels and speaking rate;
- unequal token counts (lognormal per speaker and speaker × vowel, vowel frequencies), words with
  their own F1/F2 offsets used unequally by the speakers, idiolectal vowel offsets, token noise,
  10 % of the tokens failing the profile's filters;
- the between-speaker and within-speaker variation of voli.profile.power.VARIATION.

Education has no effect on anything. Every corpus goes through speaker_measures and fit_models
(controls: gender, as a user would set them) and each model family's primary test of education
(its linear trend) is counted significant at p < 0.05. Families: utterance prosody (articulation
rate, F0 level, F0 spread), per-vowel formants in Hz, per-vowel normalised formants (one vowel per
corpus, in turn, in both languages, F1 and F2), speaker measures (least squares). The target is
5 % ± 2 for each family; binomial (Wilson) 95 % CIs are printed. Within a corpus the tests of one
family are not independent (the same speakers), so the CIs are a little narrow.

    .venv/bin/python bench/profile_fpr.py [--corpora 500] [--speakers 20] [--minutes 3] [--seed 0]
        [--engine statsmodels|lme4] [--no-controls] [--jobs 1]

``--no-controls`` fits education without gender: the confound then shows as false positives.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voli.config import ProfileConfig
from voli.profile.power import VARIATION, wilson
from voli.simulate.effects import EffectSpec
from voli.simulate.tables import simulate_tables, with_sex_differences

ATTRIBUTES = {"gender": {"levels": ["woman", "man"]},
              "education": {"levels": ["primary", "secondary", "university"], "ordered": True}}
GENDER_EFFECTS = [{"measure": "speech_rate", "attribute": "gender", "levels": {"man": 0.95}},
                  {"measure": "f0_range", "attribute": "gender", "levels": {"man": 0.85}}]
VOWELS = ("a", "i", "u", "e", "o")  # in both languages; one per corpus, in turn
PROSODY = {"articulation_rate", "f0_mean_st", "f0_sd_st"}
TOKEN = {"f1_hz", "f2_hz", "f1_lobanov2", "f2_lobanov2"}
TARGET, TOLERANCE = 0.05, 0.02


def spec() -> EffectSpec:
    v = VARIATION
    return with_sex_differences(EffectSpec.from_dict({
        "attributes": ATTRIBUTES, "effects": GENDER_EFFECTS,
        "between_speaker_sd": {m: v[m] for m in ("speech_rate", "f0_level", "f0_range", "vocal_tract",
                                                 "centralisation")}}))


def corpus(k: int, seed: int, n_speakers: int, minutes: float, association: float) -> dict:
    v = VARIATION
    return simulate_tables(
        spec(), n_speakers, seed=int(np.random.SeedSequence([seed, k]).generate_state(1)[0]),
        tokens_per_speaker=minutes * v["tokens_per_minute"] / 0.9,  # 10 % unusable below
        utterances=round(minutes * v["utterances_per_minute"]),
        association={"education": ("gender", association)}, languages=("es", "fr"), token_spread=v["token_spread"],
        token_sd=(v["token_f1"], v["token_f2"]), word_sd=v["word"], words_per_vowel=20, f0_hz=205.0,
        f0_speaker_sd=0.0, vocal_tract_sd=0.0, speaker_vowel_sd=v["speaker_vowel"], unusable=0.1,
        utterance_sd={"rate": v["utterance_rate"], "f0_st": v["utterance_f0_st"], "f0_sd": v["utterance_f0_sd"]})


def family(row) -> str:
    if row.level == "utterance":
        return "utterance prosody"
    if row.level == "speaker":
        return "speaker measures"
    return "per-vowel Hz" if row.measure.endswith("_hz") else "per-vowel normalised"


def one(args) -> list[tuple[str, str, float, str]]:
    """(family, measure, p, status) of education's primary tests in corpus k."""
    k, seed, n_speakers, minutes, association, engine, controls, survey_dir = args
    from voli import problems
    from voli.profile.models import SPEAKER_MEASURES, fit_models
    from voli.profile.speakers import speaker_measures
    from voli.profile.survey import attribute_types, survey_table

    t = corpus(k, seed, n_speakers, minutes, association)
    config = ProfileConfig(controls=("gender",) if controls else (), engine=engine)
    with problems.collecting("bench"):
        speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
        tokens = tokens[tokens.phone == VOWELS[k % len(VOWELS)]]
        types = attribute_types(survey_dir, t["speakers"])
        survey = survey_table(survey_dir, t["speakers"], types)
        table = fit_models(tokens, t["prosody"], speakers, survey, types, config,
                           measures=PROSODY | TOKEN | set(SPEAKER_MEASURES), engine=engine)
    rows = table[(table.attribute == "education") & table.primary.astype(bool) & (table.test != "joint")]
    return [(family(r), r.measure, float(r.p), str(r.status)) for r in rows.itertuples()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=int, default=500)
    parser.add_argument("--speakers", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of speech per speaker")
    parser.add_argument("--association", type=float, default=0.6,
                        help="share of the speakers whose education follows gender")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=["statsmodels", "lme4"], default="statsmodels")
    parser.add_argument("--no-controls", action="store_true", help="leave gender out of the models")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    import logging
    import warnings

    import pandas as pd

    logging.getLogger("voli").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # NaN standard errors: counted as failed below
    start = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        survey_dir = Path(tmp)
        import yaml

        (survey_dir / "survey.yaml").write_text(yaml.safe_dump({"attributes": ATTRIBUTES}), encoding="utf-8")
        jobs = [(k, args.seed, args.speakers, args.minutes, args.association, args.engine, not args.no_controls,
                 survey_dir) for k in range(args.corpora)]
        if args.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.jobs) as pool:
                for k, rows in enumerate(pool.map(one, jobs, chunksize=4)):
                    results += [(k, *r) for r in rows]
        else:
            for k, job in enumerate(jobs):
                results += [(k, *r) for r in one(job)]
                if (k + 1) % 50 == 0:
                    print(f"  {k + 1} corpora, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    d = pd.DataFrame(results, columns=["corpus", "family", "measure", "p", "status"])
    print(f"{args.corpora} corpora of {args.speakers} speakers ({args.minutes:g} min each; es + fr; education follows "
          f"gender for {100 * args.association:.0f} %), engine {args.engine}, controls: "
          f"{'none' if args.no_controls else 'gender'}; {seconds:.0f} s ({seconds / args.corpora:.2f} s per corpus)")
    print(f"{'family':22s} {'tests':>6s} {'p<0.05':>7s} {'rate':>6s}  95 % CI          failed  target 5 % ± 2")
    ok = True
    for name in ("utterance prosody", "per-vowel Hz", "per-vowel normalised", "speaker measures"):
        g = d[d.family == name]
        fitted = g[np.isfinite(g.p)]
        k, n = int((fitted.p < 0.05).sum()), len(g)
        lo, hi = wilson(k, n)
        rate = k / n if n else float("nan")
        within = abs(rate - TARGET) <= TOLERANCE
        ok &= within
        print(f"{name:22s} {n:6d} {k:7d} {rate:6.3f}  [{lo:.3f}, {hi:.3f}]  {n - len(fitted):6d}  "
              f"{'ok' if within else 'OUT'}")
    print("per measure:")
    for (name, measure), g in d.groupby(["family", "measure"]):
        fitted = g[np.isfinite(g.p)]
        print(f"  {name:22s} {measure:28s} {len(g):5d} tests  rate {(fitted.p < 0.05).sum() / max(len(g), 1):.3f}"
              f"  warnings {int((~g.status.isin(['ok'])).sum())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
