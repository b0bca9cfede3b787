"""Vowel trajectories (the features stage's vowel_tracks.parquet) against two peers.

On a work directory the features stage has measured (corpora_sample: ``voli run corpora_sample
--workdir W --stop-stage features``), for every reliable point of vowel_tracks.parquet:

1. **Praat** (parselmouth): ``To Formant (burg)`` on the speaker's whole channel (16 kHz, as voli
   reads it) at the token's own chosen ceiling, with voli's settings (5 formants, 25 ms window,
   6.25 ms step, pre-emphasis from 50 Hz), read at the point's time with ``Get value at time``
   (raw: Praat does not smooth), and the same Praat frames put through voli's trajectory recipe
   (``token_trajectory``: running median, same checks), which isolates the kernels from the smoothing;
2. **fasttrackpy** (if installed): its own multiple-ceiling search on the same token, as its
   ``audio-textgrid`` command does it (the vowel +- half a window; its defaults: 4000-7000 Hz in 20
   steps, 2 ms step, 5-term DCT regression smoother), with 4 formants in its error (its default)
   and with 3 (new-fave's setting, and voli's F1-F3), its winner's raw and smoothed F1-F3 read at
   the point's time (linear interpolation); and how often its winner's ceiling is within one of
   voli's grid steps of voli's.

Printed per formant: median and 90th-percentile |difference| (Hz) over the points both have. On a
simulated corpus (``truth/vowels.parquet`` beside its audio), each tool's midpoint F1/F2 is also
compared with where the simulator planted the vowel (its F1/F2 before the effects x the ratios:
itself a Praat measurement at 5000 Hz for men and 5500 Hz for women, so a guide, not an oracle).

    .venv/bin/python bench/vowel_tracks.py --workdir /tmp/exp/vt [--no-fasttrack]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

FORMANTS = ["f1_hz", "f2_hz", "f3_hz"]


def praat_frames(audio: np.ndarray, rate: int, ceiling: float, settings) -> tuple[np.ndarray, np.ndarray]:
    """Praat's Burg frame times (s) and F1-F3 (frames, 3), NaN where Praat has none."""
    import parselmouth
    from parselmouth.praat import call

    formant = parselmouth.Sound(audio, rate).to_formant_burg(
        time_step=settings.step_s, max_number_of_formants=settings.max_formants, maximum_formant=ceiling,
        window_length=settings.window_s, pre_emphasis_from=settings.pre_emphasis_hz)
    values = np.stack([call(formant, "To Matrix", k).values[0] for k in (1, 2, 3)], axis=1)
    return np.asarray(formant.xs()), np.where(values > 0, values, np.nan)


