"""Vowel trajectories (vowel_tracks.parquet) and new-fave's DCT coefficients (vowel_dct.parquet):
known answers on synthetic vowels, agreement with Praat at the same ceiling, a planted glide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.signal

from voli.config import FeatureConfig
from voli.features.formants import FormantSettings, analyse_tokens
from voli.features.trajectories import (
    JUMP_RATIO,
    MEDIAN_FRAMES,
    MIN_TRACK_S,
    new_fave_basis,
    new_fave_dct,
    off_track,
    point_times,
    running_median,
    token_trajectory,
)
from voli.schema import TRACK_POINTS

SR = 16000
SAMPLE = Path(__file__).parent.parent / "corpora_sample"
STEP = FormantSettings().step_s
BANDWIDTHS = (60, 80, 120, 180, 250)


def vowel(formants, *, seconds: float = 0.4, f0: float = 120.0, sr: int = SR, block_s: float = 0.001) -> np.ndarray:
    """A pulse train through a cascade of resonators whose frequencies follow ``formants``: each a
    number (steady) or a function of time (s) -> Hz, updated every ``block_s`` (Klatt-style)."""
    n = int(seconds * sr)
    x = np.zeros(n)
    x[np.round(np.arange(0, n - 1, sr / f0)).astype(int)] = 1.0
    x = scipy.signal.lfilter([1.0], [1.0, -0.97], x)
    block = int(block_s * sr)
    for f, bw in zip(formants, BANDWIDTHS):
        track = f if callable(f) else (lambda t, f=f: f)
        r = np.exp(-np.pi * bw / sr)
        zi = np.zeros(2)
        out = np.zeros(n)
        for a in range(0, n, block):
            theta = 2 * np.pi * track((a + block / 2) / sr) / sr
            coef = [1.0, -2 * r * np.cos(theta), r * r]
            out[a: a + block], zi = scipy.signal.lfilter([sum(coef)], coef, x[a: a + block], zi=zi)
        x = out
    return 0.5 * x / np.abs(x).max()


def trajectory_of(x, start, end, ceiling=5500.0, voiced=None):
    """The stage's recipe on one signal: frames at ``ceiling`` from one step before the vowel to one after."""
    tokens = analyse_tokens([x], SR, [ceiling], spans=[(start - STEP, end + STEP)])
    n = int(tokens.n_frames[0])
    return token_trajectory(tokens.times[0, :n], tokens.frequencies[0, 0, :n], start, end, voiced=voiced)


# -- smoothing: what it keeps and what it removes ----------------------------------------------------


def test_running_median_keeps_monotone_tracks_and_removes_short_spikes():
    ramp = np.linspace(1000, 2000, 17)
    np.testing.assert_array_equal(running_median(ramp), ramp)  # a glide, ends included, is left as it is
    steady = np.full(17, 1500.0)
    spiky = steady.copy()
    spiky[[4, 10, 11]] = [2600, 900, 950]  # a one-frame and a two-frame spurious pole
    np.testing.assert_array_equal(running_median(spiky), steady)
    noisy = 1500 + np.random.default_rng(0).normal(0, 30, 40)
    smooth = running_median(noisy)
    assert smooth.min() >= noisy.min() and smooth.max() <= noisy.max()  # never beyond its input: no overshoot
    assert np.std(np.diff(smooth)) < np.std(np.diff(noisy))
    gap = ramp.copy()
    gap[8] = np.nan
    assert np.isnan(running_median(gap)[8])  # a missing frame is not filled in


def test_a_steady_vowel_stays_flat():
    x = vowel([700, 1220, 2600, 3300, 4500])
    traj = trajectory_of(x, 0.12, 0.27)
    assert traj.reliable.all(), traj.problems
    spread = traj.formants.max(axis=0) - traj.formants.min(axis=0)
    print("steady /a/: F1-F3 spread over the 11 points (Hz):", np.round(spread, 1))
    assert (spread / traj.formants.mean(axis=0) < 0.02).all()
    np.testing.assert_allclose(np.median(traj.formants, axis=0), [700, 1220, 2600], rtol=0.02)


