"""Regenerate ``corpora_sample``: ``python -m voli.simulate.sample corpora_sample``.

Eight Kokoro interviews (two per language) with the planted effects of
``specs/sample.yaml``; one stereo recording and one WAV and one MP3 file to
exercise every decoder. Same seed → identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from voli.simulate.interview import SimulationConfig, simulate

SAMPLE_CONFIG = SimulationConfig(
    languages=("fr", "es", "pt", "en"),
    interviews_per_language=2,
    engine="kokoro",
    sample_rate=16000,
    audio_format="flac",
    formats=(("fr_02", "wav"), ("es_02", "mp3")),
    stereo=("en_02",),
    noise_snr_db=40.0,
    seed=20261123,
)


def make_sample(out_dir: str | Path, *, languages: tuple[str, ...] | None = None, interviews: int | None = None,
                progress: bool = False) -> Path:
    """Write corpora_sample (or, with ``languages`` and ``interviews`` per language, the first of its
    recordings: each has its own seed, so they come out as in the whole sample) to ``out_dir``."""
    from dataclasses import replace

    config = replace(SAMPLE_CONFIG, languages=languages or SAMPLE_CONFIG.languages,
                     interviews_per_language=interviews or SAMPLE_CONFIG.interviews_per_language)
    return simulate(out_dir, config=config, progress=progress)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    print(make_sample(args.out_dir, progress=True))


if __name__ == "__main__":
    main()
