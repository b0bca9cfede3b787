"""The align stage: from transcribed words to word and phone boundaries and TextGrids.

As ``mfa train`` does, voli trains its acoustic model on the corpus it
aligns (no pretrained alignment model can be downloaded), then aligns every
recording with it::

    <transcribe>/parts/<rid>/{utterances,words}.parquet     Whisper's words (or the user's)
        -> lexicon (espeak-ng G2P, overrides, user dictionary)  <align>/lexicon.dict, unknown_words.csv
        -> MFCC + deltas, speaker CMVN                         voli.align.features
        -> flat-start HMM-GMM training (once per corpus)        <align>/model/{model.pt,card.json}
        -> batched Viterbi per recording                        <align>/{words,phones,utterances}.parquet
                                                                <align>/textgrids/<rid>.TextGrid
                                                                <align>/eaf/<rid>.eaf (ELAN)

(``<transcribe>``, ``<align>``: those stages' directories in the work directory, :mod:`voli.workdir`.)

An utterance is aligned on its own stretch of audio: its words' span from
transcription, widened by ``pad_s`` on each side (but never past the middle
of the gap to the speaker's previous or next utterance), read from the
speaker's channel when the recording maps channels to speakers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from voli import problems
from voli.align import features, hmm
from voli.config import AlignConfig
from voli.errors import AlignmentError, VoliError, bug_message
from voli.io.tables import read_table
from voli.schema import AlignedUtterance, Phone, Recording, RecordingSpeaker, Utterance, Word, from_table, to_table
from voli.workdir import rel

log = logging.getLogger(__name__)


@dataclass
class Segment:
    """One utterance ready for the HMM: its audio stretch, words, pronunciations and features."""

    utterance: Utterance
    words: list[Word]
    start: float  # s, where the audio stretch (frame 0) begins
    prons: list  # one lexicon pronunciation (.phones, .stress) per word
    feats: torch.Tensor | None = None
    end: float | None = None  # s, where the audio stretch ends (the recording's end at the latest)
    locks: tuple = ()  # boundaries a linguist placed (voli.align.corrections.Lock): kept where they are

    def word_frames(self, shift: float) -> list[tuple[int, int]]:
        return [(int(round((w.start - self.start) / shift)), int(round((w.end - self.start) / shift))) for w in self.words]

    def word_windows(self, shift: float, early_s: float, late_s: float,
                     min_probability: float = 0.0) -> list[tuple[int, int] | None]:
        """Each ASR word's frames: from ``early_s`` before its ASR start to ``late_s`` after
        its ASR end; None (no limit) for a word without ASR times (a user's transcript) or
        whose ASR probability is below ``min_probability`` (a misheard word's times are loose)."""
        return [(max(0, int(math.floor((w.start - early_s - self.start) / shift))),
                 int(math.ceil((w.end + late_s - self.start) / shift)))
                if w.probability is not None and w.probability >= min_probability else None
                for w in self.words]

    def config_windows(self, config: AlignConfig, shift: float) -> list[tuple[int, int] | None]:
        return self.word_windows(shift, config.early_slack_s, config.late_slack_s, config.window_min_probability)


def _lexicon(language: str, config: AlignConfig, lexicons: dict | None = None):
    """The language's lexicon (with the user's dictionary), from ``lexicons`` ((language,
    dictionary) -> Lexicon: the training step's own, so that lexicon.dict holds the words the model
    trained on) or else from this process's cache (aligning: G2P is looked up once per word)."""
    from voli.align.lexicon import Lexicon

    lexicons = _lexicons if lexicons is None else lexicons
    key = (language, config.dictionary)
    if key not in lexicons:
        lexicons[key] = Lexicon(language, user_dictionary=config.dictionary)
    return lexicons[key]


_lexicons: dict = {}


def recording_segments(rec: Recording, speakers: list[RecordingSpeaker], utterances: list[Utterance],
                       words: list[Word], config: AlignConfig, device, lexicons: dict | None = None) -> list[Segment]:
    """Every utterance of one recording with its audio stretch's features (speaker CMVN applied);
    ``lexicons``: see :func:`_lexicon`."""
    from voli.io.segments import SegmentReader

    channel_of = {s.speaker_id: s.channel for s in speakers if s.channel is not None}
    by_utt: dict[str, list[Word]] = {}
    for w in words:
        by_utt.setdefault(w.utterance_id, []).append(w)
    utts = sorted((u for u in utterances if by_utt.get(u.utterance_id)), key=lambda u: u.start)
    segments = []
    for k, u in enumerate(utts):
        ws = sorted(by_utt[u.utterance_id], key=lambda w: w.start)
        a, b = ws[0].start - config.pad_s, max(w.end for w in ws) + config.pad_s
        same_stream = [v for v in utts if channel_of.get(v.speaker_id) == channel_of.get(u.speaker_id)]
        before = [v.end for v in same_stream if v.end <= ws[0].start and v is not u]
        after = [v.start for v in same_stream if v.start >= ws[-1].end and v is not u]
        if before:
            a = max(a, (max(before) + ws[0].start) / 2)
        if after:
            b = min(b, (min(after) + ws[-1].end) / 2)
        prons = _lexicon(u.language, config, lexicons).pronounce([w.word for w in ws])
        if not config.share_phones:  # one model per language: "fr:a" and "es:a" are different phones
            prons = [dataclasses.replace(p, phones=tuple(f"{u.language}:{x}" for x in p.phones)) for p in prons]
        segments.append(Segment(u, ws, max(0.0, a), prons))
    segments.sort(key=lambda s: s.start)
    reader = SegmentReader(rec)
    shift = config.frame_shift_ms / 1000
    try:
        for s in segments:
            end = min(rec.duration_s, max(w.end for w in s.words) + config.pad_s)
            s.end = end if end > s.start else s.start + shift
            wave = reader.read(s.start, s.end, channel_of.get(s.utterance.speaker_id))
            s.feats = features.mfcc(torch.from_numpy(wave).to(device), shift)
    finally:
        reader.close()
    by_speaker: dict[str, list[Segment]] = {}
    for s in segments:
        by_speaker.setdefault(s.utterance.speaker_id, []).append(s)
    for group in by_speaker.values():
        for s, f in zip(group, features.cmvn([s.feats for s in group])):
            s.feats = f
    return segments


def load_transcription(ctx, recording_id: str):
    """(Recording, its speakers, utterances, words) from the prepare and transcribe stages."""
    from voli.corpus import prepared_recording

    rec, speakers = prepared_recording(ctx.stage_dir("prepare"), recording_id)
    part = ctx.stage_dir("transcribe") / "parts" / recording_id
    utterances = from_table(read_table(part / "utterances.parquet"), Utterance)
    words = from_table(read_table(part / "words.parquet"), Word)
    return rec, speakers, utterances, words


# -- phones the corpus cannot teach ----------------------------------------------------------------

def _parts(label: str, taught: set[str]) -> tuple[str, ...] | None:
    """``label`` as the fewest labels of ``taught`` that spell it ("en:əl" -> "en:ə", "en:l"), or None.
    A part never starts with a combining mark or a length or palatalisation sign."""
    lang, _, bare = label.rpartition(":")
    prefix = f"{lang}:" if lang else ""
    best: dict[int, tuple[str, ...]] = {0: ()}
    for i in range(len(bare)):
        if i not in best:
            continue
        for j in range(i + 1, len(bare) + 1):
            piece = bare[i:j]
            if (j < len(bare) and (unicodedata.combining(bare[j]) or bare[j] in "ːˑʲʷ")) or prefix + piece not in taught:
                continue
            if piece != bare and (j not in best or len(best[i]) + 1 < len(best[j])):
                best[j] = best[i] + (prefix + piece,)
    return best.get(len(bare))


def rare_phone_splits(segments: list[Segment], min_words: int) -> dict[str, tuple[str, ...]]:
    """Phones of the training data said in fewer than ``min_words`` distinct words, mapped to the
    well-taught phones that spell them (English "əl" -> "ə" "l"; "ɔːɹ" -> "ɔː" "ɹ").

    Flat-start training learns a phone from the frames its words give it. A phone heard in one
    word only (a script's "label", its "əl" said 48 times) learns whatever the first segmentation
    gave it, and the misplaced boundary is learnt with it: on bench/dynamics_audio.py's interviews
    "əl" took "label"'s /eɪ b/ and pushed every boundary of "I label" 150-300 ms early. Spelt with
    phones that many words teach, the span is aligned by models that know them; the phone keeps
    its own label (its parts' spans are merged back)."""
    words: dict[str, set] = {}
    for s in segments:
        for w, pron in zip(s.words, s.prons):
            for x in pron.phones:
                words.setdefault(x, set()).add(w.word.lower())
    taught = {x for x, ws in words.items() if len(ws) >= min_words}
    splits = {}
    for x, ws in words.items():
        if x not in taught and (parts := _parts(x, taught)):
            splits[x] = parts
    return splits


def model_prons(segment: Segment, splits: dict[str, tuple[str, ...]]) -> tuple[list[tuple[str, ...]], list[list[int]]]:
    """The segment's pronunciations as the model's units (split phones spelt by their parts) and, per
    word, the index of the pronunciation's phone each unit belongs to."""
    units, owners = [], []
    for pron in segment.prons:
        phones, owner = [], []
        for k, x in enumerate(pron.phones):
            parts = splits.get(x, (x,))
            phones.extend(parts)
            owner.extend([k] * len(parts))
        units.append(tuple(phones))
        owners.append(owner)
    return units, owners


def phone_spans(graph: hmm.Graph, path: np.ndarray, owners: list[list[int]]) -> list[tuple[int, int, int, int]]:
    """(word, phone index in the word's pronunciation, first frame, end frame) of each phone on a
    Viterbi path: :func:`unit_spans` with a split phone's parts merged back into it."""
    first_unit = _first_units(graph)
    out: list[list[int]] = []
    for unit, a, b in unit_spans(graph, path):
        w = graph.units[unit][0]
        k = owners[w][unit - first_unit[w]]
        if out and out[-1][0] == w and out[-1][1] == k and out[-1][3] == a:
            out[-1][3] = b
        else:
            out.append([w, k, a, b])
    return [tuple(x) for x in out]


# -- training -----------------------------------------------------------------------------------


def train_model(segments: list[Segment], config: AlignConfig, progress=None) -> hmm.AcousticModel:
    """Train on the segments (at most ``max_train_hours`` of them, spread evenly over the corpus)."""
    shift = config.frame_shift_ms / 1000
    limit = int(config.max_train_hours * 3600 / shift)
    total = sum(len(s.feats) for s in segments)
    if total > limit:
        step = total / limit
        segments = [s for i, s in enumerate(segments) if int(i / step) != int((i - 1) / step) or i == 0]
        subsampled = (f"{total * shift / 3600:.1f} h of speech: the model trains on {len(segments)} utterances "
                      f"spread over the corpus (align.max_train_hours = {config.max_train_hours}); all are aligned")
        problems.report("training_subsampled", subsampled)
    else:
        subsampled = None
    options = hmm.TrainOptions(iterations=config.iterations, max_components=config.max_components,
                               batch_size=config.batch_size, variance_prior_frames=config.variance_prior_frames)
    windows = [s.config_windows(config, shift) for s in segments]
    splits = rare_phone_splits(segments, config.min_phone_words)
    units = [model_prons(s, splits) for s in segments]
    model = hmm.train([s.feats for s in segments], [u for u, _ in units], options,
                      word_frames=[s.word_frames(shift) for s in segments], log=progress, word_windows=windows)
    model.info["split_phones"] = {x: list(parts) for x, parts in sorted(splits.items())}
    # duration statistics per phone, for the duration z-scores of later alignments
    graphs = [hmm.compile_graph(model, u) for u, _ in units]
    logdur: dict[str, list[float]] = {}
    aligned = hmm.align_batches(model, [s.feats for s in segments], graphs, config.batch_size,
                                [hmm.position_windows(g, w) for g, w in zip(graphs, windows)])
    for s, g, (_, owners), r in zip(segments, graphs, units, aligned):
        if r is None:
            continue
        for w, k, a, b in phone_spans(g, r[0], owners):
            logdur.setdefault(s.prons[w].phones[k], []).append(math.log((b - a) * shift))
    model.info["durations"] = {p: [float(np.mean(v)), float(np.std(v)) if len(v) > 1 else 0.5] for p, v in logdur.items()}
    model.info["frame_shift_ms"] = config.frame_shift_ms
    model.info["word_windows"] = {"early_slack_s": config.early_slack_s, "late_slack_s": config.late_slack_s,
                                  "min_probability": config.window_min_probability,
                                  "outside_penalty_per_frame": hmm.OUTSIDE_WINDOW}
    model.info["languages"] = sorted({s.utterance.language for s in segments})
    model.info["speech_hours"] = round(sum(len(s.feats) for s in segments) * shift / 3600, 3)
    model.info["subsampled"] = subsampled  # said again when the model is reused
    return model


def unit_spans(graph: hmm.Graph, path: np.ndarray) -> list[tuple[int, int, int]]:
    """(unit, first frame, end frame) of each phone unit on a Viterbi path; silences left out."""
    unit = graph.unit[path]
    change = np.flatnonzero(np.diff(unit)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(unit)]])
    return [(int(unit[a]), int(a), int(b)) for a, b in zip(starts, ends)
            if graph.units[unit[a]][1] not in (hmm.SIL, hmm.SP)]