def test_a_linear_glide_is_recovered():
    # /aɪ/-like: F1 falls 750 -> 450 Hz and F2 rises 1100 -> 2100 Hz over 0.4 s; the vowel is the
    # middle 0.2 s, so its truth is a straight line from 0 % to 100 %
    f1, f2 = (lambda t: 750 - 750 * t), (lambda t: 1100 + 2500 * t)
    x = vowel([f1, f2, 2700, 3400, 4500], f0=110.0)
    start, end = 0.1, 0.3
    traj = trajectory_of(x, start, end)
    assert traj.reliable.all(), traj.problems
    truth = np.stack([f1(traj.times), f2(traj.times)], axis=1)
    error = traj.formants[:, :2] / truth - 1
    print("glide: relative error per point (F1, F2):", np.round(error, 3).tolist())
    assert np.abs(error).max() < 0.04
    assert np.all(np.diff(traj.formants[:, 1]) > 0)  # F2 rises all the way: no wiggle invented
    fitted = np.polyfit(TRACK_POINTS, traj.formants[:, 1], 1)
    assert fitted[0] * 100 == pytest.approx(f2(end) - f2(start), rel=0.05)  # the glide's extent


def test_a_track_jump_is_flagged_not_smoothed_over():
    times = np.arange(24) * STEP
    start, end = times[1], times[-2]
    freq = np.tile([500.0, 1500.0, 2500.0], (24, 1))
    freq[16:, 1] = 2450.0  # from frame 16, "F2" is F3's resonance: a formant lost below it
    traj = token_trajectory(times, freq, start, end)
    after = traj.times > times[15]
    assert [p for p, a in zip(traj.problems, after) if a] == ["ceiling jump"] * after.sum()
    assert np.isnan(traj.formants[after, 1]).all()
    assert traj.reliable[~after].all()
    np.testing.assert_allclose(traj.formants[~after], np.tile([500, 1500, 2500], ((~after).sum(), 1)))
    # the threshold: movement just under JUMP_RATIO per frame is movement, over it a jump
    ramp = 1000 * (1 + 0.9 * JUMP_RATIO) ** np.arange(6)
    assert not off_track(np.concatenate([np.full(10, 1000.0), ramp[1:], np.full(10, ramp[-1])])).any()
    assert off_track(np.r_[np.full(10, 1000.0), np.full(5, 1000 * (1 + 1.1 * JUMP_RATIO))]).sum() == 5


def test_an_unvoiced_stretch_is_flagged_not_interpolated():
    from voli.features.pitch import track_pitch

    x = vowel([600, 1700, 2600, 3300, 4500], seconds=0.5)
    whisper = slice(int(0.22 * SR), int(0.30 * SR))  # 80 ms of noise through nothing: no F0 there
    x[whisper] = 0.05 * np.random.default_rng(1).standard_normal(whisper.stop - whisper.start)
    (pitch,) = track_pitch([x], SR)
    start, end = 0.1, 0.4
    at = point_times(start, end)
    voiced = np.array([np.isfinite(pitch.f0_hz[np.argmin(np.abs(pitch.times - t))]) for t in at])
    traj = trajectory_of(x, start, end, voiced=voiced)
    inside = (at > 0.23) & (at < 0.29)
    assert inside.any() and all(traj.problems[i] == "unvoiced" for i in np.flatnonzero(inside))
    assert np.isnan(traj.formants[inside]).all()
    assert traj.reliable[at < 0.19].all()


def test_a_vowel_too_short_for_a_trajectory_says_so():
    x = vowel([700, 1220, 2600, 3300, 4500])
    traj = trajectory_of(x, 0.15, 0.15 + MIN_TRACK_S - 0.005)
    assert traj.problems == ["too short"] * len(TRACK_POINTS) and np.isnan(traj.formants).all()
    assert MEDIAN_FRAMES % 2 == 1


# -- new-fave's DCT ----------------------------------------------------------------------------------


def test_new_fave_dct_is_fasttrackpys_regression():
    import scipy.fft

    n, order = 23, 5
    expected = scipy.fft.dct(np.eye(n), orthogonalize=True, norm="backward")[:, :order]  # fasttrackpy's predictors
    np.testing.assert_allclose(new_fave_basis(n, order), expected, atol=1e-12)
    track = 1200 + 300 * np.linspace(-1, 1, n) ** 2 + np.random.default_rng(0).normal(0, 10, n)
    coef = new_fave_dct(track, order)
    assert coef[0] == pytest.approx(track.mean() / np.sqrt(2), rel=0.01)  # param 0: the mean / sqrt(2)
    track[[3, 9]] = np.nan
    ok = np.isfinite(track)
    np.testing.assert_allclose(new_fave_dct(track, order),
                               np.linalg.lstsq(expected[ok], track[ok], rcond=None)[0], rtol=1e-9)


