"""Acoustic kernels: voli's pitch and formants vs Praat (parselmouth) and librosa's pYIN.

In one run on the same audio (corpora_sample's recordings, each file tiled so that all of them
together last --minutes), on one CPU core unless --threads says otherwise (the process is pinned
with sched_setaffinity and torch runs one thread; Praat would otherwise use every core):

1. pitch: voli ``track_pitch`` (all files in one batch) vs Praat ``to_pitch_ac()`` (75-600 Hz,
   its defaults) vs ``librosa.pyin`` (75-600 Hz, 10 ms hop). pyin is slow, so it runs on a
   --pyin-seconds excerpt and speeds are compared per second of audio. voli's agreement with
   Praat (gross error rate, median |cents| on frames both call voiced) is printed with it;
2. formants at one ceiling: voli ``track_formants`` vs Praat ``to_formant_burg(maximum_formant=5500)``;
3. the multiple-ceiling search on the vowel tokens of truth/vowels.parquet (0.04 s margins):
   voli ``analyse_tokens`` + ``choose_ceilings`` over ``ceiling_grid()`` vs the same search with
   Praat's Burg at each token and ceiling, read at voli's frame times, chosen by ``choose_ceilings``.

Each method gets a warm-up call, then the best of --repeat timed calls (time.perf_counter):

    .venv/bin/python bench/features.py [--minutes 5] [--repeat 3] [--threads 1] [--device cpu]

With --device cuda, voli runs on the GPU (batched over all files / tokens, timed up to
torch.cuda.synchronize) and the peers stay on the CPU. Targets: on one core, pitch >= 2x Praat
and >= 50x pyin, >= 100 tokens/s; on a GPU, pitch >= 20000x real time and >= 5000 tokens/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
MARGIN_S = 0.04  # audio kept either side of a vowel token


def load_corpus(corpus: Path) -> tuple[dict[str, np.ndarray], int]:
    """Every file of ``corpus/audio`` as mono float64 at the most common native rate, by file stem."""
    from voli.io.audio import load, probe

    paths = sorted(p for p in (corpus / "audio").iterdir() if p.is_file())
    rate = Counter(probe(p).sample_rate for p in paths).most_common(1)[0][0]
    return {p.stem: load(p, sample_rate=rate).astype(np.float64) for p in paths}, rate


def tile(signals: list[np.ndarray], seconds: float, rate: int) -> list[np.ndarray]:
    """Each signal repeated end to end so that together they last ``seconds``."""
    factor = seconds * rate / sum(len(x) for x in signals)
    return [np.resize(x, int(round(len(x) * factor))) for x in signals]


def cut_tokens(audio: dict[str, np.ndarray], rate: int, vowels: pd.DataFrame):
    """Vowel segments with MARGIN_S either side and each vowel's span in its segment; skips those off the file."""
    segments, spans = [], []
    for v in vowels.itertuples():
        x = audio.get(v.recording_id)
        a, b = int(round((v.start - MARGIN_S) * rate)), int(round((v.end + MARGIN_S) * rate))
        if x is None or a < 0 or b > len(x):
            continue
        segments.append(x[a:b])
        spans.append((v.start - a / rate, v.end - a / rate))
    return segments, spans


def best_time(fn, repeat: int, warm=None, sync=None):
    """(best seconds of ``repeat`` calls, last result) after one warm-up call (``warm``, else ``fn``)."""
    (warm or fn)()
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best, out


def table(rows, unit: str) -> None:
    """Print (method, amount, seconds) rows with the speed ``amount / seconds`` in ``unit``."""
    amount = "tokens" if unit == "tokens/s" else "audio s"
    print(f"{'method':40s} {amount:>8s} {'seconds':>8s} {unit:>12s}")
    for name, n, seconds in rows:
        print(f"{name:40s} {n:8.0f} {seconds:8.3f} {n / seconds:12.0f}")


def praat_pitch(x: np.ndarray, rate: int):
    import parselmouth

    p = parselmouth.Sound(x, rate).to_pitch_ac()
    f = p.selected_array["frequency"]
    return p.xs(), np.where(f > 0, f, np.nan)


