"""Forced alignment: the HMM on planted segmentations, the align stage on sample interviews."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from voli.align import hmm
from voli.workdir import Workdir, dirname

D = 4  # feature dimension of the toy data


def _toy_corpus(n_utts: int = 40, seed: int = 0):
    """Utterances of words made of phones a, b, c whose frames are Gaussians with distinct means,
    framed by silence, with known phone boundaries (in frames)."""
    rng = np.random.default_rng(seed)
    means = {"sil": np.zeros(D), "a": np.array([3, 0, 0, 0.]), "b": np.array([0, 3, 0, 0.]), "c": np.array([0, 0, 3, 0.])}
    lexicon = [("a", "b"), ("b", "c", "a"), ("c",), ("a", "c")]
    feats, prons, truth = [], [], []
    for _ in range(n_utts):
        words = [lexicon[i] for i in rng.integers(0, len(lexicon), 3)]
        frames, bounds = [means["sil"] + rng.normal(0, 1, (rng.integers(5, 15), D))], []
        t = len(frames[0])
        for w in words:
            for p in w:
                n = int(rng.integers(4, 12))
                frames.append(means[p] + rng.normal(0, 1, (n, D)))
                bounds.append((t, t + n, p))
                t += n
        frames.append(means["sil"] + rng.normal(0, 1, (rng.integers(5, 15), D)))
        feats.append(torch.tensor(np.concatenate(frames), dtype=torch.float32))
        prons.append(words)
        truth.append(bounds)
    return feats, prons, truth


def _phone_spans(graph, path):
    unit = graph.unit[path]
    out, start = [], 0
    for t in range(1, len(unit) + 1):
        if t == len(unit) or unit[t] != unit[start]:
            label = graph.units[unit[start]][1]
            if label not in (hmm.SIL, hmm.SP):
                out.append((start, t, label))
            start = t
    return out


def test_flat_start_training_finds_the_planted_boundaries():
    feats, prons, truth = _toy_corpus()
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=8, max_components=2, first_split=4))
    graphs = [hmm.compile_graph(model, p) for p in prons]
    errors = []
    for (path, score, frame_ll), g, t in zip(hmm.align_batches(model, feats, graphs, batch_size=7), graphs, truth):
        got = _phone_spans(g, path)
        assert [x[2] for x in got] == [x[2] for x in t]
        # boundaries between two different phones (the edge between two identical ones is unknowable)
        errors += [abs(got[k][1] - t[k][1]) for k in range(len(t) - 1) if t[k][2] != t[k + 1][2]]
        errors += [abs(got[0][0] - t[0][0]), abs(got[-1][1] - t[-1][1])]
        # the score is the path's emissions plus its transitions: a stay costs the state's self-loop,
        # a move the rest of its probability
        stay = model.log_self_loop[torch.from_numpy(g.loops[path])].double().numpy()
        moved = path[1:] != path[:-1]
        transitions = np.where(moved, np.log1p(-np.exp(stay[:-1]).clip(max=1 - 1e-6)), stay[1:]).sum()
        assert frame_ll.sum() + transitions == pytest.approx(score, rel=1e-5)
    assert np.mean(errors) < 0.5 and max(errors) <= 3  # frames


def test_optional_pause_is_used_only_where_there_is_silence():
    feats, prons, _ = _toy_corpus(30)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=6, max_components=1))
    rng = np.random.default_rng(5)
    sil, a, b = np.zeros(D), np.array([3, 0, 0, 0.]), np.array([0, 3, 0, 0.])
    chunks = [sil] * 8 + [a] * 8 + [sil] * 20 + [b] * 8 + [sil] * 8  # "a", a pause, "b"
    x = torch.tensor(np.stack(chunks) + rng.normal(0, 0.5, (len(chunks), D)), dtype=torch.float32)
    joined = torch.tensor(np.stack([sil] * 8 + [a] * 8 + [b] * 8 + [sil] * 8) + rng.normal(0, 0.5, (32, D)), dtype=torch.float32)
    for feats_, pause in ((x, 20), (joined, 0)):
        g = hmm.compile_graph(model, [("a",), ("b",)])
        (path, _, _), = hmm.viterbi(model, [feats_], [g])
        sp_frames = sum(g.units[g.unit[p]][1] == hmm.SP for p in path)
        assert abs(sp_frames - pause) <= 1


def test_word_windows_keep_a_word_near_its_asr_times():
    """One word "a" and two stretches of "a" in the audio: the acoustics cannot tell which is the
    word, the word's window (from Whisper's times) can, and a window-less user word goes free."""
    from voli.align.aligner import Segment
    from voli.schema import Utterance, Word

    feats, prons, _ = _toy_corpus(30)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=6, max_components=1))
    rng = np.random.default_rng(7)
    sil, a = np.zeros(D), np.array([3, 0, 0, 0.])
    chunks = [sil] * 8 + [a] * 8 + [sil] * 20 + [a] * 8 + [sil] * 8  # a at frames 8-16 and 36-44
    x = torch.tensor(np.stack(chunks) + rng.normal(0, 0.5, (len(chunks), D)), dtype=torch.float32)
    g = hmm.compile_graph(model, [("a",)])

    def word_frames(windows):
        (path, _, _), = hmm.viterbi(model, [x], [g], [hmm.position_windows(g, windows)])
        return [t for t, p in enumerate(path) if g.units[g.unit[p]][1] == "a"]

    def asr_word(start, end, probability=0.9):
        return Word("r", "u", "s", "interviewee", start, end, "a", probability, False, "en")

    utt = Utterance("u", "r", "s", "interviewee", 0.0, 0.52, "a", "en")
    shift, early, late = 0.01, 0.05, 0.05
    for asr_start, block in ((0.08, range(8, 16)), (0.36, range(36, 44))):
        windows = Segment(utt, [asr_word(asr_start, asr_start + 0.08)], 0.0, []).word_windows(shift, early, late)
        assert word_frames(windows) == list(block)
    user = Segment(utt, [asr_word(0.36, 0.44, probability=None)], 0.0, []).word_windows(shift, early, late)
    assert user == [None] and len(word_frames(user)) == 8


def test_too_short_utterance_is_reported_not_aligned():
    feats, prons, _ = _toy_corpus(10)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=2, max_components=1))
    g = hmm.compile_graph(model, [("a", "b", "c")] * 4)  # 12 phones need 36 frames
    assert hmm.align_batches(model, [torch.zeros(20, D)], [g]) == [None]


def test_model_saves_and_loads_with_a_card(tmp_path):
    feats, prons, _ = _toy_corpus(10)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=2, max_components=1))
    model.save(tmp_path / "m")
    again = hmm.AcousticModel.load(tmp_path / "m")
    assert torch.equal(again.means, model.means) and again.phones == model.phones
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["phones"] == model.phones and card["training"]["utterances"] == 10


@pytest.mark.requires_cuda
def test_gpu_and_cpu_give_the_same_alignment():
    feats, prons, _ = _toy_corpus(24)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=4, max_components=2, first_split=2))
    graphs = [hmm.compile_graph(model, p) for p in prons]
    cpu = hmm.align_batches(model, feats, graphs)
    gpu = hmm.align_batches(model.to("cuda"), [f.to("cuda") for f in feats], graphs)
    for c, g in zip(cpu, gpu):
        assert np.array_equal(c[0], g[0]) and np.isclose(c[1], g[1], rtol=1e-4)
    # with word windows that bind: each word may start no earlier than 2 frames after its
    # start on the free path, so the windowed paths differ from the free ones
    windows = []
    for g, c in zip(graphs, cpu):
        word_of = g.word_of[c[0]]
        words = [np.flatnonzero(word_of == w) for w in range(word_of.max() + 1)]
        windows.append(hmm.position_windows(g, [(int(f[0]) + 2, int(f[-1]) + 6) for f in words]))
    cpu_w = hmm.align_batches(model, feats, graphs, windows=windows)
    gpu_w = hmm.align_batches(model.to("cuda"), [f.to("cuda") for f in feats], graphs, windows=windows)
    assert all(not np.array_equal(a[0], b[0]) for a, b in zip(cpu, cpu_w))
    for c, g in zip(cpu_w, gpu_w):
        assert np.array_equal(c[0], g[0]) and np.isclose(c[1], g[1], rtol=1e-4)
    trained_gpu = hmm.train([f.to("cuda") for f in feats], prons,
                            hmm.TrainOptions(iterations=4, max_components=2, first_split=2))
    paths_gpu = hmm.align_batches(trained_gpu, [f.to("cuda") for f in feats], graphs)
    agree = np.mean([np.mean(c[0] == g[0]) for c, g in zip(cpu, paths_gpu)])
    assert agree > 0.98


# -- the stage on sample interviews -------------------------------------------------------------


@pytest.mark.slow
def test_alignment_boundaries_against_the_truth(aligned):
    from voli.evaluate import evaluate_workdir

    code, work, corpus, _ = aligned
    assert code == 0
    result = evaluate_workdir(corpus, work)
    phones = result["phones_boundaries"].set_index("language")
    words = result["words_boundaries"].set_index("language")
    print(phones.round(3).to_string(), words.round(3).to_string(), sep="\n")
    assert set(phones.index) == {"es", "fr", "en", "pt"}
    # Kokoro speech (its truth has a 25 ms grid). README, bench/align_ablations.py with the default 30
    # training iterations: en 25.9, es 15.7, fr 20.3, pt 19.4 ms, 60 / 76 / 71 / 69 % within 20 ms; this
    # fixture (20 iterations) measured 26.0, 15.7, 20.1, 19.5 ms and 60.5 / 75.9 / 70.3 / 69.0 %. Each
    # language is held at its own figure + 5 ms and - 5-6 points: the transcripts the model trains on
    # change a few words on another CPU, and English moved 23.7 -> 26.0 ms with the decoding rule
    # (one utterance of en_02, README)
    limits = {"en": (31, 0.55), "es": (21, 0.70), "fr": (25, 0.65), "pt": (25, 0.63)}
    for lang, (mean_ms, within_20ms) in limits.items():
        assert phones.loc[lang, "n"] > 150
        assert phones.loc[lang, "mean_ms"] < mean_ms, (lang, phones.loc[lang, "mean_ms"])
        assert phones.loc[lang, "within_20ms"] > within_20ms, (lang, phones.loc[lang, "within_20ms"])
        assert phones.loc[lang, "within_50ms"] > 0.85


@pytest.mark.slow
def test_alignment_tables_carry_scores_and_speakers(aligned):
    _, work, _, _ = aligned
    phones = pd.read_parquet(Workdir(work).table("align", "phones"))
    words = pd.read_parquet(Workdir(work).table("align", "words"))
    utts = pd.read_parquet(Workdir(work).table("align", "utterances"))
    asr = pd.read_parquet(Workdir(work).table("transcribe", "words"))
    assert len(words) == len(asr) and list(words.word) == list(asr.word)  # the transcript's words, retimed
    assert (phones.end > phones.start).all() and phones.log_likelihood.notna().all() and phones.duration_z.notna().all()
    print(utts.status.value_counts().to_string())
    assert (utts.status == "aligned").mean() > 0.97
    for rid, mine in phones.groupby("recording_id"):  # word_index: the word's row in its recording's words
        rec_words = words[words.recording_id == rid].reset_index(drop=True)
        for _, p in mine.sample(20, random_state=0).iterrows():
            w = rec_words.iloc[p.word_index]
            assert w.start - 1e-6 <= p.start and p.end <= w.end + 1e-6
    assert set(phones.speaker_id) == set(words.speaker_id)
    assert Workdir(work).lexicon().read_text(encoding="utf-8").count("\n") > 100
    card = json.loads((Workdir(work).model() / "card.json").read_text(encoding="utf-8"))
    assert card["languages"] == ["en", "es", "fr", "pt"] and card["training"]["utterances"] > 40


@pytest.mark.slow
@pytest.mark.needs("praat")
def test_alignment_textgrid_opens_in_praat(aligned):
    _, work, _, _ = aligned
    script = Path(__file__).parent / "praat" / "count_tiers.praat"
    out = subprocess.run(["praat", "--run", str(script), str(Workdir(work).textgrid("align", "en_02"))],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "6"
    assert set(out[1:7]) == {f"{s} - {k}" for s in ("EN02", "INT_EN") for k in ("utterances", "words", "phones")}


@pytest.mark.slow
def test_alignment_eaf_beside_the_textgrid(aligned):
    """align's eaf/<rid>.eaf holds the TextGrid's tiers, in ELAN's milliseconds, and links the audio."""
    from pympi import Elan

    from voli.io.textgrid import read_textgrid

    _, work, corpus, _ = aligned
    grid = read_textgrid(Workdir(work).textgrid("align", "en_02"))
    path = Workdir(work).eaf("en_02")
    eaf = Elan.Eaf(str(path))
    assert list(eaf.get_tier_names()) == list(grid.tierNames)
    for name in grid.tierNames:
        labelled = [e for e in grid.getTier(name).entries if e.label]
        got = sorted(eaf.get_annotation_data_for_tier(name))
        assert [a[2] for a in got if a[2]] == [e.label for e in labelled], name
        assert all(abs(a[0] / 1000 - e.start) < 6e-4 for a, e in zip([a for a in got if a[2]], labelled)), name
    [media] = eaf.get_linked_files()
    assert (path.parent / media["RELATIVE_MEDIA_URL"]).resolve() == (corpus / "audio/en_02.flac").resolve()


