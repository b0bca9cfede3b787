"""False positives of the profile stage's models on corpora with confounds and no planted effect.

Each simulated corpus (voli.simulate.tables, fixed seed) has what makes interview corpora hard:

- gender unbalanced (drawn per speaker) and strongly tied to the tested attribute: education
  (ordinal, 3 levels) follows gender for ``--association`` (default 60 %) of the speakers;
- gender changes everything: men's F0 × 0.55, formants × 0.85, F0 spread × 0.85, rate × 0.95;
- two languages (Spanish and French, one per speaker), with their own vowels and speaking rate;
- unequal token counts (lognormal per speaker and speaker × vowel, vowel frequencies), words with
  their own F1/F2 offsets used unequally by the speakers, idiolectal vowel offsets, token noise,
  10 % of the tokens failing the profile's filters;
- the between-speaker and within-speaker variation of voli.profile.power.VARIATION;
- with ``--vocabulary S`` (default 1.5) the words a speaker uses depend on education (one end of each
  vowel's 20-word vocabulary or the other, voli.simulate.tables' ``vocabulary``), so the words' own
  formant offsets differ between education groups: only ``(1 | word)`` keeps them out of education's
  effect (lme4 has it; statsmodels cannot cross it with the speakers).

Education has no effect on anything. Every corpus goes through speaker_measures and fit_models
(controls: gender, as a user would set them) and each model family's headline test of education
(its linear trend) is counted significant at p < 0.05. Families: utterance prosody (articulation
rate, F0 level, F0 spread), per-vowel formants in Hz, per-vowel normalised formants (one vowel per
corpus, in turn, in both languages, F1 and F2), speaker measures (least squares). The target is
5 % ± 2 for each family; binomial (Wilson) 95 % CIs are printed. Within a corpus the tests of one
family are not independent (the same speakers), so the CIs are a little narrow.

    .venv/bin/python bench/profile_fpr.py [--corpora 500] [--speakers 8,12,40] [--minutes 3] [--seed 0]
        [--engine statsmodels|lme4] [--vocabulary 1.5] [--context] [--no-controls] [--jobs 1]

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
KR_MAX_ROWS = None  # the profile default unless set (tests of the cost)


def spec() -> EffectSpec:
    v = VARIATION
    return with_sex_differences(EffectSpec.from_dict({
        "attributes": ATTRIBUTES, "effects": GENDER_EFFECTS,
        "between_speaker_sd": {m: v[m] for m in ("speech_rate", "f0_level", "f0_range", "vocal_tract",
                                                 "centralisation")}}))


def corpus(k: int, seed: int, n_speakers: int, minutes: float, association: float, vocabulary: float = 0.0) -> dict:
    v = VARIATION
    return simulate_tables(
        spec(), n_speakers, seed=int(np.random.SeedSequence([seed, k]).generate_state(1)[0]),
        tokens_per_speaker=minutes * v["tokens_per_minute"] / 0.9,  # 10 % unusable below
        utterances=round(minutes * v["utterances_per_minute"]),
        association={"education": ("gender", association)}, languages=("es", "fr"), token_spread=v["token_spread"],
        token_sd=(v["token_f1"], v["token_f2"]), word_sd=v["word"], words_per_vowel=20, f0_hz=205.0,
        f0_speaker_sd=0.0, vocal_tract_sd=0.0, speaker_vowel_sd=v["speaker_vowel"], unusable=0.1,
        vocabulary=("education", vocabulary) if vocabulary else None,
        utterance_sd={"rate": v["utterance_rate"], "f0_st": v["utterance_f0_st"], "f0_sd": v["utterance_f0_sd"]})


def family(row) -> str:
    if row.level == "utterance":
        return "utterance prosody"
    if row.level == "speaker":
        return "speaker measures"
    return "per-vowel Hz" if row.measure.endswith("_hz") else "per-vowel normalised"


def one(args) -> list[tuple[str, str, float, str]]:
    """(family, measure, p, status) of education's primary tests in corpus k."""
    k, seed, n_speakers, minutes, association, engine, controls, survey_dir, vocabulary, context = args
    from voli import problems
    from voli.profile.models import fit_models
    from voli.profile.specs import SPEAKER_MEASURES
    from voli.profile.speakers import speaker_measures
    from voli.io.survey import attribute_types, survey_table

    t = corpus(k, seed, n_speakers, minutes, association, vocabulary)
    config = ProfileConfig(controls=("gender",) if controls else (), engine=engine, context=context,
                           **({"kr_max_rows": KR_MAX_ROWS} if KR_MAX_ROWS is not None else {}))
    with problems.collecting("bench"):
        speakers, tokens = speaker_measures(t["vowels"], t["speaker_prosody"], config)
        tokens = tokens[tokens.phone == VOWELS[k % len(VOWELS)]]
        types = attribute_types(survey_dir, t["speakers"])
        survey = survey_table(survey_dir, t["speakers"], types)
        table = fit_models(tokens, t["prosody"], speakers, survey, types, config,
                           measures=PROSODY | TOKEN | set(SPEAKER_MEASURES), engine=engine)
    rows = table[(table.attribute == "education") & table.headline.astype(bool) & (table.test != "joint")]
    return [(n_speakers, family(r), r.measure, float(r.p), str(r.status)) for r in rows.itertuples()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=int, default=500)
    parser.add_argument("--speakers", default="8,12,40", help="speakers per corpus, comma-separated sizes")
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of speech per speaker")
    parser.add_argument("--association", type=float, default=0.6,
                        help="share of the speakers whose education follows gender")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=["statsmodels", "lme4"], default="statsmodels")
    parser.add_argument("--no-controls", action="store_true", help="leave gender out of the models")
    parser.add_argument("--vocabulary", type=float, default=1.5,
                        help="how strongly education decides the words a speaker uses (0: not at all)")
    parser.add_argument("--context", action="store_true", help="per-vowel models with the phonetic context")
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
        sizes = [int(x) for x in str(args.speakers).split(",")]
        jobs = [(k, args.seed, n, args.minutes, args.association, args.engine, not args.no_controls, survey_dir,
                 args.vocabulary, args.context) for n in sizes for k in range(args.corpora)]
        if args.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.jobs) as pool:
                for k, rows in enumerate(pool.map(one, jobs, chunksize=4)):
                    results += [(k, *r) for r in rows]
                    if (k + 1) % 25 == 0:
                        print(f"  {k + 1} corpora, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        else:
            for k, job in enumerate(jobs):
                results += [(k, *r) for r in one(job)]
                if (k + 1) % 25 == 0:
                    print(f"  {k + 1} corpora, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    d = pd.DataFrame(results, columns=["corpus", "speakers", "family", "measure", "p", "status"])
    print(f"{args.corpora} corpora per size ({args.speakers} speakers; {args.minutes:g} min each; es + fr; education "
          f"follows gender for {100 * args.association:.0f} %; vocabulary by education {args.vocabulary:g}), engine "
          f"{args.engine}, controls: {'none' if args.no_controls else 'gender'}, context: {args.context}; "
          f"{seconds:.0f} s ({seconds / len(jobs):.2f} s per corpus)")
    print(f"{'speakers':>8s} {'family':22s} {'tests':>6s} {'p<0.05':>7s} {'rate':>6s}  95 % CI          failed  "
          "target 5 % ± 2")
    ok = True
    for n in sizes:
        for name in ("utterance prosody", "per-vowel Hz", "per-vowel normalised", "speaker measures"):
            g = d[(d.family == name) & (d.speakers == n)]
            fitted = g[np.isfinite(g.p)]
            k, total = int((fitted.p < 0.05).sum()), len(g)
            lo, hi = wilson(k, total)
            rate = k / total if total else float("nan")
            within = abs(rate - TARGET) <= TOLERANCE + 1e-9
            ok &= within
            print(f"{n:8d} {name:22s} {total:6d} {k:7d} {rate:6.3f}  [{lo:.3f}, {hi:.3f}]  {total - len(fitted):6d}  "
                  f"{'ok' if within else 'OUT'}")
    print("per measure:")
    for (n, name, measure), g in d.groupby(["speakers", "family", "measure"]):
        fitted = g[np.isfinite(g.p)]
        print(f"  {n:3d} {name:22s} {measure:28s} {len(g):5d} tests  rate "
              f"{(fitted.p < 0.05).sum() / max(len(g), 1):.3f}  not ok {int((~g.status.isin(['ok'])).sum())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
