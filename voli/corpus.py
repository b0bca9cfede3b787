"""The corpus input format, and the checks the ``prepare`` stage (voli/prepare.py) runs on it.

A corpus directory holds::

    recordings.csv   one row per recording (see RECORDING_COLUMNS)
    speakers.csv     one row per speaker: speaker_id plus any survey columns
    audio/           the recordings (wav, flac, mp3, ogg)
    transcripts/     optional: <recording_id>.TextGrid, .eaf (ELAN) or .txt made by a user

``prepare`` validates all of it with the functions here and writes typed tables. Problems with the
tables themselves (a missing column, duplicate IDs) stop the stage; problems
with one recording (unreadable audio, an unknown language, a speaker missing
from speakers.csv) fail that recording only, and the others go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from voli.errors import AudioError, CorpusError
from voli.io import audio
from voli.io.survey import ENROLMENT_COLUMN, CsvRow, read_csv
from voli import languages
from voli.schema import Recording, RecordingSpeaker, to_table

log = logging.getLogger(__name__)

RECORDING_COLUMNS = {
    "recording_id": "unique ID of the recording (letters, digits, '_', '-', '.')",
    "audio": "path of the audio file, relative to the corpus directory",
    "language": "a language of voli/languages/ (fr, es, pt, en, it, ru; regional tags such as pt-BR are accepted); "
                "empty = detect",
    "interviewer": "speaker_id of the interviewer; several separated by ';'; may be empty",
    "interviewee": "speaker_id of the interviewee; several separated by ';'",
    "channels": "optional channel map for multi-channel files, e.g. '1=INT01;2=S05'",
    "transcript": "optional path of the user's own transcript (.txt, .TextGrid or ELAN .eaf)",
}
# recordings.csv may instead list the speakers one per row (a recording's other cells repeated or left empty)
SPEAKER_ROW_COLUMNS = {
    "speaker_id": "one speaker of the recording (a row per speaker)",
    "role": "interviewer or interviewee",
    "channel": "optional: the speaker's channel in a multi-channel file (1, 2, ... or left/right)",
}
REQUIRED_RECORDING_COLUMNS = ("recording_id", "audio", "interviewee")
REQUIRED_SPEAKER_ROW_COLUMNS = ("recording_id", "audio", "speaker_id", "role")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TRANSCRIPT_TOLERANCE_S = 0.05  # a transcript may run this far past the audio's end
CLIPPED_WARNING = 0.001  # fraction of clipped samples above which prepare warns
LOW_SAMPLE_RATE = audio.SAMPLE_RATE  # Hz: prepare warns below this rate (Whisper's; formants need up to 5-7 kHz)

def normalise_language(value: str) -> str | None:
    """'pt-BR' -> 'pt', 'French' -> 'fr', '' -> None; raise ValueError otherwise (voli.languages)."""
    return languages.resolve(value)


def parse_channel_map(value: str) -> dict[str, int]:
    """'1=INT01;2=S05' (also ',' or ':' and left/right) -> {'INT01': 1, 'S05': 2}."""
    result: dict[str, int] = {}
    for part in re.split(r"[;,]", value):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\w+)\s*[=:]\s*(\S+)$", part)
        if not m:
            raise ValueError(f"cannot read {part!r} in channel map {value!r}; write it as '1=SPEAKER;2=SPEAKER'")
        chan, speaker = m.group(1).lower(), m.group(2)
        chan_no = {"l": 1, "left": 1, "r": 2, "right": 2}.get(chan)
        if chan_no is None:
            if not chan.isdigit() or int(chan) < 1:
                raise ValueError(f"channel {m.group(1)!r} in {value!r} is not a channel number (1, 2, ...) or left/right")
            chan_no = int(chan)
        if speaker in result:
            raise ValueError(f"speaker {speaker!r} appears twice in channel map {value!r}")
        result[speaker] = chan_no
    return result


def _split_ids(value: str) -> list[str]:
    return [s.strip() for s in re.split(r"[;,]", value) if s.strip()]


@dataclass(frozen=True)
class RecordingRow:
    """One row of recordings.csv, parsed, with the problems found in it."""

    recording_id: str
    source: str  # path of recordings.csv
    line: int
    audio_path: str
    language: str | None
    speakers: tuple[tuple[str, str], ...]  # (speaker_id, role)
    channel_map: tuple[tuple[str, int], ...]  # (speaker_id, 1-based channel)
    transcript_path: str | None
    problems: tuple[str, ...] = field(default=())
    fingerprint: str = ""




def read_speakers(corpus_dir: Path) -> tuple[list[str], list[CsvRow]]:
    """Read speakers.csv; returns (survey columns, rows). Raises CorpusError."""
    path = corpus_dir / "speakers.csv"
    header, rows = read_csv(path, required=("speaker_id",))
    problems = []
    first_line: dict[str, int] = {}
    for row in rows:
        sid = row.values["speaker_id"]
        if not sid:
            problems.append(f"{path}, line {row.line}: speaker_id is empty; give every speaker an ID")
        elif not ID_RE.match(sid):
            problems.append(f"{path}, line {row.line}: speaker_id {sid!r} has characters other than letters, digits, '_', '-', '.'; rename it")
        elif sid in first_line:
            problems.append(f"{path}, line {row.line}: duplicate speaker_id {sid!r} (first on line {first_line[sid]}); each speaker needs one row")
        else:
            first_line[sid] = row.line
        clip = row.values.get(ENROLMENT_COLUMN)
        if clip and not (corpus_dir / clip).is_file():
            problems.append(f"{path}, line {row.line}: enrolment clip {clip!r} of speaker {sid!r} not found "
                            f"(looked for {corpus_dir / clip}); give a path relative to the corpus folder or leave it empty")
    if problems:
        raise CorpusError(problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems", problems)
    return [c for c in header if c != "speaker_id"], rows


def enrolment_clips(corpus_dir: Path) -> dict[str, Path]:
    """speaker_id -> a short recording of that speaker alone (speakers.csv's optional ``enrolment`` column)."""
    _, rows = read_speakers(corpus_dir)
    return {r.values["speaker_id"]: corpus_dir / r.values[ENROLMENT_COLUMN]
            for r in rows if r.values.get(ENROLMENT_COLUMN)}


def read_recordings(corpus_dir: Path, speaker_ids: set[str]) -> list[RecordingRow]:
    """Parse recordings.csv.

    Table-level problems (header, duplicate or malformed IDs) raise
    :class:`CorpusError`. Row-level problems are kept in each row's
    ``problems`` so that ``prepare`` fails that recording only.
    """
    path = corpus_dir / "recordings.csv"
    header, _ = read_csv(path, required=("recording_id", "audio"))
    if "speaker_id" in header:  # one row per speaker: fold each recording's rows into one
        known = tuple(c for c in RECORDING_COLUMNS if c not in ("interviewer", "interviewee", "channels")) + tuple(SPEAKER_ROW_COLUMNS)
        header, rows = read_csv(path, required=REQUIRED_SPEAKER_ROW_COLUMNS, known=known)
        rows = _fold_speaker_rows(path, rows)
        columns = [c for c in known if c not in SPEAKER_ROW_COLUMNS] + ["interviewer", "interviewee", "channels"]
    else:
        header, rows = read_csv(path, required=REQUIRED_RECORDING_COLUMNS, known=tuple(RECORDING_COLUMNS))
        columns = list(RECORDING_COLUMNS)
    extra = [c for c in header if c not in columns and c not in SPEAKER_ROW_COLUMNS]
    if extra:
        log.warning("%s: ignoring column(s) %s (voli reads %s)", path, extra, columns)
    fatal = []
    first_line: dict[str, int] = {}
    parsed = []
    for row in rows:
        v = row.values
        where = f"{path}, line {row.line}"
        rid = v["recording_id"]
        if not rid:
            fatal.append(f"{where}: recording_id is empty; give every recording an ID")
            continue
        if not ID_RE.match(rid):
            fatal.append(f"{where}: recording_id {rid!r} has characters other than letters, digits, '_', '-', '.'; rename it")
            continue
        if rid in first_line:
            fatal.append(f"{where}: duplicate recording_id {rid!r} (first on line {first_line[rid]}); give each recording its own ID")
            continue
        first_line[rid] = row.line
        parsed.append(_parse_recording_row(corpus_dir, row, where, speaker_ids))
    if fatal:
        raise CorpusError(fatal[0] if len(fatal) == 1 else f"{path}: {len(fatal)} problems", fatal)
    return parsed


def _fold_speaker_rows(path: Path, rows: list[CsvRow]) -> list[CsvRow]:
    """recordings.csv with a row per speaker (``recording_id, audio, language, speaker_id, role``
    and optionally ``channel``) -> a row per recording, as if written with ``interviewer`` and
    ``interviewee`` columns. A recording's other cells may be repeated or left empty, but not differ."""
    folded: dict[str, CsvRow] = {}
    speakers: dict[str, dict[str, list[str]]] = {}
    channels: dict[str, list[str]] = {}
    problems = []
    for row in rows:
        v, rid = row.values, row.values.get("recording_id", "")
        if not rid:
            problems.append(f"{path}, line {row.line}: recording_id is empty; give every row its recording's ID")
            continue
        role = v.get("role", "").strip().lower()
        if role not in ("interviewer", "interviewee"):
            problems.append(f"{path}, line {row.line} (recording {rid}): role {v.get('role', '')!r} is not "
                            "'interviewer' or 'interviewee'; write one of them")
            continue
        if not v.get("speaker_id"):
            problems.append(f"{path}, line {row.line} (recording {rid}): speaker_id is empty; name the speaker of this row")
            continue
        if rid not in folded:
            folded[rid] = CsvRow(row.line, {k: x for k, x in v.items() if k not in SPEAKER_ROW_COLUMNS})
            speakers[rid], channels[rid] = {"interviewer": [], "interviewee": []}, []
        else:
            first = folded[rid]
            for k, x in v.items():
                if k in SPEAKER_ROW_COLUMNS or not x:
                    continue
                if not first.values.get(k):
                    first.values[k] = x
                elif first.values[k] != x:
                    problems.append(f"{path}, line {row.line} (recording {rid}): {k} is {x!r} here but "
                                    f"{first.values[k]!r} on line {first.line}; a recording's rows must agree (or leave it empty)")
        speakers[rid][role].append(v["speaker_id"])
        if v.get("channel"):
            channels[rid].append(f"{v['channel']}={v['speaker_id']}")
    if problems:
        raise CorpusError(problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems", problems)
    out = []
    for rid, row in folded.items():
        values = dict(row.values, interviewer=";".join(speakers[rid]["interviewer"]),
                      interviewee=";".join(speakers[rid]["interviewee"]), channels=";".join(channels[rid]))
        out.append(CsvRow(row.line, values))
    return out


def _parse_recording_row(corpus_dir: Path, row: CsvRow, where: str, speaker_ids: set[str]) -> RecordingRow:
    v = row.values
    rid = v["recording_id"]
    problems = []
    audio_rel = v.get("audio", "")
    if not audio_rel:
        problems.append(f"{where} (recording {rid}): the audio column is empty; give the audio file's path")
    audio_path = (corpus_dir / audio_rel).resolve() if audio_rel else corpus_dir
    try:
        language = normalise_language(v.get("language", ""))
    except ValueError as err:
        problems.append(f"{where} (recording {rid}): {err}")
        language = None
    speakers = []
    for role in ("interviewer", "interviewee"):
        for sid in _split_ids(v.get(role, "")):
            if sid not in speaker_ids:
                close = [s for s in sorted(speaker_ids) if s.lower() == sid.lower()]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(
                    f"{where} (recording {rid}): {role} {sid!r} is not in speakers.csv{hint}; add a row for it there or fix the ID"
                )
            elif any(sid == s for s, _ in speakers):
                problems.append(f"{where} (recording {rid}): speaker {sid!r} is listed twice; give each speaker one role")
            else:
                speakers.append((sid, role))
    if not any(role == "interviewee" for _, role in speakers) and not any("interviewee" in p for p in problems):
        problems.append(f"{where} (recording {rid}): no interviewee given; put the interviewee's speaker_id in the interviewee column")
    channel_map: dict[str, int] = {}
    if v.get("channels"):
        try:
            channel_map = parse_channel_map(v["channels"])
        except ValueError as err:
            problems.append(f"{where} (recording {rid}): {err}")
        named = {s for s, _ in speakers}
        for sid in channel_map:
            if sid not in named:
                problems.append(f"{where} (recording {rid}): channel map names {sid!r}, who is not a speaker of this recording; list them as interviewer or interviewee")
        if channel_map:
            for sid in named - set(channel_map):
                problems.append(f"{where} (recording {rid}): speaker {sid!r} has no channel in the channel map {v['channels']!r}; add '{sid}=N'")
    transcript = v.get("transcript", "")
    transcript_path = None
    if transcript:
        transcript_path = str((corpus_dir / transcript).resolve())
    else:
        for ext in (".TextGrid", ".textgrid", ".eaf", ".txt"):
            candidate = corpus_dir / "transcripts" / f"{rid}{ext}"
            if candidate.exists():
                transcript_path = str(candidate.resolve())
                break
    return RecordingRow(
        recording_id=rid,
        source=where.rsplit(", line", 1)[0],
        line=row.line,
        audio_path=str(audio_path),
        language=language,
        speakers=tuple(speakers),
        channel_map=tuple(sorted(channel_map.items(), key=lambda kv: kv[1])),
        transcript_path=transcript_path,
        problems=tuple(problems),
        fingerprint=_fingerprint(row.values, audio_path, transcript_path),
    )


def _file_stamp(path: str | Path | None) -> list:
    if path is None:
        return []
    p = Path(path)
    if not p.is_file():
        return [str(p), None]
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def _fingerprint(values: dict, audio_path: Path, transcript_path: str | None) -> str:
    blob = json.dumps([sorted(values.items()), _file_stamp(audio_path), _file_stamp(transcript_path)])
    return hashlib.sha256(blob.encode()).hexdigest()


def check_recording(row: RecordingRow, *, clip_level: float = audio.CLIP_LEVEL) -> dict[str, pa.Table]:
    """Validate one recording's audio, channel map and transcript.

    Returns its rows of the ``recordings`` and ``recording_speakers`` tables.
    Raises :class:`CorpusError` or :class:`AudioError` naming the problem.
    """
    if row.problems:
        raise CorpusError(row.problems[0] if len(row.problems) == 1 else "; ".join(row.problems), list(row.problems))
    where = f"{row.source}, line {row.line} (recording {row.recording_id})"
    try:
        info = audio.probe(row.audio_path)
    except AudioError as err:
        raise AudioError(f"{where}: {err}") from err
    channels = dict(row.channel_map)
    if channels:
        too_high = {s: c for s, c in channels.items() if c > info.channels}
        if too_high:
            raise AudioError(
                f"{where}: the channel map puts {too_high} on channel(s) the file lacks: "
                f"{row.audio_path} has {info.channels} channel(s); fix the channels column or point to the multi-channel file"
            )
    elif info.channels > 2:
        raise AudioError(
            f"{where}: {row.audio_path} has {info.channels} channels and no channel map; "
            "say which speaker is on which channel (channels column, e.g. '1=INT01;2=S05') "
            f"or mix it down first: ffmpeg -i {Path(row.audio_path).name} -ac 1 mono.wav"
        )
    elif info.channels == 2:
        log.warning("%s: stereo file without a channel map; its channels will be mixed", where)
    try:
        stats = audio.scan(row.audio_path, clip_level=clip_level)
    except AudioError as err:
        raise AudioError(f"{where}: {err}") from err
    if stats.peak_dbfs == float("-inf"):
        raise AudioError(f"{where}: {row.audio_path} is digital silence (every sample is 0); check the recording")
    if stats.clipped_fraction > CLIPPED_WARNING:
        log.warning("%s: %s is clipped (%.2f %% of samples at full scale): F0, intensity and formants of the "
                    "clipped stretches are distorted; use an unclipped copy if there is one, and see "
                    "clipped_fraction in recordings.parquet", where, row.audio_path, 100 * stats.clipped_fraction)
    if info.sample_rate < LOW_SAMPLE_RATE:
        log.warning("%s: %s is sampled at %d Hz, below %d Hz: Whisper and the aligner work at 16 kHz, but "
                    "formants above %d Hz are missing (telephone band); features tries only ceilings under it. "
                    "Use a higher-rate original if there is one", where, row.audio_path, info.sample_rate,
                    LOW_SAMPLE_RATE, info.sample_rate // 2)
    transcript_format = None
    if row.transcript_path:
        transcript_format = _check_transcript(row, where, info.duration_s)
    recording = Recording(
        recording_id=row.recording_id,
        audio_path=row.audio_path,
        audio_format=info.format,
        language=row.language,
        sample_rate=info.sample_rate,
        channels=info.channels,
        n_frames=info.n_frames,
        duration_s=info.duration_s,
        peak_dbfs=stats.peak_dbfs,
        rms_dbfs=stats.rms_dbfs,
        clipped_fraction=stats.clipped_fraction,
        audio_sha256=stats.sha256,
        transcript_path=row.transcript_path,
        transcript_format=transcript_format,
    )
    speakers = [RecordingSpeaker(row.recording_id, sid, role, channels.get(sid)) for sid, role in row.speakers]
    return {
        "recordings": to_table([recording], Recording),
        "recording_speakers": to_table(speakers, RecordingSpeaker),
    }


def _check_transcript(row: RecordingRow, where: str, duration_s: float) -> str:
    path = Path(row.transcript_path)
    if not path.is_file():
        raise CorpusError(f"{where}: transcript {path} not found; fix the transcript column or remove it")
    if path.suffix.lower() == ".textgrid":
        from voli.io.textgrid import read_textgrid

        tg = read_textgrid(path)
        if tg.maxTimestamp > duration_s + TRANSCRIPT_TOLERANCE_S:
            raise CorpusError(
                f"{where}: TextGrid {path.name} ends at {tg.maxTimestamp:.3f} s but the audio lasts {duration_s:.3f} s; "
                "was it made for another recording? Fix its end time in Praat or point to the right audio"
            )
        return "textgrid"
    if path.suffix.lower() == ".eaf":
        from voli.io.eaf import read_eaf

        late = [(iv.end, name, iv.label) for name, ivs in read_eaf(path).items() for iv in ivs]
        end, tier, label = max(late, default=(0.0, "", ""))
        if end > duration_s + TRANSCRIPT_TOLERANCE_S:
            raise CorpusError(
                f"{where}: ELAN file {path.name} has an annotation until {end:.3f} s (tier {tier!r}, {label!r}) but the "
                f"audio lasts {duration_s:.3f} s; was it made for another recording? Fix the annotation in ELAN or "
                "point to the right audio"
            )
        return "eaf"
    if path.suffix.lower() == ".txt":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise CorpusError(f"{where}: transcript {path.name} is not UTF-8 text; save it as UTF-8") from err
        if not text.strip():
            raise CorpusError(f"{where}: transcript {path.name} is empty; remove it from recordings.csv or fill it")
        return "text"
    raise CorpusError(f"{where}: transcript {path.name} must be a .txt, a .TextGrid or an ELAN .eaf file")


def speakers_table(corpus_dir: Path) -> pa.Table:
    """speakers.csv as a table: speaker_id plus survey columns as text.

    Survey values stay text here; the ``profile`` stage types them (survey
    attributes enter the analysis only there).
    """
    survey_columns, rows = read_speakers(corpus_dir)
    columns = {"speaker_id": [r.values["speaker_id"] for r in rows]}
    for col in survey_columns:
        columns[col] = [r.values.get(col) or None for r in rows]
    schema = pa.schema([pa.field("speaker_id", pa.string(), nullable=False)] + [pa.field(c, pa.string()) for c in survey_columns])
    return pa.table(columns, schema=schema)


# -- the prepared tables, as later stages read them ---------------------------------------------


def prepared_ids(prepare_dir: Path) -> list[str]:
    """The prepared recordings' IDs, in the order of recordings.csv."""
    from voli.io.tables import read_table

    return read_table(Path(prepare_dir) / "recordings.parquet").column("recording_id").to_pylist()


def prepared_recording(prepare_dir: Path, recording_id: str) -> tuple[Recording, list[RecordingSpeaker]]:
    """A prepared recording and its speakers (the prepare stage's tables in ``prepare_dir``)."""
    from voli.io.tables import read_table
    from voli.schema import from_table

    prepare_dir = Path(prepare_dir)
    (rec,) = [r for r in from_table(read_table(prepare_dir / "recordings.parquet"), Recording)
              if r.recording_id == recording_id]
    speakers = [s for s in from_table(read_table(prepare_dir / "recording_speakers.parquet"), RecordingSpeaker)
                if s.recording_id == recording_id]
    return rec, speakers