# -- alignment ----------------------------------------------------------------------------------


def align_segments(model: hmm.AcousticModel, segments: list[Segment], config: AlignConfig):
    """Align one recording's segments; returns the words, phones and utterances tables' rows."""
    shift = model.info.get("frame_shift_ms", config.frame_shift_ms) / 1000
    durations = model.info.get("durations", {})
    splits = {x: tuple(parts) for x, parts in model.info.get("split_phones", {}).items()}
    graphs, missing, owners_of = [], [], []
    for s in segments:
        units, owners = model_prons(s, splits)
        unknown = sorted({p for u in units for p in u if not model.knows(p)})
        missing.append(unknown)
        owners_of.append(owners)
        graphs.append(hmm.compile_graph(model, units) if not unknown else None)
    todo = [i for i, g in enumerate(graphs) if g is not None]
    windows = [_lock(hmm.position_windows(graphs[i], segments[i].config_windows(config, shift)), graphs[i],
                     segments[i], shift, owners_of[i]) for i in todo]
    results = dict(zip(todo, hmm.align_batches(model, [segments[i].feats for i in todo], [graphs[i] for i in todo],
                                               config.batch_size, windows)))
    words, phones, utts = [], [], []
    for i, s in enumerate(segments):
        u = s.utterance
        r = results.get(i)
        if r is None:
            status = (f"phones unknown to the model: {' '.join(missing[i])}" if missing[i]
                      else "too short for its phones")
            words.extend(s.words)
            utts.append(AlignedUtterance(u.utterance_id, u.recording_id, u.speaker_id, s.words[0].start,
                                         max(w.end for w in s.words), len(s.words), 0, None, status))
            continue
        path, _, frame_ll = r
        g = graphs[i]
        last = math.floor(s.end * 1e4) / 1e4 if s.end is not None else math.inf
        word_span: dict[int, list[float]] = {}
        first_word_row = len(words)
        uphones = []
        locked = {(lock.word, lock.phone): lock.time for lock in s.locks}
        for w, k, a, b in phone_spans(g, path, owners_of[i]):  # k: the phone's position in its word
            model_label = s.prons[w].phones[k]
            label = model_label.split(":", 1)[-1]
            # frame k is centred at k * shift; the last frame may reach past the audio, never the
            # times, which are rounded to 0.1 ms below the audio's end; a locked boundary keeps its time
            t0 = locked.get((w, k), round(min(s.start + max(a - 0.5, 0) * shift, last), 4))
            t1 = locked.get((w, k + 1), round(min(s.start + (b - 0.5) * shift, last), 4))
            stress = s.prons[w].stress[k] if k < len(s.prons[w].stress) else None
            mean_ll = float(frame_ll[a:b].mean())
            mu, sd = durations.get(model_label, (None, None))
            dz = (math.log(max(t1 - t0, 1e-3)) - mu) / max(sd, 0.05) if mu is not None else None
            uphones.append((w, t0, t1, label, stress, mean_ll, dz))
            span = word_span.setdefault(w, [t0, t1])
            span[1] = t1
        for w, word in enumerate(s.words):
            t0, t1 = word_span[w]
            words.append(dataclasses.replace(word, start=t0, end=t1))
        for w, t0, t1, label, stress, mean_ll, dz in uphones:
            phones.append(Phone(u.recording_id, u.utterance_id, u.speaker_id, first_word_row + w, t0, t1, label,
                                stress, round(mean_ll, 3), None if dz is None else round(dz, 3)))
        utts.append(AlignedUtterance(u.utterance_id, u.recording_id, u.speaker_id, words[first_word_row].start,
                                     words[-1].end, len(s.words), len(uphones), round(float(frame_ll.mean()), 3),
                                     "aligned"))
    return words, phones, utts


