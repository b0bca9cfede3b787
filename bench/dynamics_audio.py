"""A planted glide through all five stages, on audio: ``voli simulate`` speaks English interviews
(espeak-ng) in which group b's /aɪ/ glides further in F2 than group a's (its midpoint unchanged; the
simulator resynthesises every vowel token), then ``voli run`` transcribes, aligns, measures and
models them. The survey has a second two-level attribute with no effect (``null_group``).

Printed: how far /aɪ/'s F2 moves (20 % to 80 % of the vowel) in each group, in the truth (what was
planted, measured on the simulator's own tokens) and in the features stage's ``vowel_tracks.parquet`` (what
the pipeline measured), then the models of /aɪ/ F2 for both attributes: the vowel-dynamics family's
difference smooth (p, q) and the midpoint model (p). What the tables of bench/dynamics_fpr.py and
``voli power`` say over many corpora is shown here once, end to end.

Then what alignment costs: how far the aligned /aɪ/ tokens' ends are from the true ones, by the
phones around them, and the same trajectory models refitted (``export/dynamics.R``, on a copy of
the export) with each /aɪ/ token's F1/F2 measured by Praat (Burg, the simulator's ceiling) over its
TRUE interval instead of the aligned one, every other row as the pipeline wrote it.

    .venv/bin/python bench/dynamics_audio.py [--speakers 24] [--rounds 4] [--glide 1.2] [--seed 1] [--reuse]
        [--shuffles 40]

(``--reuse``: read the tables of the last run in the work directory instead of running again;
``--shuffles``: then refit the vowel-dynamics family with group and null_group shuffled among the
speakers within gender, and print how often its tests come out at p < 0.05: its false-positive
rate on the pipeline's own audio.)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from voli.workdir import Workdir  # noqa: E402 - after the path is set

SPEC = """\
attributes:
  gender: {{levels: [woman, man]}}
  group: {{levels: [a, b]}}
  null_group: {{levels: [x, y]}}
effects:
  - {{measure: vowel_glide, attribute: group, levels: {{b: {glide}}}, vowel: aɪ, formant: 2}}
  - {{measure: vocal_tract, attribute: gender, levels: {{man: 0.88}}}}
between_speaker_sd:
  vowel_glide: 0.1
  vocal_tract: 0.02
"""
CONFIG = """\
profile:
  controls: [gender]
  permutations: 20
