"""The features stage for one recording: tracks, vowel tokens and utterance prosody.

Inputs: the recording's aligned words, phones and utterances (align's tables). Each utterance's audio
(its words ± ``pad_s``, on the speaker's own channel in multi-channel files) is read at 16 kHz,
and all utterances of the recording are analysed together, batched on the device:

1. pitch: a first pass with a wide floor and ceiling, then, per speaker, a second pass with
   limits adapted to that speaker's first-pass F0 (0.75 × Q1, 1.5 × Q3);
2. intensity (Praat's method);
3. formants: every vowel token at ``formant_ceilings`` ceilings, the smoothest plausible one
   chosen per token (Fast Track's idea); the speaker's formant track at the median of their
   tokens' ceilings;
4. tables: one row per vowel token, one per utterance (prosody), per-frame tracks, and the limits
   and ceiling used per speaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
import logging
import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from voli import problems
from voli.languages import is_vowel
from voli.config import FeatureConfig
from voli.io.audio import SAMPLE_RATE
from voli.errors import VoliError
from voli.features.formants import (TOO_SHORT, FormantSettings, analyse_tokens, ceiling_grid, choose_ceilings,
                                   dct_coefficients, span_times, token_batches)
from voli.features.intensity import IntensitySettings, track_intensity
from voli.features.pitch import (MIN_VOICED_TO_ADAPT, PitchSettings, PitchTrack, speaker_limits, track_pitch,
                                 voiced_frames)
from voli.features.prosody import utterance_prosody
from voli.features.trajectories import MIN_TRACK_S, new_fave_dct, point_times, token_trajectory
from voli.schema import (
    DCT_ORDER,
    NEW_FAVE_DCT_ORDER,
    TRACK_POINTS,
    VOWEL_POINTS,
    AlignedUtterance,
    F0Frame,
    FormantFrame,
    IntensityFrame,
    Phone,
    Recording,
    RecordingSpeaker,
    SpeakerSettings,
    VowelDct,
    VowelToken,
    VowelTokenKey,
    VowelTrackPoint,
    UtteranceProsody,
    Word,
    to_table,
)
from voli.workdir import rel

SR = SAMPLE_RATE  # Hz: audio is analysed at this rate (Nyquist 8 kHz: above the highest formant ceiling)

log = logging.getLogger(__name__)

# Memory bounds for long recordings: kernels run on groups of stretches or tokens, never on a whole
# 2-hour interview at once (results do not depend on the grouping, except for float rounding in
# the FFT resampling of formant analysis, whose padding follows a group's longest token).
PITCH_GROUP_S = 600.0  # audio tracked together at most (pitch candidates and path scores per frame)
FORMANT_GROUP_FRAMES = 65536  # analysis frames together at most (formant arrays are padded per group)


@dataclass
class Stretch:
    """One utterance with its audio: samples at 16 kHz, ``audio[0]`` at ``start`` s."""

    utterance: AlignedUtterance
    words: list[Word]
    phones: list[Phone]
    start: float
    audio: np.ndarray
    role: str
    language: str
    filler_words: set[int]  # indexes (in the recording's words table) of the filled pauses
    pitch: PitchTrack | None = None
    intensity_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    intensity_db: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def speaker_id(self) -> str:
        return self.utterance.speaker_id

    def frames_in_words(self, times_abs: np.ndarray) -> np.ndarray:
        """Which of these absolute times fall inside one of the utterance's words."""
        inside = np.zeros(len(times_abs), dtype=bool)
        for w in self.words:
            inside |= (times_abs >= w.start) & (times_abs < w.end)
        return inside


