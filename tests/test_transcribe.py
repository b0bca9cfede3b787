"""Transcription: windows, numbers, fillers, questions; the stage on corpora_sample."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import SAMPLE
from voli.asr.roles import looks_like_question
from voli.asr.transcribe import _expand_number
from voli.text import is_filler
from voli.asr.vad import Region, windows
from voli.workdir import Workdir


def test_windows_join_regions_up_to_30_s_and_cut_long_ones():
    regions = [Region(0, 10), Region(11, 20), Region(21, 29), Region(30, 35), Region(40, 41), Region(45, 110)]
    w = windows(regions, max_s=30)
    # pauses of up to 2 s stay in a window; longer ones are left out of its audio
    assert [[(p.start, p.end) for p in x.pieces] for x in w] == [
        [(0, 29)], [(30, 35), (40, 41)], [(45, 75)], [(75, 105)], [(105, 110)]]
    assert all(x.duration <= 30 for x in w)


def test_a_short_answer_after_a_long_silence_is_heard_with_the_speech_around_it():
    """20 s of silence between a 1 s answer and the next sentence are left out of the window
    (0.4 s of padding kept on each side, never past the middle of a pause); words come back at
    their times in the recording, each in the piece that holds its middle."""
    regions = [Region(29.9, 31.0), Region(50.8, 53.8), Region(54.5, 56.0)]
    w, = windows(regions, max_s=30, pad_s=0.4, duration_s=60.0)
    assert [(p.start, p.end) for p in w.pieces] == [(29.5, 31.4), (50.4, 56.4)]
    assert w.duration == pytest.approx(7.9)
    assert w.from_recording(Region(50.8, 53.8)) == [pytest.approx((2.3, 5.3))]
    assert w.to_recording(0.5) == pytest.approx(30.0) and w.to_recording(2.3) == pytest.approx(50.8)
    assert w.to_recording(2.0, piece=0) == pytest.approx(31.4)  # clamped to its piece
    audio = w.audio(lambda s, e: np.arange(int(round(s * 10)), int(round(e * 10))))  # 10 samples a second
    assert len(audio) == 79 and audio[18] == 313 and audio[19] == 504


def test_speech_without_a_pause_is_cut_at_its_quietest_point():
    """A 70 s region (no pause Silero would see) is cut where the audio is quietest, between 15 and
    30 s into what is left; the pieces cover the region exactly."""
    from voli.asr.vad import split_long

    rng = np.random.default_rng(0)
    audio = rng.standard_normal(70 * 16000).astype(np.float32)
    for dip, gain in ((24.0, 0.1), (41.5, 0.1), (52.0, 0.03)):  # 60 ms, 20-30 dB quieter: between two words
        audio[int((dip - 0.03) * 16000): int((dip + 0.03) * 16000)] *= gain
    pieces = split_long([Region(0.0, 70.0)], lambda s, e: audio[int(s * 16000): int(e * 16000)], max_s=30)
    cuts = [p.end for p in pieces[:-1]]
    assert cuts == pytest.approx([24.0, 52.0], abs=0.05)  # from 24, 52 is quieter than 41.5
    assert pieces[0].start == 0.0 and pieces[-1].end == 70.0
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
    assert all(p.end - p.start <= 30 for p in pieces)


def test_vad_keeps_its_frame_probabilities_and_finds_silero_regions():
    """speech_regions computes Silero's probabilities itself (to keep them for the word starts):
    one per 32 ms frame of the stream, and the regions silero_vad.get_speech_timestamps finds on
    the same real speech (the five Italian prompts of tests/data, 1 s apart), joined where they
    are under 0.3 s apart as before."""
    import torch
    from silero_vad import get_speech_timestamps

    from voli.asr import vad
    from voli.io import audio

    pause = np.zeros(16000, np.float32)
    x = np.concatenate([piece for p in sorted((Path(__file__).parent / "data" / "asterisk_it").glob("*.flac"))
                        for piece in (audio.load(p), pause)])
    frames: list[float] = []
    regions = vad.speech_regions([x[:100_000], x[100_000:]], frames=frames)
    assert len(frames) == -(-len(x) // vad.FRAME) and 0 <= min(frames) and max(frames) <= 1
    theirs = get_speech_timestamps(torch.from_numpy(x), vad._load(), threshold=0.5, min_silence_duration_ms=300,
                                   speech_pad_ms=100)
    theirs = vad._merge_touching([Region(t["start"] / 16000, t["end"] / 16000) for t in theirs], gap_s=0.3)
    assert len(regions) >= 5 and regions == theirs


def test_a_word_start_that_whisper_put_in_a_pause_moves_past_it():
    """Whisper's timing starts a word after a pause inside the pause: the start moves to 30 ms
    before the VAD's next speech frame. A stop's closure (64 ms) is no pause, a word with speech
    before the pause keeps its start, and ends are never moved."""
    from voli.asr.vad import FRAME_S, ONSET_S, onset_after_pause

    probs = np.array([1.0] * 20 + [0.02] * 10 + [1.0] * 20 + [0.1] * 2 + [1.0] * 20)  # pause at frames 20-29
    pause_start, pause_end = 20 * FRAME_S, 30 * FRAME_S
    # the word "starts" 60 ms before the pause (the tail of the word before it) and runs past it
    moved = onset_after_pause(pause_start - 0.06, pause_end + 0.2, probs)
    assert moved == pytest.approx(pause_end - ONSET_S)
    assert onset_after_pause(pause_start + 0.1, pause_end + 0.2, probs) == pytest.approx(pause_end - ONSET_S)
    # 0.3 s of speech before the pause: the word holds it (a pause inside a word, or after it)
    assert onset_after_pause(pause_start - 0.3, pause_end + 0.2, probs) == pause_start - 0.3
    # a 64 ms dip (frames 50-51) is a closure, not a pause
    assert onset_after_pause(50 * FRAME_S - 0.02, 60 * FRAME_S, probs) == 50 * FRAME_S - 0.02
    # a word that ends inside the pause keeps its start (nothing of it would be left)
    assert onset_after_pause(pause_start - 0.06, pause_end - 0.05, probs) == pause_start - 0.06


def test_numbers_are_spoken_in_the_recording_language():
    assert _expand_number("100", "pt") == ["cem"]
    assert _expand_number("200", "fr") == ["deux", "cents"]
    assert _expand_number("30", "es") == ["treinta"]
    assert _expand_number("21", "en") == ["twenty", "one"]
    assert _expand_number("plataforma", "es") == ["plataforma"]
    # decimals, thousands and percentages as each language writes and reads them
    assert _expand_number("3,5", "fr") == ["trois", "virgule", "cinq"]
    assert _expand_number("1.5", "en") == ["one", "point", "five"]
    assert _expand_number("2.000", "es") == ["dos", "mil"]
    assert _expand_number("10%", "pt") == ["dez", "por", "cento"]
    assert _expand_number("25,", "fr") == ["vingt", "cinq"]  # Whisper's punctuation is not a decimal mark
    assert _expand_number("(25)", "fr") == ["vingt", "cinq"]
    assert _expand_number("3,50", "fr") == ["trois", "virgule", "cinquante"]  # a price, not 3.5
    assert _expand_number("3,05", "fr") == ["trois", "virgule", "zéro", "cinq"]
    assert _expand_number("1.50", "en") == ["one", "point", "five", "zero"]


def test_language_detection_keeps_to_voli_languages():
    """Whisper may prefer a language voli cannot align (Galician for Brazilian Portuguese): the
    most probable of voli's languages is taken."""
    from voli.asr.decoding import _most_probable

    assert _most_probable({"gl": 0.5, "pt": 0.3, "es": 0.15, "en": 0.05}) == "pt"