@pytest.mark.slow
def test_rerun_reuses_the_model_and_a_saved_model_aligns_another_workdir(aligned, tmp_path):
    from voli.cli import main

    _, work, corpus, config = aligned
    model = Workdir(work).model() / "model.pt"
    before = model.stat().st_mtime_ns
    assert main(["align", str(corpus), "--workdir", str(work), "--config", str(config), "-q", "--device", "cpu"]) == 0
    assert model.stat().st_mtime_ns == before  # same transcripts and options: no retraining
    other = tmp_path / "exp2"
    shutil.copytree(work, other)
    shutil.rmtree(Workdir(other).stage("align"))
    reuse = tmp_path / "reuse.yaml"
    reuse.write_text(f"align:\n  model: {Workdir(work).model()}\n")
    assert main(["align", str(corpus), "--workdir", str(other), "--config", str(reuse), "-q", "--device", "cpu"]) == 0
    assert not Workdir(other).model().exists()
    a = pd.read_parquet(Workdir(work).table("align", "phones"))
    b = pd.read_parquet(Workdir(other).table("align", "phones"))
    assert np.allclose(a.start, b.start) and list(a.phone) == list(b.phone)


def test_times_never_pass_the_end_of_the_audio():
    """The last frame of an utterance that runs to the end of the recording may reach past the audio
    (frames are centred on multiples of the shift); word, phone and utterance times stop at its end."""
    from voli.align.aligner import Segment, align_segments
    from voli.align.lexicon import Pron
    from voli.config import AlignConfig
    from voli.schema import Utterance, Word

    feats, prons, _ = _toy_corpus(20)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=4, max_components=1))
    rng = np.random.default_rng(3)
    x = np.concatenate([np.zeros((6, D)), np.tile([3, 0, 0, 0.], (8, 1)), np.tile([0, 3, 0, 0.], (8, 1))])
    audio_end = 0.215  # 22 frames at 10 ms reach 0.215 s; the recording stops there, mid-phone
    u = Utterance("r-000000", "r", "S", "interviewee", 0.0, audio_end, "ab", "fr")
    word = Word("r", u.utterance_id, "S", "interviewee", 0.05, audio_end, "ab", 0.9, False, "fr")
    segment = Segment(u, [word], 0.0, [Pron(("a", "b"), (None, None))],
                      torch.tensor(x + rng.normal(0, 0.3, x.shape), dtype=torch.float32), end=0.20006)
    words, phones, utts = align_segments(model, [segment], AlignConfig(frame_shift_ms=10))
    assert [p.phone for p in phones] == ["a", "b"]
    # times are rounded to 0.1 ms: down, at the end of the audio (0.2001 would pass it)
    assert phones[-1].end == words[-1].end == utts[-1].end == 0.2
    assert phones[0].end < phones[-1].end