def test_new_fave_dct_matches_fasttrackpy_itself():
    smoothers = pytest.importorskip("fasttrackpy.processors.smoothers")
    track = 1500 + 400 * np.sin(np.linspace(0, 2, 31))
    theirs = smoothers.dct_smooth_regression(track, order=5).params
    np.testing.assert_allclose(new_fave_dct(track, 5), theirs, rtol=1e-9)


# -- the stage's trajectories against Praat ----------------------------------------------------------


def sample_records(recording_id: str, utterances: int):
    """corpora_sample's recording with its true words and phones as if aligned (the first ``utterances``)."""
    from voli.io.audio import probe
    from voli.schema import Recording

    info = probe(SAMPLE / "audio" / f"{recording_id}.flac")
    rec = Recording(recording_id, str(SAMPLE / "audio" / f"{recording_id}.flac"), "FLAC", recording_id[:2],
                    info.sample_rate, info.channels, info.n_frames, info.n_frames / info.sample_rate, 0.0, 0.0, 0.0,
                    "", None, None)
    words = pd.read_parquet(SAMPLE / "truth" / "words.parquet")
    words = words[words.recording_id == recording_id].reset_index(drop=True)
    kept = list(dict.fromkeys(words.utterance_id))[:utterances]
    phones = pd.read_parquet(SAMPLE / "truth" / "phones.parquet")
    phones = phones[phones.recording_id == recording_id]
    return records_of(rec, words, phones, kept)


def records_of(rec, words, phones, kept):
    from voli.schema import AlignedUtterance, Phone, RecordingSpeaker, Word

    speakers = [RecordingSpeaker(rec.recording_id, s, r, None)
                for s, r in words[["speaker_id", "role"]].drop_duplicates().itertuples(index=False)]
    word_rows = [Word(rec.recording_id, w.utterance_id, w.speaker_id, w.role, float(w.start), float(w.end), w.word,
                      None, bool(w.is_filler), w.language) for w in words.itertuples()]
    phone_rows = [Phone(rec.recording_id, p.utterance_id, p.speaker_id, int(p.word_index), float(p.start), float(p.end),
                        p.phone, None) for p in phones.itertuples() if p.utterance_id in kept]
    utts = []
    for u, g in words[words.utterance_id.isin(kept)].groupby("utterance_id"):
        utts.append(AlignedUtterance(u, rec.recording_id, g.speaker_id.iloc[0], float(g.start.min()), float(g.end.max()),
                                     len(g), sum(p.utterance_id == u for p in phone_rows), None, "aligned"))
    return rec, speakers, utts, word_rows, phone_rows


def praat_at(audio, sr, ceiling, times, settings: FormantSettings):
    """Praat's Burg F1-F3 at ``times`` (its Get value at time), the same window, step and order as voli."""
    import parselmouth

    formant = parselmouth.Sound(audio, sr).to_formant_burg(
        time_step=settings.step_s, max_number_of_formants=settings.max_formants, maximum_formant=ceiling,
        window_length=settings.window_s, pre_emphasis_from=settings.pre_emphasis_hz)
    return np.array([[formant.get_value_at_time(k, float(t)) for k in (1, 2, 3)] for t in times])


# README: over corpora_sample's reliable points (bench/vowel_tracks.py), |voli - Praat| median 2.5 / 5.2 /
# 11.6 Hz and 90th percentile 18 / 40 / 74 Hz (F1 / F2 / F3); asserted with a margin of 2x on en_01's
# first utterances (there: 2.1 / 6.5 / 14.7 and 17 / 40 / 83)
PRAAT_MEDIAN_HZ = (5.0, 12.0, 25.0)
PRAAT_P90_HZ = (40.0, 80.0, 150.0)
UTTERANCES = 4


