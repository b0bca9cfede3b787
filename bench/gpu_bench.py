"""Every GPU figure voli reports, in one run: each kernel on --device against the CPU, on the same
inputs, warmed up, best of --repeat, with the agreement between the two.

1. pitch (Praat's autocorrelation method, batched over files): corpora_sample's recordings tiled to
   --minutes; x real time on each side, speed-up, and CPU/device agreement (gross differences over
   20 %, median |cents|, voicing disagreement);
2. intensity: the same audio; x real time, largest dB difference;
3. formants, the multiple-ceiling search: 0.12 s tokens cut every 0.2 s from the same audio, at the
   12 ceilings of ``ceiling_grid()``; tokens/s and the largest relative formant difference;
4. alignment (monophone HMM, models/align-sample): --utterances utterances of 3-8 words of that
   model's phones over seeded random frames (speed does not depend on what is said); Viterbi
   frames/s and x real time (10 ms frames), the share of frames on the same path position, and a
   5-iteration training run on each side;
5. Whisper, batched (voli's ``decode_windows``) against ``whisper.transcribe`` one window at a time
   (its defaults: temperature fallback, greedy), on windows of real and sample English speech
   (LibriVox Sonnet 1, corpora_sample en_01/en_02), with tiny.en as bench/gpu_pack.py packs it;
   x real time per batch size, and how many words differ from the largest batch's transcript for
   the other batch sizes, whisper.transcribe, the same weights on the CPU and (--compare-original)
   the weights before packing.

    .venv/bin/python bench/gpu_bench.py --device cuda   # on a GPU machine, via bench/gpu_check.sh
    .venv/bin/python bench/gpu_bench.py --device cpu --quick

With --device cpu both sides are the CPU (ratios near 1): that checks the script, not a GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
SAMPLE = ROOT / "corpora_sample"
SR = 16000


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeat: int):
    """(result of the last call, best wall time of ``repeat`` calls after one warm-up)."""
    result = fn()
    sync(device)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return result, best


def sample_audio(minutes: float) -> list[np.ndarray]:
    """corpora_sample's recordings at 16 kHz, each tiled so that together they last ``minutes``."""
    from voli.io.audio import load

    signals = [load(p, sample_rate=SR).astype(np.float64) for p in sorted((SAMPLE / "audio").iterdir())]
    factor = minutes * 60 * SR / sum(len(x) for x in signals)
    return [np.resize(x, int(len(x) * factor)) for x in signals]


def row(name: str, value: str) -> None:
    print(f"  {name:<44s} {value}", flush=True)


def pitch_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """CPU track ``a`` against device track ``b`` (Hz, NaN unvoiced): the share of frames voiced in both
    that differ by more than 20 % (gross), the median |cents| of those frames, and the share of all
    frames whose voicing decision differs."""
    both = np.isfinite(a) & np.isfinite(b)
    cents = 1200 * np.abs(np.log2(b[both] / a[both]))
    gross = float(np.mean(cents > 1200 * np.log2(1.2))) if len(cents) else float("nan")
    return gross, float(np.median(cents)) if len(cents) else float("nan"), float(np.mean(np.isfinite(a) != np.isfinite(b)))


def path_agreement(ref: list, got: list) -> float:
    """The share of frames whose state-path position is the same in the two alignments (None: not aligned)."""
    return float(np.mean(np.concatenate([r[0] == g[0] for r, g in zip(ref, got) if r is not None and g is not None])))


def bench_pitch(signals, device, cpu, repeat):
    from voli.features.pitch import track_pitch

    seconds = sum(len(x) for x in signals) / SR
    ref, t_cpu = best_time(lambda: track_pitch(signals, SR, device=cpu), cpu, repeat)
    got, t_dev = best_time(lambda: track_pitch(signals, SR, device=device), device, repeat)
    gross, cents, voicing = pitch_agreement(np.concatenate([r.f0_hz for r in ref]), np.concatenate([g.f0_hz for g in got]))
    print(f"pitch: {seconds / 60:.1f} min of audio in one batch")
    row("CPU", f"{t_cpu:.3f} s  ({seconds / t_cpu:.0f}x real time)")
    row(str(device), f"{t_dev:.3f} s  ({seconds / t_dev:.0f}x real time; {t_cpu / t_dev:.1f}x the CPU)")
    row("agreement: gross differences (> 20 %)", f"{gross:.4%} of frames voiced in both")
    row("agreement: median |cents|", f"{cents:.4f}")
    row("agreement: voicing decisions differ", f"{voicing:.4%} of frames")
    return {"pitch_x_real_time": seconds / t_dev, "pitch_speedup": t_cpu / t_dev}


def bench_intensity(signals, device, cpu, repeat):
    from voli.features.intensity import track_intensity

    seconds = sum(len(x) for x in signals) / SR
    ref, t_cpu = best_time(lambda: [track_intensity(x, SR, device=cpu) for x in signals], cpu, repeat)
    got, t_dev = best_time(lambda: [track_intensity(x, SR, device=device) for x in signals], device, repeat)
    diff = max(float(np.nanmax(np.abs(r.intensity_db - g.intensity_db))) for r, g in zip(ref, got))
    print("intensity:")
    row("CPU", f"{t_cpu:.3f} s  ({seconds / t_cpu:.0f}x real time)")
    row(str(device), f"{t_dev:.3f} s  ({seconds / t_dev:.0f}x real time; {t_cpu / t_dev:.1f}x the CPU)")
    row("agreement: largest difference", f"{diff:.2e} dB")
    return {"intensity_speedup": t_cpu / t_dev}