def test_a_rare_phone_gets_a_broad_model_not_a_needle():
    """A phone seen in a few frames gets a variance pulled toward the global one (a MAP prior worth
    `variance_prior_frames` frames), so it cannot outscore silence on frames that merely resemble
    its handful of examples; a phone seen in hundreds of frames keeps its own."""
    feats, prons, _ = _toy_corpus(30)
    rng = np.random.default_rng(1)
    sil, rare = np.zeros(D), np.array([0, 0, 0, 3.])
    x = np.concatenate([sil + rng.normal(0, 1, (8, D)), rare + rng.normal(0, 0.05, (4, D)), sil + rng.normal(0, 1, (8, D))])
    feats.append(torch.tensor(x, dtype=torch.float32))
    prons.append([("d",)])  # "d": one utterance, 4 frames, nearly constant
    needle = hmm.train(feats, prons, hmm.TrainOptions(iterations=4, max_components=1, variance_prior_frames=0))
    broad = hmm.train(feats, prons, hmm.TrainOptions(iterations=4, max_components=1))
    d = needle.phones.index("d") * hmm.STATES_PER_PHONE
    global_var = torch.cat(feats).var(0)
    assert (needle.variances[d: d + 3, 0] < 0.05 * global_var).any()  # its own few frames: a needle
    assert (broad.variances[d: d + 3, 0] > 0.5 * global_var).all()  # with the prior: broad
    a = broad.phones.index("a") * hmm.STATES_PER_PHONE + 1  # hundreds of frames: its own width, roughly
    assert (broad.variances[a, 0] < 2 * needle.variances[a, 0]).all()


