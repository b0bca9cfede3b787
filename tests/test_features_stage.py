"""The features stage on the aligned sample interviews: vowel, prosody and track tables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voli.align.lexicon import is_vowel
from voli.evaluate import f0_errors, speaker_measures_from_truth
from voli.workdir import Workdir, dirname

pytestmark = pytest.mark.slow


def read(work: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(Workdir(work).table("features", name))


def test_every_aligned_recording_gets_its_tables(featured):
    code, work, _ = featured
    assert code == 0
    aligned = set(pd.read_parquet(Workdir(work).table("align", "phones")).recording_id)
    for name in ("vowels", "vowel_tracks", "vowel_dct", "prosody", "speaker_settings", "tracks/f0", "tracks/intensity",
                 "tracks/formants"):
        table = read(work, name)
        assert set(table.recording_id) == aligned, name
    assert len(read(work, "failures")) == 0


def test_each_vowel_has_an_eleven_point_trajectory_and_new_fave_dct(featured):
    _, work, _ = featured
    vowels, tracks, dct = read(work, "vowels"), read(work, "vowel_tracks"), read(work, "vowel_dct")
    assert len(tracks) == 11 * len(vowels) and len(dct) == 5 * len(vowels)
    key = ["recording_id", "speaker_id", "start", "phone"]
    joined = tracks.merge(vowels[key + ["end", "ceiling_hz"]], on=key, how="left", suffixes=("", "_token"))
    assert (joined.end == joined.end_token).all()  # every point finds its token
    assert ((joined.ceiling_hz == joined.ceiling_hz_token) | joined.ceiling_hz.isna()).all()
    assert sorted(tracks.point.unique()) == list(range(0, 101, 10))
    assert (tracks.reliable == tracks.problem.isna()).all()
    assert set(tracks.problem.dropna()) <= {"too short", "unvoiced", "no formant", "ceiling jump"}
    middle = tracks[tracks.point == 50]
    print(f"reliable points: {tracks.reliable.mean():.0%} (midpoints {middle.reliable.mean():.0%}); "
          + ", ".join(f"{k} {v}" for k, v in tracks.problem.value_counts().items()))
    assert middle.reliable.mean() > 0.6
    # at the midpoint, the trajectory and vowels.parquet's midpoint measure read the same track
    mid = middle[middle.reliable].merge(vowels[key + ["f2_50_hz"]], on=key)
    assert np.median(np.abs(mid.f2_hz - mid.f2_50_hz)) < 15


def test_one_row_per_measurable_vowel_with_its_context(featured):
    _, work, corpus = featured
    phones = pd.read_parquet(Workdir(work).table("align", "phones"))
    vowels = read(work, "vowels")
    vowel_phones = phones[phones.phone.map(is_vowel)]
    assert 0.95 * len(vowel_phones) <= len(vowels) <= len(vowel_phones)
    assert vowels.phone.map(is_vowel).all()
    measured = vowels.dropna(subset=["f1_50_hz", "f2_50_hz", "f3_50_hz"])
    assert len(measured) > 0.9 * len(vowels)
    # each token's ceiling follows its voice: the men's (vocal tract x0.88) lower than the women's
    gender = pd.read_csv(corpus / "speakers.csv").set_index("speaker_id").gender
    ceilings = measured.groupby(measured.speaker_id.map(gender)).ceiling_hz.median()
    print(f"median formant ceiling: men {ceilings['man']:.0f} Hz, women {ceilings['woman']:.0f} Hz")
    assert ceilings["woman"] - ceilings["man"] > 400
    # vowel durations against the true phones (on Kokoro's 25 ms grid)
    truth = pd.read_parquet(corpus / "truth" / "phones.parquet")
    errors = []
    for v in vowels.itertuples():
        mid = (v.start + v.end) / 2
        t = truth[(truth.recording_id == v.recording_id) & (truth.start <= mid) & (truth.end >= mid)]
        if len(t):
            errors.append(abs(v.duration_s - (t.end.iloc[0] - t.start.iloc[0])))
    print(f"vowel durations: median |error| {np.median(errors) * 1000:.0f} ms over {len(errors)} tokens")
    assert len(errors) > 0.9 * len(vowels) and np.median(errors) < 0.03
    # the context columns point at the neighbouring phones of the alignment
    row = vowels[vowels.previous_phone.notna()].iloc[0]
    utt = phones[phones.utterance_id == row.utterance_id].sort_values("start")
    before = utt[utt.end <= row.start + 1e-9].iloc[-1]
    assert before.phone == row.previous_phone
    assert vowels.word_probability.notna().mean() > 0.9  # Whisper's words
    assert vowels.log_likelihood.notna().all()
    assert vowels.f0_hz.notna().mean() > 0.7  # vowels are voiced


def test_vowel_formants_match_the_planted_ones(featured):
    _, work, corpus = featured
    truth = pd.read_parquet(corpus / "truth" / "vowels.parquet")
    vowels = read(work, "vowels").dropna(subset=["f1_50_hz", "f2_50_hz"])
    errors = []
    for v in vowels.itertuples():
        mid = 0.5 * (v.start + v.end)
        t = truth[(truth.recording_id == v.recording_id) & (truth.start <= mid) & (truth.end >= mid)]
        if len(t):
            t = t.iloc[0]
            errors.append((v.f1_50_hz - t.f1_hz * t.f1_ratio, v.f2_50_hz - t.f2_hz * t.f2_ratio))
    errors = np.abs(np.array(errors))
    print(f"vowels: median |measured - planted| F1 {np.median(errors[:, 0]):.1f} Hz, F2 {np.median(errors[:, 1]):.1f} Hz")
    assert len(errors) > 0.8 * len(vowels)
    # README: 20 Hz and 61 Hz (21 Hz F1 on another run); 1.5x
    assert np.median(errors[:, 0]) < 30, np.median(errors[:, 0])
    assert np.median(errors[:, 1]) < 90, np.median(errors[:, 1])


def test_speaker_measures_rank_speakers_as_the_truth_does(featured):
    from scipy.stats import spearmanr

    _, work, corpus = featured
    truth = speaker_measures_from_truth(corpus / "truth").set_index("speaker_id")
    speakers = read(work, "speaker_prosody").set_index("speaker_id")
    vowels = read(work, "vowels").dropna(subset=["f1_50_hz", "f2_50_hz"])
    scale = vowels.groupby("speaker_id").apply(
        lambda d: np.exp(np.mean(np.r_[np.log(d.f1_50_hz), np.log(d.f2_50_hz)])))
    both = truth.join(speakers.add_suffix("_ours")).join(scale.rename("scale"))
    rho_f0, rho_scale = spearmanr(both.f0_median_hz, both.f0_median_hz_ours)[0], spearmanr(both.formant_scale_hz, both.scale)[0]
    print(f"speakers ranked as the truth ranks them: F0 Spearman {rho_f0:.3f}, formant scale {rho_scale:.3f}")
    print((both.f0_median_hz_ours / both.f0_median_hz - 1).round(4).to_string())
    # README: 0.99 and 0.92 (0.89 on another run); 12 speakers: one swap of neighbours is 0.993
    assert rho_f0 > 0.97 and rho_scale > 0.85
    # every speaker, en_01's two similar voices included now that their words are told apart, within
    # 6 %: Kokoro renders INT_EN's voice 5.2 % above the F0 it was driven with, in en_02's own channel
    # as in en_01 (253 Hz against 241-243); the other voices stray 0-3.6 %
    np.testing.assert_allclose(both.f0_median_hz_ours, both.f0_median_hz, rtol=0.06)


def test_f0_tracks_follow_the_synthesiser(featured):
    _, work, corpus = featured
    truth = pd.read_parquet(corpus / "truth" / "f0.parquet")
    tracks = read(work, "tracks/f0")
    for rid, t in truth.groupby("recording_id"):
        got = tracks[tracks.recording_id == rid]
        err = f0_errors(t.time.to_numpy(), t.f0_hz.to_numpy(), got.time.to_numpy(), got.f0_hz.to_numpy())
        print(f"{rid}: F0 gross errors {err['gross_error_rate']:.2%}, median {err['median_abs_cents']:.1f} cents "
              f"over {err['frames']} frames")
        assert err["frames"] > 500
        assert err["gross_error_rate"] < 0.05, (rid, err)
        assert err["median_abs_cents"] < 40, (rid, err)  # the vocoder itself strays ~25 cents from its F0


def test_prosody_rates_pauses_and_filled_pauses(featured):
    """Utterance measures against the truth of the simulated interviews: the pauses the simulator
    left between words, the syllables (vowels) it spoke, the F0 it drove the voice with."""
    _, work, corpus = featured
    prosody = read(work, "prosody")
    words = pd.read_parquet(corpus / "truth" / "words.parquet")
    phones = pd.read_parquet(corpus / "truth" / "phones.parquet")
    f0 = pd.read_parquet(corpus / "truth" / "f0.parquet")
    rated = prosody.dropna(subset=["speech_rate", "articulation_rate"])
    assert len(rated) > 0.9 * len(prosody)
    pause_errors, syllable_errors, f0_errors = [], [], []
    for u in prosody.itertuples():
        inside = lambda t, margin: t[(t.recording_id == u.recording_id) & (t.speaker_id == u.speaker_id)  # noqa: E731
                                     & (t.start >= u.start - margin) & (t.end <= u.end + margin)]
        said = inside(words, 0.3).sort_values("start")
        gaps = said.start.to_numpy()[1:] - said.end.to_numpy()[:-1]
        pause_errors.append(abs(u.pause_total_s - gaps[gaps >= 0.2].sum()))
        if u.n_syllables == u.n_syllables and u.n_syllables is not None:
            true = sum(map(is_vowel, inside(phones, 0.1).phone))
            syllable_errors.append(abs(u.n_syllables - true) / max(true, 1))
        driven = f0[(f0.recording_id == u.recording_id) & (f0.speaker_id == u.speaker_id)
                    & f0.time.between(u.start, u.end)].f0_hz.dropna()
        if u.f0_mean_st == u.f0_mean_st and len(driven) > 10:
            f0_errors.append(abs(u.f0_mean_st - np.mean(12 * np.log2(driven / 100))))
    print(f"pauses: median |error| {np.median(pause_errors):.4f} s, {np.mean(np.array(pause_errors) < 0.15):.1%} "
          f"within 0.15 s; syllables: median relative error {np.median(syllable_errors):.3f}; "
          f"mean F0: median |error| {np.median(f0_errors):.2f} st")
    # README: a median 0.0125 s, 75 % within 0.15 s (73 % on another run)
    assert np.median(pause_errors) < 0.025 and np.mean(np.array(pause_errors) < 0.15) > 0.68
    assert np.median(syllable_errors) <= 0.1
    assert np.median(f0_errors) < 0.6  # the vocoder strays from the F0 it is driven by (see f0 tracks)
    # the scripts have filled pauses (euh, eh, um): their vowel quality is measured
    with_fillers = prosody[prosody.n_filled_pauses > 0]
    assert len(with_fillers) >= 4
    assert with_fillers.filled_pause_f1_hz.notna().mean() > 0.7
    # each speaker's pitch limits were adapted to the voice (Hirst: 0.75 x Q1 .. 1.5 x Q3 of a
    # first pass): they hold the middle half of the driven F0 and follow the voices' ranking
    from scipy.stats import spearmanr

    speakers = read(work, "speaker_prosody").set_index("speaker_id")
    assert set(speakers.index) == set(prosody.speaker_id)
    quartiles = f0.dropna().groupby("speaker_id").f0_hz.quantile([0.25, 0.75]).unstack()
    both = speakers.join(quartiles)
    assert ((both.pitch_floor_hz < both[0.25]) & (both.pitch_ceiling_hz > both[0.75])).all()
    assert spearmanr(both.pitch_floor_hz, both[0.25])[0] > 0.8


@pytest.mark.needs("praat")
def test_praat_opens_the_pitch_tiers_and_the_formant_textgrid(featured, tmp_path):
    _, work, _ = featured
    tier = sorted(Workdir(work).pitchtiers().glob("*.PitchTier"))[0]
    grid = Workdir(work).textgrid("features", tier.name.split('__')[0])
    script = tmp_path / "check.praat"
    script.write_text(
        'form check\n sentence tier\n sentence grid\nendform\n'
        'p = Read from file: tier$\nn = Get number of points\nwriteInfoLine: n\n'
        'g = Read from file: grid$\nt = Get number of tiers\nappendInfoLine: t\n'
        'name$ = Get tier name: t\nappendInfoLine: name$\nk = Get number of points: t\nappendInfoLine: k\n')
    out = subprocess.run(["praat", "--run", str(script), str(tier), str(grid)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    n_points, n_tiers, name, n_formants = out.stdout.split("\n")[:4]
    voiced = read(work, "tracks/f0")
    rid, speaker = tier.stem.split("__")
    expected = voiced[(voiced.recording_id == rid) & (voiced.speaker_id == speaker)].dropna(subset=["f0_hz"]).time.nunique()
    assert int(n_points) == expected
    assert name.endswith(" - formants") and int(n_formants) > 10
    assert int(n_tiers) > 3


def test_rerun_skips_finished_recordings(featured):
    from voli.stages import run_pipeline
    from voli.config import VoliConfig

    _, work, corpus = featured
    (result,) = run_pipeline(corpus, work, VoliConfig(), device="cpu", start="features", progress=False)
    assert result.processed == 0 and result.skipped > 0



def test_telephone_band_recording_keeps_pitch_and_loses_only_formants(aligned, featured, tmp_path, caplog):
    """An 8 kHz copy of es_01 (nothing above 4 kHz): no formant ceiling fits under its Nyquist
    frequency, so its vowels have no formants, a warning names the file and the config fix, and
    its speakers' median F0 stays within a semitone of the 16 kHz original's."""
    import soundfile as sf

    from voli.config import VoliConfig
    from voli.io import audio
    from voli.io.tables import read_table, write_table
    from voli.stages import run_pipeline

    _, aligned_work, corpus, _ = aligned
    work = tmp_path / "exp"
    shutil.copytree(aligned_work, work, ignore=shutil.ignore_patterns(dirname("features"), dirname("profile")))
    phone_line = tmp_path / "es_01_8k.wav"
    sf.write(phone_line, audio.load(corpus / "audio/es_01.flac", sample_rate=8000), 8000)
    table = Workdir(work).table("prepare", "recordings")
    rec = read_table(table).to_pandas()
    info = audio.probe(phone_line)
    row = rec.recording_id == "es_01"
    rec.loc[row, ["audio_path", "sample_rate", "n_frames", "audio_format", "channels"]] = \
        [str(phone_line), 8000, info.n_frames, "WAV", 1]
    write_table(__import__("pyarrow").Table.from_pandas(rec, schema=read_table(table).schema, preserve_index=False), table)
    with caplog.at_level("WARNING"):
        (result,) = run_pipeline(corpus, work, VoliConfig(), device="cpu", start="features", progress=False)
    assert result.ok
    assert "es_01_8k.wav (recording es_01): sampled at 8000 Hz" in caplog.text
    assert "formant_ceiling_low_hz" in caplog.text
    vowels = pd.read_parquet(Workdir(work).table("features", "vowels"))
    es01, others = vowels[vowels.recording_id == "es_01"], vowels[vowels.recording_id != "es_01"]
    assert len(es01) > 50 and es01.f1_50_hz.isna().all() and es01.ceiling_hz.isna().all()
    assert others.f1_50_hz.notna().mean() > 0.9
    original = read(featured[1], "vowels")
    original = original[original.recording_id == "es_01"]
    assert es01.f0_hz.notna().mean() > 0.6
    for speaker, f0 in es01.groupby("speaker_id").f0_hz.median().items():
        semitones = 12 * np.log2(f0 / original[original.speaker_id == speaker].f0_hz.median())
        assert abs(semitones) < 1, (speaker, semitones)


def test_ceilings_above_the_nyquist_frequency_are_not_tried(caplog):
    from voli.features.formants import ceiling_grid
    from voli.features.measure import usable_ceilings

    grid = ceiling_grid(4500, 7000, 12)
    assert len(usable_ceilings(grid, 16000, "a.wav")) == 12 and not caplog.text
    with caplog.at_level("WARNING"):
        assert usable_ceilings(grid, 11025, "b.wav").max() <= 5512.5
        assert len(usable_ceilings(grid, 8000, "c.wav")) == 0
    assert "b.wav: sampled at 11025 Hz: formant ceilings above 5512 Hz are not tried" in caplog.text
    assert "c.wav: sampled at 8000 Hz, it holds nothing above 4000 Hz" in caplog.text