def _first_units(graph: hmm.Graph) -> dict[int, int]:
    """Each word's first unit in ``graph`` (a word's phones are consecutive units)."""
    first: dict[int, int] = {}
    for u_index, (w_index, _) in enumerate(graph.units):
        first.setdefault(w_index, u_index)
    return first


def _lock(windows: np.ndarray, graph: hmm.Graph, segment: Segment, shift: float,
          owners: list[list[int]]) -> np.ndarray:
    """Position windows that hold each locked boundary of ``segment`` at its frame: every
    position up to the boundary's unit ends before that frame, every later one starts there
    (:func:`hmm.position_windows`; the boundary's exact time is written back afterwards).
    ``owners``: each unit's phone in its word (:func:`model_prons`)."""
    if not segment.locks:
        return windows
    windows = windows.copy()
    first_unit = _first_units(graph)
    for lock in segment.locks:
        units_before = sum(1 for k in owners[lock.word] if k < lock.phone)  # the units of the phones before it
        last_before = first_unit[lock.word] + units_before - 1  # the unit that ends at the boundary
        frame = int(round((lock.time - segment.start) / shift + 0.5))
        before = graph.unit <= last_before
        windows[before, 1] = np.minimum(windows[before, 1], frame - 1)
        windows[~before, 0] = np.maximum(windows[~before, 0], frame)
    return windows


