"""Evaluation metrics against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from voli.evaluate import boundary_errors, f0_errors, summarise_boundaries, wer
from voli.text import normalise_words
from voli.workdir import Workdir


def test_normalisation():
    assert normalise_words("¿Cuántas HORAS, trabaja-usted?") == ["cuántas", "horas", "trabaja", "usted"]
    assert normalise_words("J’annote l'image") == ["j'annote", "l'image"]
    assert normalise_words("Est-ce que, well- «trabaja-usted»?", keep_hyphens=True) == \
        ["est-ce", "que", "well", "trabaja-usted"]  # a hyphen inside a word stays, one at its edge goes


def test_wer_counts_each_error_kind():
    r = wer("je travaille le soir sur la plateforme", "je travaille soir sur une plateforme aussi")
    assert (r.words, r.substitutions, r.deletions, r.insertions) == (7, 1, 1, 1)
    assert r.wer == pytest.approx(3 / 7)


def test_fillers_are_scored_apart():
    assert wer("euh je travaille", "je travaille", fillers=("euh",)).wer == 0.0
    assert wer("euh je travaille", "je travaille").wer == pytest.approx(1 / 3)


def test_boundary_errors_align_labels():
    truth = [(0.0, 0.1, "k"), (0.1, 0.2, "a"), (0.2, 0.35, "s")]
    pred = [(0.005, 0.12, "k"), (0.12, 0.2, "a"), (0.21, 0.3, "x"), (0.3, 0.35, "s")]
    e = boundary_errors(truth, pred)
    assert sorted(np.round(e * 1000).tolist()) == sorted([5, 20, 20, 0, 100, 0])
    s = summarise_boundaries(e)
    assert s["n"] == 6 and s["within_20ms"] == pytest.approx(5 / 6) and s["median_ms"] == pytest.approx(12.5)


def test_transcription_boundaries_split_starts_from_ends():
    """Whisper's words against the truth: a word started 100 ms early counts in the starts only,
    case does not matter, an extra written word is left out, a language with no words is NaN."""
    import pandas as pd

    from voli.evaluate import transcription_boundaries

    truth = pd.DataFrame({"recording_id": ["a", "a", "b"], "language": ["fr", "fr", "es"],
                          "word": ["euh", "bonjour", "hola"], "start": [1.0, 1.5, 0.0], "end": [1.3, 2.0, 0.4]})
    said = pd.DataFrame({"recording_id": ["a", "a", "a"], "word": ["Euh", "bon", "Bonjour"],
                         "start": [0.9, 1.35, 1.5], "end": [1.3, 1.4, 2.02]})
    out = transcription_boundaries(truth, said).set_index("language")
    assert out.loc["fr", "words"] == 2
    assert out.loc["fr", "start_mean_ms"] == pytest.approx(50.0) and out.loc["fr", "end_mean_ms"] == pytest.approx(10.0)
    assert out.loc["es", "words"] == 0 and np.isnan(out.loc["es", "start_mean_ms"])


def test_f0_errors():
    t = np.arange(0, 1, 0.01)
    true = np.full(len(t), 200.0)
    true[:10] = np.nan
    measured = true * 2 ** (10 / 1200)  # 10 cents sharp
    measured[50] = 400.0  # one octave error
    r = f0_errors(t, true, t, measured)
    assert r["frames"] == 90
    assert r["gross_error_rate"] == pytest.approx(1 / 90)
    assert r["median_abs_cents"] == pytest.approx(10, abs=0.01)


def test_evaluate_workdir_reads_stage_outputs(tmp_path):
    """Stage outputs that equal the truth but for known changes give exactly those errors."""
    import shutil

    import pandas as pd

    from conftest import SAMPLE
    from voli.evaluate import evaluate_workdir

    truth = SAMPLE / "truth"
    words = pd.read_parquet(truth / "words.parquet")
    hyp = words.copy()
    first_es = hyp.index[(hyp.language == "es") & ~hyp.is_filler][0]
    hyp.loc[first_es, "word"] = "zzz"  # one substitution in Spanish
    Workdir(tmp_path).stage("transcribe").mkdir()
    hyp.to_parquet(Workdir(tmp_path).table("transcribe", "words"))
    Workdir(tmp_path).stage("align").mkdir()
    phones = pd.read_parquet(truth / "phones.parquet")
    shifted = phones.assign(start=phones.start + 0.015, end=phones.end + 0.015)  # every boundary 15 ms late
    shifted.to_parquet(Workdir(tmp_path).table("align", "phones"))
    shutil.copy(truth / "words.parquet", Workdir(tmp_path).table("align", "words"))
    results = evaluate_workdir(SAMPLE, tmp_path)
    wer_table = results["wer"].set_index("language")
    es_words = int((~words[words.language == "es"].is_filler).sum())
    assert wer_table.loc["es", "wer"] == pytest.approx(1 / es_words)
    assert (wer_table.drop("es").wer == 0).all()
    ph = results["phones_boundaries"]
    assert np.allclose(ph.mean_ms, 15.0) and (ph.within_10ms == 0).all() and (ph.within_20ms == 1).all()
    assert (results["words_boundaries"].mean_ms == 0).all()
    assert results["f0"].startswith("no F0 tracks")


def test_planted_effects_recovered_from_the_truth():
    """The oracle (truth-level) measures of corpora_sample show every planted effect with its sign."""
    from conftest import SAMPLE
    from voli.evaluate import evaluate_workdir

    effects = evaluate_workdir(SAMPLE, SAMPLE / "no-workdir")["effects_oracle"]
    print(effects.to_string())
    assert set(effects.measure) == {"speech_rate", "f0_range", "vocal_tract", "centralisation"}
    assert effects.same_sign.all()
    # with 8 speakers and between-speaker noise, each slope is seen within a factor of 2 of its
    # planted size; the README quotes F0 range: planted -0.006, recovered -0.007
    slopes = effects.set_index("measure").loc[["speech_rate", "f0_range", "centralisation"]]
    ratio = (slopes.recovered / slopes.planted).to_numpy()
    assert ((ratio > 0.5) & (ratio < 2)).all(), ratio
    # the men's vocal tract: planted x0.88 (an effect of 0.12), seen as x0.75 (0.25): the Kokoro voices
    # the men were given are lower still, which the pipeline test checks against this oracle
    tract = effects.set_index("measure").loc["vocal_tract"]
    assert 1 < (1 - tract.recovered) / (1 - tract.planted) < 2.5
    f0 = effects.set_index("measure").loc["f0_range"]
    assert f0.recovered == pytest.approx(-0.007, abs=0.0005)
    # the truth's tables are fixed, so the oracle is too: README +4.4 % speech rate, men x0.75
    assert slopes.loc["speech_rate", "recovered"] == pytest.approx(0.044, abs=0.001)
    assert tract.recovered == pytest.approx(0.75, abs=0.005)


def test_truth_phones_of_an_older_corpus_are_labelled_as_the_lexicon_labels_them(tmp_path):
    """pt truth simulated before the respelling (espeak-ng's æ and y) still meets the aligner's ɐ and ɪ."""
    import pandas as pd

    from voli.evaluate import truth_phones

    pd.DataFrame({"recording_id": ["pt_01", "fr_01"], "language": ["pt", "fr"], "word": ["casa", "tu"],
                  "start": [0.0, 0.0], "end": [0.3, 0.2]}).to_parquet(tmp_path / "words.parquet")
    pd.DataFrame({"recording_id": ["pt_01"] * 4 + ["fr_01"] * 2, "phone": ["k", "a", "z", "æ", "t", "y"],
                  "start": [0, .1, .2, .25, 0, .1], "end": [.1, .2, .25, .3, .1, .2]}).to_parquet(tmp_path / "phones.parquet")
    phones = truth_phones(tmp_path)
    assert list(phones.phone) == ["k", "a", "z", "ɐ", "t", "y"]  # French [y] stays
    assert list(phones.language) == ["pt"] * 4 + ["fr"] * 2


def test_who_speaks_is_scored_by_words_and_by_the_standard_diarization_error_rate():
    """Words are right when their speaker was talking at their middle (either one in overlap);
    pyannote.metrics' DER counts a mislabelled second exactly as confusion, with or without a collar."""
    import pandas as pd

    from voli.evaluate import diarization_error, speaker_attribution, turns_from_words

    truth = pd.DataFrame({"recording_id": "r", "speaker_id": ["A", "B", "A"], "start": [0.0, 4.0, 9.5],
                          "end": [4.5, 10.0, 12.0]})  # A and B overlap 4.0-4.5 and 9.5-10.0
    words = pd.DataFrame({"recording_id": "r", "speaker_id": ["A", "A", "B", "A", "B", "A"],
                          "start": [0.5, 4.1, 5.0, 7.0, 9.6, 11.0], "end": [1.0, 4.4, 6.0, 8.0, 9.9, 11.5],
                          "overlap": [False, True, False, False, False, False]})
    got = speaker_attribution(truth, words).iloc[0]
    assert got.words == 6 and got.speaker_accuracy == pytest.approx(5 / 6)  # the word at 7-8 s is B's
    assert got.overlap_words == 2 and got.flagged_overlap == 0.5 and got.false_overlap == 0.0
    turns = turns_from_words(words, max_gap_s=0.5)
    assert len(turns) == 6 and turns.speaker_id.tolist() == ["A", "A", "B", "A", "B", "A"]
    hyp = pd.DataFrame({"recording_id": "r", "speaker_id": ["x", "y", "x"], "start": [0.0, 4.0, 7.0],
                        "end": [4.0, 7.0, 12.0]})  # 7-10 s given to A's voice: 3 s of B confused
    der = diarization_error(truth.iloc[:2].assign(end=[4.0, 10.0]).pipe(
        lambda t: pd.concat([t, pd.DataFrame({"recording_id": ["r"], "speaker_id": ["A"], "start": [10.0], "end": [12.0]})])),
        hyp).iloc[0]
    assert der.confusion == pytest.approx(3 / 12) and der.missed == 0 and der.false_alarm == 0
    assert der.der == pytest.approx(0.25)
    # pyannote's collar is its total width: 0.125 s each side of the reference's 3 boundaries are not scored
    assert der.der_collar == pytest.approx((3 - 0.125) / (12 - 3 * 0.25))