def pitch_agreement(pairs) -> dict:
    """Gross error rate (> 20 %), median |cents| of the rest, voicing disagreement over (ours, Praat's) f0 pairs."""
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    both = np.isfinite(a) & np.isfinite(b)
    ratio = a[both] / b[both]
    gross = np.abs(ratio - 1) > 0.2
    return {"gross": gross.mean(), "cents": np.median(np.abs(1200 * np.log2(ratio[~gross]))),
            "voicing": (np.isfinite(a) != np.isfinite(b)).mean(), "frames": both.sum()}


def praat_search(segments, spans_times, n_frames, rate, ceilings) -> np.ndarray:
    """F1-F5 (tokens, ceilings, frames, 5) from Praat's Burg, read at voli's frame times."""
    import parselmouth

    out = np.full((len(segments), len(ceilings), spans_times.shape[1], 5), np.nan)
    for i, x in enumerate(segments):
        sound, times = parselmouth.Sound(x, rate), spans_times[i, : n_frames[i]]
        for c, ceiling in enumerate(ceilings):
            formant = sound.to_formant_burg(maximum_formant=float(ceiling))
            out[i, c, : n_frames[i]] = [[formant.get_value_at_time(k, t) for k in range(1, 6)] for t in times]
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=ROOT / "corpora_sample")
    p.add_argument("--minutes", type=float, default=5.0, help="audio for the pitch and formant tracks (tiled)")
    p.add_argument("--pyin-seconds", type=float, default=30.0, help="excerpt that pyin (slow) is timed on")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="CPU cores (and torch threads); default one core")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0))[: args.threads]
    os.sched_setaffinity(0, set(cpus))
    import librosa
    import parselmouth
    import torch

    from voli.evaluate import f0_errors
    from voli.features.formants import FormantSettings, analyse_tokens, ceiling_grid, choose_ceilings, track_formants
    from voli.features.pitch import track_pitch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    print(f"pinned to CPU(s) {cpus}, torch threads {torch.get_num_threads()}; voli on {device}, peers on the CPU; "
          f"parselmouth {parselmouth.__version__} (Praat {parselmouth.PRAAT_VERSION}), librosa {librosa.__version__}, "
          f"best of {args.repeat} after a warm-up")

    audio, rate = load_corpus(args.corpus)
    signals = tile(list(audio.values()), args.minutes * 60, rate)
    total = sum(len(x) for x in signals) / rate
    print(f"audio: {len(signals)} files of {args.corpus.name} at {rate} Hz, tiled to {total / 60:.1f} min")

    # -- 1. pitch ----------------------------------------------------------------------------
    voli_s, ours = best_time(lambda: track_pitch(signals, rate, device=device), args.repeat, sync=sync)
    praat_s, theirs = best_time(lambda: [praat_pitch(x, rate) for x in signals], args.repeat)
    excerpt = np.concatenate(list(audio.values()))[: int(args.pyin_seconds * rate)]
    ex_s = len(excerpt) / rate
    frame_length = 1 << int(np.ceil(np.log2(0.064 * rate)))  # >= 64 ms: 1024 at 16 kHz
    hop = int(round(0.01 * rate))
    def pyin(y):
        return librosa.pyin(y, fmin=75, fmax=600, sr=rate, frame_length=frame_length, hop_length=hop)[0]

    pyin_s, pyin_f0 = best_time(lambda: pyin(excerpt), args.repeat, warm=lambda: pyin(excerpt[: 2 * rate]))
    same = [len(o.times) == len(t) and np.allclose(o.times, t, atol=1e-9) for o, (t, _) in zip(ours, theirs)]
    agree = pitch_agreement([(o.f0_hz, f) for o, (_, f), ok in zip(ours, theirs, same) if ok])
    ex_t, ex_f = praat_pitch(excerpt, rate)
    pyin_agree = f0_errors(ex_t, ex_f, librosa.times_like(pyin_f0, sr=rate, hop_length=hop), pyin_f0)
    xrt = {"voli": total / voli_s, "praat": total / praat_s, "pyin": ex_s / pyin_s}
    print(f"\n== pitch (75-600 Hz; pyin on the files' first {ex_s:.0f} s only, frame {frame_length}, hop {hop}: "
          f"speeds compared per second of audio)")
    table([("voli track_pitch", total, voli_s), ("Praat to_pitch_ac", total, praat_s), ("librosa pyin", ex_s, pyin_s)],
          "x real time")
    print(f"speed voli / Praat: x{xrt['voli'] / xrt['praat']:.2f} (target >= 2 on one core)")
    print(f"speed voli / pyin:  x{xrt['voli'] / xrt['pyin']:.0f} (target >= 50 on one core)")
    if device.type == "cuda":
        print(f"voli on the GPU: {xrt['voli']:.0f}x real time (target >= 20000)")
    print(f"voli vs Praat on {agree['frames']} frames both voiced: gross errors {agree['gross']:.2%}, "
          f"median {agree['cents']:.2f} cents; voicing differs on {agree['voicing']:.2%} of frames")
    for name, o, (t, _), ok in zip(audio, ours, theirs, same):
        if not ok:
            print(f"  WARNING {name}: voli has {len(o.times)} frames, Praat {len(t)} (frame grids differ; left out above)")
    print(f"pyin vs Praat on the excerpt: gross errors {pyin_agree['gross_error_rate']:.2%}, "
          f"median {pyin_agree['median_abs_cents']:.1f} cents ({pyin_agree['frames']} frames)")

    # -- 2. formants, one ceiling --------------------------------------------------------------
    settings = FormantSettings(ceiling_hz=5500)
    voli_f, ours_f = best_time(lambda: [track_formants(x, rate, settings=settings, device=device) for x in signals],
                               args.repeat, sync=sync)
    praat_f, theirs_f = best_time(
        lambda: [parselmouth.Sound(x, rate).to_formant_burg(maximum_formant=5500) for x in signals], args.repeat)
    diffs = [[], []]
    for o, f in zip(ours_f, theirs_f):
        for t, row in list(zip(o.times, o.frequencies))[::10]:
            for k in (0, 1):
                diffs[k].append(abs(row[k] - f.get_value_at_time(k + 1, t)))
    print("\n== formants at one ceiling (5500 Hz)")
    table([("voli track_formants", total, voli_f), ("Praat to_formant_burg", total, praat_f)], "x real time")
    print(f"speed voli / Praat: x{praat_f / voli_f:.2f}; median |voli - Praat| every 10th frame: "
          f"F1 {np.nanmedian(diffs[0]):.1f} Hz, F2 {np.nanmedian(diffs[1]):.1f} Hz")

    # -- 3. multiple-ceiling search on vowel tokens ------------------------------------------
    vowels = pd.read_parquet(args.corpus / "truth" / "vowels.parquet")
    segments, spans = cut_tokens(audio, rate, vowels)
    grid = ceiling_grid()

    def voli_search():
        tokens = analyse_tokens(segments, rate, grid, spans=spans, device=device)
        return tokens, choose_ceilings(tokens)

    voli_t, (tokens, (voli_best, errors)) = best_time(voli_search, args.repeat, sync=sync)

    def praat_run():
        freq = praat_search(segments, tokens.times, tokens.n_frames, rate, grid)
        return choose_ceilings(dataclasses.replace(tokens, frequencies=freq, bandwidths=np.full_like(freq, np.nan)))[0]

    def warm():
        return praat_search(segments[:5], tokens.times[:5], tokens.n_frames, rate, grid)

    praat_t, praat_best = best_time(praat_run, args.repeat, warm=warm)
    n = len(segments)
    print(f"\n== multiple-ceiling search: {n} vowel tokens of {len(vowels)} ({len(vowels) - n} too near a file's "
          f"edge), {len(grid)} ceilings {grid[0]:.0f}-{grid[-1]:.0f} Hz, {int(tokens.n_frames.sum())} frames; "
          f"Praat's formants read at voli's frame times")
    table([("voli analyse_tokens + choose_ceilings", n, voli_t), ("Praat to_formant_burg + choose_ceilings", n, praat_t)],
          "tokens/s")
    target = "5000 tokens/s on a GPU" if device.type == "cuda" else "100 tokens/s on one core"
    print(f"speed voli / Praat: x{praat_t / voli_t:.1f} (target: voli >= {target})")
    step = np.abs(voli_best - praat_best)
    print(f"same ceiling chosen: {np.mean(step == 0):.1%} of tokens; within one grid step: {np.mean(step <= 1):.1%}")
    ranked = np.sort(errors, axis=1)
    with np.errstate(invalid="ignore"):
        closeness = np.nanmedian(ranked[:, 0] / ranked[:, 1])
    print(f"(voli's best ceiling error / second best: median {closeness:.2f}; "
          f"near 1, small differences in the tracks flip the choice)")


if __name__ == "__main__":
    main()