def read_stretches(rec: Recording, speakers: list[RecordingSpeaker], utterances: list[AlignedUtterance],
                   words: list[Word], phones: list[Phone], config: FeatureConfig) -> list[Stretch]:
    """Each aligned utterance's words, phones and audio (16 kHz, the speaker's channel)."""
    from voli.io.segments import SegmentReader

    channel_of = {s.speaker_id: s.channel for s in speakers}
    words_of: dict[str, list[tuple[int, Word]]] = {}
    for i, w in enumerate(words):
        words_of.setdefault(w.utterance_id, []).append((i, w))
    phones_of: dict[str, list[Phone]] = {}
    for p in phones:
        phones_of.setdefault(p.utterance_id, []).append(p)
    stretches = []
    reader = SegmentReader(rec)
    try:
        for u in sorted(utterances, key=lambda u: u.start):
            ws = [w for _, w in words_of.get(u.utterance_id, [])]
            if not ws:
                continue
            a = max(0.0, u.start - config.pad_s)
            b = min(rec.duration_s, u.end + config.pad_s)
            first = int(a * rec.sample_rate)  # SegmentReader starts at this sample of the file
            audio = reader.read(a, b, channel_of.get(u.speaker_id))  # float32: half the memory of a long interview
            stretches.append(Stretch(
                u, sorted(ws, key=lambda w: w.start), sorted(phones_of.get(u.utterance_id, []), key=lambda p: p.start),
                first / rec.sample_rate, audio, role=ws[0].role, language=ws[0].language,
                filler_words={i for i, w in words_of[u.utterance_id] if w.is_filler}))
    finally:
        reader.close()
    return stretches


# -- pitch and intensity -------------------------------------------------------------------------


def measure_pitch(stretches: list[Stretch], config: FeatureConfig, device) -> dict[str, PitchSettings]:
    """Pitch tracks of all stretches (set on each); returns the settings each speaker got."""
    base = PitchSettings(floor_hz=config.pitch_floor_hz, ceiling_hz=config.pitch_ceiling_hz,
                         time_step_s=config.pitch_step_s)
    for s, t in zip(stretches, _track_pitch_in_groups([s.audio for s in stretches], base, device)):
        s.pitch = t
    settings = {}
    for speaker in sorted({s.speaker_id for s in stretches}):
        own = [s for s in stretches if s.speaker_id == speaker]
        settings[speaker] = base
        if not config.adapt_pitch:
            continue
        f0 = np.concatenate([s.pitch.f0_hz[s.frames_in_words(s.start + s.pitch.times)] for s in own])
        floor, ceiling = speaker_limits(f0, default=(base.floor_hz, base.ceiling_hz))
        voiced = len(voiced_frames(f0))
        if voiced < MIN_VOICED_TO_ADAPT:
            problems.report("pitch_not_adapted", f"too few voiced frames ({voiced}, fewer than {MIN_VOICED_TO_ADAPT}) "
                            f"to adapt the pitch range to this voice: it keeps {floor:.0f}-{ceiling:.0f} Hz, where "
                            "octave errors are likelier", speaker_id=speaker)
        adapted = replace(base, floor_hz=floor, ceiling_hz=ceiling)
        settings[speaker] = adapted
        for s, t in zip(own, _track_pitch_in_groups([s.audio for s in own], adapted, device)):
            s.pitch = t
    return settings


def _track_pitch_in_groups(signals: list[np.ndarray], settings: PitchSettings, device) -> list[PitchTrack]:
    """track_pitch on consecutive groups of at most PITCH_GROUP_S of audio (each signal's track is
    independent of the others)."""
    lengths = np.array([len(x) for x in signals])
    tracks = []
    for group in token_batches(np.arange(len(signals)), lengths, math.inf, PITCH_GROUP_S * SR):
        tracks += track_pitch([signals[i] for i in group], SR, settings=settings, device=device)
    return tracks


def measure_intensity(stretches: list[Stretch], config: FeatureConfig, device) -> None:
    settings = IntensitySettings(floor_hz=config.intensity_floor_hz)
    for s in stretches:
        track = track_intensity(s.audio, SR, settings=settings, device=device)
        s.intensity_times, s.intensity_db = track.times, track.intensity_db