def bench_formants(signals, device, cpu, repeat, n_tokens):
    from voli.features.formants import analyse_tokens, ceiling_grid

    step, length = int(0.2 * SR), int(0.12 * SR)
    segments = [x[i: i + length] for x in signals for i in range(0, len(x) - length, step)][:n_tokens]
    grid = ceiling_grid()
    ref, t_cpu = best_time(lambda: analyse_tokens(segments, SR, grid, device=cpu), cpu, repeat)
    got, t_dev = best_time(lambda: analyse_tokens(segments, SR, grid, device=device), device, repeat)
    both = np.isfinite(ref.frequencies) & np.isfinite(got.frequencies)
    rel = np.abs(got.frequencies[both] / ref.frequencies[both] - 1)
    print(f"formants: {len(segments)} tokens of 0.12 s at {len(grid)} ceilings")
    row("CPU", f"{t_cpu:.3f} s  ({len(segments) / t_cpu:.0f} tokens/s)")
    row(str(device), f"{t_dev:.3f} s  ({len(segments) / t_dev:.0f} tokens/s; {t_cpu / t_dev:.1f}x the CPU)")
    row("agreement: largest relative difference", f"{rel.max() if len(rel) else float('nan'):.2e}")
    row("agreement: formants found on one side only",
        f"{np.mean(np.isfinite(ref.frequencies) != np.isfinite(got.frequencies)):.4%}")
    return {"tokens_per_s": len(segments) / t_dev, "formants_speedup": t_cpu / t_dev}


def bench_alignment(device, cpu, repeat, n_utterances):
    import torch

    from voli.align import hmm

    model = hmm.AcousticModel.load(ROOT / "models" / "align-sample")
    phones = [p for p in model.phones if p not in ("sil", "sp", "spn")]
    rng = np.random.default_rng(0)
    prons, feats = [], []
    for _ in range(n_utterances):
        words = [tuple(rng.choice(phones, size=int(rng.integers(2, 6)))) for _ in range(int(rng.integers(3, 9)))]
        n_frames = 20 + sum(int(rng.integers(6, 12)) for w in words for _ in w)
        prons.append(words)
        feats.append(torch.from_numpy(rng.standard_normal((n_frames, model.means.shape[-1])).astype(np.float32)))
    frames = sum(len(f) for f in feats)
    graphs = [hmm.compile_graph(model, p) for p in prons]
    on_device = model.to(device)
    feats_device = [f.to(device) for f in feats]
    ref, t_cpu = best_time(lambda: hmm.align_batches(model, feats, graphs), cpu, repeat)
    got, t_dev = best_time(lambda: hmm.align_batches(on_device, feats_device, graphs), device, repeat)
    same = path_agreement(ref, got)
    print(f"alignment: {n_utterances} utterances, {frames} frames (10 ms), {len(model.phones)} phones")
    row("Viterbi, CPU", f"{t_cpu:.3f} s  ({frames / t_cpu:.0f} frames/s, {frames / 100 / t_cpu:.0f}x real time)")
    row(f"Viterbi, {device}", f"{t_dev:.3f} s  ({frames / t_dev:.0f} frames/s, {frames / 100 / t_dev:.0f}x real time; "
        f"{t_cpu / t_dev:.1f}x the CPU)")
    row("agreement: frames on the same path position", f"{same:.4%}")
    options = hmm.TrainOptions(iterations=5, first_pass_iterations=2, max_components=2, first_split=2)
    t0 = time.perf_counter()
    hmm.train(feats, prons, options)
    t_train_cpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    hmm.train(feats_device, prons, options)
    sync(device)
    t_train_dev = time.perf_counter() - t0
    row("training (5+2 iterations), CPU", f"{t_train_cpu:.2f} s")
    row(f"training (5+2 iterations), {device}", f"{t_train_dev:.2f} s  ({t_train_cpu / t_train_dev:.1f}x the CPU)")
    return {"viterbi_speedup": t_cpu / t_dev}


def speech_windows(n_windows: int) -> list[np.ndarray]:
    """Windows of up to 28 s of English: the LibriVox sonnet (real speech), then the sample's en_01, en_02."""
    from voli.io.audio import load

    sources = [ROOT / "tests/data/librivox_sonnet1/sonnet1.mp3", SAMPLE / "audio/en_01.flac", SAMPLE / "audio/en_02.flac"]
    windows = []
    for path in sources:
        x = load(path, sample_rate=SR)
        step = 28 * SR
        windows += [x[i: i + step] for i in range(0, len(x) - 5 * SR, step)]
    return windows[:n_windows]