def test_fillers_and_questions():
    assert is_filler("Euh,", "fr") and is_filler("um", "en") and is_filler("É", "pt")
    assert not is_filler("este", "es") and not is_filler("euh", "en")
    assert looks_like_question("Cuantas horas trabaja cada día en la plataforma.", "es")
    assert looks_like_question("Um, how did you start?", "en")
    assert not looks_like_question("Sí, me pagan en dólares.", "es")
    # a hyphenated cue is one word: fr "est-ce" (never matched while hyphens split words)
    assert looks_like_question("Est-ce que vous travaillez le soir.", "fr")
    assert looks_like_question("Euh, qu'est-ce que vous faites.", "fr")


# WER per language on corpora_sample (Whisper base, CPU). This stage (voli evaluate) on an AVX-512
# EPYC with voli's AVX2 pins: en 1.6 %, es 3.5 %, fr 11.6 %, pt 5.7 % (fr 17.1 % before split words
# such as d'autres were rejoined); before that join, without the pins es 4.4 %, fr 17.8 %, pt 8.1 %,
# and on a real AVX2-only EPYC fr 21.7 % (issue #14). The raw windows of
# bench/cpu_paths.py (mixed channels, numbers as Whisper writes them), pinned: en 1.6, es 3.5,
# fr 17.1, pt 6.5 %; under an emulated AVX2-only EPYC (qemu-x86_64 -cpu EPYC-Rome-v2): en 1.6,
# es 5.3, fr 24.0, pt 6.5 %. The limits hold all of these.
SAMPLE_WER_LIMITS = {"en": 0.04, "es": 0.08, "fr": 0.27, "pt": 0.11}


@pytest.mark.slow
def test_transcripts_hold_the_spoken_words(transcribed):
    from voli.evaluate import evaluate_workdir

    code, exp, corpus = transcribed
    result = evaluate_workdir(corpus, exp)
    per_language = result["wer"].set_index("language")
    print(per_language.to_string())
    for lang, limit in SAMPLE_WER_LIMITS.items():
        assert per_language.loc[lang, "wer"] <= limit, (lang, per_language.loc[lang, "wer"])
    words = pd.read_parquet(Workdir(exp).table("transcribe", "words"))
    # filled pauses are kept and marked: most of those spoken are written, and those written were spoken
    fillers = result["fillers"]
    print(fillers.to_string())
    spoken, written = fillers.spoken.sum(), fillers.written.sum()
    recall = (fillers.recall * fillers.spoken).sum() / spoken
    precision = (fillers.precision * fillers.written).sum() / written
    print(f"filled pauses: {recall:.0%} of {spoken} spoken are written; {precision:.0%} of {written} written are real")
    # measured 75 % of 20 and 100 % of 16 (README); two fillers fewer or two more that were not said pass
    assert recall >= 0.65 and precision >= 0.85
    # Whisper's word starts, a start put inside a pause moved past it (vad.onset_after_pause):
    # measured en 62.3, es 59.4, fr 58.5, pt 80.7 ms (70.6, 67.9, 69.4, 96.5 before); the figure + 8 ms
    starts = result["transcription_boundaries"].set_index("language").start_mean_ms
    print(result["transcription_boundaries"].to_string())
    for lang, limit in {"en": 70, "es": 68, "fr": 67, "pt": 89}.items():
        assert starts[lang] <= limit, (lang, starts[lang])
    assert set(words[words.recording_id == "es_02"].language) == {"es"}  # detected
    assert code == 1  # the noise-only file failed, the others finished
    failures = pd.read_parquet(Workdir(exp).table("transcribe", "failures"))
    assert failures.recording_id.tolist() == ["noise"] and "no speech found" in failures.message[0]