def _value_at(times: np.ndarray, values: np.ndarray, t: float, max_gap: float) -> float | None:
    """The value of the frame nearest ``t`` (None if none within ``max_gap`` s or not finite)."""
    if not len(times):
        return None
    k = int(np.argmin(np.abs(times - t)))
    v = values[k]
    return float(v) if abs(times[k] - t) <= max_gap and np.isfinite(v) else None


# -- vowels --------------------------------------------------------------------------------------


@dataclass
class _Token:
    stretch: Stretch
    position: int  # index of the phone in the stretch's phones
    segment_start: float  # s, absolute time of the segment's first sample


def _tokens(stretches: list[Stretch], config: FeatureConfig) -> tuple[list[_Token], list[np.ndarray], list[tuple]]:
    tokens, segments, spans = [], [], []
    for s in stretches:
        for k, p in enumerate(s.phones):
            if not is_vowel(p.phone):
                continue
            a = max(0, int(round((p.start - config.token_margin_s - s.start) * SR)))
            b = min(len(s.audio), int(round((p.end + config.token_margin_s - s.start) * SR)))
            if b - a < int(2 * config.formant_window_s * SR) + 1:
                continue  # not one whole analysis window: no formants can be measured
            seg_start = s.start + a / SR
            tokens.append(_Token(s, k, seg_start))
            segments.append(s.audio[a:b])
            spans.append((p.start - seg_start, p.end - seg_start))
    return tokens, segments, spans