def alignment_tiers(words: list[Word], phones: list[Phone], utts: list[AlignedUtterance]) -> dict:
    """MFA-style tiers: ``<speaker> - utterances|words|phones`` per speaker, each made sequential."""
    from voli.io.textgrid import sequential, speaker_tiers

    text = {}
    for w in words:
        text.setdefault(w.utterance_id, []).append(w.word)
    rows = [(u.speaker_id, "utterances", u.start, u.end, " ".join(text.get(u.utterance_id, []))) for u in utts]
    rows += [(w.speaker_id, "words", w.start, w.end, w.word) for w in words]
    rows += [(p.speaker_id, "phones", p.start, p.end, p.phone) for p in phones]
    return {name: sequential(iv) for name, iv in speaker_tiers(rows).items()}


def write_alignment_textgrid(path: Path, words: list[Word], phones: list[Phone], utts: list[AlignedUtterance],
                             duration_s: float) -> Path:
    """MFA-style TextGrid: ``<speaker> - utterances|words|phones`` tiers per speaker."""
    from voli.io.textgrid import write_textgrid

    return write_textgrid(path, alignment_tiers(words, phones, utts), duration_s=duration_s)


def write_alignment_eaf(path: Path, words: list[Word], phones: list[Phone], utts: list[AlignedUtterance],
                        duration_s: float, audio_path: str) -> Path:
    """The TextGrid's tiers as an ELAN file (milliseconds) linked to the recording's audio."""
    from voli.io.eaf import write_eaf

    return write_eaf(path, alignment_tiers(words, phones, utts), media_path=audio_path, duration_s=duration_s)


