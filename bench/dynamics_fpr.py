"""How often the vowel-dynamics models (voli.profile.dynamics) call a null attribute significant,
and how often they find a planted glide, on trajectories with known truth (voli.simulate.trajectories:
12 speakers per replicate, B's F2 glide 1.2 x A's, midpoint unchanged; a null attribute beside it).

    .venv/bin/python bench/dynamics_fpr.py --replicates 100            # voli's random terms
    .venv/bin/python bench/dynamics_fpr.py --replicates 100 --random fs  # by-speaker factor smooths
    .venv/bin/python bench/dynamics_fpr.py --replicates 100 --contexts=-250,0,250 [--no-context-term]
    .venv/bin/python bench/dynamics_fpr.py --replicates 100 --gender-extent 1.5 --gender-offset 300 [--control-level-only]

Prints, per attribute and formant, the share of replicates with the headline p < 0.05 (voli's p,
the speakers' test of their trajectories' direction and curvature, and mgcv's own p of the
difference smooth, whose random terms ``--random`` chooses) and its binomial 95 % interval. The null rows are false positives (nominal 5 %); group F2 is power; group F1
is null too (the planted effect is on F2 only).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from voli.config import ProfileConfig
from voli.profile.coding import code_attribute
from voli.profile.dynamics import RANDOM, fit_dynamics
from voli.simulate.trajectories import TrajectoryDesign, trajectory_tables, survey_types

ALTERNATIVES = {"voli": RANDOM, "fs": ('s(time, speaker_id, bs = "fs", m = 1, k = 6)',)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--speakers", type=int, default=12)
    parser.add_argument("--glide", type=float, default=1.2)
    parser.add_argument("--random", choices=list(ALTERNATIVES), default="voli")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contexts", default="", help="F2 shifts (Hz) at the vowel's end of up to 4 following "
                        "contexts, e.g. -250,0,250 (default: none)")
    parser.add_argument("--context-mix", type=float, default=1.0, help="Dirichlet concentration of each speaker's "
                        "mix of contexts (default 1; smaller: speakers' mixes differ more)")
    parser.add_argument("--no-context-term", action="store_true", help="profile.dynamics_context: false")
    parser.add_argument("--gender-extent", type=float, default=0.0, help="men's F2 glide extent over women's; "
                        "gender (drawn per speaker, apart from the other attributes) is then every model's control "
                        "(default: no gender)")
    parser.add_argument("--gender-offset", type=float, default=0.0, help="men's F2 shift (Hz) at the vowel's end, "
                        "over its last 40 %% (with --gender-extent)")
    parser.add_argument("--control-level-only", action="store_true", help="controls adjust the level only, not "
                        "the shape (voli's models before the control shapes)")
    args = parser.parse_args()
    shifts = tuple(float(v) for v in args.contexts.split(",") if v.strip())
    design = TrajectoryDesign(speakers=args.speakers, glide=args.glide, context_hz=shifts, context_mix=args.context_mix,
                              gender_extent=args.gender_extent or 1.0, gender_offset_hz=args.gender_offset)
    tracks, tokens, survey = trajectory_tables(args.replicates, design, seed=args.seed)
    types = survey_types(gender=bool(args.gender_extent))
    codings = {n: code_attribute(t, survey) for n, t in types.items()}
    config = dataclasses.replace(ProfileConfig(), dynamics="all", dynamics_context=not args.no_context_term,
                                 controls=("gender",) if args.gender_extent else ())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows, _ = fit_dynamics(tracks, tokens, survey, codings, set(types), config, export_dir=Path(tmp),
                               random=ALTERNATIVES[args.random], control_shapes=not args.control_level_only)
    seconds = time.perf_counter() - started
    table = pd.DataFrame(rows)
    heads = table[table.headline & (table.vowel != "other")]
    print(f"{args.replicates} replicates x {args.speakers} speakers, glide x{args.glide}, random terms: "
          f"{args.random}; following contexts {shifts or 'none'} (mix {args.context_mix}), context term "
          f"{'off' if args.no_context_term else 'on'}; gender "
          + (f"x{args.gender_extent} glide and {args.gender_offset:+.0f} Hz offset, a control ({'level only' if args.control_level_only else 'level and shape'})"
             if args.gender_extent else "none") + f"; {len(heads)} models in {seconds:.0f} s")
    for (attribute, measure), g in heads.groupby(["attribute", "measure"]):
        kind = "power" if (attribute, measure) in (("group", "f2_z"), ("gender", "f2_z")) else "false positives"
        for name, column in (("voli's p (speakers' shapes)", "p"), ("mgcv's own p", "p_mgcv")):
            n, k = len(g), int((g[column] < 0.05).sum())
            half = 1.96 * np.sqrt(max(k, 0.5) * (n - k) / n) / n
            print(f"{attribute:6s} {measure}, {name}: < 0.05 in {k}/{n} = {k / n:.1%} (95 % CI ±{half:.1%}; {kind}); "
                  f"failed fits {int(g[column].isna().sum())}")


if __name__ == "__main__":
    main()