"""


def movement(points: pd.DataFrame, token: list[str], time: str, early, late, groups: pd.Series) -> pd.Series:
    """Each speaker's mean F2 movement (Hz) from time ``early`` to ``late`` of the vowel over their tokens
    (``points``: one row per token and point, the token's identity in ``token``), indexed by
    (group, speaker_id); speakers outside ``groups`` (speaker_id -> group) are left out."""
    wide = points.pivot_table(index=token, columns=time, values="f2_hz").reset_index()
    moved = (wide[late] - wide[early]).groupby([wide.speaker_id.map(groups), wide.speaker_id]).mean()
    return moved.dropna()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=24, help="interviewees (default: 24)")
    parser.add_argument("--rounds", type=int, default=4, help="interview scripts per interview (default: 4)")
    parser.add_argument("--glide", type=float, default=1.2, help="group b's /aɪ/ F2 glide over group a's (default: 1.2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-dynamics-audio")
    parser.add_argument("--reuse", action="store_true", help="report on the work directory's last run")
    parser.add_argument("--shuffles", type=int, default=0, help="then refit the vowel-dynamics family this many times "
                        "with group and null_group shuffled among speakers within gender (default: 0)")
    args = parser.parse_args()
    work = args.workdir.resolve()
    corpus, exp = work / "corpus", work / "exp"
    if not args.reuse:
        run(work, corpus, exp, args)
    report(corpus, exp)
    if args.shuffles:
        shuffled_nulls(corpus, exp, work / "config.yaml", args.shuffles, args.seed)


def run(work: Path, corpus: Path, exp: Path, args) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "spec.yaml").write_text(SPEC.format(glide=args.glide), encoding="utf-8")
    (work / "config.yaml").write_text(CONFIG, encoding="utf-8")
    voli = [sys.executable, "-m", "voli"]
    started = time.perf_counter()
    subprocess.run(voli + ["simulate", str(corpus), "--spec", str(work / "spec.yaml"), "--engine", "espeak",
                           "--languages", "en", "--interviews-per-language", str(args.speakers),
                           "--rounds", str(args.rounds), "--seed", str(args.seed), "-q"], check=True)
    simulated = time.perf_counter() - started
    subprocess.run(voli + ["run", str(corpus), "--workdir", str(exp), "--config", str(work / "config.yaml"),
                           "--device", "cpu", "-q"], check=True)
    print(f"simulated in {simulated:.0f} s, five stages in {time.perf_counter() - started - simulated:.0f} s")


def report(corpus: Path, exp: Path) -> None:
    import yaml

    spec = yaml.safe_load((corpus / "truth" / "spec.yaml").read_text(encoding="utf-8"))
    glide = next(e["levels"]["b"] for e in spec["effects"] if e["measure"] == "vowel_glide")
    speakers = pd.read_csv(corpus / "speakers.csv")
    interviewees = speakers[speakers.speaker_id.str.startswith("EN")]
    recordings = pd.read_parquet(Workdir(exp).table("prepare", "recordings"))
    print(f"{len(interviewees)} English interviewees ({interviewees.group.value_counts().to_dict()} by group, "
          f"{interviewees.null_group.value_counts().to_dict()} by null_group), "
          f"{recordings.duration_s.sum() / 60:.1f} min of audio; glide x{glide} on /aɪ/ F2 for group b")

    # planted: the truth's tokens carry the glide factor the simulator applied
    truth = pd.read_parquet(corpus / "truth" / "vowels.parquet")
    planted = truth[truth.phone == "aɪ"].merge(speakers[["speaker_id", "group"]], on="speaker_id")
    print("planted F2 glide factor, mean by group: "
          + ", ".join(f"{g} x{v:.3f}" for g, v in planted.groupby("group").f2_glide.mean().items()))
    tracks = pd.read_parquet(Workdir(exp).table("features", "vowel_tracks"))
    tracks = tracks[(tracks.phone == "aɪ") & tracks.reliable]
    groups = speakers.set_index("speaker_id").group
    by_speaker = movement(tracks, ["recording_id", "speaker_id", "start"], "point", 20, 80, groups).groupby(level=0)
    print("measured /aɪ/ F2 movement, 20 % -> 80 % (speakers' means): "
          + ", ".join(f"{g} {v.mean():.0f} Hz ({len(v)} speakers)" for g, v in by_speaker)
          + f"; b over a x{by_speaker.mean()['b'] / by_speaker.mean()['a']:.2f}")

    models = pd.read_parquet(Workdir(exp).table("profile", "models"))
    mine = models[(models.vowel == "aɪ") & models.headline & models.attribute.isin(["group", "null_group"])]
    shape = mine[(mine.level == "trajectory") & (mine.measure == "f2_z")]
    midpoint = mine[(mine.level == "token") & mine.measure.str.startswith("f2")]
    for attribute in ("group", "null_group"):
        s, m = shape[shape.attribute == attribute], midpoint[midpoint.attribute == attribute]
        said = lambda t, col: f"{t[col].iloc[0]:.3g}" if len(t) else "not fitted"  # noqa: E731
        print(f"{attribute:10s} /aɪ/ F2: trajectory shape, the speakers' test p {said(s, 'p')} q {said(s, 'q')} "
              f"(mgcv's own p of the difference smooth {said(s, 'p_mgcv')}; {said(s, 'n_speakers')} speakers); "
              "midpoint models: "
              + ("; ".join(f"{r.measure} p {r.p:.3g} q {r.q:.3g}" for r in m.itertuples()) or "not fitted"))
    print(f"(models.parquet: {len(models)} rows; {np.isnan(models.p).sum()} without a p)")
    family = models[(models.level == "trajectory") & (models.test == "smooth")
                    & models.attribute.isin(["group", "null_group"])]
    unplanted = family[~((family.attribute == "group") & (family.vowel == "aɪ") & (family.measure == "f2_z"))]
    for attribute, g in unplanted.groupby("attribute"):
        print(f"{attribute:10s} unplanted trajectory tests at p < 0.05: {int((g.p < 0.05).sum())} of {len(g)} "
              f"(mgcv's own p: {int((g.p_mgcv < 0.05).sum())})")
    alignment_errors(corpus, exp)
    refit_on_true_intervals(corpus, exp, speakers.set_index("speaker_id"), truth[truth.phone == "aɪ"])


def shuffled_nulls(corpus: Path, exp: Path, config_path: Path, shuffles: int, seed: int) -> None:
    """The vowel-dynamics family refitted on the pipeline's own tables with group and null_group
    shuffled among the speakers within gender (as ``voli calibrate`` does, this family only): every
    effect is then gone, and the share of its tests at p < 0.05 is its false-positive rate on audio."""
    from voli.config import load_config
    from voli.profile.calibrate import corpus_tables, strata_of
    from voli.profile.models import fit_models
    from voli.profile.structure import permute_within

    t = corpus_tables(corpus, Workdir(exp).stage("features"), load_config(str(config_path)).profile)
    config = t["config"]
    survey = t["survey"][t["survey"].speaker_id.isin(set(t["speakers"].speaker_id))].reset_index(drop=True)
    language = survey.speaker_id.map(dict(t["language"])).fillna("?").to_numpy()
    strata = strata_of(survey, t["types"], config.controls, language)
    rng = np.random.default_rng(seed)
    started, tests = time.perf_counter(), []
    for _ in range(shuffles):
        shuffled = survey.copy()
        for attribute in ("group", "null_group"):
            shuffled[attribute] = survey[attribute].to_numpy()[permute_within(strata, 1, rng)[0]]
        fitted = fit_models(t["tokens"], t["utterances"], t["speakers"], shuffled, t["types"], config,
                            measures={"trajectories"}, tracks=t["tracks"], attributes={"group", "null_group"})
        tests.append(fitted[fitted.attribute.isin(["group", "null_group"]) & (fitted.test == "smooth")])
    tests = pd.concat(tests)
    print(f"{shuffles} shuffles of group and null_group within gender, {len(tests)} null trajectory tests "
          f"({time.perf_counter() - started:.0f} s): p < 0.05 in {(tests.p < 0.05).mean():.1%} (voli's p); "
          f"{(tests.p_mgcv < 0.05).mean():.1%} (mgcv's own p of the difference smooth)")
    print("per vowel (voli's p): " + ", ".join(f"{v} {r:.0%}" for v, r in tests.groupby("vowel").p.apply(
        lambda p: (p < 0.05).mean()).items()))


def alignment_errors(corpus: Path, exp: Path) -> None:
    """The aligned /aɪ/ tokens against the true ones (nearest start), by the true phones around them."""
    truth = pd.read_parquet(corpus / "truth" / "phones.parquet").sort_values(["recording_id", "start"])
    for side, shift in (("before", 1), ("after", -1)):
        truth[side] = truth.groupby("recording_id").phone.shift(shift)
    aligned = pd.read_parquet(Workdir(exp).table("align", "phones"))
    pairs = pd.merge_asof(aligned[aligned.phone == "aɪ"].sort_values("start"),
                          truth[truth.phone == "aɪ"][["recording_id", "start", "end", "before", "after"]]
                          .rename(columns={"start": "true_start", "end": "true_end"}).sort_values("true_start"),
                          left_on="start", right_on="true_start", by="recording_id", direction="nearest")
    pairs["role"] = np.where(pairs.speaker_id.str.startswith("INT"), "interviewer", "interviewee")
    table = pairs.groupby(["role", "before", "after"]).agg(
        tokens=("start", "size"), true_ms=("true_end", lambda e: 1000 * (e - pairs.true_start[e.index]).mean()),
        start_error_ms=("start", lambda x: 1000 * (x - pairs.true_start[x.index]).mean()),
        end_error_ms=("end", lambda x: 1000 * (x - pairs.true_end[x.index]).mean()))
    print("aligned /aɪ/ against the truth (mean ms; negative: early), by the true phones around it:")
    print(table.round(0).to_string())


def refit_on_true_intervals(corpus: Path, exp: Path, speakers: pd.DataFrame, truth: pd.DataFrame) -> None:
    """export/dynamics.R on a copy of the export whose /aɪ/ rows are measured over the true intervals
    (``truth``: the simulator's /aɪ/ tokens)."""
    import tempfile

    import parselmouth
    import soundfile as sf

    export = Workdir(exp).export()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("dynamics.R", "dynamics_models.csv", "vowel_tracks.csv"):
            shutil.copy(export / name, tmp / name)
        tracks = pd.read_csv(tmp / "vowel_tracks.csv")
        models = pd.read_csv(tmp / "dynamics_models.csv", dtype=str, keep_default_na=False)
        models = models[(models.vowel == "aɪ") & models.attribute.isin(["group", "null_group"])]
        models.to_csv(tmp / "dynamics_models.csv", index=False)
        scale = {}  # each speaker's Lobanov z = a + b x Hz, as the pipeline computed it
        for spk, g in tracks.groupby("speaker_id"):
            for k in (1, 2):
                scale[spk, k] = np.polyfit(g[f"f{k}_hz"], g[f"f{k}_z"], 1)
        mine, rows, formants = tracks[tracks.phone == "aɪ"], [], {}
        for token, g in mine.groupby("token"):
            rid, spk, start, _ = token.split("|")
            candidates = truth[truth.recording_id == rid]
            true = candidates.iloc[int((candidates.start - float(start)).abs().argmin())]
            if rid not in formants:
                x, rate = sf.read(corpus / "audio" / f"{rid}.flac")
                ceiling = 5000 if speakers.loc[spk, "gender"] == "man" else 5500  # the simulator's
                formants[rid] = parselmouth.Sound(x, rate).to_formant_burg(0.005, 5, ceiling)
            for point in np.linspace(0, 1, 11):
                at = true.start + point * (true.end - true.start)
                hz = [formants[rid].get_value_at_time(k, at) for k in (1, 2)]
                if np.all(np.isfinite(hz)):
                    rows.append({**g.iloc[0].to_dict(), "time": round(point, 1), "f1_hz": hz[0], "f2_hz": hz[1],
                                 **{f"f{k}_z": np.polyval(scale[spk, k], hz[k - 1]) for k in (1, 2)}})
        true_rows = pd.DataFrame(rows)
        pd.concat([tracks[tracks.phone != "aɪ"], true_rows])[tracks.columns].to_csv(tmp / "vowel_tracks.csv", index=False)
        for name, table in (("aligned intervals (the pipeline's tracks)", mine), ("true intervals (Praat)", true_rows)):
            move = movement(table, ["token", "speaker_id"], "time", 0.2, 0.8, speakers.group)
            print(f"/aɪ/ F2 20 % -> 80 %, {name}: "
                  + ", ".join(f"{g} {v:.0f} Hz" for g, v in move.groupby(level=0).mean().items()))
        subprocess.run(["Rscript", "dynamics.R"], cwd=tmp, check=True, capture_output=True)
        results = pd.read_csv(tmp / "dynamics_results.csv")
    results = results[results.test == "smooth"].merge(models[["id", "measure", "attribute"]], left_on="model",
                                                      right_on="id")
    print("the /aɪ/ trajectory models refitted on the true intervals (the speakers' test; edf: the difference smooth's):")
    print(results[["measure", "attribute", "edf", "statistic", "df", "p"]].round(4).to_string(index=False))


if __name__ == "__main__":
    main()