@pytest.mark.slow
def test_words_are_given_to_the_right_speaker(transcribed):
    _, exp, _ = transcribed
    words = pd.read_parquet(Workdir(exp).table("transcribe", "words"))
    truth = pd.read_parquet(SAMPLE / "truth/words.parquet")
    from voli.evaluate import speaker_attribution

    accuracy = speaker_attribution(truth, words).set_index("recording_id").speaker_accuracy
    print(accuracy.to_string())
    # en_02 by channel, the others mono by voice and turns; en_01's two voices are nearly alike
    assert (accuracy >= 0.97).all()
    assert words.speaker_confidence.between(0, 1).all() and words.overlap.dtype == bool
    summary = pd.read_parquet(Workdir(exp).table("transcribe", "speaker_summary")).set_index("recording_id")
    print(summary.to_string())
    assert summary.loc["en_02", "method"] == "channels" and summary.loc["fr_01", "speakers"] == 2
    assert (summary.drop(index="en_02").separation > 0).all()
    roles = words.groupby("speaker_id").role.first().to_dict()
    assert roles["INT_EN"] == "interviewer" and roles["EN02"] == "interviewee"


@pytest.mark.slow
@pytest.mark.needs("praat")
def test_transcript_textgrid_opens_in_praat(transcribed):
    _, exp, _ = transcribed
    path = Workdir(exp).textgrid("transcribe", "en_02")
    script = Path(__file__).parent / "praat" / "count_tiers.praat"
    out = subprocess.run(["praat", "--run", str(script), str(path)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert set(out[1:5]) == {"EN02 - utterances", "EN02 - words", "INT_EN - utterances", "INT_EN - words"}


@pytest.mark.slow
def test_real_speech_librivox_sonnet(tmp_path):
    """Real recorded English (LibriVox, Sonnet 1): the words are heard, each where its line is read."""
    from voli.cli import main
    from voli.evaluate import wer
    from voli.text import normalise_words

    data = Path(__file__).parent / "data" / "librivox_sonnet1"
    corpus = tmp_path / "corpus"
    (corpus / "audio").mkdir(parents=True)
    shutil.copy(data / "sonnet1.mp3", corpus / "audio")
    (corpus / "recordings.csv").write_text("recording_id,audio,language,interviewee\nsonnet1,audio/sonnet1.mp3,en,READER\n")
    (corpus / "speakers.csv").write_text("speaker_id\nREADER\n")
    assert main(["run", str(corpus), "--workdir", str(tmp_path / "exp"), "--stop-stage", "transcribe", "-q", "--device", "cpu"]) == 0
    words = pd.read_parquet(Workdir(tmp_path / "exp").table("transcribe", "words")).sort_values("start")
    text = (data / "sonnet1.txt").read_text().split("\n", 1)[1]  # the first line is the number "1"
    r = wer(text, list(words.word))
    print(f"LibriVox Sonnet 1: WER {r.wer:.1%} over {r.words} words (S={r.substitutions} D={r.deletions} I={r.insertions})")
    assert r.wer <= 0.13  # README: 8.4 % (9 of 107 words); 9.3 % before the window change; 14 errors fail
    heard = " ".join(normalise_words(" ".join(words.word)))
    for phrase in ("fairest creatures", "should by time", "bright eyes", "glutton"):
        assert phrase in heard
    lines = pd.read_csv(data / "sonnet1_lines.csv", header=None, names=["id", "start", "end", "text"])
    placed = 0
    for line in lines.iloc[1:].itertuples():  # the first "line" is the sonnet's number
        first_two = set(normalise_words(line.text)[:2])
        near = words[(words.start >= line.start - 0.5) & (words.start <= line.end + 0.5)]
        placed += bool(first_two & set(normalise_words(" ".join(near.word))))
    print(f"{placed} of {len(lines) - 1} lines found within their line's time span")
    assert placed >= len(lines) - 2  # spelling differences aside ("thyself" for "thy self")


@pytest.mark.slow
def test_user_transcripts_win(tmp_path):
    """A user's .txt keeps its words (typos and all); a user's TextGrid also keeps its speakers."""
    from voli.cli import main
    from voli.io.textgrid import Interval, write_textgrid

    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    rec = pd.read_csv(corpus / "recordings.csv", keep_default_na=False)
    rec[rec.recording_id.isin(["pt_02", "en_01"])].to_csv(corpus / "recordings.csv", index=False)
    truth = pd.read_parquet(SAMPLE / "truth/words.parquet")
    (corpus / "transcripts").mkdir()
    pt = truth[truth.recording_id == "pt_02"].sort_values("start")
    user_words = list(pt.word)
    user_words[3] = "pesoas"  # the user's own spelling must survive
    (corpus / "transcripts/pt_02.txt").write_text(" ".join(user_words), encoding="utf-8")
    en = truth[truth.recording_id == "en_01"]
    utts = en.groupby("utterance_id").agg(start=("start", "min"), end=("end", "max"), speaker=("speaker_id", "first"),
                                           text=("word", " ".join))
    tiers = {}
    for u in utts.itertuples():  # the user's turns, a little wider than the speech
        tiers.setdefault(f"{u.speaker} - utterances", []).append(Interval(u.start - 0.05, u.end + 0.05, u.text))
    write_textgrid(corpus / "transcripts/en_01.TextGrid", tiers, duration_s=pd.read_parquet(SAMPLE / "truth/phones.parquet").query("recording_id == 'en_01'").end.max() + 1)
    assert main(["run", str(corpus), "--workdir", str(tmp_path / "exp"), "--stop-stage", "transcribe", "-q", "--device", "cpu"]) == 0
    words = pd.read_parquet(Workdir(tmp_path / "exp").table("transcribe", "words"))
    got_pt = words[words.recording_id == "pt_02"].sort_values("start")
    assert list(got_pt.word) == user_words
    assert (got_pt.end > got_pt.start).all()
    got_en = words[words.recording_id == "en_01"].sort_values("start")
    assert list(got_en.word) == list(en.sort_values("start").word)
    assert list(got_en.speaker_id) == list(en.sort_values("start").speaker_id)  # speakers from the tiers
    starts = np.abs(got_en.start.to_numpy() - en.sort_values("start").start.to_numpy())
    print(f"user words timed by Whisper: median start error {np.median(starts) * 1000:.0f} ms")
    assert np.median(starts) < 0.15


@pytest.mark.slow
def test_enrolment_clips_decide_who_is_who(tmp_path):
    """A mono interview with two similar voices: with enrolment clips (speakers.csv `enrolment`)
    each word goes to the closest enrolled voice; swapping the clips swaps the speakers, so the
    clips decide."""
    from voli.cli import main
    from voli.evaluate import speaker_attribution
    from voli.io import audio

    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    rec = pd.read_csv(corpus / "recordings.csv", keep_default_na=False)
    rec[rec.recording_id == "en_01"].to_csv(corpus / "recordings.csv", index=False)
    truth = pd.read_parquet(SAMPLE / "truth/words.parquet")
    (corpus / "enrol").mkdir()
    x = audio.load(corpus / "audio/en_02.flac", sample_rate=16000, channel=1)  # the interviewer, in another interview
    turn = truth[(truth.recording_id == "en_02") & (truth.speaker_id == "INT_EN")].groupby("utterance_id")
    a, b = turn.start.min().iloc[0], turn.end.max().iloc[0]
    sf.write(corpus / "enrol/INT_EN.wav", x[int(a * 16000): int(b * 16000)], 16000)
    y = audio.load(corpus / "audio/en_01.flac", sample_rate=16000)  # the interviewee's longest turn
    turns = truth[(truth.recording_id == "en_01") & (truth.speaker_id == "EN01")].groupby("utterance_id")
    longest = (turns.end.max() - turns.start.min()).idxmax()
    sf.write(corpus / "enrol/EN01.wav", y[int(turns.start.min()[longest] * 16000): int(turns.end.max()[longest] * 16000)], 16000)
    speakers = pd.read_csv(corpus / "speakers.csv", keep_default_na=False)
    results = {}
    for name, clips in (("none", {}), ("right", {"INT_EN": "enrol/INT_EN.wav", "EN01": "enrol/EN01.wav"}),
                        ("swapped", {"INT_EN": "enrol/EN01.wav", "EN01": "enrol/INT_EN.wav"})):
        speakers["enrolment"] = speakers.speaker_id.map(clips).astype(object).fillna("")
        speakers.to_csv(corpus / "speakers.csv", index=False)
        exp = tmp_path / name
        assert main(["run", str(corpus), "--workdir", str(exp), "--stop-stage", "transcribe", "-q", "--device", "cpu"]) == 0
        words = pd.read_parquet(Workdir(exp).table("transcribe", "words"))
        results[name] = speaker_attribution(truth, words).set_index("recording_id").speaker_accuracy["en_01"]
    print(results)
    assert results["right"] >= 0.9 and results["swapped"] <= 0.1


def test_missing_enrolment_clip_is_named(tiny):
    from voli.corpus import read_speakers
    from voli.errors import CorpusError

    tiny.speakers[1]["enrolment"] = "enrol/S1.wav"
    for s in tiny.speakers:
        s.setdefault("enrolment", "")
    root = tiny.save()
    with pytest.raises(CorpusError) as err:
        read_speakers(root)
    assert "line 3" in str(err.value) and "enrol/S1.wav" in str(err.value) and "S1" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("backend,batch", [("openai-whisper", 8), ("faster-whisper", 8), ("faster-whisper", 1)])
def test_each_backend_transcribes_the_words(backend, batch):
    """The GPU path (openai-whisper; greedy here, as its beams go one window at a time on a CPU)
    and the CPU default (faster-whisper int8, beam 5), windows batched or one at a time, on the
    same recording."""
    from voli import languages
    from voli.asr.transcribe import transcribe_recording
    from voli.config import AsrConfig
    from voli.evaluate import wer
    from voli.io.audio import probe
    from voli.schema import Recording, RecordingSpeaker

    path = SAMPLE / "audio/es_01.flac"
    info = probe(path)
    rec = Recording("es_01", str(path), info.format, "es", info.sample_rate, info.channels, info.n_frames,
                    info.duration_s, 0.0, 0.0, 0.0, "", None, None)
    speakers = [RecordingSpeaker("es_01", "INT_ES", "interviewer", None), RecordingSpeaker("es_01", "ES01", "interviewee", None)]
    config = AsrConfig(backend=backend, batch_size=batch, beam_size=1 if backend == "openai-whisper" else 5)
    words = transcribe_recording(rec, speakers, config, "cpu")["words"].to_pandas()
    truth = pd.read_parquet(SAMPLE / "truth/words.parquet")
    ref = truth[truth.recording_id == "es_01"].sort_values("start")
    r = wer(list(ref.word), list(words.sort_values("start").word), fillers=languages.get("es").fillers)
    from voli.evaluate import speaker_attribution

    right = speaker_attribution(truth, words.assign(recording_id="es_01")).speaker_accuracy.iloc[0]
    print(f"{backend}, batch {batch}: WER {r.wer:.1%}, {right:.0%} of words to the right speaker")
    assert r.wer <= 0.12  # measured 3.5-5.3 % across the backends
    assert right >= 0.95


def test_the_decoding_rule():
    """One rule for every engine: a loop or a guess is decoded again, silence is not; when every
    step fails, the most probable attempt that is not a loop is kept."""
    from voli.asr.decoding import Attempt, choose, is_silence, needs_fallback
    from voli.config import AsrConfig

    config = AsrConfig()
    fine = Attempt([1, 2, 3], "from fairest creatures we desire increase", -0.3, 0.01, 0.0)
    loop = Attempt([1] * 90, "from fairest creatures " * 30, -0.1, 0.01, 0.0)
    guess = Attempt([1, 2], "thereby beauties", -1.4, 0.1, 0.2)
    silence = Attempt([1], "you", -1.4, 0.9, 0.0)
    assert needs_fallback(fine, config) is None
    assert needs_fallback(loop, config) == "loop" and loop.compression_ratio > config.compression_ratio_max
    assert needs_fallback(guess, config) == "guess"
    assert needs_fallback(silence, config) is None and is_silence(silence, config)
    assert choose([loop, guess], config) is guess  # every step failed: the best that is no loop
    assert choose([loop, fine], config) is fine
    stray = Attempt([1], "schedtes", -0.5, 0.1, 1.0)
    assert needs_fallback(stray, config, speech_s=25.0) == "too few words"  # one word for 25 s of speech
    # Russian that repeats a phrase, as the Asterisk prompts do, is no loop (whisper.transcribe's
    # UTF-8 ratio is 2.65 for it: two bytes a Cyrillic letter)
    russian = Attempt([1] * 60, "Этот оператор уже зарегистрирован. Введите номер оператора и нажмите решетку. "
                      "Ошибка регистрации. Введите номер оператора и нажмите решетку. Регистрация оператора "
                      "удалена. Оператор зарегистрирован. Наберите новый номер и нажмите решётку.", -0.2, 0.01, 0.0)
    assert needs_fallback(russian, config, speech_s=20.0) is None
    with pytest.raises(Exception, match="temperatures"):
        AsrConfig(temperatures=(0.2, 0.0))


def _sonnet_lines(first: int, last: int) -> tuple[np.ndarray, str]:
    from voli.io.audio import load

    data = Path(__file__).parent / "data" / "librivox_sonnet1"
    lines = pd.read_csv(data / "sonnet1_lines.csv", header=None, names=["id", "start", "end", "text"])
    audio = load(data / "sonnet1.mp3")
    return (audio[int(16000 * lines.start[first]): int(16000 * lines.end[last])],
            " ".join(lines.text[first: last + 1]))  # the line times are tight


@pytest.mark.slow
def test_a_looping_window_is_decoded_again_from_the_same_encoder_output():
    """faster-whisper (the CPU path): two windows decoded together, each encoded once; the first
    window's beam search after the filler prompt gives a repetition loop, so that window alone is
    decoded again without the prompt, from the encoder output already computed, and its words come
    from there."""
    from types import SimpleNamespace

    from voli import languages
    from voli.asr.decoding import decode_windows
    from voli.asr.models import load_faster_whisper
    from voli.config import AsrConfig
    from voli.evaluate import wer

    model = load_faster_whisper("base")
    first, first_text = _sonnet_lines(1, 3)
    second, second_text = _sonnet_lines(5, 7)
    encoded, real_encode = [], model.encode
    model.encode = lambda features: (encoded.append(len(features)), real_encode(features))[1]
    real, steps = model.model, []

    class Engine:  # CTranslate2's Whisper, with the first window of the first step turned into a loop
        def __getattr__(self, name):
            return getattr(real, name)

        def generate(self, features, prompts, **options):
            results = real.generate(features, prompts, **options)
            steps.append((options.get("sampling_temperature", 0.0), len(prompts), len(prompts[0])))
            if len(steps) == 1:
                loop = model.hf_tokenizer.encode(" from fairest creatures" * 40).ids[:200]
                results[0] = SimpleNamespace(sequences_ids=[loop], scores=[-0.05], no_speech_prob=0.01)
            return results

    model.model = Engine()
    words, language = decode_windows(model, [first, second], "en", AsrConfig())
    assert encoded == [2]  # one encoder call, for both windows, whatever was decoded again
    assert steps[0][:2] == (0.0, 2) and steps[1][:2] == (0.0, 1)  # only the looping window is decoded again
    assert steps[1][2] < steps[0][2]  # ... without the filler prompt
    fillers = languages.get("en").fillers
    print(" ".join(w["word"] for w in words[0]))
    assert len(words[0]) < 40 and wer(first_text.split(), [w["word"] for w in words[0]], fillers=fillers).wer < 0.2
    assert wer(second_text.split(), [w["word"] for w in words[1]], fillers=fillers).wer < 0.2


@pytest.mark.slow
def test_a_decoding_that_stops_early_goes_on_from_its_last_timestamp():
    """Sonnet 1's first three lines: with the filler prompt, Whisper base stops after "never die,
    but" and leaves the third line (measured on an AVX-512 Xeon and an AVX2 EPYC); decoding goes on
    from the last timestamp over the same encoder output, so the third line is there, "but" is
    written once, and the audio was encoded once."""
    from voli.asr.decoding import decode_windows
    from voli.asr.models import load_faster_whisper
    from voli.config import AsrConfig

    model = load_faster_whisper("base")
    audio, _ = _sonnet_lines(1, 3)
    encoded, real_encode = [], model.encode
    model.encode = lambda features: (encoded.append(len(features)), real_encode(features))[1]
    words, _ = decode_windows(model, [audio], "en", AsrConfig())
    heard = [w["word"].strip(" ,.").lower() for w in words[0]]
    assert {"riper", "should", "time"} <= set(heard)
    assert heard.count("but") == 1 and encoded == [1]
    assert all(a["end"] <= b["start"] + 0.5 for a, b in zip(words[0], words[0][1:]))  # in time order


@pytest.mark.slow
def test_the_torch_path_reads_the_encoder_output_once():
    """openai-whisper (the GPU path, here on the CPU): the windows are embedded once; the fallback
    steps (the filler prompt, no prompt, then sampling at 0.2 when greedy decoding loops) and the
    word times read that embedding."""
    import dataclasses

    import whisper

    from voli import languages
    from voli.asr.decoding import decode_windows
    from voli.asr.models import load_whisper
    from voli.config import AsrConfig
    from voli.evaluate import wer

    model = load_whisper("base")
    first, first_text = _sonnet_lines(1, 3)
    embedded, real_embed = [], model.embed_audio
    model.embed_audio = lambda mel: (embedded.append(len(mel)), real_embed(mel))[1]
    real_encoder_forward, calls = model.encoder.forward, []
    model.encoder.forward = lambda x: (calls.append(1), real_encoder_forward(x))[1]
    real_decode, temperatures, prompts = whisper.decode, [], []

    def decode(m, features, options):
        results = real_decode(m, features, options)
        temperatures.append(options.temperature)
        prompts.append(options.prompt)
        if options.temperature == 0.0 and options.prefix is None:  # the greedy results are loops
            loop = " from fairest creatures" * 30
            results = [dataclasses.replace(r, text=loop, tokens=r.tokens * 8) for r in results]
        return results

    whisper.decode = decode
    try:
        words, _ = decode_windows(model, [first], "en", AsrConfig(beam_size=1, best_of=2))
    finally:
        whisper.decode = real_decode
    assert embedded == [1] and len(calls) == 1  # the encoder ran once, in the embedding
    assert temperatures[:3] == [0.0, 0.0, 0.2]  # filler prompt, no prompt, then sampling
    assert prompts[0] == languages.get("en").filler_prompt and prompts[1] is None
    assert wer(first_text.split(), [w["word"] for w in words[0]], fillers=languages.get("en").fillers).wer < 0.2


def test_speaker_encoder_mel_is_librosas_without_importing_it():
    """The voice encoder's input (GE2E was trained on librosa's power mel spectrogram) is computed
    in numpy: equal to librosa.feature.melspectrogram to 1e-5 of its peak, lengths under one
    window and over a minute included, and a 440 Hz tone lands in the mel band that holds 440 Hz."""
    import librosa

    from voli.asr.speakers import HOP, N_MELS, WINDOW, _hz_to_mel, _mel_to_hz, mel_power

    rng = np.random.default_rng(0)
    for n in (100, WINDOW, 16000 * 7 + 33, 16000 * 61):
        y = (rng.standard_normal(n) * 0.1).astype(np.float32)
        ours = mel_power(y, block=1000)
        ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=WINDOW, hop_length=HOP, n_mels=N_MELS).T
        assert ours.shape == ref.shape and ours.dtype == np.float32
        assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    band = int(mel_power(tone)[50].argmax())
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(8000.0), N_MELS + 2))  # the filters' corners
    assert edges[band] < 440 < edges[band + 2]


