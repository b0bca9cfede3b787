"""corpora_sample: reproducible from its seed, and its truth matches its audio."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import SAMPLE
from voli.io import audio
from voli.io.textgrid import read_textgrid


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make install does it)")
def test_regenerating_with_the_same_seed_gives_identical_files(tmp_path):
    from voli.simulate.sample import make_sample

    out = make_sample(tmp_path / "again")
    committed = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file() and p.name != "README.md")
    made = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert made == committed
    for rel in committed:
        assert (out / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


@pytest.mark.parametrize("rid, ext", [("fr_01", ".flac"), ("es_02", ".mp3"), ("en_02", ".flac")])
def test_truth_turns_hold_the_speech(rid, ext):
    """Inside the true turns the signal is loud; in the gaps between them it is silent."""
    sr = 16000
    x = audio.load(SAMPLE / "audio" / f"{rid}{ext}", sample_rate=sr)
    tg = read_textgrid(SAMPLE / "truth" / f"{rid}.TextGrid")
    inside = np.zeros(len(x), bool)
    for tier in tg.tiers:
        for e in tier.entries:
            inside[int(e.start * sr): int(e.end * sr)] = True
    margin = int(0.03 * sr)  # mp3 smears a few ms across a boundary
    outside = ~np.convolve(inside, np.ones(2 * margin + 1), mode="same").astype(bool)
    rms_in = np.sqrt(np.mean(x[inside] ** 2))
    rms_out = np.sqrt(np.mean(x[outside] ** 2))
    assert rms_in > 0.03
    assert rms_out < rms_in / 100  # > 40 dB between speech and the true silences