def interpolate(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation (Praat's Get value at time): NaN where a neighbouring frame is NaN."""
    j = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 2)
    w = ((at - times[j]) / (times[j + 1] - times[j]))[:, None]
    return (1 - w) * values[j] + w * values[j + 1]


def summary(name: str, diffs: np.ndarray) -> None:
    ok = np.isfinite(diffs)
    cells = [f"F{k + 1} {np.median(diffs[ok[:, k], k]):5.1f} / {np.percentile(diffs[ok[:, k], k], 90):5.1f}"
             for k in range(3)]
    print(f"  {name:<44} {'   '.join(cells)}   ({ok.all(axis=1).sum()} points)")


def planted_midpoints(midpoints: list, recordings: pd.DataFrame) -> None:
    """Each tool's midpoint F1/F2 against the simulator's planted values (simulated corpora only)."""
    from pathlib import Path

    corpus = Path(recordings.audio_path.iloc[0]).parent.parent
    if not midpoints or not (corpus / "truth" / "vowels.parquet").is_file():
        return
    truth = pd.read_parquet(corpus / "truth" / "vowels.parquet")
    truth = truth.assign(f1=truth.f1_hz * truth.f1_ratio, f2=truth.f2_hz * truth.f2_ratio,
                         mid=(truth.start + truth.end) / 2)
    found = pd.DataFrame(midpoints, columns=["recording_id", "speaker_id", "start", "end", "tool", "f1", "f2"])
    rows = []
    for key, g in found.groupby(["recording_id", "speaker_id", "start"]):
        t = truth[(truth.recording_id == key[0]) & (truth.speaker_id == key[1])
                  & (truth.mid >= key[2]) & (truth.mid <= g.end.iloc[0])]
        if len(t) == 1 and len(g) == g.tool.nunique() == found.tool.nunique():
            rows += [(r.tool, abs(r.f1 - t.f1.iloc[0]), abs(r.f2 - t.f2.iloc[0])) for r in g.itertuples()]
    errors = pd.DataFrame(rows, columns=["tool", "f1", "f2"])
    if not len(errors):
        return
    print(f"midpoint |measured - planted| (Hz) on the {len(errors) // errors.tool.nunique()} tokens every tool "
          "measured and the truth has (median, 90th percentile):")
    for tool, e in errors.groupby("tool"):
        print(f"  {tool:<26} F1 {e.f1.median():5.1f} / {e.f1.quantile(0.9):5.1f}   "
              f"F2 {e.f2.median():5.1f} / {e.f2.quantile(0.9):5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/exp/vt")
    parser.add_argument("--no-fasttrack", action="store_true", help="leave fasttrackpy out")
    parser.add_argument("--fasttrack-formants", default="4,3", help="fasttrackpy's n_formants to try (comma-separated)")
    args = parser.parse_args()

    from voli.config import FeatureConfig
    from voli.features.formants import FormantSettings, ceiling_grid
    from voli.features.trajectories import token_trajectory
    from voli.io.audio import SAMPLE_RATE, load
    from voli.io.tables import read_table
    from voli.workdir import Workdir

    w = Workdir(args.workdir)
    tracks = read_table(w.table("features", "vowel_tracks")).to_pandas()
    recordings = read_table(w.table("prepare", "recordings")).to_pandas().set_index("recording_id")
    speakers = read_table(w.table("prepare", "recording_speakers")).to_pandas()
    config = FeatureConfig()
    settings = FormantSettings(max_formants=config.max_formants, window_s=config.formant_window_s)
    step = settings.step_s
    n_tokens = tracks.groupby(["recording_id", "speaker_id", "start", "phone"]).ngroups
    print(f"{args.workdir}: {n_tokens} vowel tokens, {len(tracks)} points, {tracks.reliable.sum()} reliable "
          f"({tracks.reliable.mean():.0%}); unreliable: "
          + ", ".join(f"{k} {v}" for k, v in tracks.problem.value_counts().items()))
    print("reliable share by point: " + " ".join(f"{p}%:{r:.2f}" for p, r in tracks.groupby("point").reliable.mean().items()))

    raw_diffs, raw_points, same_recipe = [], [], []
    ft_counts = [int(k) for k in args.fasttrack_formants.split(",") if k]
    ft_raw = {k: [] for k in ft_counts}
    ft_smooth = {k: [] for k in ft_counts}
    ceilings_agree = {k: [] for k in ft_counts}
    ceiling_gap = {k: [] for k in ft_counts}  # fasttrackpy's ceiling - voli's (Hz)
    midpoints = []  # (recording_id, speaker_id, start, end, tool, F1, F2) at each token's 50 % point
    reliable = tracks[tracks.reliable]
    started = time.perf_counter()
    praat_s = ft_s = 0.0
    ft_tokens = 0
    have_fasttrack = not args.no_fasttrack and bool(ft_counts)
    if have_fasttrack:
        try:
            from fasttrackpy import CandidateTracks, Smoother
        except ImportError as err:
            print(f"fasttrackpy: not installed ({err}); pip install fasttrackpy")
            have_fasttrack = False
    grid_step = np.diff(ceiling_grid(config.formant_ceiling_low_hz, config.formant_ceiling_high_hz,
                                     config.formant_ceilings))[0]
    for (rid, spk), points in reliable.groupby(["recording_id", "speaker_id"]):
        rec = recordings.loc[rid]
        channel = speakers[(speakers.recording_id == rid) & (speakers.speaker_id == spk)].channel
        channel = None if channel.isna().all() else int(channel.iloc[0])
        audio = load(rec.audio_path, sample_rate=SAMPLE_RATE, channel=channel).astype(np.float64)
        for ceiling, at_ceiling in points.groupby("ceiling_hz"):
            t0 = time.perf_counter()
            times, values = praat_frames(audio, SAMPLE_RATE, ceiling, settings)
            praat_s += time.perf_counter() - t0
            ours = at_ceiling[FORMANTS].to_numpy()
            raw_diffs.append(np.abs(ours - interpolate(times, values, at_ceiling.time_s.to_numpy())))
            raw_points.append(at_ceiling.point.to_numpy())
            for (start, phone), token in at_ceiling.groupby(["start", "phone"]):
                end = token.end.iloc[0]
                near = (times >= start - 1.5 * step) & (times <= end + 1.5 * step)
                traj = token_trajectory(times[near], values[near], start, end)
                theirs = traj.formants[token.point.to_numpy() // 10]
                same_recipe.append(np.abs(token[FORMANTS].to_numpy() - theirs))
        if not have_fasttrack:
            continue
        for (start, phone), token in points.groupby(["start", "phone"]):
            end, at = token.end.iloc[0], token.time_s.to_numpy()
            a, b = int((start - 0.0125) * SAMPLE_RATE), int(np.ceil((end + 0.0125) * SAMPLE_RATE))
            ft_tokens += 1
            for k in ft_counts:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cands = CandidateTracks(samples=audio[a:b], sampling_frequency=SAMPLE_RATE, xmin=a / SAMPLE_RATE,
                                            n_formants=k, smoother=Smoother("dct_smooth_regression", order=5))
                ft_s += time.perf_counter() - t0
                win = cands.winner
                t = np.asarray(win._time_domain)
                if len(t) < 2:
                    continue
                ours = token[FORMANTS].to_numpy()
                ft_raw[k].append(np.abs(ours - interpolate(t, win.formants[:3].T, at)))
                ft_smooth[k].append(np.abs(ours - interpolate(t, win.smoothed_formants[:3].T, at)))
                ceilings_agree[k].append(abs(win.maximum_formant - token.ceiling_hz.iloc[0]) <= grid_step)
                ceiling_gap[k].append(win.maximum_formant - token.ceiling_hz.iloc[0])
                mid = interpolate(t, win.formants[:2].T, np.array([0.5 * (start + end)]))[0]
                midpoints.append((rid, spk, start, end, f"fasttrackpy ({k} formants)", *mid))
            at50 = token[token.point == 50]
            if len(at50):
                midpoints.append((rid, spk, start, end, "voli", at50.f1_hz.iloc[0], at50.f2_hz.iloc[0]))
    print(f"|voli - peer| in Hz over voli's reliable points: median / 90th percentile "
          f"({time.perf_counter() - started:.0f} s; Praat {praat_s:.1f} s, fasttrackpy {ft_s:.1f} s)")
    summary("Praat Burg, same ceiling, raw", np.concatenate(raw_diffs))
    summary("Praat Burg, same ceiling, voli's median", np.concatenate(same_recipe))
    for k in ft_counts if have_fasttrack else ():
        if not ft_raw[k]:
            continue
        summary(f"fasttrackpy ({k} formants), its ceiling, raw", np.concatenate(ft_raw[k]))
        summary(f"fasttrackpy ({k} formants), its ceiling, smoothed", np.concatenate(ft_smooth[k]))
        gap = np.array(ceiling_gap[k])
        print(f"  fasttrackpy ({k} formants): its ceiling within {grid_step:.0f} Hz of voli's for "
              f"{np.mean(ceilings_agree[k]):.0%} of {len(ceilings_agree[k])} tokens; its ceiling - voli's: median "
              f"{np.median(gap):+.0f} Hz, quartiles {np.percentile(gap, 25):+.0f} / {np.percentile(gap, 75):+.0f}")
    if have_fasttrack and ft_tokens:
        print(f"  fasttrackpy: {ft_tokens * len(ft_counts) / max(ft_s, 1e-9):.1f} tokens/s")
    planted_midpoints(midpoints, recordings)
    by_point = pd.DataFrame({"point": np.concatenate(raw_points), "d": np.concatenate(raw_diffs)[:, 1]})
    print("Praat raw, F2 median |difference| by point (Hz): "
          + " ".join(f"{p}%:{np.nanmedian(d):.1f}" for p, d in by_point.groupby("point").d))


if __name__ == "__main__":
    main()
