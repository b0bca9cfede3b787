"""The corpus format: every defect gets an error naming the file, the row and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import tone, write_csv
from voli.cli import main
from voli.config import VoliConfig
from voli.corpus import normalise_language, parse_channel_map
from voli.errors import CorpusError
from voli.io.tables import read_table
from voli.runner import StageContext, run_stage
from voli.stages import STAGES


def prepare(root, tmp_path):
    ctx = StageContext(root, tmp_path / "exp", VoliConfig())
    return run_stage(STAGES["prepare"], ctx, progress=False)


def failure_of(result, rid):
    (f,) = [f for f in result.failures if f.recording_id == rid]
    return f.message


def test_valid_corpus_gives_typed_tables(tiny, tmp_path):
    result = prepare(tiny.save(), tmp_path)
    assert result.ok and result.processed == 3
    rec = read_table(result.stage_dir / "recordings.parquet").to_pandas()
    assert list(rec.recording_id) == ["r1", "r2", "r3"]
    assert rec.duration_s.tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert rec.sample_rate.tolist() == [16000] * 3
    assert rec.peak_dbfs.tolist() == pytest.approx([20 * np.log10(0.5)] * 3, abs=0.01)
    roles = read_table(result.stage_dir / "recording_speakers.parquet").to_pandas()
    assert set(zip(roles.speaker_id, roles.role)) >= {("I1", "interviewer"), ("S2", "interviewee")}
    spk = read_table(result.stage_dir / "speakers.parquet").to_pandas()
    assert spk.set_index("speaker_id").loc["S1", "age"] == "31"
    assert pd.isna(spk.set_index("speaker_id").loc["I1", "age"])  # empty survey cell -> missing


# (how to break the corpus, recording that fails, words the message must contain)
ROW_DEFECTS = {
    "missing audio": (lambda c: c.recordings[0].update(audio="audio/nope.wav"), "r1",
                      ["recordings.csv, line 2", "nope.wav", "not found", "check the path"]),
    "unreadable audio": (lambda c: (c.root / "audio/r2.wav").write_bytes(b"RIFF\x00\x01garbage" * 50), "r2",
                         ["line 3", "r2.wav", "cannot read audio", "ffmpeg"]),
    "empty audio": (lambda c: (c.root / "audio/r3.wav").write_bytes(b""), "r3",
                    ["line 4", "r3.wav", "empty (0 bytes)"]),
    "silent audio": (lambda c: sf.write(c.root / "audio/r1.wav", np.zeros(8000, np.float32), 16000), "r1",
                     ["line 2", "digital silence"]),
    "unsupported type": (lambda c: c.recordings[1].update(audio="audio/r2.m4a"), "r2",
                         ["line 3", "r2.m4a"]),
    "unknown language": (lambda c: c.recordings[1].update(language="de"), "r2",
                         ["recordings.csv, line 3", "unknown language 'de'", "voli supports en, es, fr"]),
    "speaker absent from speakers.csv": (lambda c: c.recordings[2].update(interviewee="S9"), "r3",
                                         ["line 4", "'S9' is not in speakers.csv", "add a row"]),
    "no interviewee": (lambda c: c.recordings[0].update(interviewee=""), "r1", ["line 2", "no interviewee"]),
    "channel map beyond a mono file": (lambda c: c.recordings[0].update(channels="1=I1;2=S1"), "r1",
                                       ["line 2", "channel", "has 1 channel", "fix the channels column"]),
    "six channels without a map": (lambda c: sf.write(c.root / "audio/r2.wav", np.tile(tone(300, 0.5)[:, None], 6), 16000), "r2",
                                   ["line 3", "6 channels and no channel map", "ffmpeg", "-ac 1"]),
    "channel map names a stranger": (lambda c: c.recordings[0].update(channels="1=I1;2=S3"), "r1",
                                     ["line 2", "'S3', who is not a speaker of this recording"]),
    "malformed channel map": (lambda c: c.recordings[0].update(channels="first=I1"), "r1", ["line 2", "'first'"]),
    "transcript missing": (lambda c: c.recordings[0].update(transcript="transcripts/x.txt"), "r1",
                           ["line 2", "x.txt not found"]),
}


@pytest.mark.parametrize("defect", list(ROW_DEFECTS))
def test_row_defect_fails_only_that_recording(tiny, tmp_path, defect):
    mutate, rid, words = ROW_DEFECTS[defect]
    if "transcript" in defect:
        for r in tiny.recordings:
            r["transcript"] = ""
    mutate(tiny)
    result = prepare(tiny.save(), tmp_path)
    assert [f.recording_id for f in result.failures] == [rid]
    message = failure_of(result, rid)
    for w in words:
        assert w in message, f"{w!r} not in {message!r}"
    failures = read_table(result.stage_dir / "failures.parquet").to_pandas()
    assert failures.recording_id.tolist() == [rid]
    done = read_table(result.stage_dir / "recordings.parquet").column("recording_id").to_pylist()
    assert rid not in done and len(done) == 2


def _dup_recording(c):
    c.recordings[2]["recording_id"] = "r1"


def _dup_speaker(c):
    c.speakers.append({"speaker_id": "S1", "gender": "", "age": ""})


def _missing_column(c):
    for r in c.recordings:
        r["audoi"] = r.pop("audio")


def _bad_id(c):
    c.recordings[1]["recording_id"] = "r 2/x"


# (how to break the corpus, words the message must contain)
TABLE_DEFECTS = {
    "duplicate recording_id": (_dup_recording, ["recordings.csv, line 4", "duplicate recording_id 'r1'", "first on line 2"]),
    "duplicate speaker_id": (_dup_speaker, ["speakers.csv, line 6", "duplicate speaker_id 'S1'", "first on line 3"]),
    "missing column": (_missing_column, ["recordings.csv, line 1", "required column 'audio' is missing", "'audoi'"]),
    "malformed recording_id": (_bad_id, ["line 3", "'r 2/x'", "rename it"]),
}


@pytest.mark.parametrize("defect", list(TABLE_DEFECTS))
def test_table_defect_stops_prepare(tiny, tmp_path, defect):
    mutate, words = TABLE_DEFECTS[defect]
    mutate(tiny)
    with pytest.raises(CorpusError) as err:
        prepare(tiny.save(), tmp_path)
    text = " ".join(err.value.problems)
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"


def test_non_utf8_csv_names_line_and_fix(tiny, tmp_path):
    tiny.speakers[2]["gender"] = "féminin"
    tiny.save()
    write_csv(tiny.root / "speakers.csv", tiny.speakers, encoding="latin-1")
    with pytest.raises(CorpusError, match=r"speakers.csv, line 4: .* not UTF-8 .*UTF-8"):
        prepare(tiny.root, tmp_path)


def test_missing_speakers_csv(tiny, tmp_path):
    tiny.save()
    (tiny.root / "speakers.csv").unlink()
    with pytest.raises(CorpusError, match="speakers.csv: file not found"):
        prepare(tiny.root, tmp_path)


def test_row_with_too_many_cells(tiny, tmp_path):
    tiny.save()
    with open(tiny.root / "recordings.csv", "a") as fh:
        fh.write("r4,audio/r1.wav,fr,I1,S1,,extra\n")
    with pytest.raises(CorpusError, match=r"line 5: 7 cells but the header has 6 columns"):
        prepare(tiny.root, tmp_path)


def test_semicolon_csv_and_language_tags_are_accepted(tiny, tmp_path):
    tiny.recordings[0]["language"] = "pt-BR"
    tiny.recordings[1]["language"] = "Español"
    tiny.recordings[2]["language"] = ""
    write_csv(tiny.root / "recordings.csv", tiny.recordings, delimiter=";")
    write_csv(tiny.root / "speakers.csv", tiny.speakers, delimiter=";")
    result = prepare(tiny.root, tmp_path)
    assert result.ok
    rec = read_table(result.stage_dir / "recordings.parquet").to_pandas()
    assert rec.language.tolist()[:2] == ["pt", "es"] and pd.isna(rec.language[2])


def test_stereo_channel_map(tiny, tmp_path):
    stereo = np.stack([tone(200, 0.5), tone(300, 0.5)], axis=1)
    sf.write(tiny.root / "audio/r1.wav", stereo, 16000)
    tiny.recordings[0]["channels"] = "left=I1; right=S1"
    result = prepare(tiny.save(), tmp_path)
    assert result.ok
    roles = read_table(result.stage_dir / "recording_speakers.parquet").to_pandas()
    r1 = roles[roles.recording_id == "r1"].set_index("speaker_id").channel
    assert r1.to_dict() == {"I1": 1, "S1": 2}


def test_user_transcripts_are_found_and_checked(tiny, tmp_path):
    from voli.io.textgrid import Interval, write_textgrid

    (tiny.root / "transcripts").mkdir()
    (tiny.root / "transcripts/r1.txt").write_text("bonjour, euh, je travaille le soir\n", encoding="utf-8")
    write_textgrid(tiny.root / "transcripts/r2.TextGrid", {"S2": [Interval(0.1, 0.4, "oui")]}, duration_s=0.5)
    write_textgrid(tiny.root / "transcripts/r3.TextGrid", {"S3": [Interval(0.1, 2.0, "non")]}, duration_s=2.0)
    result = prepare(tiny.save(), tmp_path)
    rec = read_table(result.stage_dir / "recordings.parquet").to_pandas().set_index("recording_id")
    assert rec.loc["r1", "transcript_format"] == "text"
    assert rec.loc["r2", "transcript_format"] == "textgrid"
    message = failure_of(result, "r3")
    assert "r3.TextGrid ends at 2.000 s but the audio lasts 0.500 s" in message


def test_elan_transcripts_are_found_and_checked(tiny, tmp_path):
    """transcripts/<rid>.eaf is found like a TextGrid; one that runs past its audio (0.5 s) fails
    its recording, naming the file, the tier, the time and the fix; a broken one names the file."""
    from voli.io.eaf import write_eaf
    from voli.io.textgrid import Interval

    (tiny.root / "transcripts").mkdir()
    write_eaf(tiny.root / "transcripts/r1.eaf", {"S1": [Interval(0.1, 0.4, "oui")]})
    write_eaf(tiny.root / "transcripts/r2.eaf", {"I1": [Interval(0.0, 0.2, "alors")], "S2": [Interval(0.3, 2.0, "non")]})
    (tiny.root / "transcripts/r3.eaf").write_text("<ANNOTATION_DOCUMENT>", encoding="utf-8")
    result = prepare(tiny.save(), tmp_path)
    rec = read_table(result.stage_dir / "recordings.parquet").to_pandas().set_index("recording_id")
    assert rec.loc["r1", "transcript_format"] == "eaf" and rec.loc["r1", "transcript_path"].endswith("transcripts/r1.eaf")
    assert ("r2.eaf has an annotation until 2.000 s (tier 'S2', 'non') but the audio lasts 0.500 s; "
            "was it made for another recording? Fix the annotation in ELAN") in failure_of(result, "r2")
    assert "r3.eaf: not a readable ELAN file (broken XML" in failure_of(result, "r3")


def test_malformed_textgrid(tiny, tmp_path):
    (tiny.root / "transcripts").mkdir()
    (tiny.root / "transcripts/r1.TextGrid").write_text('File type = "ooTextFile"\nObject class = "TextGrid"\nxmin = 0\nxmax = oops\n')
    result = prepare(tiny.save(), tmp_path)
    assert "r1.TextGrid: not a readable TextGrid" in failure_of(result, "r1")


def test_all_problems_reported_at_once(tiny, tmp_path):
    tiny.recordings[1]["language"] = "xx"
    tiny.recordings[2]["interviewee"] = "NOBODY"
    result = prepare(tiny.save(), tmp_path)
    assert sorted(f.recording_id for f in result.failures) == ["r2", "r3"]


def test_cli_prepare_prints_named_error_and_exits_nonzero(tiny, tmp_path, capsys):
    tiny.recordings[1]["language"] = "klingon"
    code = main(["prepare", str(tiny.save()), "--workdir", str(tmp_path / "exp"), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "recording r2 failed" in err and "unknown language 'klingon'" in err and "recordings.csv, line 3" in err


def test_cli_prepare_fatal_error_exits_2(tiny, tmp_path, capsys):
    _dup_recording(tiny)
    code = main(["prepare", str(tiny.save()), "--workdir", str(tmp_path / "exp"), "-q"])
    assert code == 2
    assert "duplicate recording_id 'r1'" in capsys.readouterr().err


def test_parsers():
    assert normalise_language("pt_BR") == "pt"
    assert normalise_language("FRENCH") == "fr"
    assert normalise_language(" ") is None
    with pytest.raises(ValueError, match="unknown language 'de'"):
        normalise_language("de")
    assert parse_channel_map("1=A; 2=B") == {"A": 1, "B": 2}
    assert parse_channel_map("R:B,L:A") == {"A": 1, "B": 2}
    with pytest.raises(ValueError, match="twice"):
        parse_channel_map("1=A;2=A")
    with pytest.raises(ValueError, match="not a channel number"):
        parse_channel_map("0=A")


def test_unusual_but_valid_audio_is_accepted_with_warnings(tiny, tmp_path, caplog):
    """Clipped, 8 kHz, 96 kHz, six-channel (with a map), MP3 and FLAC recordings all prepare; the
    clipped and the telephone-band ones are named in a warning that says what it costs and the fix."""
    clipped = np.clip(4 * tone(250, 1.0), -1, 1)  # a tone driven four times past full scale
    sf.write(tiny.root / "audio/r1.wav", clipped, 16000)
    sf.write(tiny.root / "audio/r2.wav", tone(300, 1.0, 8000), 8000)
    sf.write(tiny.root / "audio/r3.wav", tone(350, 1.0, 96000), 96000)
    six = np.zeros((16000, 6), np.float32)
    six[:, 0], six[:, 3] = tone(200, 1.0), tone(400, 1.0)
    sf.write(tiny.root / "audio/r4.flac", six, 16000)
    sf.write(tiny.root / "audio/r5.mp3", tone(220, 1.0, 44100), 44100)
    sf.write(tiny.root / "audio/r6.flac", tone(230, 1.0), 16000)
    base = tiny.recordings[0]
    tiny.recordings += [
        {**base, "recording_id": "r4", "audio": "audio/r4.flac", "interviewee": "S1", "channels": "1=I1;4=S1"},
        {**base, "recording_id": "r5", "audio": "audio/r5.mp3", "interviewee": "S2"},
        {**base, "recording_id": "r6", "audio": "audio/r6.flac", "interviewee": "S3"},
    ]
    with caplog.at_level("WARNING"):
        result = prepare(tiny.save(), tmp_path)
    assert result.ok and result.processed == 6
    rec = read_table(result.stage_dir / "recordings.parquet").to_pandas().set_index("recording_id")
    assert rec.sample_rate.to_dict() == {"r1": 16000, "r2": 8000, "r3": 96000, "r4": 16000, "r5": 44100, "r6": 16000}
    assert rec.channels["r4"] == 6 and rec.audio_format["r5"] == "MP3" and rec.audio_format["r6"] == "FLAC"
    assert rec.clipped_fraction["r1"] > 0.5 and rec.clipped_fraction["r6"] == 0
    assert rec.duration_s["r5"] == pytest.approx(1.0, abs=0.06)
    text = caplog.text
    assert "r1.wav is clipped" in text and "unclipped copy" in text
    assert "r2.wav is sampled at 8000 Hz" in text and "formants above 4000 Hz are missing" in text
    assert "r3.wav" not in text and "r6.flac" not in text  # 96 kHz and clean FLAC: nothing to say
    from voli.io import audio
    from test_audio import peak_hz

    assert peak_hz(audio.load(tiny.root / "audio/r3.wav", sample_rate=16000), 16000) == pytest.approx(350, abs=1)
    assert peak_hz(audio.load(tiny.root / "audio/r4.flac", sample_rate=16000, channel=4), 16000) == pytest.approx(400, abs=1)


def test_extra_csv_columns_are_named_and_ignored(tiny, tmp_path, caplog):
    for r in tiny.recordings:
        r["notes"] = "interviewed at home"
    with caplog.at_level("WARNING"):
        result = prepare(tiny.save(), tmp_path)
    assert result.ok
    assert "recordings.csv: ignoring column(s) ['notes']" in caplog.text


def test_recordings_may_list_one_speaker_per_row(tiny, tmp_path):
    """recordings.csv as many corpora arrive, a row per speaker (the recording's other cells repeated
    or left empty), prepares the same tables as a row per recording; disagreeing rows are named."""
    wide = prepare(tiny.save(), tmp_path / "wide")
    long_rows = []
    for r in tiny.recordings:
        for role in ("interviewer", "interviewee"):
            for k, sid in enumerate(x for x in r.get(role, "").split(";") if x):
                same = k == 0 and role == "interviewer"
                long_rows.append({"recording_id": r["recording_id"], "audio": r["audio"] if same else "",
                                  "language": r["language"], "speaker_id": sid, "role": role.capitalize()})
    write_csv(tiny.root / "recordings.csv", long_rows)
    long_ = prepare(tiny.root, tmp_path / "long")
    assert long_.ok and long_.processed == wide.processed == 3
    for table in ("recordings", "recording_speakers"):
        a = read_table(wide.stage_dir / f"{table}.parquet").to_pandas().sort_values(["recording_id"]).reset_index(drop=True)
        b = read_table(long_.stage_dir / f"{table}.parquet").to_pandas().sort_values(["recording_id"]).reset_index(drop=True)
        if table == "recording_speakers":
            a, b = (t.sort_values(["recording_id", "speaker_id"]).reset_index(drop=True) for t in (a, b))
        pd.testing.assert_frame_equal(a, b)
    long_rows[1]["language"] = "es"
    long_rows[2]["role"] = "host"
    write_csv(tiny.root / "recordings.csv", long_rows)
    with pytest.raises(CorpusError) as err:
        prepare(tiny.root, tmp_path / "bad")
    problems = " ".join(err.value.problems)
    assert "line 3 (recording r1): language is 'es' here but 'fr' on line 2" in problems
    assert "line 4" in problems and "role 'host'" in problems