def test_clustering_of_many_windows_stays_bounded_and_finds_the_voices():
    """Two voices, 3000 windows (an hour of speech): an even subsample is clustered, every window
    then refines the centres; the voices found are the planted ones."""
    from voli.asr.diarize import cluster

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 256))
    who = rng.integers(0, 2, 3000)
    emb = centres[who] + rng.normal(scale=0.6, size=(3000, 256))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    found = cluster(emb, 2, max_clustered=300)
    labels = np.argmax(emb @ found.T, axis=1)
    assert max(np.mean(labels == who), np.mean(labels != who)) > 0.98


def test_the_voice_changes_inside_a_stretch_of_speech_without_a_pause():
    """One region, voice A for 5 s then voice B for 5 s (noisy window embeddings): the smoothed
    posteriors put the change within a window hop of 5 s, and questions name the interviewer."""
    from voli.asr import diarize

    rng = np.random.default_rng(1)
    voices = rng.normal(size=(2, 256))
    centre = np.arange(0.75, 9.26, diarize.HOP_S)
    who = (centre > 5.0).astype(int)
    emb = voices[who] + rng.normal(scale=1.2, size=(len(centre), 256))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    windows = diarize.Windows(centre - 0.75, centre + 0.75, np.zeros(len(centre), dtype=int), emb)
    d = diarize.diarize(windows, 2)
    change = [t for (_, _, t) in diarize.turns(d)][0]
    assert abs(change - 5.0) <= diarize.HOP_S, diarize.turns(d)
    voice_a, confidence, _ = d.word(1.0, 1.3)
    assert confidence > 0.9 and d.word(8.0, 8.3)[0] != voice_a
    cue = diarize.sentence_cues(windows, [(0.0, 5.0, True), (5.0, 10.0, False)])
    assert set(cue[centre < 4.9]) == {1} and set(cue[centre > 5.1]) == {-1}
    asked = diarize.diarize(windows, 2, cue=cue, has_interviewer=True)
    assert asked.interviewer == asked.word(1.0, 1.3)[0]


