"""Prosody tables: per utterance (from its words, phones and tracks) and per speaker (pooled).

Syllables are counted as vowel phones (nuclei) of words that are not filled pauses; an utterance
the aligner could not align has no phones, so its syllable count and rates are left empty (not 0)
and the speaker's rates pool the aligned utterances only. Speech rate
divides them by the utterance's duration, pauses included; articulation rate by that duration less
its silent pauses and filled pauses (De Jong & Wempe 2009). A pause is a silent gap of at least ``min_pause_s`` between two
words of one utterance (gaps between turns are not pauses). F0 statistics use the voiced frames
inside words, in Hz and in semitones re 100 Hz; the F0 range is the 5th to 95th percentile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voli.languages import is_vowel
from voli.config import FeatureConfig
from voli.features.intensity import mean_db
from voli.features.pitch import semitones
from voli.schema import SpeakerProsody, UtteranceProsody


def f0_summary(f0: np.ndarray) -> dict:
    hz = f0[np.isfinite(f0)]
    if not len(hz):
        return {k: None for k in ("f0_mean_hz", "f0_median_hz", "f0_sd_hz", "f0_p5_hz", "f0_p95_hz", "f0_range_st",
                                  "f0_mean_st", "f0_sd_st")}
    st = semitones(hz)
    p5, p95 = np.percentile(hz, [5, 95])
    return {"f0_mean_hz": float(hz.mean()), "f0_median_hz": float(np.median(hz)), "f0_sd_hz": float(hz.std()),
            "f0_p5_hz": float(p5), "f0_p95_hz": float(p95), "f0_range_st": float(12 * np.log2(p95 / p5)),
            "f0_mean_st": float(st.mean()), "f0_sd_st": float(st.std())}


def utterance_prosody(s, vowels: list, config: FeatureConfig) -> UtteranceProsody:
    """Rates, pauses, filled pauses, F0 and intensity of one utterance (a measure.Stretch with tracks)."""
    u = s.utterance
    fillers = [w for w in s.words if w.is_filler]
    filler_time = sum(w.end - w.start for w in fillers)
    # an utterance the aligner could not align keeps its words but has no phones: its syllables are unknown
    syllables = sum(1 for p in s.phones if is_vowel(p.phone) and p.word_index not in s.filler_words) if s.phones else None
    gaps = [b.start - a.end for a, b in zip(s.words, s.words[1:])]
    pauses = [g for g in gaps if g >= config.min_pause_s]
    duration = u.end - u.start
    speaking = duration - sum(pauses) - filler_time  # phonation time (De Jong & Wempe 2009): pauses and fillers out
    in_words = s.frames_in_words(s.start + s.pitch.times)
    f0 = s.pitch.f0_hz[in_words]
    level = s.intensity_db[s.frames_in_words(s.start + s.intensity_times)]
    level = level[np.isfinite(level) & (level > -200)]
    filler_vowels = [v for v in vowels if v.is_filler]
    f1 = [v.f1_50_hz for v in filler_vowels if v.f1_50_hz is not None]
    f2 = [v.f2_50_hz for v in filler_vowels if v.f2_50_hz is not None]
    return UtteranceProsody(
        recording_id=u.recording_id, utterance_id=u.utterance_id, speaker_id=u.speaker_id,
        role=s.role, language=s.language, start=u.start, end=u.end, duration_s=duration,
        n_words=len(s.words), n_syllables=syllables,
        speech_rate=syllables / duration if syllables is not None and duration > 0 else None,
        articulation_rate=syllables / speaking if syllables is not None and speaking > 0 else None,
        n_pauses=len(pauses), pause_total_s=float(sum(pauses)),
        pause_mean_s=float(np.mean(pauses)) if pauses else None,
        n_filled_pauses=len(fillers), filled_pause_total_s=float(filler_time),
        filled_pause_f1_hz=float(np.mean(f1)) if f1 else None, filled_pause_f2_hz=float(np.mean(f2)) if f2 else None,
        voiced_fraction=float(np.isfinite(f0).mean()) if len(f0) else None,
        **f0_summary(f0),
        intensity_mean_db=mean_db(level) if len(level) else None,
        intensity_sd_db=float(level.std()) if len(level) else None,
    )


def speaker_prosody(stage_dir: Path, recording_ids: list[str]) -> list[SpeakerProsody]:
    """Each speaker's prosody over the finished recordings' parts (utterances and F0 frames pooled)."""
    import pandas as pd

    parts = [Path(stage_dir) / "parts" / rid for rid in recording_ids]
    parts = [p for p in parts if (p / "prosody.parquet").is_file()]
    if not parts:
        return []
    utts = pd.concat([pd.read_parquet(p / "prosody.parquet") for p in parts], ignore_index=True)
    f0 = pd.concat([pd.read_parquet(p / "tracks" / "f0.parquet") for p in parts], ignore_index=True)
    limits = pd.concat([pd.read_parquet(p / "speaker_settings.parquet") for p in parts], ignore_index=True)
    rows = []
    for speaker, u in utts.groupby("speaker_id"):
        speech = float(u.duration_s.sum())
        minutes = speech / 60
        rated = u[u.n_syllables.notna()]  # utterances with aligned phones: rates count these only
        rated_s = float(rated.duration_s.sum())
        syllables = int(rated.n_syllables.sum())
        speaking = float((rated.n_syllables / rated.articulation_rate).where(rated.articulation_rate > 0).sum())
        hz = f0[(f0.speaker_id == speaker)].f0_hz.dropna().to_numpy(dtype=float)
        summary = f0_summary(hz)
        lim = limits[limits.speaker_id == speaker]
        fillers = u.n_filled_pauses.sum()
        weights = u.n_filled_pauses.where(u.filled_pause_f1_hz.notna(), 0)
        rows.append(SpeakerProsody(
            speaker_id=str(speaker), role=str(u.role.mode().iloc[0]), n_recordings=int(u.recording_id.nunique()),
            n_utterances=len(u), speech_s=speech, n_syllables=syllables,
            speech_rate=syllables / rated_s if rated_s > 0 else None,
            articulation_rate=syllables / speaking if speaking > 0 else None,
            pauses_per_minute=float(u.n_pauses.sum() / minutes) if minutes > 0 else None,
            pause_mean_s=float(u.pause_total_s.sum() / u.n_pauses.sum()) if u.n_pauses.sum() else None,
            filled_pauses_per_minute=float(fillers / minutes) if minutes > 0 else None,
            filled_pause_mean_s=float(u.filled_pause_total_s.sum() / fillers) if fillers else None,
            filled_pause_f1_hz=_weighted(u.filled_pause_f1_hz, weights),
            filled_pause_f2_hz=_weighted(u.filled_pause_f2_hz, weights),
            f0_mean_hz=summary["f0_mean_hz"], f0_median_hz=summary["f0_median_hz"], f0_sd_hz=summary["f0_sd_hz"],
            f0_range_st=summary["f0_range_st"],
            f0_median_st=float(np.median(semitones(hz))) if len(hz) else None, f0_sd_st=summary["f0_sd_st"],
            intensity_mean_db=mean_db(u.intensity_mean_db.dropna()) if u.intensity_mean_db.notna().any() else None,
            pitch_floor_hz=float(lim.pitch_floor_hz.median()), pitch_ceiling_hz=float(lim.pitch_ceiling_hz.median()),
            formant_ceiling_hz=float(lim.formant_ceiling_hz.median()) if lim.formant_ceiling_hz.notna().any() else None,
        ))
    return rows


def _weighted(values, weights) -> float | None:
    ok = values.notna() & (weights > 0)
    if not ok.any():
        return None
    return float(np.average(values[ok], weights=weights[ok]))