def test_the_short_pause_has_its_own_self_loop_and_old_models_load():
    """sp shares silence's middle-state Gaussians but not its self-loop (edge silence passes that
    state in a frame, which would make every pause frame cost about 3 nats); a model saved before
    the pause had its own loop loads with silence's, as it was."""
    feats, prons, _ = _toy_corpus(10)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=2, max_components=1))
    assert len(model.log_self_loop) == model.n_states + 1 and model.sp_loop == model.n_states
    g = hmm.compile_graph(model, [("a",), ("b",)])
    sp_positions = [i for i, u in enumerate(g.unit) if g.units[u][1] == hmm.SP]
    assert [int(g.states[i]) for i in sp_positions] == [model.sp_state] and [int(g.loops[i]) for i in sp_positions] == [model.sp_loop]


def test_a_model_saved_with_one_loop_per_state_still_loads(tmp_path):
    feats, prons, _ = _toy_corpus(10)
    model = hmm.train(feats, prons, hmm.TrainOptions(iterations=2, max_components=1))
    model.save(tmp_path / "m")
    data = torch.load(tmp_path / "m" / "model.pt", weights_only=True)
    data["log_self_loop"] = data["log_self_loop"][:-1]  # the format before the pause's own loop
    torch.save(data, tmp_path / "m" / "model.pt")
    old = hmm.AcousticModel.load(tmp_path / "m")
    assert len(old.log_self_loop) == old.n_states + 1
    assert old.log_self_loop[old.sp_loop] == old.log_self_loop[old.sp_state]