def test_a_transcript_tier_voli_cannot_read_is_a_problem_not_silence(tmp_path):
    """A TextGrid tier named for nobody in the recording is not read, and the user is told which."""
    from voli import problems
    from voli.asr.user_transcripts import read_user_transcript
    from voli.io.textgrid import Interval, write_textgrid
    from voli.schema import RecordingSpeaker

    path = tmp_path / "r1.TextGrid"
    write_textgrid(path, {"S01 - utterances": [Interval(0.0, 1.0, "bonjour à tous")],
                          "transcript": [Interval(1.0, 2.0, "et merci")]}, duration_s=2.0)
    with problems.collecting("transcribe", "r1") as found:
        spans = read_user_transcript(path, [RecordingSpeaker("r1", "S01", "interviewee", None)])
    assert [s.words for s in spans] == [["bonjour", "à", "tous"]]
    assert [p.kind for p in found] == ["transcript_tier_ignored"] and "'transcript'" in found[0].message


def test_a_speakers_words_tier_under_a_bare_speaker_tier_is_not_read_twice(tmp_path):
    """Tier ``S01`` carries the turns as ``S01 - utterances`` would: its words tier is not read again."""
    from voli.asr.user_transcripts import read_user_transcript
    from voli.io.textgrid import Interval, write_textgrid
    from voli.schema import RecordingSpeaker

    path = write_textgrid(tmp_path / "r1.TextGrid", {"S01": [Interval(0.0, 1.0, "bonjour à tous")],
                                                     "S01 - words": [Interval(0.0, 0.4, "bonjour"), Interval(0.4, 0.6, "à"),
                                                                     Interval(0.6, 1.0, "tous")]}, duration_s=1.0)
    spans = read_user_transcript(path, [RecordingSpeaker("r1", "S01", "interviewee", None)])
    assert [w for s in spans for w in s.words] == ["bonjour", "à", "tous"]


