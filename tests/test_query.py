"""`voli query`: SQL over a work directory's tables (DuckDB views), its errors and its output."""

from __future__ import annotations

import pandas as pd
import pytest

from voli.cli import main
from voli.errors import VoliError
from voli.query import format_result, run_query, speaker_table
from voli.workdir import Workdir, rel


def make_workdir(root, *, features: bool = True, profile: bool = False):
    """A hand-made work directory: two speakers, five vowel tokens, two utterances."""
    w = root / "exp"
    Workdir(w).stage("prepare").mkdir(parents=True)
    Workdir(w).config("prepare").write_text("stage: prepare\ncorpus: /data/my_corpus\n")
    pd.DataFrame({"speaker_id": ["INT", "S1", "S2"], "gender": ["man", "woman", "man"], "age": [None, "34", "51"],
                  "education": [None, "master", "primary"]}).to_parquet(Workdir(w).table("prepare", "speakers"))
    pd.DataFrame({"recording_id": ["r1", "r1", "r2", "r2"], "speaker_id": ["INT", "S1", "INT", "S2"],
                  "role": ["interviewer", "interviewee", "interviewer", "interviewee"],
                  "channel": [None, None, None, None]}).to_parquet(Workdir(w).table("prepare", "recording_speakers"))
    Workdir(w).stage("align").mkdir()
    pd.DataFrame({"recording_id": ["r1", "r1", "r2"], "utterance_id": ["r1-000000", "r1-000000", "r2-000000"],
                  "speaker_id": ["S1", "S1", "S2"], "word_index": [0, 0, 0], "start": [0.1, 0.2, 0.3],
                  "end": [0.2, 0.3, 0.4], "phone": ["k", "e", "a"], "stress": [0, 1, 1],
                  "log_likelihood": [-40.0, -50.0, -45.0], "duration_z": [0.0, 0.1, 0.2]}
                 ).to_parquet(Workdir(w).table("align", "phones"))
    pd.DataFrame({"recording_id": ["r1", "r2"], "utterance_id": ["r1-000000", "r2-000000"], "speaker_id": ["S1", "S2"],
                  "start": [0.1, 0.3], "end": [0.3, 0.4], "word": ["que", "la"], "probability": [0.9, 0.8]}
                 ).to_parquet(Workdir(w).table("align", "words"))
    pd.DataFrame({"utterance_id": ["r1-000000", "r2-000000"], "recording_id": ["r1", "r2"], "speaker_id": ["S1", "S2"],
                  "start": [0.1, 0.3], "end": [0.3, 0.4], "n_words": [1, 1], "n_phones": [2, 1],
                  "log_likelihood": [-45.0, -45.0], "status": ["aligned", "unaligned"]}
                 ).to_parquet(Workdir(w).table("align", "utterances"))
    if features:
        Workdir(w).stage("features").mkdir()
        pd.DataFrame({"recording_id": ["r1", "r1", "r1", "r2", "r2"], "speaker_id": ["S1", "S1", "S1", "S2", "S2"],
                      "phone": ["e", "e", "a", "a", "e"], "previous_phone": ["k", "t", "k", "l", "k"],
                      "start": [0.2, 0.5, 0.9, 0.35, 1.2], "end": [0.3, 0.6, 1.0, 0.4, 1.3],
                      "f1_50_hz": [400.0, 420.0, 800.0, 700.0, 380.0], "f2_50_hz": [2100.0, 2000.0, 1500.0, 1300.0, 1900.0]}
                     ).to_parquet(Workdir(w).table("features", "vowels"))
        pd.DataFrame({"recording_id": ["r1", "r2"], "utterance_id": ["r1-000000", "r2-000000"], "speaker_id": ["S1", "S2"],
                      "start": [0.1, 0.3], "end": [0.3, 0.4], "speech_rate": [5.0, 4.0]}
                     ).to_parquet(Workdir(w).table("features", "prosody"))
    if profile:
        Workdir(w).stage("profile").mkdir()
        pd.DataFrame({"speaker_id": ["S1", "S2"], "role": ["interviewee"] * 2, "gender": ["woman", "man"],
                      "formant_scale_hz": [1000.0, 800.0]}).to_parquet(Workdir(w).table("profile", "speakers"))
    return w


def test_counts_per_phone(tmp_path):
    w = make_workdir(tmp_path)
    got = run_query(w, "select phone, count(*) as n from vowels group by phone order by phone")
    assert dict(zip(got.phone, got.n)) == {"a": 2, "e": 3}


def test_a_linguists_query_joins_survey_columns(tmp_path):
    """Every /e/ after /k/ said by a woman with a master's degree: only S1's first /e/."""
    w = make_workdir(tmp_path)
    got = run_query(w, """select v.recording_id, v.start from vowels v join speakers s using (speaker_id)
                          where v.phone = 'e' and v.previous_phone = 'k'
                          and s.gender = 'woman' and s.education = 'master'""")
    assert got.values.tolist() == [["r1", 0.2]]


def test_speakers_view(tmp_path):
    w = make_workdir(tmp_path, profile=True)
    speakers = speaker_table(w).set_index("speaker_id")
    assert pd.api.types.is_numeric_dtype(speakers["age"])  # every filled cell a number: typed as one
    assert speakers.loc["INT", "role"] == "interviewer" and speakers.loc["S1", "role"] == "interviewee"
    assert speakers.loc["S2", "formant_scale_hz"] == 800.0 and pd.isna(speakers.loc["INT", "formant_scale_hz"])
    got = run_query(w, "select speaker_id from speakers where age > 40")
    assert got.speaker_id.tolist() == ["S2"]


