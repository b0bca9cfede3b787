"""Typed records and their Arrow schemas.

Each stage's tables are lists of these records. The Arrow schema of a record
type is derived from its type hints, so the dataclass is the single source of
truth for column names, types and nullability. Units are in column names
(``duration_s``, ``peak_dbfs``); times are seconds from the start of the
recording.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass

import pyarrow as pa

ROLES = ("interviewer", "interviewee")


@dataclass(frozen=True)
class Recording:
    """One audio file of the corpus, as validated by ``prepare``."""

    recording_id: str
    audio_path: str  # absolute path, resolved from recordings.csv
    audio_format: str  # WAV, FLAC, MP3, OGG (libsndfile's major format)
    language: str | None  # a code of voli/languages/ (fr, es, pt, en, it, ru...); None = detect at transcription
    sample_rate: int  # Hz, as stored in the file
    channels: int
    n_frames: int  # samples per channel
    duration_s: float
    peak_dbfs: float  # highest absolute sample, dB re full scale
    rms_dbfs: float  # RMS over all channels, dB re full scale
    clipped_fraction: float  # share of samples at or above the clip level
    audio_sha256: str  # content hash: later stages redo work when it changes
    transcript_path: str | None  # a user's own transcript (.txt or .TextGrid)
    transcript_format: str | None  # "text", "textgrid" or "eaf"


@dataclass(frozen=True)
class RecordingSpeaker:
    """Who speaks in a recording, in which role, and on which channel."""

    recording_id: str
    speaker_id: str
    role: str  # one of ROLES
    channel: int | None  # 1-based channel of a multi-channel file, None = mixed


@dataclass(frozen=True)
class Speaker:
    """A speaker; survey columns from speakers.csv travel beside these fields."""

    speaker_id: str


@dataclass(frozen=True)
class Utterance:
    utterance_id: str  # f"{recording_id}-{index:06d}"
    recording_id: str
    speaker_id: str
    role: str
    start: float  # s
    end: float  # s
    text: str
    language: str


@dataclass(frozen=True)
class Word:
    recording_id: str
    utterance_id: str
    speaker_id: str
    role: str
    start: float  # s
    end: float  # s
    word: str
    probability: float | None  # ASR confidence, None for user transcripts
    is_filler: bool  # filled pause (euh, eh, um, ...)
    language: str
    speaker_confidence: float | None = None  # probability that speaker_id is the one speaking (1: known channel or voice)
    overlap: bool = False  # the word was said while another voice spoke (voli.asr.diarize)
    checked: bool = False  # its recording was corrected by hand (WORKDIR/corrections/, voli.align.corrections)


@dataclass(frozen=True)
class SpeakerSummary:
    """How a recording's words were given to its speakers (one row per recording, ``transcribe``)."""

    recording_id: str
    method: str  # "single speaker", "channels", "voice", "voice and questions" (+ " and enrolment"), "user transcript"
    speakers: int  # voices told apart
    speech_s: float  # s of speech (voice activity)
    turns: int  # runs of words by one speaker
    overlap_s: float  # s of speech that sounds like two voices at once
    separation: float | None  # how far apart the voices are (voli.asr.diarize.separation); None with one voice
    mean_speaker_confidence: float | None
    low_confidence_words: float  # share of words with speaker_confidence under 0.8


@dataclass(frozen=True)
class Phone:
    recording_id: str
    utterance_id: str
    speaker_id: str
    word_index: int  # index of the word in the recording's words table
    start: float  # s
    end: float  # s
    phone: str
    stress: int | None  # lexical stress where the lexicon has it
    log_likelihood: float | None = None  # aligner: mean per-frame log-likelihood of the phone's frames
    duration_z: float | None = None  # aligner: z-score of log duration against this phone's durations in training
    checked: bool = False  # its recording was corrected by hand (WORKDIR/corrections/, voli.align.corrections)


