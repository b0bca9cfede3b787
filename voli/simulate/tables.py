"""Planted effects at table level: the features tables of many simulated speakers, in milliseconds.

``voli simulate`` makes audio, which takes minutes per interview; testing the statistics needs
hundreds of corpora of dozens of speakers. This module draws the tables the features stage would
write (vowel tokens, utterance prosody, speaker prosody) straight from an :class:`EffectSpec`:

* vowels: seven prototype categories scaled by the speaker's vocal-tract ratio (planted effect ×
  between-speaker variation), moved toward the speaker's centre by the planted centralisation,
  plus token noise that does not shrink with the categories (as in speech: a reduced vowel
  space is one whose categories overlap more);
* utterances: articulation rate from the planted speech-rate multiplier, F0 level and range from
  the planted F0 multipliers, each with utterance noise.
"""

from __future__ import annotations

import numpy as np

from voli.simulate.effects import EffectSpec

PROTOTYPES = {"i": (290, 2250), "e": (400, 2000), "ɛ": (560, 1780), "a": (760, 1330), "ɔ": (580, 920),
              "o": (430, 820), "u": (320, 760)}  # (F1, F2) Hz of an adult voice with vocal_tract = 1
TOKEN_SD = (0.09, 0.07)  # token noise of F1, F2: log-scale standard deviations
VOCAL_TRACT_SD = 0.05  # between-speaker variation of the formant scale (log)
ARTICULATION_RATE = 5.5  # syllables/s at speech_rate = 1
F0_HZ = 160.0  # at f0_level = 1
F0_SD_ST = 2.5  # within-utterance F0 sd (semitones) at f0_range = 1


def simulate_tables(spec: EffectSpec, n_speakers: int, *, seed: int = 0, tokens_per_vowel: int = 8,
                    utterances: int = 10, language: str = "es", null_attributes: tuple[str, ...] = ()) -> dict:
    """Tables for ``n_speakers`` interviewees: vowels, prosody, speaker_prosody, speakers (speakers.csv, text).

    ``null_attributes`` adds numeric attributes (0-100) that affect nothing, for false-positive checks.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    vowel_rows, utt_rows, spk_rows, survey_rows = [], [], [], []
    for k in range(n_speakers):
        sid = f"S{k:03d}"
        attrs = {a.name: a.sample(rng) for a in spec.attributes}
        params = spec.speaker_params(attrs, rng)
        survey_rows.append({"speaker_id": sid, **{n: str(v) for n, v in attrs.items()},
                            **{n: str(round(float(rng.uniform(0, 100)))) for n in null_attributes}})
        scale = params["vocal_tract"] * np.exp(rng.normal(0, VOCAL_TRACT_SD))
        protos = {v: np.array(f) * scale for v, f in PROTOTYPES.items()}
        centre = np.mean(list(protos.values()), axis=0)
        c = params["centralisation"]
        for v, f in protos.items():
            target = f + c * (centre - f)
            for j in range(tokens_per_vowel):
                f1, f2 = target * np.exp(rng.normal(0, TOKEN_SD))
                dur = float(np.exp(rng.normal(np.log(0.08), 0.25)) / params["speech_rate"])
                vowel_rows.append({"recording_id": f"r{k:03d}", "utterance_id": f"r{k:03d}-{j % utterances:06d}",
                                   "speaker_id": sid, "role": "interviewee", "language": language,
                                   "word": f"w_{v}{j % 3}", "phone": v, "is_filler": False, "duration_s": dur,
                                   "f1_50_hz": f1, "f2_50_hz": f2, "word_probability": 0.9, "duration_z": 0.0,
                                   "log_likelihood": -50.0})
        rate = ARTICULATION_RATE * params["speech_rate"]
        f0 = F0_HZ * params["f0_level"] * np.exp(rng.normal(0, 0.08))
        sd_st = F0_SD_ST * params["f0_range"]
        st = []
        for j in range(utterances):
            u_rate = rate * np.exp(rng.normal(0, 0.06))
            u_st = 12 * np.log2(f0 / 100) + rng.normal(0, 0.5)
            u_sd = sd_st * np.exp(rng.normal(0, 0.1))
            st.append(u_st)
            utt_rows.append({"recording_id": f"r{k:03d}", "utterance_id": f"r{k:03d}-{j:06d}", "speaker_id": sid,
                             "role": "interviewee", "language": language, "duration_s": 3.0,
                             "articulation_rate": u_rate, "speech_rate": u_rate * 0.85, "f0_mean_st": u_st,
                             "f0_sd_st": u_sd, "intensity_mean_db": 70 + rng.normal(0, 1)})
        utts = pd.DataFrame(utt_rows[-utterances:])
        spk_rows.append({"speaker_id": sid, "role": "interviewee", "n_utterances": utterances, "speech_s": 3.0 * utterances,
                         "n_syllables": int(utts.articulation_rate.sum() * 3), "speech_rate": utts.speech_rate.mean(),
                         "articulation_rate": utts.articulation_rate.mean(),
                         "f0_median_hz": float(100 * 2 ** (np.median(st) / 12)), "f0_median_st": float(np.median(st)),
                         "f0_sd_st": utts.f0_sd_st.mean(), "pauses_per_minute": 10.0, "filled_pauses_per_minute": 3.0})
    return {"vowels": pd.DataFrame(vowel_rows), "prosody": pd.DataFrame(utt_rows),
            "speaker_prosody": pd.DataFrame(spk_rows), "speakers": pd.DataFrame(survey_rows)}