_models: dict = {}


def cached_model(directory: Path, device) -> hmm.AcousticModel:
    path = Path(directory) / "model.pt"
    key = (str(path), path.stat().st_mtime_ns if path.exists() else 0, str(device))
    if key not in _models:
        _models.clear()
        _models[key] = hmm.AcousticModel.load(directory, device)
    return _models[key]


def align_recording(rec, speakers, utterances, words, model: hmm.AcousticModel, config: AlignConfig, device,
                    textgrid_dir: Path | None = None, eaf_dir: Path | None = None) -> dict[str, pa.Table]:
    """Align one transcribed recording with a trained model; returns its tables (and writes its
    TextGrid into ``textgrid_dir`` and its ELAN file into ``eaf_dir``, where given)."""
    if not words:
        raise AlignmentError(f"{rec.audio_path}: the transcription has no words to align")
    segments = recording_segments(rec, speakers, utterances, words, config, device)
    return _written(rec, *align_segments(model, segments, config), textgrid_dir, eaf_dir)


def _written(rec, w, p, u, textgrid_dir: Path | None, eaf_dir: Path | None) -> dict[str, pa.Table]:
    """A recording's alignment as its tables, its TextGrid and its ELAN file written where given."""
    if textgrid_dir is not None:
        write_alignment_textgrid(Path(textgrid_dir) / f"{rec.recording_id}.TextGrid", w, p, u, rec.duration_s)
    if eaf_dir is not None:
        write_alignment_eaf(Path(eaf_dir) / f"{rec.recording_id}.eaf", w, p, u, rec.duration_s, rec.audio_path)
    return {"words": to_table(w, Word), "phones": to_table(p, Phone), "utterances": to_table(u, AlignedUtterance)}