@pytest.mark.slow  # 5-20 s: the features stage's steps on real and simulated speech
def test_trajectories_agree_with_praat_at_the_same_ceiling():
    from voli.features.measure import measure_pitch, measure_vowels, read_stretches
    from voli.io.audio import load
    from voli.schema import VowelDct, VowelToken, VowelTrackPoint, to_table

    rec, speakers, utts, words, phones = sample_records("en_01", UTTERANCES)
    config = FeatureConfig()
    stretches = read_stretches(rec, speakers, utts, words, phones, config)
    measure_pitch(stretches, config, None)
    measured = measure_vowels(stretches, words, config, None)  # the features stage's own steps
    tracks = to_table(measured.tracks, VowelTrackPoint).to_pandas()
    vowels = to_table(measured.tokens, VowelToken).to_pandas()
    assert len(tracks) == len(TRACK_POINTS) * len(vowels)
    assert set(tracks.groupby(["start", "phone"]).point.apply(tuple)) == {TRACK_POINTS}
    keys = ["recording_id", "speaker_id", "start", "phone"]
    joined = tracks.merge(vowels[keys + ["end", "ceiling_hz"]], on=keys, suffixes=("", "_v"))
    assert len(joined) == len(tracks) and (joined.end == joined.end_v).all()
    assert (tracks.reliable == tracks[["f1_hz", "f2_hz", "f3_hz"]].notna().all(axis=1)).all()
    assert (tracks.reliable == tracks.problem.isna()).all()
    reliable = tracks[tracks.reliable]
    assert len(reliable) > 0.4 * len(tracks)
    audio = load(rec.audio_path, sample_rate=SR).astype(np.float64)
    diffs = []
    for ceiling, points in reliable.groupby("ceiling_hz"):
        praat = praat_at(audio, SR, ceiling, points.time_s, FormantSettings())
        diffs.append(np.abs(points[["f1_hz", "f2_hz", "f3_hz"]].to_numpy() - praat))
    diffs = np.concatenate(diffs)
    median, p90 = np.nanmedian(diffs, axis=0), np.nanpercentile(diffs, 90, axis=0)
    print(f"{len(diffs)} reliable points of {len(vowels)} vowels: |voli - Praat| median {np.round(median, 1)}, "
          f"90th percentile {np.round(p90, 1)} Hz")
    assert (median <= PRAAT_MEDIAN_HZ).all() and (p90 <= PRAAT_P90_HZ).all()
    dct = to_table(measured.dct, VowelDct).to_pandas()
    assert len(dct) == 5 * len(vowels) and set(dct.param) == set(range(5))
    first = dct[dct.param == 0].merge(vowels[keys + ["f2_dct0"]], on=keys)
    np.testing.assert_allclose(first.f2_hz * np.sqrt(2), first.f2_dct0, rtol=1e-6)  # both: the track's mean


# -- the simulator's planted glide, measured back ------------------------------------------------------


def glide_recording(tmp_path, factor: float):
    """One espeak-ng sentence full of /aɪ/ said twice by one voice: as speaker A (group "plain") and
    B (group "gliding", whose /aɪ/ F2 glides ``factor`` times as far), planted by the simulator, written
    as one 16 kHz recording with its true words and phones."""
    from dataclasses import replace

    from voli import espeak
    from voli.io import audio as audio_io
    from voli.io.audio import probe
    from voli.schema import Recording
    from voli.simulate.effects import EffectSpec
    from voli.simulate.engines import EspeakEngine, VoiceParams
    from voli.simulate.interview import SimSpeaker, _plant_vowel_effects, _resample
    from voli.simulate.text import spoken_words

    spec = EffectSpec.from_dict({"attributes": {"group": {"levels": ["plain", "gliding"]}}, "effects": [
        {"measure": "vowel_glide", "attribute": "group", "levels": {"gliding": factor}, "vowel": "aɪ", "formant": 2}]})
    engine = EspeakEngine()
    voice = VoiceParams(espeak_variant="m1", espeak_pitch=60)
    words = spoken_words("I like my bike, and I ride it five times at night, high in the sky.", "en")
    turns = []
    for sid, group in (("A", "plain"), ("B", "gliding")):
        params = spec.speaker_params({"group": group}, np.random.default_rng(0))
        speech = engine.speak(words, "en", voice)
        speech.phones = [replace(p, phone=espeak.respell(p.phone, "en")) for p in speech.phones]
        turns.append((SimSpeaker(sid, "interviewee", "en", {"group": group, "gender": "man"}, voice,
                                 vowel_glide=params["vowel_glide"]), speech))
    truth = _plant_vowel_effects(turns, engine.sample_rate)
    pieces, pos, gap = [], 0.3, 0.5
    words_rows, phone_rows = [], []
    for t, (spk, speech) in enumerate(turns):
        utt = f"glide-{t:06d}"
        base = len(words_rows)
        for w in speech.words:
            words_rows.append({"utterance_id": utt, "speaker_id": spk.speaker_id, "role": "interviewee",
                               "start": w.start + pos, "end": w.end + pos, "word": w.word, "is_filler": False,
                               "language": "en"})
        for p in speech.phones:
            phone_rows.append({"utterance_id": utt, "speaker_id": spk.speaker_id, "word_index": base + p.word_index,
                               "start": p.start + pos, "end": p.end + pos, "phone": p.phone})
        audio = _resample(speech.audio, speech.sample_rate, SR)
        pieces.append(np.concatenate([np.zeros(int(round((pos - sum(map(len, pieces)) / SR) * SR)), np.float32), audio]))
        pos = sum(map(len, pieces)) / SR + gap
    path = tmp_path / "glide.wav"
    audio_io.write(path, np.concatenate(pieces + [np.zeros(int(gap * SR), np.float32)]), SR)
    info = probe(path)
    rec = Recording("glide", str(path), "WAV", "en", SR, 1, info.n_frames, info.n_frames / SR, 0.0, 0.0, 0.0, "", None,
                    None)
    words_df, phones_df = pd.DataFrame(words_rows), pd.DataFrame(phone_rows)
    return records_of(rec, words_df, phones_df, list(words_df.utterance_id.unique())), truth