def _interp(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    if not ok.any():
        return np.full(len(at), np.nan)
    return np.interp(at, times[ok], values[ok])


def _optional(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def usable_ceilings(grid: np.ndarray, sample_rate: int, where: str) -> np.ndarray:
    """The ceilings of ``grid`` that a recording sampled at ``sample_rate`` can have formants under.

    A ceiling above the file's Nyquist frequency would look for formants in a band the recording
    never had (8 kHz telephone audio stops at 4 kHz), so it is not tried; with none left, the
    recording's vowels get no formants and the log says how to measure them anyway.
    """
    usable = grid[grid <= sample_rate / 2]
    if len(usable) == 0:
        log.warning("%s: sampled at %d Hz, it holds nothing above %d Hz, below every formant ceiling "
                    "(%.0f-%.0f Hz): its vowels get no formant measures. To measure them at a lower ceiling, set "
                    "features.formant_ceiling_low_hz and formant_ceiling_high_hz at or below %d in the config",
                    where, sample_rate, sample_rate // 2, grid[0], grid[-1], sample_rate // 2)
    elif len(usable) < len(grid):
        log.warning("%s: sampled at %d Hz: formant ceilings above %d Hz are not tried", where, sample_rate,
                    sample_rate // 2)
    return usable


def _analysed_in_groups(segments: list, spans: list[tuple], ceilings, settings: FormantSettings, device):
    """analyse_tokens on length-sorted groups of at most FORMANT_GROUP_FRAMES frames (its arrays are
    padded to the longest token it is given): (indices into ``segments``, TokenFormants) per group."""
    expected = np.array([len(span_times(a, b, settings.step_s)) for a, b in spans])
    for group in token_batches(np.argsort(expected, kind="stable"), expected, math.inf, FORMANT_GROUP_FRAMES):
        yield group, analyse_tokens([segments[i] for i in group], SR, ceilings, spans=[spans[i] for i in group],
                                    settings=settings, device=device)


@dataclass
class VowelMeasures:
    """What :func:`measure_vowels` returns: one row per token (``tokens``), 11 per token
    (``tracks``, its trajectory), NEW_FAVE_DCT_ORDER per token (``dct``), and each speaker's median
    chosen formant ceiling (``ceilings``)."""

    tokens: list
    ceilings: dict
    tracks: list
    dct: list


def measure_vowels(stretches: list[Stretch], words: list[Word], config: FeatureConfig, device, *,
                   sample_rate: int = SR, where: str = "recording") -> VowelMeasures:
    """Vowel token rows, their trajectories and DCT coefficients, and each speaker's median chosen
    formant ceiling.

    ``sample_rate`` is the recording's own rate (before it was resampled to ``SR``): ceilings above
    its Nyquist frequency are not tried (:func:`usable_ceilings`).
    """
    settings = FormantSettings(max_formants=config.max_formants, window_s=config.formant_window_s)
    grid = ceiling_grid(config.formant_ceiling_low_hz, config.formant_ceiling_high_hz, config.formant_ceilings)
    grid = usable_ceilings(grid, sample_rate, where)
    tokens, segments, spans = _tokens(stretches, config)
    if not tokens:
        return VowelMeasures([], {}, [], [])
    best = np.full(len(tokens), -1)
    n_frames = np.zeros(len(tokens), dtype=np.int64)
    # per token: frame times (s in its segment), F1-F3 and B1-B3 (ceilings kept, frames, 3): the
    # chosen ceiling only, or every ceiling for a token too short to choose (decided below)
    tracks: list[tuple | None] = [None] * len(tokens)
    if len(grid):
        for group, analysed in _analysed_in_groups(segments, spans, grid, settings, device):
            chosen_here, _ = choose_ceilings(analysed)
            for k, i in enumerate(group):
                n, b = int(analysed.n_frames[k]), int(chosen_here[k])
                best[i], n_frames[i] = b, n
                kept = slice(b, b + 1) if b >= 0 else slice(None) if b == TOO_SHORT else slice(0, 0)
                tracks[i] = (analysed.times[k, :n].copy(), analysed.frequencies[k, kept, :n, :3].copy(),
                             analysed.bandwidths[k, kept, :n, :3].copy())
    chosen: dict[str, list[float]] = {}
    for i, tok in enumerate(tokens):
        if best[i] >= 0:
            chosen.setdefault(tok.stretch.speaker_id, []).append(grid[best[i]])
    ceilings = {spk: float(np.median(v)) for spk, v in chosen.items()}
    fallback = float(np.median(np.concatenate(list(chosen.values())))) if chosen else 5500.0
    for spk in sorted({tok.stretch.speaker_id for tok in tokens} - set(ceilings)):
        problems.report("formant_ceiling_imputed", f"no vowel was long enough to choose a formant ceiling: its vowels "
                        f"are measured at {fallback:.0f} Hz, the recording's median (5500 Hz without one)", speaker_id=spk)
    for i, tok in enumerate(tokens):  # too short to choose: the grid ceiling nearest the speaker's usual one
        if best[i] == TOO_SHORT:
            best[i] = int(np.argmin(np.abs(grid - ceilings.get(tok.stretch.speaker_id, fallback))))
            t, f, b = tracks[i]
            tracks[i] = (t, f[best[i]: best[i] + 1], b[best[i]: best[i] + 1])
    frames = _trajectory_frames(tokens, segments, spans, best, grid, settings, device)
    intensity_step = IntensitySettings(floor_hz=config.intensity_floor_hz).step_s
    rows, track_rows, dct_rows = [], [], []
    for i, tok in enumerate(tokens):
        s, p = tok.stretch, tok.stretch.phones[tok.position]
        n = int(n_frames[i])
        measures: dict[str, float | None] = {}
        if best[i] >= 0:
            t, f, b = tracks[i]
            times = t + tok.segment_start
            at = p.start + np.array(VOWEL_POINTS) / 100 * (p.end - p.start)
            for k in range(3):
                freq, band = f[0, :, k], b[0, :, k]
                for point, fv, bv in zip(VOWEL_POINTS, _interp(times, freq, at), _interp(times, band, at)):
                    measures[f"f{k + 1}_{point}_hz"] = _optional(fv)
                    measures[f"b{k + 1}_{point}_hz"] = _optional(bv)
                for c, v in enumerate(dct_coefficients(freq, DCT_ORDER)):
                    measures[f"f{k + 1}_dct{c}"] = _optional(v)
        word = words[p.word_index] if 0 <= p.word_index < len(words) else None
        mid = 0.5 * (p.start + p.end)
        rows.append(VowelToken(
            recording_id=p.recording_id, utterance_id=p.utterance_id, speaker_id=p.speaker_id,
            role=s.role, language=s.language, word_index=p.word_index,
            word=word.word if word is not None else "", phone=p.phone,
            previous_phone=s.phones[tok.position - 1].phone if tok.position > 0 else None,
            next_phone=s.phones[tok.position + 1].phone if tok.position + 1 < len(s.phones) else None,
            stress=p.stress, is_filler=bool(word.is_filler) if word is not None else False,
            start=p.start, end=p.end, duration_s=p.end - p.start, n_frames=n,
            ceiling_hz=float(grid[best[i]]) if best[i] >= 0 else None,
            f0_hz=_value_at(s.start + s.pitch.times, s.pitch.f0_hz, mid, config.pitch_step_s),
            intensity_db=_value_at(s.start + s.intensity_times, s.intensity_db, mid, intensity_step),
            word_probability=word.probability if word is not None else None,
            speaker_confidence=word.speaker_confidence if word is not None else None,
            overlap=bool(word.overlap) if word is not None else False,
            log_likelihood=p.log_likelihood, duration_z=p.duration_z, checked=p.checked,
            **{name: measures.get(name) for name in _MEASURE_COLUMNS},
        ))
        token = rows[-1]
        track_rows += _track_rows(token, tok, frames[i], config)
        dct_rows += _dct_rows(token, tracks[i] if best[i] >= 0 else None)
    return VowelMeasures(rows, ceilings, track_rows, dct_rows)


def _trajectory_frames(tokens: list[_Token], segments: list, spans: list[tuple], best: np.ndarray, grid: np.ndarray,
                       settings: FormantSettings, device) -> list:
    """Each token's frames for its trajectory: (absolute times, F1-F3 (frames, 3)) at its chosen
    ceiling, every step from one step before the vowel to one step after (so that its 0 % and 100 %
    points lie between two frames); None for a token without a ceiling or too short for a trajectory."""
    frames: list = [None] * len(tokens)
    step = settings.step_s
    for c in sorted({int(b) for b in best if b >= 0}):
        chosen = [i for i in range(len(tokens)) if best[i] == c and spans[i][1] - spans[i][0] >= MIN_TRACK_S]
        if not chosen:
            continue
        wide = [(spans[i][0] - step, spans[i][1] + step) for i in chosen]
        for group, analysed in _analysed_in_groups([segments[i] for i in chosen], wide, [grid[c]], settings, device):
            for k, j in enumerate(group):
                i, n = chosen[j], int(analysed.n_frames[k])
                frames[i] = (analysed.times[k, :n] + tokens[i].segment_start, analysed.frequencies[k, 0, :n, :3].copy())
    return frames


def _token_key(token) -> dict:
    """The VowelTokenKey fields of a vowel token's row (for its vowel_tracks and vowel_dct rows)."""
    return {f.name: getattr(token, f.name) for f in fields(VowelTokenKey)}


def _track_rows(token, tok: _Token, frames, config: FeatureConfig) -> list:
    """The token's 11 trajectory points (VowelTrackPoint rows)."""
    s = tok.stretch
    times, freq = frames if frames is not None else (np.zeros(0), np.zeros((0, 3)))
    voiced = _voiced_at(s.start + s.pitch.times, s.pitch.f0_hz, point_times(token.start, token.end), config.pitch_step_s)
    traj = token_trajectory(times, freq, token.start, token.end, voiced=voiced)
    if token.ceiling_hz is None:  # no ceiling had F1-F3: nothing was measured
        traj.problems = [p if p == "too short" else "no formant" for p in traj.problems]
    return [VowelTrackPoint(
        **_token_key(token), point=point, time_s=float(t), f1_hz=_optional(v[0]), f2_hz=_optional(v[1]), f3_hz=_optional(v[2]),
        reliable=why is None, problem=why, ceiling_hz=token.ceiling_hz)
        for point, t, v, why in zip(TRACK_POINTS, traj.times, traj.formants, traj.problems)]


def _voiced_at(times: np.ndarray, f0: np.ndarray, at: np.ndarray, max_gap: float) -> np.ndarray:
    """Whether the pitch frame nearest each of ``at`` is voiced (and within ``max_gap`` s), as _value_at."""
    if not len(times):
        return np.zeros(len(at), dtype=bool)
    k = np.clip(np.searchsorted(times, at), 1, max(len(times) - 1, 1))
    if len(times) > 1:
        k = np.where(np.abs(at - times[k - 1]) <= np.abs(times[k] - at), k - 1, k)
    else:
        k = np.zeros(len(at), dtype=int)
    return (np.abs(times[k] - at) <= max_gap) & np.isfinite(f0[k])


def _dct_rows(token, track) -> list:
    """new-fave's DCT coefficients of the token's F1-F3 (VowelDct rows) from its chosen ceiling's raw frames."""
    if track is None:
        hz = logs = np.full((3, NEW_FAVE_DCT_ORDER), np.nan)
        n = 0
    else:
        f = track[1][0]  # (frames, 3) at the chosen ceiling
        n = int(np.isfinite(f).all(axis=1).sum())
        hz = np.array([new_fave_dct(f[:, k], NEW_FAVE_DCT_ORDER) for k in range(3)])
        with np.errstate(all="ignore"):
            logs = np.array([new_fave_dct(np.log(f[:, k]), NEW_FAVE_DCT_ORDER) for k in range(3)])
    return [VowelDct(
        **_token_key(token), param=c, f1_hz=_optional(hz[0, c]), f2_hz=_optional(hz[1, c]), f3_hz=_optional(hz[2, c]),
        f1_log=_optional(logs[0, c]), f2_log=_optional(logs[1, c]), f3_log=_optional(logs[2, c]), n_frames=n,
        ceiling_hz=token.ceiling_hz) for c in range(NEW_FAVE_DCT_ORDER)]


_MEASURE_COLUMNS = [f"f{k}_{p}_hz" for k in (1, 2, 3) for p in VOWEL_POINTS] + \
    [f"b{k}_{p}_hz" for k in (1, 2, 3) for p in VOWEL_POINTS] + \
    [f"f{k}_dct{c}" for k in (1, 2, 3) for c in range(DCT_ORDER)]


def formant_frames(stretches: list[Stretch], ceilings: dict[str, float], config: FeatureConfig, device) -> list:
    """Each speaker's formant track over their utterances, at their median chosen ceiling."""
    settings = FormantSettings(max_formants=config.max_formants, window_s=config.formant_window_s)
    rows = []
    for speaker, ceiling in sorted(ceilings.items()):
        own = [s for s in stretches if s.speaker_id == speaker]
        spans = [(max(s.utterance.start - s.start, config.formant_window_s),
                  min(s.utterance.end - s.start, len(s.audio) / SR - config.formant_window_s)) for s in own]
        keep = [i for i, (a, b) in enumerate(spans) if b > a]
        if not keep:
            continue
        found = {}  # utterance (index in own) -> (times, frequencies, bandwidths)
        for group, tracks in _analysed_in_groups([own[i].audio for i in keep], [spans[i] for i in keep], [ceiling],
                                                 settings, device):
            for k, j in enumerate(group):
                n = int(tracks.n_frames[k])
                found[keep[j]] = (tracks.times[k, :n].copy(), tracks.frequencies[k, 0, :n].copy(),
                                  tracks.bandwidths[k, 0, :n].copy())
        for i in keep:
            s, (times, f, b) = own[i], found[i]
            for t, fr, bw in zip(times + s.start, f, b):
                fr4 = [_optional(v) for v in fr[:4]] + [None] * (4 - len(fr[:4]))  # max_formants may be < 4
                bw3 = [_optional(v) for v in bw[:3]] + [None] * (3 - len(bw[:3]))
                rows.append(FormantFrame(s.utterance.recording_id, speaker, float(t), *fr4, *bw3, float(ceiling)))
    return rows


# -- one recording -------------------------------------------------------------------------------


def measure_recording(rec: Recording, speakers: list[RecordingSpeaker], utterances: list[AlignedUtterance],
                      words: list[Word], phones: list[Phone], config: FeatureConfig, device, *,
                      output_dir: Path | None = None, alignment_textgrid: Path | None = None) -> dict[str, pa.Table]:
    """All feature tables of one aligned recording (and, with ``output_dir``, its PitchTiers and TextGrid)."""
    stretches = read_stretches(rec, speakers, utterances, words, phones, config)
    if not stretches:
        raise VoliError(f"{rec.recording_id}: no aligned utterance with words to measure; "
                        f"check {rel('align')} for it")
    pitch_settings = measure_pitch(stretches, config, device)
    measure_intensity(stretches, config, device)
    measured = measure_vowels(stretches, words, config, device, sample_rate=rec.sample_rate,
                              where=f"{rec.audio_path} (recording {rec.recording_id})")
    vowels, ceilings = measured.tokens, measured.ceilings
    by_utt: dict[str, list] = {}
    for v in vowels:
        by_utt.setdefault(v.utterance_id, []).append(v)
    prosody = [utterance_prosody(s, by_utt.get(s.utterance.utterance_id, []), config) for s in stretches]
    unaligned = [s.utterance for s in stretches if not s.phones]
    if unaligned:
        why = sorted({u.status for u in unaligned})
        problems.report("unaligned_utterances", f"{len(unaligned)} of {len(stretches)} utterances have no aligned "
                        f"phones ({'; '.join(why)}; see {rel('align', 'utterances.parquet')}): their syllable counts and "
                        "rates are left empty, and the speaker's rates pool the other utterances")
    f0_rows, level_rows = [], []
    for s in stretches:
        u = s.utterance
        t = s.start + s.pitch.times
        keep = (t >= u.start) & (t <= u.end)
        f0_rows += [F0Frame(rec.recording_id, u.speaker_id, float(a), _optional(b), float(c))
                    for a, b, c in zip(t[keep], s.pitch.f0_hz[keep], s.pitch.strength[keep])]
        t = s.start + s.intensity_times
        keep = (t >= u.start) & (t <= u.end)
        level_rows += [IntensityFrame(rec.recording_id, u.speaker_id, float(a), float(b))
                       for a, b in zip(t[keep], s.intensity_db[keep])]
    settings_rows = [SpeakerSettings(rec.recording_id, spk, st.floor_hz, st.ceiling_hz, ceilings.get(spk),
                                     sum(1 for v in vowels if v.speaker_id == spk))
                     for spk, st in sorted(pitch_settings.items())]
    if output_dir is not None:
        from voli.features.praat import write_formant_textgrid, write_pitch_tiers

        if config.pitch_tiers:
            write_pitch_tiers(Path(output_dir) / "pitchtiers", rec, f0_rows)
        if config.formant_tier and alignment_textgrid is not None and Path(alignment_textgrid).is_file():
            write_formant_textgrid(Path(output_dir) / "textgrids" / f"{rec.recording_id}.TextGrid",
                                   Path(alignment_textgrid), vowels)
    return {
        "vowels": to_table(vowels, VowelToken),
        "vowel_tracks": to_table(measured.tracks, VowelTrackPoint),
        "vowel_dct": to_table(measured.dct, VowelDct),
        "prosody": to_table(prosody, UtteranceProsody),
        "speaker_settings": to_table(settings_rows, SpeakerSettings),
        "tracks/f0": to_table(f0_rows, F0Frame),
        "tracks/intensity": to_table(level_rows, IntensityFrame),
        "tracks/formants": to_table(formant_frames(stretches, ceilings, config, device), FormantFrame),
    }
