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
LANGUAGES = ("fr", "es", "pt", "en")


@dataclass(frozen=True)
class Recording:
    """One audio file of the corpus, as validated by ``prepare``."""

    recording_id: str
    audio_path: str  # absolute path, resolved from recordings.csv
    audio_format: str  # WAV, FLAC, MP3, OGG (libsndfile's major format)
    language: str | None  # fr / es / pt / en; None = detect at transcription
    sample_rate: int  # Hz, as stored in the file
    channels: int
    n_frames: int  # samples per channel
    duration_s: float
    peak_dbfs: float  # highest absolute sample, dB re full scale
    rms_dbfs: float  # RMS over all channels, dB re full scale
    clipped_fraction: float  # share of samples at or above the clip level
    audio_sha256: str  # content hash: later stages redo work when it changes
    transcript_path: str | None  # a user's own transcript (.txt or .TextGrid)
    transcript_format: str | None  # "text" or "textgrid"


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


@dataclass(frozen=True)
class Failure:
    """A recording that a stage could not process, and why."""

    stage: str
    recording_id: str
    error_type: str
    message: str


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
    rows = [dataclasses.asdict(r) for r in records]
    return pa.Table.from_pylist(rows, schema=schema)


def from_table(table: pa.Table, record_type: type) -> list:
    """Arrow table -> records; extra columns are ignored."""
    names = [f.name for f in dataclasses.fields(record_type)]
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise ValueError(f"table lacks column(s) {missing} of {record_type.__name__}")
    return [record_type(**row) for row in table.select(names).to_pylist()]