@pytest.mark.slow  # 5-20 s: the features stage's steps on real and simulated speech
def test_a_planted_glide_comes_back_in_the_trajectories(tmp_path):
    """vowel_glide 1.2 on /aɪ/ F2: the measured F2 excursion is 20 % wider, the midpoint where it was.

    Read over 20-80 % of each token: the simulator cross-fades the first and last 10 ms of a token
    into the original, and the 25 ms analysis window spreads that to the 10 % and 90 % points (there
    the same tokens read 1.13-1.16).
    """
    from voli.features.measure import measure_recording
    from voli.io.tables import read_table, write_table

    factor = 1.2
    (rec, speakers, utts, words, phones), truth = glide_recording(tmp_path, factor)
    planted = [r["f2_glide"] for r in truth[1] if r["phone"] == "aɪ"]
    assert len(planted) == 11 and planted == pytest.approx([factor] * 11)
    assert all(r["f2_glide"] == 1.0 and r["f1_glide"] == 1.0 for r in truth[0])
    tables = measure_recording(rec, speakers, utts, words, phones, FeatureConfig(), None)
    write_table(tables["vowel_tracks"], tmp_path / "vowel_tracks.parquet")
    tracks = read_table(tmp_path / "vowel_tracks.parquet").to_pandas()
    ai = tracks[(tracks.phone == "aɪ") & tracks.point.between(20, 80)]
    ai = ai.assign(token=ai.groupby("speaker_id").start.rank(method="dense").astype(int))
    f2 = ai.pivot_table(index=["token", "point"], columns="speaker_id", values="f2_hz")  # reliable points only
    ranges, slopes, mids, spans = [], [], [], []
    for _, g in f2.groupby(level="token"):
        g = g.droplevel("token").dropna()
        if len(g) < 5 or 50 not in g.index:
            continue
        a, b = g.A - g.A[50], g.B - g.B[50]  # each token's excursion around its own midpoint
        ranges.append(np.ptp(g.B) / np.ptp(g.A))
        spans.append((np.ptp(g.A), np.ptp(g.B)))
        slopes.append((a @ b) / (a @ a))
        mids.append(g.B[50] / g.A[50])
    per_group = pd.DataFrame(spans, columns=["A", "B"]).mean()  # each group's mean range (points both have)
    print(f"/aɪ/ F2 over 20-80 %, B (planted x{factor}) against A, {len(ranges)} tokens: range ratio median "
          f"{np.median(ranges):.3f}, excursion slope median {np.median(slopes):.3f}, mean range per group "
          f"{per_group.B:.0f} / {per_group.A:.0f} Hz = {per_group.B / per_group.A:.3f}; midpoint ratio median "
          f"{np.median(mids):.4f}")
    assert len(ranges) >= 8
    assert np.median(ranges) == pytest.approx(factor, abs=0.05)
    assert np.median(slopes) == pytest.approx(factor, abs=0.05)
    assert per_group.B / per_group.A == pytest.approx(factor, abs=0.05)
    assert np.median(mids) == pytest.approx(1.0, abs=0.01)
    # the other vowels are left alone
    others = tracks[(tracks.phone != "aɪ") & tracks.reliable & (tracks.point == 50)].groupby("speaker_id").f2_hz
    assert others.size().min() >= 5
    assert others.median().B / others.median().A == pytest.approx(1.0, abs=0.03)