def read_correction_of(rec, speakers, correction_file: Path):
    """A recording's correction, read and checked (voli.align.corrections.read_correction)."""
    from voli.align import corrections as corr

    correction = corr.read_correction(correction_file, [s.speaker_id for s in speakers], rec.duration_s)
    if not correction.words:
        raise AlignmentError(f"{correction_file}: no labelled interval on any '<speaker> - words' tier; a correction "
                             "holds the words as they were said (delete the file to keep voli's own alignment)")
    return correction


RUN_GAP_S = 0.3  # corrected words with no utterance interval: a pause longer than this starts another utterance


def corrected_segments(rec, speakers, correction, config: AlignConfig, device, *, own=([], [], []),
                       locked: dict | None = None, language: str = "", lexicons: dict | None = None
                       ) -> tuple[list[Segment], int]:
    """The segments of a corrected recording, ready for the HMM, and how many of its words are new,
    respelt or moved: the correction's words and speakers, grouped into its utterance intervals
    (``own``'s utterances where it has none; runs of words where neither has one), each word that
    voli's own alignment ``own`` (words, phones, utterances) has unchanged keeping its ASR fields,
    relabelled phones and hand pronunciations as the pronunciation, and the ``locked`` boundaries
    (speaker -> times) as the segments' locks."""
    from voli.align import corrections as corr
    from voli.text import is_filler

    own_words, own_phones, own_utts = own
    locked = locked or {}
    roles = {s.speaker_id: s.role for s in speakers}
    language = language or rec.language or ""
    own_of: dict[tuple, list] = {}
    for i, w in enumerate(own_words):
        own_of.setdefault((w.speaker_id, w.word), []).append((i, w))

    def own_word(cw):  # voli's word that the linguist left as it was (an ELAN file rounds times to the ms)
        return next(((i, w) for i, w in own_of.get((cw.speaker_id, cw.word), [])
                     if abs(w.start - cw.start) <= corr.LOCK_TOLERANCE_S and abs(w.end - cw.end) <= corr.LOCK_TOLERANCE_S),
                    (None, None))
    own_phones_of: dict[int, list[str]] = {}
    for p in own_phones:
        own_phones_of.setdefault(p.word_index, []).append(p.phone)
    # utterances: the correction's utterance intervals (voli's own where it has none), numbered in time order
    spans = [(spk, a, b) for spk, ivs in correction.utterances.items() for a, b in ivs]
    spans += [(u.speaker_id, u.start, u.end) for u in own_utts if u.speaker_id not in correction.utterances]
    groups: dict[tuple, list] = {}
    runs: dict[str, list[float]] = {}  # speaker -> [start, end] of their current run of words outside any interval
    for cw in correction.words:
        mid = (cw.start + cw.end) / 2
        span = next(((spk, a, b) for spk, a, b in spans if spk == cw.speaker_id and a <= mid <= b), None)
        if span is None:  # no utterance interval: a run of the speaker's words with pauses under RUN_GAP_S
            run = runs.get(cw.speaker_id)
            if run is None or cw.start - run[1] > RUN_GAP_S:
                run = runs[cw.speaker_id] = [cw.start, cw.end]
            run[1] = cw.end
            span = (cw.speaker_id, run[0], "run")
        groups.setdefault(span, []).append(cw)
    new_utts, new_words, wanted, changed = [], [], {}, 0
    for n, (key, cws) in enumerate(sorted(groups.items(), key=lambda kv: (kv[1][0].start, kv[0][0]))):
        uid = f"{rec.recording_id}-{n:06d}"
        spk = key[0]
        new_utts.append(Utterance(uid, rec.recording_id, spk, roles.get(spk, "unknown"), cws[0].start, cws[-1].end,
                                  " ".join(c.word for c in cws), language))
        for cw in cws:
            i, own_w = own_word(cw)
            w = (dataclasses.replace(own_w, utterance_id=uid) if own_w is not None else
                 Word(rec.recording_id, uid, spk, roles.get(spk, "unknown"), cw.start, cw.end, cw.word, None,
                      is_filler(cw.word, language), language, 1.0, False))
            labels = [lab for _, _, lab in cw.phones]
            phones = (cw.hand_phones if cw.hand_phones is not None
                      else tuple(labels) if i is not None and labels and labels != own_phones_of.get(i) else None)
            wanted[(uid, w.start, w.word)] = (cw, phones)
            new_words.append(w)
            changed += own_w is None
    segments = recording_segments(rec, speakers, new_utts, new_words, config, device, lexicons)
    for seg in segments:
        for k, w in enumerate(seg.words):
            cw, phones = wanted[(w.utterance_id, w.start, w.word)]
            if phones is not None:  # the linguist's pronunciation (braces) or relabelled phones
                phones = tuple(phones if config.share_phones else (f"{w.language}:{x}" for x in phones))
                seg.prons[k] = dataclasses.replace(seg.prons[k], phones=phones, stress=(None,) * len(phones))
            seg.locks += tuple(corr.word_locks(k, cw, len(seg.prons[k].phones), locked.get(w.speaker_id, [])))
        corr.check_lock_order(seg.locks, seg.utterance.speaker_id, correction.path)
    return segments, changed