def test_a_point_tier_in_a_user_textgrid_is_a_problem_not_a_crash(tmp_path):
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier
    from praatio.data_classes.point_tier import PointTier

    from voli import problems
    from voli.asr.user_transcripts import read_user_transcript
    from voli.schema import RecordingSpeaker

    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=2.0)
    tg.addTier(IntervalTier("S01", [(0.0, 1.0, "bonjour")], 0.0, 2.0))
    tg.addTier(PointTier("S01 - words", [(0.5, "bonjour")], 0.0, 2.0))  # a speaker's words as points
    tg.save(str(tmp_path / "r1.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    with problems.collecting("transcribe", "r1") as found:
        spans = read_user_transcript(tmp_path / "r1.TextGrid", [RecordingSpeaker("r1", "S01", "interviewee", None)])
    assert [(s.speaker_id, s.words) for s in spans] == [("S01", ["bonjour"])]
    assert [p.kind for p in found] == ["transcript_tier_ignored"] and "'S01 - words' is a point tier" in found[0].message


def test_word_pieces_split_at_an_apostrophe_or_hyphen_are_one_word():
    from voli.asr.transcribe import join_word_pieces

    words = [{"word": " Benvenuto", "start": 0.0, "end": 0.5, "probability": 0.9},
             {"word": " nell", "start": 0.5, "end": 0.7, "probability": 0.8},
             {"word": "'elenco", "start": 0.7, "end": 1.1, "probability": 0.6},
             {"word": " faites", "start": 1.2, "end": 1.4, "probability": 0.9},
             {"word": "-vous", "start": 1.4, "end": 1.6, "probability": 0.95}]
    joined = join_word_pieces(words)
    assert [w["word"].strip() for w in joined] == ["Benvenuto", "nell'elenco", "faites-vous"]
    assert joined[1]["start"] == 0.5 and joined[1]["end"] == 1.1 and joined[1]["probability"] == 0.6


@pytest.mark.slow
def test_who_speaks_when_in_a_conversation_of_two_real_men():
    """Two real male voices (Carlo's Italian prompts, cut into phrases of at most 3.5 s, and the
    LibriVox reader), taking short turns with gaps of 0.1-0.7 s, 15 % of turns overlapping and a
    back-channel, the reader 6 dB quieter, over a telephone band, 40 s: the windows' voices give
    97.8 % of the single-speaker moments to the right person (asserted >= 96.5 %). The diarization
    error rate (pyannote.metrics) of voli's turns, 9.9 % with its 0.25 s collar (asserted <= 15 %),
    is nearly all speech detection (missed 10.1 %: the second voice in overlaps, quiet ends; false
    alarm 6.3 %): speaker confusion is 0.7 % (asserted <= 1.5 %: one 0.25 s hop of the windows is
    about 0.6 % of the speech)."""
    import soxr

    from voli.asr import diarize, vad
    from voli.asr.speakers import SpeakerEncoder
    from voli.evaluate import diarization_error
    from voli.io import audio
    from voli.simulate import conversations as cv

    SR = 16000
    carlo = []
    for path in sorted((Path(__file__).parent / "data" / "asterisk_it").glob("*.flac")):
        x = audio.load(path)
        for r in vad.split_long(vad.speech_regions([x]), lambda s, e: x[int(s * SR): int(e * SR)], max_s=3.5):
            carlo.append(cv.Utterance(x[int(r.start * SR): int(r.end * SR)], None))
    x, truth = cv.build_conversation(carlo, cv.voice_utterances("librivox"), ("carlo", "reader"),
                                     np.random.default_rng(3), seconds=40, level_b_db=-6.0)
    x = soxr.resample(cv.telephone(x)[0], 8000, SR).astype(np.float32)
    windows = diarize.embed_regions(SpeakerEncoder(), vad.speech_regions([x]), lambda s, e: x[int(s * SR): int(e * SR)])
    d = diarize.diarize(windows, 2)
    assert sum(t.backchannel for t in truth) >= 1 and len(truth) >= 12
    moments = [(t, {u.speaker for u in truth if u.start <= t <= u.end}) for t in np.arange(0, len(x) / SR, 0.1)]
    moments = [(t, who.pop()) for t, who in moments if len(who) == 1]
    named = {0: "carlo", 1: "reader"}
    right = np.mean([named[d.word(t - 0.05, t + 0.05)[0]] == who for t, who in moments])
    right = max(right, 1 - right)  # the voices are unnamed: either naming
    ref = pd.DataFrame([{"recording_id": "c", "speaker_id": u.speaker, "start": u.start, "end": u.end} for u in truth])
    hyp = pd.DataFrame([{"recording_id": "c", "speaker_id": str(v), "start": s, "end": e} for v, s, e in diarize.turns(d)])
    der = diarization_error(ref, hyp).iloc[0]
    print(f"{len(truth)} turns, right {right:.1%}, DER {der.der:.1%} (collar {der.der_collar:.1%}; missed "
          f"{der.missed:.1%}, false alarm {der.false_alarm:.1%}, confusion {der.confusion:.1%}), separation {d.separation:.2f}")
    assert right >= 0.965
    assert der.confusion <= 0.015 and der.der_collar <= 0.15


def test_a_word_is_kept_inside_its_speech_region():
    """Whisper stretches a window's first word back over the padding before the speech; the VAD
    heard no speech there, so the word starts where the region does. A word wholly outside the
    region (a quiet word the VAD missed) keeps its times."""
    from voli.asr.transcribe import _within

    region = Region(4.44, 6.7)
    assert _within(4.04, 4.66, region) == {"start": 4.44, "end": 4.66}
    assert _within(6.5, 6.9, region) == {"start": 6.5, "end": 6.7}
    assert _within(3.0, 3.4, region) == {"start": 3.0, "end": 3.4}
    assert _within(5.0, 5.2, region) == {"start": 5.0, "end": 5.2}


@pytest.mark.parametrize("device", ["cpu", None])
def test_faster_whisper_loads_on_a_device_given_by_name(device):
    """The stages pass the device as a torch.device, callers as a name: "cpu" once reached CTranslate2 as
    device_index=str.index (a str's own method) and failed, depending on which test loaded the model first."""
    import torch

    from voli.asr.models import load_faster_whisper

    for given in (device, torch.device("cpu")):
        model = load_faster_whisper("base", given)
        assert model.model.device == "cpu" and model.model.device_index == [0]