def test_the_shipped_sample_model_loads_with_its_card():
    """models/align-sample (trained on corpora_sample by bench/align.py --save-model) loads on the
    CPU, knows only voli's phone labels and carries its measured scores."""
    from voli import languages

    root = Path(__file__).resolve().parent.parent / "models" / "align-sample"
    model = hmm.AcousticModel.load(root, "cpu")
    labels = set().union(*(set(spec.phones) for spec in languages.all_languages())) | {hmm.SIL}
    assert set(model.phones) <= labels and len(model.phones) > 60
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    assert set(card["scores"]["phones: voli align"]) == {"en", "es", "fr", "pt"}


@pytest.mark.slow
def test_the_shipped_model_aligns_the_sample_as_its_card_says(transcribed, tmp_path):
    """Aligning corpora_sample's transcription with models/align-sample (no training) gives the
    phone-boundary errors its card records, within 3 ms per language."""
    from voli.evaluate import evaluate_workdir

    root = Path(__file__).resolve().parent.parent / "models" / "align-sample"
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))["scores"]["phones: voli align"]
    _, exp, corpus = transcribed
    work = tmp_path / "exp"
    shutil.copytree(exp, work, ignore=shutil.ignore_patterns(*map(dirname, ("align", "features", "profile")), ".lock"))
    config = tmp_path / "c.yaml"
    config.write_text(f"align:\n  model: {root}\n")
    from voli.cli import main

    assert main(["align", str(corpus), "--workdir", str(work), "--config", str(config), "-q", "--device", "cpu"]) == 0
    phones = evaluate_workdir(corpus, work)["phones_boundaries"].set_index("language")
    print(phones.mean_ms.round(1).to_dict(), "card:", {k: v["mean_ms"] for k, v in card.items()})
    for lang, scores in card.items():
        assert abs(phones.loc[lang, "mean_ms"] - scores["mean_ms"]) < 3.0, lang