def align_corrected(rec, speakers, utterances, words, model: hmm.AcousticModel, config: AlignConfig, device,
                    correction_file: Path, textgrid_dir: Path | None = None, eaf_dir: Path | None = None
                    ) -> dict[str, pa.Table]:
    """Align one recording as a linguist corrected it (voli.align.corrections): voli's own
    alignment first (what the correction is compared with), then the correction's words, speakers
    and phone labels aligned again with its hand-moved boundaries locked."""
    from voli.align import corrections as corr

    correction = read_correction_of(rec, speakers, correction_file)
    own = align_segments(model, recording_segments(rec, speakers, utterances, words, config, device), config)
    locked = corr.locked_boundaries(correction, own[0], own[1])
    segments, changed = corrected_segments(rec, speakers, correction, config, device, own=own, locked=locked,
                                           language=words[0].language if words else (rec.language or ""))
    w, p, u = align_segments(model, segments, config)
    w = [dataclasses.replace(x, checked=True) for x in w]
    p = [dataclasses.replace(x, checked=True) for x in p]
    log.info("%s: aligned as corrected in %s: %d words (%d new, respelt or moved), %d boundaries locked",
             rec.recording_id, correction_file, len(w), changed, sum(len(ts) for ts in locked.values()))
    return _written(rec, w, p, u, textgrid_dir, eaf_dir)


# -- the stage's corpus-level step ----------------------------------------------------------------


