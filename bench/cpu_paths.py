"""How much Whisper's transcript depends on the CPU: the same speech windows decoded with voli's
AVX2 pins, without them (``VOLI_NATIVE_CPU=1``), and, with ``--qemu CPU``, under an emulated CPU
(``qemu-x86_64 -cpu EPYC-Rome-v2``: an AVX2-only AMD EPYC; Debian's ``qemu-user``).

The windows are corpora_sample's, cut by voli's Silero VAD into windows of <= 30 s from each file's
mixed channels (``voli transcribe`` reads en_02's two channels apart), and each is decoded by voli's
CPU path (faster-whisper int8, Whisper base, one thread unless ``--threads``) in its own process per
setting; the words are scored as Whisper writes them (no number expansion), so the WER differs a
little from ``voli evaluate``'s. Prints WER per language for each setting, the share of words that
differ from the pinned run and the decoding speed (after a warm-up). ``--threads 2,4`` also decodes
the pinned path with those thread counts. The emulated run takes about 70 minutes (3 minutes per
14 s of speech; its speed says nothing of a real CPU's).

    .venv/bin/python bench/cpu_paths.py [--threads 2,4] [--qemu EPYC-Rome-v2] [--workdir exp/bench-cpu-paths]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "corpora_sample"


def export_windows(out: Path) -> None:
    import numpy as np
    import pandas as pd

    from voli.asr import vad
    from voli.io import audio

    recordings = pd.read_csv(SAMPLE / "recordings.csv")
    windows, meta = {}, []
    for r in recordings.itertuples():
        path = SAMPLE / r.audio
        regions = vad.speech_regions(audio.iter_resampled(path, sample_rate=16000), threshold=0.5)
        x = audio.load(path, sample_rate=16000)
        for k, w in enumerate(vad.windows(regions, max_s=30.0)):
            key = f"{r.recording_id}_{k}"
            windows[key] = w.audio(lambda s, e: x[int(s * 16000): int(np.ceil(e * 16000))])
            meta.append({"key": key, "recording_id": r.recording_id, "language": r.language})
    np.savez(out / "windows.npz", **windows)
    (out / "windows.json").write_text(json.dumps(meta))


def decode(workdir: Path, out: Path, threads: int = 1) -> None:
    """Run in the process whose CPU paths are measured: decode every window, one JSON line each."""
    import numpy as np
    from faster_whisper import WhisperModel

    from voli.asr.decoding import decode_windows
    from voli.asr.models import ct2_dir
    from voli.config import AsrConfig

    model = WhisperModel(str(ct2_dir("base")), device="cpu", compute_type="int8", cpu_threads=threads)
    data = np.load(workdir / "windows.npz")
    meta = json.loads((workdir / "windows.json").read_text())
    decode_windows(model, [data[meta[0]["key"]]], meta[0]["language"], AsrConfig())  # warm-up
    with open(out, "w", encoding="utf-8") as fh:
        for m in meta:
            start = time.perf_counter()
            words = decode_windows(model, [data[m["key"]]], m["language"], AsrConfig())[0][0]
            fh.write(json.dumps({**m, "words": [w["word"] for w in words], "seconds": time.perf_counter() - start,
                                 "audio_s": len(data[m["key"]]) / 16000}, ensure_ascii=False) + "\n")
            fh.flush()


def report(runs: dict[str, Path]) -> None:
    import pandas as pd

    from voli import languages
    from voli.evaluate import wer
    from voli.text import normalise_words

    truth = pd.read_parquet(SAMPLE / "truth" / "words.parquet")
    words, speed = {}, {}
    for name, path in runs.items():
        per, seconds, audio_s = {}, 0.0, 0.0
        for line in path.read_text(encoding="utf-8").splitlines():
            m = json.loads(line)
            per.setdefault(m["recording_id"], []).extend(m["words"])
            seconds, audio_s = seconds + m.get("seconds", float("nan")), audio_s + m.get("audio_s", float("nan"))
        words[name], speed[name] = per, audio_s / seconds
    base = next(iter(runs))
    for name, per in words.items():
        errors = {}
        for rid, hyp in per.items():
            ref = truth[truth.recording_id == rid].sort_values("start")
            lang = ref.language.iloc[0]
            r = wer(list(ref.word), hyp, fillers=languages.get(lang).fillers)
            e, n = errors.get(lang, (0.0, 0))
            errors[lang] = (e + r.wer * r.words, n + r.words)
        said = {rid: normalise_words(" ".join(w)) for rid, w in words[base].items()}
        differ = sum(wer(said[rid], normalise_words(" ".join(per.get(rid, [])))).wer * len(said[rid]) for rid in said)
        wers = ", ".join(f"{lang} {e / n:.1%}" for lang, (e, n) in sorted(errors.items()))
        print(f"{name:<28s} WER {wers}; words differing from '{base}': {differ / sum(map(len, said.values())):.1%}; "
              + (f"{speed[name]:.1f}x real time" if speed[name] == speed[name] else "speed not recorded"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench-cpu-paths")
    parser.add_argument("--qemu", default=None, help="also decode under qemu-x86_64 -cpu CPU (e.g. EPYC-Rome-v2)")
    parser.add_argument("--threads", default="", help="also decode the pinned path with these thread counts (2,4)")
    parser.add_argument("--decode", type=Path, default=None, help=argparse.SUPPRESS)  # the child process's job
    parser.add_argument("--cpu-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from voli.reproducibility import PINS

    work = args.workdir.resolve()
    if args.decode:
        decode(work, args.decode, args.cpu_threads)
        return
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "windows.npz").exists():
        export_windows(work)
    me = [sys.executable, str(Path(__file__).resolve()), "--workdir", str(work), "--decode"]
    settings = {"pinned (voli's default)": ("pinned", {}, [], 1),
                "native (VOLI_NATIVE_CPU=1)": ("native", {"VOLI_NATIVE_CPU": "1"}, [], 1)}
    for n in filter(None, args.threads.split(",")):
        settings[f"pinned, {n} threads"] = (f"pinned-{n}threads", {}, [], int(n))
    if args.qemu:
        settings[f"pinned, qemu {args.qemu}"] = (f"pinned-qemu-{args.qemu}", {}, ["qemu-x86_64", "-cpu", args.qemu], 1)
    runs = {}
    for name, (stem, env, prefix, threads) in settings.items():
        out = work / f"{stem}.jsonl"
        if not out.exists():
            inherited = {k: v for k, v in os.environ.items() if k not in PINS}  # this process set them on import
            subprocess.run([*prefix, *me, str(out), "--cpu-threads", str(threads)], env={**inherited, **env}, check=True,
                           stderr=subprocess.DEVNULL if prefix else None)  # qemu warns about each CPU feature
        runs[name] = out
    report(runs)


if __name__ == "__main__":
    main()