@pytest.mark.slow
def test_plan_trains_nothing_and_the_lexicon_holds_the_words_the_step_read(transcribed, tmp_path):
    """align's plan only lists the recordings; its training step (here with the shipped model, so
    nothing is trained) reads the transcriptions and writes lexicon.dict from the words it read:
    a word another corpus left in this process's G2P cache is not in it."""
    import dataclasses

    from voli.align import aligner
    from voli.config import load_config
    from voli.runner import StageContext
    from voli.stages import STAGES

    _, exp, corpus = transcribed
    work = tmp_path / "exp"
    shutil.copytree(exp, work, ignore=shutil.ignore_patterns("02_*", "03_*", "04_*", ".lock"))
    shipped = Path(__file__).resolve().parent.parent / "models" / "align-sample"
    config = load_config(None)
    config = dataclasses.replace(config, align=dataclasses.replace(config.align, model=str(shipped)))
    ctx = StageContext(corpus.resolve(), work.resolve(), config, stages=tuple(STAGES.values()))
    align = STAGES["align"]
    items = align.plan(ctx)
    failed = set(pd.read_parquet(ctx.stage_dir("transcribe") / "failures.parquet").recording_id)
    assert {it.recording_id for it in items} == set(pd.read_csv(corpus / "recordings.csv").recording_id) - failed
    assert not ctx.stage_dir("align").exists()  # planning wrote nothing and trained nothing
    aligner._lexicon("en", config.align).pronounce(["zyzzyva"])  # another corpus's word, in the process cache
    trained = align.train(ctx, items)
    assert Path(trained.payload) == shipped
    # the words of lexicon.dict (MFA format: the word, then its phones; the corpus's four languages)
    lexicon = {line.split()[0] for line in (ctx.stage_dir("align") / "lexicon.dict").read_text(encoding="utf-8")
               .splitlines() if line.strip()}
    spoken = {w.lower() for w in pd.read_parquet(ctx.stage_dir("transcribe") / "words.parquet").word}
    assert "zyzzyva" not in lexicon
    assert len(spoken & set(lexicon)) >= 0.9 * len(spoken), sorted(spoken - set(lexicon))[:20]


def test_a_phone_said_in_one_word_is_spelt_by_its_parts():
    """A phone the training data has in fewer than align.min_phone_words distinct words is modelled
    as the well-taught phones that spell it ("en:əl" -> "en:ə" "en:l"); one with no such spelling, or
    said in enough words, keeps its own model; a part never starts with a combining mark or length."""
    from voli.align.aligner import Segment, _parts, model_prons, rare_phone_splits
    from voli.align.lexicon import Pron
    from voli.schema import Utterance, Word

    u = Utterance("r-000000", "r", "S", "interviewee", 0.0, 1.0, "", "en")

    def segment(*words):
        return Segment(u, [Word("r", u.utterance_id, "S", "interviewee", 0.0, 0.1, w, 0.9, False, "en") for w, _ in words],
                       0.0, [Pron(p, (0,) * len(p)) for _, p in words])

    segments = [segment(("label", ("en:l", "en:eɪ", "en:b", "en:əl")), ("the", ("en:ð", "en:ə")),
                        ("a", ("en:ə",)), ("about", ("en:ə", "en:b", "en:aʊ", "en:t")), ("like", ("en:l", "en:aɪ", "en:k")),
                        ("all", ("en:ɔː", "en:l")), ("help", ("en:h", "en:ɛ", "en:l", "en:p")),
                        ("button", ("en:b", "en:ʌ", "en:ʔ", "en:n̩")), ("in", ("en:ɪ", "en:n")),
                        ("no", ("en:n", "en:oʊ")), ("on", ("en:ɑː", "en:n")), ("big", ("en:b", "en:ɪ", "en:ɡ")))]
    splits = rare_phone_splits(segments, 3)
    assert splits["en:əl"] == ("en:ə", "en:l")  # "label" only; ə and l are in three words each
    assert "en:n̩" not in splits  # "button" only, but n + a combining mark is no spelling
    assert "en:eɪ" not in splits and "en:l" not in splits  # no spelling / well taught
    assert rare_phone_splits(segments, 0) == {}  # align.min_phone_words: 0
    assert _parts("en:ɔːɹ", {"en:ɔ", "en:ɔː", "en:ɹ"}) == ("en:ɔː", "en:ɹ")  # never "ɔ" + "ːɹ"
    units, owners = model_prons(segments[0], splits)
    assert units[0] == ("en:l", "en:eɪ", "en:b", "en:ə", "en:l") and owners[0] == [0, 1, 2, 3, 3]


