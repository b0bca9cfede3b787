"""The linguist's loop: a corrected TextGrid under WORKDIR/corrections/, then `voli run`.

A boundary moved by hand stays where it was put, to the sample; a respelt word is aligned with its
new phones; only the corrected recording is redone, downstream too; its tokens are ``checked``.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from conftest import run_voli
from voli.align.corrections import (CorrectedWord, Correction, Lock, check_lock_order, locked_boundaries,
                                   read_correction, word_locks)
from voli.errors import CorpusError
from voli.schema import Phone, Word
from voli.workdir import Workdir

RID = "en_01"


def _word(speaker, start, end, text="w"):
    return Word("r", "r-000000", speaker, "interviewee", start, end, text, 0.9, False, "en")


def _phone(speaker, start, end, label="a", word_index=0):
    return Phone("r", "r-000000", speaker, word_index, start, end, label, None)


def test_only_boundaries_moved_by_more_than_a_millisecond_are_locked():
    own_w = [_word("S", 1.0, 1.3), _word("S", 1.3, 1.6)]
    own_p = [_phone("S", 1.0, 1.1), _phone("S", 1.1, 1.3), _phone("S", 1.3, 1.6, word_index=1)]
    corrected = Correction(None, [
        CorrectedWord("S", 1.0005, 1.3, "w", None, ((1.0005, 1.14, "a"), (1.14, 1.3, "a"))),  # 0.5 ms: not moved
        CorrectedWord("S", 1.3, 1.66, "w", None, ((1.3, 1.66, "a"),)),
    ])
    locked = locked_boundaries(corrected, own_w, own_p)
    assert locked == {"S": [pytest.approx(1.14), pytest.approx(1.66)]}
    locks = word_locks(0, corrected.words[0], 2, locked["S"])  # the inner phone boundary of the first word
    assert [(x.word, x.phone, x.time) for x in locks] == [(0, 1, 1.14)]
    assert word_locks(0, corrected.words[0], 3, locked["S"]) == []  # other phones: the inner boundary is not its
    assert [(x.phone, x.time) for x in word_locks(1, corrected.words[1], 1, locked["S"])] == [(1, 1.66)]
    check_lock_order(locks + word_locks(1, corrected.words[1], 1, locked["S"]), "S", "c.TextGrid")  # in order
    with pytest.raises(CorpusError, match=r"c.TextGrid: tier 'S - words'.*1.140 s comes before the one at 1.200 s"):
        check_lock_order([Lock(0, 1, 1.2), Lock(1, 0, 1.14)], "S", "c.TextGrid")
    check_lock_order([Lock(0, 2, 1.3), Lock(1, 0, 1.3)], "S", "c.TextGrid")  # a word's end is the next one's start


def _write(tmp_path, tiers, duration=5.0):
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    tg = textgrid.Textgrid(0, duration)
    for name, entries in tiers.items():
        tg.addTier(IntervalTier(name, entries, 0, duration))
    path = tmp_path / "r.TextGrid"
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=True)
    return path


def test_a_bad_correction_is_named_with_its_file_tier_and_time(tmp_path):
    ok = {"S - words": [(1.0, 1.3, "hello"), (1.3, 1.6, "there {ð ɛ ɹ}")]}
    c = read_correction(_write(tmp_path, ok), ["S"], 5.0)
    assert [(w.word, w.hand_phones) for w in c.words] == [("hello", None), ("there", ("ð", "ɛ", "ɹ"))]
    with pytest.raises(CorpusError, match=r"tier 'X - words' is not one voli wrote.*rename or remove"):
        read_correction(_write(tmp_path, {"X - words": [(1.0, 1.3, "hello")]}), ["S"], 5.0)
    with pytest.raises(CorpusError, match=r"it lasts 5.000 s but the recording lasts 3.000 s"):
        read_correction(_write(tmp_path, ok, duration=5.0), ["S"], 3.0)
    with pytest.raises(CorpusError, match=r"empty braces"):
        read_correction(_write(tmp_path, {"S - words": [(1.0, 1.3, "hello {}")]}), ["S"], 5.0)


def _parts_stamp(work, stage):
    return {p.parent.name: p.stat().st_mtime_ns for p in Workdir(work).stage(stage).glob("parts/*/.done")}


def _tiers(path):
    """{tier: [(start, end, label)]} of a TextGrid or an ELAN file voli wrote (labelled intervals)."""
    if path.suffix == ".eaf":
        from voli.io.eaf import read_eaf

        return {name: [(iv.start, iv.end, iv.label) for iv in ivs] for name, ivs in read_eaf(path).items()}
    from praatio import textgrid

    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    return {name: [(e.start, e.end, e.label) for e in tg.getTier(name).entries] for name in tg.tierNames}


def _save(tiers, path, duration_s):
    if path.suffix == ".eaf":
        from voli.io.eaf import write_eaf
        from voli.io.textgrid import Interval

        write_eaf(path, {name: [Interval(*iv) for iv in ivs] for name, ivs in tiers.items()}, duration_s=duration_s)
        return
    from praatio import textgrid

    out = textgrid.Textgrid(0, duration_s)
    for name, entries in tiers.items():
        out.addTier(textgrid.IntervalTier(name, entries, 0, duration_s))
    out.save(str(path), format="long_textgrid", includeBlankSpaces=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["TextGrid", "eaf"])
def test_a_moved_boundary_and_a_respelt_word_are_kept_and_only_their_recording_is_redone(featured, aligned, tmp_path,
                                                                                         kind):
    """Praat's TextGrid or ELAN's file, as the align stage wrote it, with one phone boundary moved
    by 40 ms, one word respelt, one phone relabelled and one word moved to the other speaker's tier,
    saved under corrections/."""
    from voli.align.lexicon import Lexicon

    _, featured_work, corpus = featured
    config = aligned[3]
    work = tmp_path / "exp"
    shutil.copytree(featured_work, work)
    before = {stage: _parts_stamp(work, stage) for stage in ("align", "features")}
    written = Workdir(work).eaf(RID) if kind == "eaf" else Workdir(work).textgrid("align", RID)
    tiers = _tiers(written)
    speaker = next(n.split(" - ")[0] for n in tiers if n.endswith(" - words") and not n.startswith("INT"))
    words, phones = tiers[f"{speaker} - words"], tiers[f"{speaker} - phones"]

    # the first boundary inside a word next to a phone of 70 ms or more, moved 40 ms into that phone
    def inner_boundaries():
        for w in words:
            inner = [p for p in phones if w[0] <= p[0] < w[1]]
            for left, right in zip(inner, inner[1:]):
                for phone, shift in ((right, 0.04), (left, -0.04)):
                    if phone[1] - phone[0] >= 0.07:
                        yield w, left, right, shift

    target, left, right, shift = next(inner_boundaries())
    moved = round(left[1] + shift, 3)
    i = phones.index(left)
    phones[i], phones[i + 1] = (left[0], moved, left[2]), (moved, right[1], right[2])
    # a word of another utterance, respelt
    respelt = next(w for w in words if w[0] > target[1] + 1.0 and len(w[2]) > 2)
    words[words.index(respelt)] = (respelt[0], respelt[1], "house")
    # a phone relabelled: the first phone of a later word of 2+ phones takes another phone's label
    relabelled = next(w for w in words if w[0] > respelt[1] + 0.5 and len([p for p in phones if w[0] <= p[0] < w[1]]) >= 2)
    first = next(p for p in phones if p[0] == relabelled[0])
    other = next(p[2] for p in phones if p[2] != first[2] and p[2] not in ("", "sil", "spn"))
    phones[phones.index(first)] = (first[0], first[1], other)
    # a word of the interviewer's given to the interviewee: moved from one speaker's tier to the other's
    interviewer = next(n.split(" - ")[0] for n in tiers if n.endswith(" - words") and n.startswith("INT"))
    given = tiers[f"{interviewer} - words"][-1]
    tiers[f"{interviewer} - words"].remove(given)
    words.append(given)
    words.sort()
    Workdir(work).corrections().mkdir()
    duration = pd.read_parquet(Workdir(work).table("prepare", "recordings")).set_index("recording_id").duration_s[RID]
    _save(tiers, Workdir(work).corrections(RID, f".{kind}"), float(duration))

    code, log = run_voli("run", corpus, "--workdir", work, "--config", config, "--stop-stage", "features", "--device",
                         "cpu", "-q")
    # the fixture's noise-only recording fails transcription, as it should; nothing else fails
    assert code == 1 and "align: 1 processed, 7 already done, 0 failed" in log, log
    assert "features: 1 processed, 7 already done, 0 failed" in log, log
    assert set(pd.read_parquet(Workdir(work).table("transcribe", "failures")).recording_id) == {"noise"}
    got_p = pd.read_parquet(Workdir(work).table("align", "phones"))
    got_w = pd.read_parquet(Workdir(work).table("align", "words"))
    mine_p = got_p[(got_p.recording_id == RID) & (got_p.speaker_id == speaker)].sort_values("start")
    # the moved boundary, to the sample: one phone ends there and the next starts there, labels kept
    ends, starts = mine_p[mine_p.end == moved], mine_p[mine_p.start == moved]
    assert list(ends.phone) == [left[2]] and list(starts.phone) == [right[2]]
    # the respelt word, with the lexicon's phones, which fill it exactly
    house = got_w[(got_w.recording_id == RID) & (got_w.word == "house")]
    assert len(house) == 1
    rows = got_w[got_w.recording_id == RID].reset_index(drop=True)
    index = int(rows.index[rows.word == "house"][0])
    its = mine_p[mine_p.word_index == index].sort_values("start")
    assert tuple(its.phone) == Lexicon("en").pronounce(["house"])[0].phones
    assert its.start.iloc[0] == pytest.approx(house.start.iloc[0]) and its.end.iloc[-1] == pytest.approx(house.end.iloc[0])
    # the relabelled phone keeps its label; the moved word is the interviewee's
    near = rows[(rows.speaker_id == speaker) & (rows.word == relabelled[2])]
    index = int((near.start - relabelled[0]).abs().idxmin())
    assert mine_p[mine_p.word_index == index].sort_values("start").phone.iloc[0] == other
    moved_word = rows.loc[(rows.start - given[0]).abs().idxmin()]
    assert moved_word.word == given[2] and moved_word.speaker_id == speaker
    # checked: the corrected recording's words, phones and vowel tokens; no other's
    vowels = pd.read_parquet(Workdir(work).table("features", "vowels"))
    for table in (got_w, got_p, vowels):
        assert table[table.recording_id == RID].checked.all() and not table[table.recording_id != RID].checked.any()
    # only the corrected recording was redone, in align and in features
    for stage in ("align", "features"):
        after = _parts_stamp(work, stage)
        assert after[RID] != before[stage][RID]
        assert {r: t for r, t in after.items() if r != RID} == {r: t for r, t in before[stage].items() if r != RID}
    if kind != "TextGrid":
        return
    # --retrain: the model is trained again, on the corrected words, and every recording is realigned with it;
    # a later run without it keeps that model and redoes nothing
    code, log = run_voli("align", corpus, "--workdir", work, "--config", config, "--retrain", "--device", "cpu", "-q")
    assert code == 0 and "align: 8 processed, 0 already done" in log, log
    import json

    card = json.loads((Workdir(work).model() / "card.json").read_text(encoding="utf-8"))
    assert list(card["corrections"]) == [RID]
    code, log = run_voli("align", corpus, "--workdir", work, "--config", config, "--device", "cpu", "-q")
    assert code == 0 and "align: 0 processed, 8 already done" in log, log
    got_p = pd.read_parquet(Workdir(work).table("align", "phones"))
    assert (got_p[got_p.recording_id == RID].end == moved).sum() == 1  # still locked with the new model


def test_checked_only_keeps_the_corrected_recordings():
    """profile.checked_only: the vowel tokens and utterances of corrected recordings; a speaker's
    pooled prosody only where all of their recordings were corrected."""
    from voli.profile.stage import checked_only

    vowels = pd.DataFrame({"recording_id": ["r1", "r1", "r2", "r3"], "speaker_id": ["A", "A", "B", "B"],
                           "checked": [True, True, True, False]})
    utterances = pd.DataFrame({"recording_id": ["r1", "r2", "r3"], "speaker_id": ["A", "B", "B"]})
    prosody = pd.DataFrame({"speaker_id": ["A", "B"], "n_recordings": [1, 2]})
    v, u, p = checked_only(vowels, utterances, prosody)
    assert list(v.recording_id) == ["r1", "r1", "r2"] and list(u.recording_id) == ["r1", "r2"]
    assert list(p.speaker_id) == ["A"]  # B has an uncorrected recording: its pooled prosody is not B's checked speech
    with pytest.raises(CorpusError, match="no recording has been corrected"):
        checked_only(vowels.assign(checked=False), utterances, prosody)