def test_utterances_view_carries_the_aligners_status(tmp_path):
    w = make_workdir(tmp_path)
    got = run_query(w, "select utterance_id, speech_rate, status from utterances order by utterance_id")
    assert got.values.tolist() == [["r1-000000", 5.0, "aligned"], ["r2-000000", 4.0, "unaligned"]]
    before = make_workdir(tmp_path / "b", features=False)  # before the features stage: the aligner's table
    assert run_query(before, "select count(*) from utterances").iloc[0, 0] == 2


def test_bad_sql_names_the_views_and_columns(tmp_path):
    w = make_workdir(tmp_path)
    with pytest.raises(VoliError) as err:
        run_query(w, "select f1 from vowels")
    message = str(err.value)
    assert '"f1"' in message and "vowels: recording_id, speaker_id, phone" in message
    assert "speakers: speaker_id, gender, age, education" in message and "phones:" in message


def test_a_missing_stage_says_what_to_run(tmp_path):
    w = make_workdir(tmp_path, features=False)
    with pytest.raises(VoliError, match=rf"vowels reads .*{rel('features', 'vowels.parquet')}.*`voli features /data/my_corpus --workdir"):
        run_query(w, "select * from vowels")
    with pytest.raises(VoliError, match="not a voli work directory"):
        run_query(tmp_path / "nowhere", "select 1")


def test_cli_prints_and_writes(tmp_path, capsys):
    w = make_workdir(tmp_path)
    assert main(["query", str(w), "select phone, count(*) as n from vowels group by phone order by phone"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[0].split() == ["phone", "n"] and lines[1].split() == ["a", "2"] and lines[2].split() == ["e", "3"]
    for name in ("out.csv", "out.parquet"):
        assert main(["query", str(w), "select * from vowels", "--out", str(tmp_path / name)]) == 0
        back = pd.read_csv(tmp_path / name) if name.endswith("csv") else pd.read_parquet(tmp_path / name)
        assert len(back) == 5 and back.f1_50_hz.tolist() == [400.0, 420.0, 800.0, 700.0, 380.0]
    assert main(["query", str(w), "select * from vowels", "--out", str(tmp_path / "out.txt")]) == 2
    assert "end the name in .csv or .parquet" in capsys.readouterr().err
    assert main(["query", str(w), "selec nothing"]) == 2
    assert "views in" in capsys.readouterr().err


def test_long_results_are_cut_with_a_note():
    frame = pd.DataFrame({"x": range(250)})
    text = format_result(frame)
    assert "50 more rows (250 in all)" in text and len(text.splitlines()) == 202


def test_exclusions_view(tmp_path):
    from voli.io.exclusions import add_exclusion

    w = make_workdir(tmp_path)
    assert run_query(w, "select count(*) from exclusions").iloc[0, 0] == 0
    add_exclusion(w, {"recording_id": "r1", "start": 0.5, "end": 0.6, "phone": "e", "reason": "creaky"})
    got = run_query(w, """select count(*) from vowels v anti join exclusions x
                          on v.recording_id = x.recording_id and round(v.start, 3) = round(x.start, 3) and v.phone = x.phone""")
    assert got.iloc[0, 0] == 4


@pytest.mark.slow
def test_counts_on_the_sample_equal_pandas(profiled, capsys):
    """`voli query WORK "select phone, count(*) from vowels group by phone"` on corpora_sample."""
    _, work, _ = profiled
    assert main(["query", str(work), "select phone, count(*) from vowels group by phone"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["phone", "count_star()"]
    printed = {line.split()[0]: int(line.split()[1]) for line in out[1:]}
    expected = pd.read_parquet(Workdir(work).table("features", "vowels")).phone.value_counts()
    assert printed == expected.to_dict() and len(printed) > 10


def test_query_types_the_survey_as_the_profile_does(tmp_path):
    """One survey typing (voli.io.survey): "NA" is missing, "12,500" twelve thousand five hundred,
    "3,5" three and a half, in `voli query` and `voli browse` as in the profile's statistics."""
    from voli.io.survey import attribute_types, survey_table

    w = make_workdir(tmp_path)
    raw = pd.DataFrame({"speaker_id": ["INT", "S1", "S2"], "gender": ["man", "woman", "NA"],
                        "income": ["NA", "12,500", "800"], "hours": ["", "3,5", "20"]})
    raw.to_parquet(Workdir(w).table("prepare", "speakers"))
    mine = speaker_table(w).set_index("speaker_id")
    profile = survey_table(tmp_path, raw, attribute_types(tmp_path, raw)).set_index("speaker_id")
    for column in ("income", "hours"):
        assert mine[column].fillna(-1).tolist() == profile[column].fillna(-1).tolist()
    assert mine.income.fillna(-1).tolist() == [-1, 12500.0, 800.0] and mine.hours.fillna(-1).tolist() == [-1, 3.5, 20.0]
    assert pd.isna(mine.loc["S2", "gender"]) and mine.loc["S1", "gender"] == "woman"
    assert run_query(w, "select speaker_id from speakers where income > 1000").speaker_id.tolist() == ["S1"]