def test_a_split_phone_is_aligned_by_its_parts_and_keeps_its_label():
    """Toy phones a, b, c are taught by many words; "bc" (b's frames, then c's) is said in one word
    only. Trained and aligned as b + c, it comes back as one phone "bc" spanning both parts, its
    boundaries where they were planted."""
    from voli.align.aligner import Segment, align_segments, model_prons, rare_phone_splits
    from voli.align.lexicon import Pron
    from voli.config import AlignConfig
    from voli.schema import Utterance, Word

    feats, prons, _ = _toy_corpus(30)
    rng = np.random.default_rng(4)
    mean = {"sil": np.zeros(D), "a": np.array([3, 0, 0, 0.]), "b": np.array([0, 3, 0, 0.]), "c": np.array([0, 0, 3, 0.])}
    segments, truth = [], []
    for i, (word_prons, x) in enumerate(zip(prons, feats)):  # the toy corpus as segments, words named by their phones
        u = Utterance(f"r-{i:06d}", "r", "S", "interviewee", 0.0, 1.0, "", "xx")
        words = [Word("r", u.utterance_id, "S", "interviewee", 0.0, 0.0, "".join(p), None, False, "xx") for p in word_prons]
        segments.append(Segment(u, words, 0.0, [Pron(p, (0,) * len(p)) for p in word_prons], x))
    for i in range(12):  # "abc": a, then the rare phone "bc" (6-9 frames of b, then 6-9 of c)
        n = rng.integers(6, 10, 3)
        x = np.concatenate([mean["sil"] + rng.normal(0, 1, (8, D))] + [mean[p] + rng.normal(0, 1, (k, D))
                           for p, k in zip("abc", n)] + [mean["sil"] + rng.normal(0, 1, (8, D))])
        u = Utterance(f"r-{100 + i:06d}", "r", "S", "interviewee", 0.0, len(x) / 100, "abc", "xx")
        word = Word("r", u.utterance_id, "S", "interviewee", 0.0, len(x) / 100, "abc", None, False, "xx")
        segments.append(Segment(u, [word], 0.0, [Pron(("a", "bc"), (0, 0))], torch.tensor(x, dtype=torch.float32),
                                end=len(x) / 100))
        truth.append((8 + n[0], 8 + n.sum()))
    splits = rare_phone_splits(segments, 2)  # b is in two words ("ab", "bca"), "bc" in one
    assert splits == {"bc": ("b", "c")}
    model = hmm.train([s.feats for s in segments], [model_prons(s, splits)[0] for s in segments],
                      hmm.TrainOptions(iterations=6, max_components=1))
    model.info["split_phones"] = {k: list(v) for k, v in splits.items()}
    assert not model.knows("bc")
    _, phones, _ = align_segments(model, segments[-12:], AlignConfig(frame_shift_ms=10))
    assert [p.phone for p in phones] == ["a", "bc"] * 12
    for (start, end), (a, bc) in zip(truth, zip(phones[::2], phones[1::2])):
        assert a.end == bc.start and abs(bc.start * 100 - start) <= 1.5 and abs(bc.end * 100 - end) <= 1.5