@dataclass(frozen=True)
class AlignedUtterance:
    """How the aligner fared on one utterance: filter bad alignments on these."""

    utterance_id: str
    recording_id: str
    speaker_id: str
    start: float  # s, first word's start
    end: float  # s, last word's end
    n_words: int
    n_phones: int
    log_likelihood: float | None  # mean per-frame log-likelihood over the utterance
    status: str  # "aligned", or why not ("too short for its phones": Whisper's times are kept)


VOWEL_POINTS = (20, 35, 50, 65, 80)  # % of a vowel's duration at which its formants are read
DCT_ORDER = 3  # cosine coefficients kept per formant track: level, slope, curvature


@dataclass(frozen=True)
class VowelTokenBase:
    """The fields of a vowel token that are not formant measurements (see :data:`VowelToken`)."""

    recording_id: str
    utterance_id: str
    speaker_id: str
    role: str
    language: str
    word_index: int  # index of the word in the recording's aligned words table
    word: str
    phone: str
    previous_phone: str | None  # None at an utterance's edge
    next_phone: str | None
    stress: int | None  # lexical stress where the lexicon has it
    is_filler: bool  # the vowel of a filled pause (euh, um, eh...)
    start: float  # s
    end: float  # s
    duration_s: float
    n_frames: int  # formant frames inside the vowel
    ceiling_hz: float | None  # formant ceiling chosen by the multiple-ceiling search
    f0_hz: float | None  # at the midpoint; None if unvoiced there
    intensity_db: float | None  # at the midpoint
    word_probability: float | None  # ASR confidence of the word (None for user transcripts)
    speaker_confidence: float | None  # probability that speaker_id said the word (voli.asr.diarize)
    overlap: bool  # the word was said while another voice spoke
    log_likelihood: float | None  # aligner: mean per-frame log-likelihood of the phone
    duration_z: float | None  # aligner: z-score of log duration against this phone in training
    checked: bool  # its recording was corrected by hand (WORKDIR/corrections/)


def _formant_fields() -> list[tuple[str, object]]:
    fields = [(f"f{k}_{p}_hz", float | None) for k in (1, 2, 3) for p in VOWEL_POINTS]
    fields += [(f"b{k}_{p}_hz", float | None) for k in (1, 2, 3) for p in VOWEL_POINTS]
    fields += [(f"f{k}_dct{c}", float | None) for k in (1, 2, 3) for c in range(DCT_ORDER)]
    return fields


# One row per vowel token: VowelTokenBase's fields, then F1-F3 and their bandwidths at each of
# VOWEL_POINTS (``f2_50_hz``: F2 at the midpoint; ``b1_20_hz``: F1's bandwidth at 20 %), then the
# cosine coefficients of each formant track over the vowel (``f1_dct0``: level in Hz, ``f1_dct1``:
# half the fall from start to end, ``f1_dct2``: curvature). Generated, so the column list cannot drift.
VowelToken = dataclasses.make_dataclass("VowelToken", _formant_fields(), bases=(VowelTokenBase,), frozen=True)
VowelToken.__doc__ = "A vowel token: context, duration, formants at 20-80 %, F0 and intensity, ASR and aligner scores."
VowelToken.__module__ = __name__  # so that it pickles by name (a stage's outputs travel to worker processes)


TRACK_POINTS = tuple(range(0, 101, 10))  # % of a vowel's duration at which its trajectory is read (vowel_tracks)
TRACK_PROBLEMS = ("too short", "unvoiced", "no formant", "ceiling jump")  # why a trajectory point is unreliable
NEW_FAVE_DCT_ORDER = 5  # DCT coefficients per formant in vowel_dct, as new-fave's *_param.csv


@dataclass(frozen=True)
class VowelTokenKey:
    """The columns that name a vowel token in vowel_tracks and vowel_dct: (recording_id, speaker_id,
    start, phone) joins their rows to the token's row in vowels.parquet."""

    recording_id: str
    utterance_id: str
    speaker_id: str
    role: str
    language: str
    phone: str
    word: str
    start: float  # s, the token's (as in vowels.parquet)
    end: float  # s