def ensure_model(ctx, recording_ids: list[str], upstream_fingerprints: list[str],
                 corrections: dict[str, Path] | None = None) -> tuple[Path, str]:
    """The align stage's training step: the model to align with, and its fingerprint.
    ``align.model`` if set, else the model trained on this corpus's transcriptions (trained now
    unless a matching one is saved). A linguist's correction does not retrain it; ``align.retrain``
    (``--retrain``) trains it again now, on the corrected words of the recordings in
    ``corrections`` (recording_id -> file).

    When it reads the transcriptions (training, or a saved model) it also writes the lexicon of
    every word it read (``lexicon.dict``, MFA format, for correcting and passing back as
    ``align.dictionary``) and ``unknown_words.csv``.
    """
    import hashlib
    import json

    from voli.runner import fingerprint

    config: AlignConfig = ctx.config.align
    stage_dir = ctx.stage_dir("align")
    if config.model:
        model_dir = Path(config.model)
        if not (model_dir / "model.pt").is_file():
            raise AlignmentError(f"align.model = {config.model}: no model.pt there; point it at a directory written "
                                 f"by `voli align` (<workdir>/{rel('align', 'model')}) or unset it to train one")
        digest = hashlib.sha256((model_dir / "model.pt").read_bytes()).hexdigest()
    else:
        model_dir = stage_dir / "model"
        training = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("batch_size", "retrain")}
        digest = fingerprint(sorted(upstream_fingerprints), training, hmm.MODEL_VERSION)
        card = model_dir / "card.json"
        info = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}
        if info.get("fingerprint") == digest and not config.retrain:
            digest = _with_corrections(digest, info.get("corrections"))
            for rid, why in sorted(info.get("left_out", {}).items()):  # said again on every run that uses the model
                _left_out(rid, why)
            if info.get("subsampled"):
                problems.report("training_subsampled", info["subsampled"])
            return model_dir, digest
    segments, left_out, used = [], {}, {}
    lexicons: dict = {}  # the words read here, and only they, go into lexicon.dict
    for rid in recording_ids:
        try:
            rec, speakers, utterances, words = load_transcription(ctx, rid)
            if config.retrain and not config.model and (corrections or {}).get(rid) is not None:
                from voli.align.corrections import digest as file_digest

                correction = read_correction_of(rec, speakers, corrections[rid])
                segments.extend(corrected_segments(rec, speakers, correction, config, ctx.device,
                                                   language=words[0].language if words else "", lexicons=lexicons)[0])
                used[rid] = file_digest(corrections[rid])
                continue
            segments.extend(recording_segments(rec, speakers, utterances, words, config, ctx.device, lexicons))
        except VoliError as err:  # the recording fails again, and is recorded, when aligned
            left_out[rid] = str(err)
        except Exception as err:  # noqa: BLE001 - a bug; the recording fails again (as a bug) when aligned
            left_out[rid] = bug_message(err, "reading its transcription for training")
    if not config.model:  # with a saved model nothing is trained; these recordings fail when aligned
        for rid, why in left_out.items():
            _left_out(rid, why)
    _write_lexicon(stage_dir, lexicons)
    if config.model:
        return model_dir, digest
    if not segments:
        raise AlignmentError("no transcribed utterance could be read to train the alignment model; "
                             f"see {rel('transcribe', 'failures.parquet')}")
    log.info("align: training on %d utterances from %d recordings", len(segments), len(recording_ids))
    model = train_model(segments, config, progress=log.info)
    model.info["fingerprint"] = digest
    model.info["corrections"] = used  # recording_id -> the correction's hash, for a model trained with --retrain
    model.info["recordings"] = len(recording_ids) - len(left_out)
    model.info["left_out"] = left_out
    model.save(model_dir)
    return model_dir, _with_corrections(digest, used)


def _with_corrections(digest: str, used: dict | None) -> str:
    """The model's fingerprint: its training data's, and the corrections it was trained on, if any
    (a model retrained on corrections realigns every recording; none keeps the fingerprint as it was)."""
    from voli.runner import fingerprint

    return fingerprint(digest, sorted(used.items())) if used else digest


def _left_out(recording_id: str, why: str) -> None:
    problems.report("left_out_of_training", f"left out of the alignment model's training ({why}); the model was "
                    "trained on the other recordings", recording_id=recording_id)


def _write_lexicon(stage_dir: Path, lexicons: dict) -> None:
    import csv
    import io

    from voli.align.lexicon import write_dictionary
    from voli.io.tables import write_text

    entries, unknown = {}, []
    for (language, _), lex in sorted(lexicons.items(), key=lambda kv: str(kv[0])):
        for word, prons in lex.entries().items():
            entries.setdefault(word, [])
            entries[word].extend(p for p in prons if p not in entries[word])
        unknown.extend((language, w, why) for w, why in sorted(lex.unknown.items()))
    stage_dir.mkdir(parents=True, exist_ok=True)
    write_dictionary(stage_dir / "lexicon.dict", entries)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["language", "word", "reason"])
    writer.writerows(unknown)
    write_text(buf.getvalue(), stage_dir / "unknown_words.csv")