def bench_whisper(device, cpu, repeat, model_path, n_windows, batch_sizes, compare_original=False):
    import whisper

    from gpu_pack import load_packed_whisper
    from voli.asr.decoding import decode_windows
    from voli.config import AsrConfig
    from voli.evaluate import wer
    from voli.text import normalise_words

    windows = speech_windows(n_windows)
    seconds = sum(len(w) for w in windows) / SR
    best = max(batch_sizes)
    print(f"whisper tiny.en (bench/gpu_pack.py weights): {len(windows)} windows, {seconds:.0f} s of English")

    def batched(model, size, fp16):
        config = AsrConfig(batch_size=size, keep_fillers=False, beam_size=1)  # greedy: openai-whisper batches it
        out = []
        for k in range(0, len(windows), size):
            out += decode_windows(model, windows[k: k + size], "en", config, fp16=fp16)[0]
        return normalise_words(" ".join(w["word"] for ws in out for w in ws))

    model = load_packed_whisper(model_path, device)
    fp16 = device.type == "cuda"
    speed, texts = {}, {}
    for size in batch_sizes:
        texts[size], t = best_time(lambda: batched(model, size, fp16), device, repeat)
        speed[size] = seconds / t
        row(f"voli decode_windows, batch {size}, {device}", f"{t:.2f} s  ({seconds / t:.0f}x real time)")

    def peer():
        return [whisper.transcribe(model, w, language="en", fp16=fp16, condition_on_previous_text=False)["text"]
                for w in windows]

    text, t = best_time(peer, device, repeat)
    speed["transcribe"] = seconds / t
    row(f"whisper.transcribe, one window at a time, {device}", f"{t:.2f} s  ({seconds / t:.0f}x real time)")
    row(f"batch {best} vs whisper.transcribe, both on {device}", f"{speed[best] / speed['transcribe']:.1f}x")
    compared = {f"whisper.transcribe, {device}": normalise_words(" ".join(text))}
    compared.update({f"batch {size}, {device}": texts[size] for size in batch_sizes if size != best})
    if device != cpu:  # the same weights on the CPU, once
        compared[f"batch {best}, CPU"] = batched(load_packed_whisper(model_path, cpu), best, False)
    if compare_original:  # the weights before int8 packing (where voli can install them)
        from voli.asr.models import load_whisper

        compared[f"batch {best}, CPU, original weights"] = batched(load_whisper("tiny.en", cpu), best, False)
    for name, words in compared.items():
        r = wer(texts[best], words)
        row(f"words differing from batch {best}, {device}: {name}", f"{r.wer:.2%} of {r.words}")
    return {"whisper_x_real_time": speed[best], "whisper_batched_vs_transcribe": speed[best] / speed["transcribe"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="the device to measure against the CPU (default: cuda)")
    parser.add_argument("--minutes", type=float, default=10.0, help="audio for pitch and intensity (default: 10)")
    parser.add_argument("--tokens", type=int, default=4000, help="formant tokens (default: 4000)")
    parser.add_argument("--utterances", type=int, default=400, help="utterances to align (default: 400)")
    parser.add_argument("--windows", type=int, default=16, help="Whisper windows of <= 28 s (default: 16)")
    parser.add_argument("--batch-sizes", default="1,8,16", help="Whisper batch sizes (default: 1,8,16)")
    parser.add_argument("--whisper", type=Path, default=None,
                        help="packed tiny.en (bench/gpu_pack.py; default: .gpu_pack/whisper-tiny.en.int8.pt)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare-original", action="store_true",
                        help="also transcribe with tiny.en's original weights (needs voli's install of tiny.en)")
    parser.add_argument("--quick", action="store_true", help="small sizes (the CPU check: under a minute or two)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: pitch,formants,alignment,whisper")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.tokens, args.utterances, args.windows, args.repeat = 1.0, 300, 60, 3, 1
        args.batch_sizes = "1,3"
    import torch

    from voli.device import describe_device, resolve_device

    device, cpu = resolve_device(args.device), torch.device("cpu")
    print(f"voli GPU check: {describe_device(device)}; torch {torch.__version__}, CUDA {torch.version.cuda}; "
          f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}")
    skip = set(filter(None, args.skip.split(",")))
    figures = {}
    if not {"pitch", "formants"} <= skip:
        signals = sample_audio(args.minutes)
        if "pitch" not in skip:
            figures.update(bench_pitch(signals, device, cpu, args.repeat))
            figures.update(bench_intensity(signals, device, cpu, args.repeat))
        if "formants" not in skip:
            figures.update(bench_formants(signals, device, cpu, args.repeat, args.tokens))
    if "alignment" not in skip:
        figures.update(bench_alignment(device, cpu, args.repeat, args.utterances))
    if "whisper" not in skip:
        path = args.whisper or ROOT / ".gpu_pack" / "whisper-tiny.en.int8.pt"
        if not path.is_file():
            raise SystemExit(f"{path}: no packed Whisper model; run bench/gpu_pack.sh first (or --skip whisper)")
        sizes = [int(s) for s in args.batch_sizes.split(",")]
        figures.update(bench_whisper(device, cpu, args.repeat, path, args.windows, sizes, args.compare_original))
    print("summary: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