@dataclass(frozen=True)
class VowelTrackPoint(VowelTokenKey):
    """One point of a vowel token's formant trajectory (vowel_tracks.parquet): F1-F3 at ``point`` % of
    the vowel, from the token's chosen ceiling, running-median smoothed (voli.features.trajectories).

    (recording_id, speaker_id, start, phone) joins it to the token's row in vowels.parquet.
    """

    point: int  # % of the vowel's duration: one of TRACK_POINTS
    time_s: float  # s from the recording's start: start + point / 100 x (end - start)
    f1_hz: float | None  # None where the point is unreliable
    f2_hz: float | None
    f3_hz: float | None
    reliable: bool  # F1-F3 measured, voiced, no track jump, the vowel long enough
    problem: str | None  # why not (one of TRACK_PROBLEMS; the first that applies), None if reliable
    ceiling_hz: float | None  # the token's chosen formant ceiling (None: no ceiling had F1-F3)


@dataclass(frozen=True)
class VowelDct(VowelTokenKey):
    """One DCT coefficient of a vowel token's F1-F3 tracks (vowel_dct.parquet), as new-fave's
    ``*_param.csv`` (Hz) and ``*_logparam.csv`` (natural log of Hz) give them: a least-squares fit of
    the chosen ceiling's raw frames inside the vowel by fasttrackpy's ``dct_smooth_regression`` basis
    (scipy's DCT-II, norm "backward", orthogonalized: sqrt(2) for ``param`` 0, 2 cos(pi k (n + 1/2) / N)
    for k >= 1), so ``param`` 0 is the track's mean / sqrt(2) and ``param`` 1 half the cosine slope."""

    param: int  # 0 .. NEW_FAVE_DCT_ORDER - 1
    f1_hz: float | None  # coefficient of the F1 track in Hz
    f2_hz: float | None
    f3_hz: float | None
    f1_log: float | None  # coefficient of the track of ln(F1 / 1 Hz)
    f2_log: float | None
    f3_log: float | None
    n_frames: int  # frames fitted
    ceiling_hz: float | None


@dataclass(frozen=True)
class UtteranceProsody:
    """Prosodic measures of one aligned utterance. Rates are syllables (vowel phones) per second."""

    recording_id: str
    utterance_id: str
    speaker_id: str
    role: str
    language: str
    start: float  # s, first word's start
    end: float  # s, last word's end
    duration_s: float
    n_words: int
    n_syllables: int | None  # vowels of words that are not filled pauses; None: the utterance has no aligned phones
    speech_rate: float | None  # syllables / duration_s (pauses included)
    articulation_rate: float | None  # syllables / (duration_s - silent pauses - filled pauses)
    n_pauses: int  # silent gaps between words of at least min_pause_s
    pause_total_s: float
    pause_mean_s: float | None
    n_filled_pauses: int
    filled_pause_total_s: float
    filled_pause_f1_hz: float | None  # mean midpoint F1 of the filled pauses' vowels
    filled_pause_f2_hz: float | None
    voiced_fraction: float | None  # share of the pitch frames in words that are voiced
    f0_mean_hz: float | None
    f0_median_hz: float | None
    f0_sd_hz: float | None
    f0_p5_hz: float | None
    f0_p95_hz: float | None
    f0_range_st: float | None  # p5 to p95, in semitones
    f0_mean_st: float | None  # semitones re 100 Hz
    f0_sd_st: float | None
    intensity_mean_db: float | None  # energy mean over the frames in words
    intensity_sd_db: float | None


@dataclass(frozen=True)
class SpeakerProsody:
    """Prosody of one speaker over the whole corpus (all their utterances, frames pooled)."""

    speaker_id: str
    role: str  # the role the speaker has in most of their utterances
    n_recordings: int
    n_utterances: int
    speech_s: float  # summed utterance durations
    n_syllables: int
    speech_rate: float | None
    articulation_rate: float | None
    pauses_per_minute: float | None
    pause_mean_s: float | None
    filled_pauses_per_minute: float | None
    filled_pause_mean_s: float | None
    filled_pause_f1_hz: float | None
    filled_pause_f2_hz: float | None
    f0_mean_hz: float | None
    f0_median_hz: float | None
    f0_sd_hz: float | None
    f0_range_st: float | None
    f0_median_st: float | None
    f0_sd_st: float | None
    intensity_mean_db: float | None
    pitch_floor_hz: float  # the speaker-adapted limits used by the final pitch pass
    pitch_ceiling_hz: float
    formant_ceiling_hz: float | None  # median of the ceilings chosen for the speaker's vowels


@dataclass(frozen=True)
class SpeakerSettings:
    """The analysis limits one speaker got in one recording (speaker_settings.parquet)."""

    recording_id: str
    speaker_id: str
    pitch_floor_hz: float
    pitch_ceiling_hz: float
    formant_ceiling_hz: float | None  # median chosen ceiling of the speaker's vowels
    n_vowels: int


@dataclass(frozen=True)
class F0Frame:
    """One pitch frame (tracks/f0.parquet); frames of utterances only."""

    recording_id: str
    speaker_id: str
    time: float  # s
    f0_hz: float | None  # None = unvoiced
    strength: float  # autocorrelation strength of the chosen candidate (0 unvoiced)


@dataclass(frozen=True)
class FormantFrame:
    """One formant frame (tracks/formants.parquet) at the speaker's median chosen ceiling."""

    recording_id: str
    speaker_id: str
    time: float  # s
    f1_hz: float | None
    f2_hz: float | None
    f3_hz: float | None
    f4_hz: float | None
    b1_hz: float | None
    b2_hz: float | None
    b3_hz: float | None
    ceiling_hz: float


@dataclass(frozen=True)
class IntensityFrame:
    """One intensity frame (tracks/intensity.parquet); frames of utterances only."""

    recording_id: str
    speaker_id: str
    time: float  # s
    intensity_db: float


@dataclass(frozen=True)
class Failure:
    """A recording that a stage could not process, and why."""

    stage: str
    recording_id: str
    error_type: str
    message: str
    bug: bool = False  # an exception voli did not raise on purpose: please report it, with the traceback
    traceback: str | None = None  # where it happened (bugs only)


@dataclass(frozen=True)
class Problem:
    """A result that stands but needs the user's attention (see :mod:`voli.problems`)."""

    stage: str
    recording_id: str | None  # None: the stage as a whole (a model trained on the corpus, the report)
    speaker_id: str | None
    kind: str  # short stable code: left_out_of_training, model_fallback, figure_failed, ...
    message: str  # what happened, what it changes, how to avoid it


_ARROW_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _arrow_field(name: str, hint) -> pa.Field:
    nullable = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"field {name}: unions other than X | None are not supported")
        hint = args[0]
    if hint not in _ARROW_TYPES:
        raise TypeError(f"field {name}: no Arrow type for {hint!r}")
    return pa.field(name, _ARROW_TYPES[hint], nullable=nullable)


def arrow_schema(record_type: type) -> pa.Schema:
    """The Arrow schema of a record dataclass, from its type hints."""
    hints = typing.get_type_hints(record_type)
    return pa.schema([_arrow_field(f.name, hints[f.name]) for f in dataclasses.fields(record_type)])


def to_table(records: typing.Iterable, record_type: type) -> pa.Table:
    """Records (dataclass instances) -> Arrow table with the record's schema."""
    schema = arrow_schema(record_type)
    names = schema.names
    rows = [{n: getattr(r, n) for n in names} for r in records]  # fields are scalars: no deep copy (asdict's)
    return pa.Table.from_pylist(rows, schema=schema)


def from_table(table: pa.Table, record_type: type) -> list:
    """Arrow table -> records; extra columns are ignored, and a column the record gives a default
    (one added since the table was written, by an older voli) takes that default."""
    fields = dataclasses.fields(record_type)
    present = [f.name for f in fields if f.name in table.column_names]
    missing = [f.name for f in fields if f.name not in table.column_names and f.default is dataclasses.MISSING]
    if missing:
        raise ValueError(f"table lacks column(s) {missing} of {record_type.__name__}")
    return [record_type(**row) for row in table.select(present).to_pylist()]
