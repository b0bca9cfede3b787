"""Peers for voli's alignment benchmark: forced aligners run on the same audio as voli's.

``pocketsphinx_align`` force-aligns a known English transcript with pocketsphinx 5 (its bundled
en-us acoustic model and CMU dictionary) and returns word and phone intervals whose phone labels
follow espeak-ng's en-us IPA (stress removed), the labels voli's English phones use.

Install (self-contained wheel; its declared dependency ``sounddevice`` is only imported for
microphone input, so ``--no-deps`` is enough): see bench/README.md, "Peers".

Demo, on the LibriVox sonnet and the simulated English interview en_01 (prints errors and time):

    .venv/bin/python bench/peers.py
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

Interval = tuple[float, float, str]

# CMU ARPAbet (as in pocketsphinx's cmudict-en-us.dict, which carries no stress digits) -> the label
# espeak-ng's en-us voice gives, stress removed. Context-free defaults; the many-to-one cases are
# refined by _to_ipa's word-context rules, derived by aligning cmudict against espeak-ng on ~1150
# common words:
#   AH -> ə   (espeak: ə 114, ʌ 81, ᵻ 34, ɪ 33, ɐ 21). Rules: ʌ in one-vowel words except
#             word-final (the -> ə; the word a, AH alone -> ɐ as espeak says it in a phrase); ɐ word-initially in longer words (about, ago); ᵻ in the
#             -ed/-es suffix after an alveolar/sibilant; AH L at the end of a word -> əl.
#   ER -> ɚ   (ɚ 105, ɜː 32). Rule: ɜː in one-vowel words (her, world, first).
#   IY -> iː  (iː 89, i 50). Rule: i word-finally in longer words (city, only, very).
#   IH -> ɪ   (ɪ 192, ᵻ 40). Rule: ᵻ in the -ed/-es suffix (wanted, roses).
#   AO -> ɔː  (ɔː 23, ɔ 13: espeak's ɔ in on/want/often is not recoverable from cmudict).
#   AA -> ɑː, T -> t (T between vowels, not word-initial, in a longer word -> ɾ: city, better;
#             espeak's ʔ before syllabic n, button, is not reproduced), N -> n (n̩ not reproduced).
#   Vowel + R with no vowel after it (in the word) -> espeak's single r-coloured label:
#             AA R -> ɑːɹ, AO R / OW R -> ɔːɹ (espeak splits these about evenly between ɔːɹ and oːɹ,
#             by spelling: or/ore), EH R / EY R -> ɛɹ, IH R / IY R -> ɪɹ, UH R / UW R -> ʊɹ,
#             AY ER / AY R -> aɪɚ. IY AH at the end of a word -> iə (idea, area).
#   Merged labels span both ARPAbet phones' intervals. espeak's extra ɹ after an intervocalic
#   ɚ (memory: m ɛ m ɚ ɹ i) has no ARPAbet phone of its own and stays unmatched.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑː", "AE": "æ", "AH": "ə", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɚ",
    "EY": "eɪ", "IH": "ɪ", "IY": "iː", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "uː",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
_R_COLOURED = {"AA": "ɑːɹ", "AO": "ɔːɹ", "OW": "ɔːɹ", "EH": "ɛɹ", "EY": "ɛɹ", "IH": "ɪɹ", "IY": "ɪɹ",
               "UH": "ʊɹ", "UW": "ʊɹ"}
_SUFFIX_BEFORE = frozenset("T D S Z SH ZH CH JH".split())  # -ed after T/D, -es after sibilants

# espeak-ng IPA label -> ARPAbet, for words missing from cmudict (pronounced by espeak-ng instead)
_IPA_TO_ARPABET: dict[str, str] = {v: k for k, v in ARPABET_TO_IPA.items()}
_IPA_TO_ARPABET.update({
    "ʌ": "AH", "ɐ": "AH", "ᵻ": "IH", "ɜː": "ER", "i": "IY", "ɔ": "AO", "oː": "AO", "ɾ": "T", "ʔ": "T",
    "n̩": "AH N", "əl": "AH L", "iə": "IY AH", "aɪɚ": "AY ER", "aɪə": "AY AH", "ɑːɹ": "AA R",
    "ɔːɹ": "AO R", "oːɹ": "AO R", "ɛɹ": "EH R", "ɪɹ": "IH R", "ʊɹ": "UH R", "ɑ": "AA", "a": "AE",
    "e": "EY", "o": "OW", "u": "UW", "ɒ": "AA", "ʊə": "UH AH", "eə": "EH AH", "x": "HH", "r": "R",
    "mː": "M", "ʌː": "AH",
})


def _to_ipa(phones: list[str]) -> list[tuple[str, int]]:
    """ARPAbet phones of one word -> [(IPA label, how many ARPAbet phones it spans)]."""
    n = len(phones)
    n_vowels = sum(p in VOWELS for p in phones)
    out: list[tuple[str, int]] = []
    i = 0
    while i < n:
        p = phones[i]
        nxt = phones[i + 1] if i + 1 < n else None
        after = phones[i + 2] if i + 2 < n else None
        if nxt == "R" and p in _R_COLOURED and after not in VOWELS:
            out.append((_R_COLOURED[p], 2))
            i += 2
            continue
        if p == "AY" and (nxt == "ER" or (nxt == "R" and after not in VOWELS)):
            out.append(("aɪɚ", 2))
            i += 2
            continue
        if p == "AH" and nxt == "L" and after is None and n_vowels > 1:
            out.append(("əl", 2))
            i += 2
            continue
        if p == "IY" and nxt == "AH" and after is None:
            out.append(("iə", 2))
            i += 2
            continue
        label = ARPABET_TO_IPA[p]
        if p == "AH":
            if n_vowels == 1:
                label = ("ɐ" if n == 1 else "ə") if nxt is None else "ʌ"  # a; the, to; but, up
            elif i == 0:
                label = "ɐ"
        if p == "ER" and n_vowels == 1:
            label = "ɜː"
        if p == "IY" and nxt is None and n_vowels > 1:
            label = "i"
        if p in ("IH", "AH") and i == n - 2 and n_vowels > 1 and i > 0 and (
                (nxt == "D" and phones[i - 1] in ("T", "D")) or (nxt == "Z" and phones[i - 1] in _SUFFIX_BEFORE)):
            label = "ᵻ"
        if p == "T" and 0 < i < n - 1 and n_vowels > 1 and (phones[i - 1] in VOWELS or phones[i - 1] == "R") \
                and nxt in VOWELS:
            label = "ɾ"
        out.append((label, 1))
        i += 1
    return out


_decoder = None


def _get_decoder():
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        # as `pocketsphinx align` does: no language model, no bestpath search
        _decoder = Decoder(lm=None, bestpath=False, samprate=16000, loglevel="ERROR")
    return _decoder


def _normalise(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower().replace("’", "'")).strip("'")


def _espeak_arpabet(word: str) -> str | None:
    try:
        from voli import espeak

        labels = espeak.phonemize(word, "en").phones
    except Exception:
        return None
    out = []
    for label in labels:
        if label not in _IPA_TO_ARPABET:
            return None
        out.append(_IPA_TO_ARPABET[label])
    return " ".join(out) or None


def _dict_word(decoder, word: str) -> str | None:
    """The dictionary entry to align ``word`` with, adding it (espeak-ng pronunciation) if missing."""
    key = _normalise(word)
    if not key:
        return None
    if decoder.lookup_word(key) is not None:
        return key
    phones = _espeak_arpabet(key)
    if phones is None:
        warnings.warn(f"pocketsphinx: {word!r} is not in cmudict and espeak-ng gave no usable pronunciation;"
                      " left out of the alignment", stacklevel=3)
        return None
    decoder.add_word(key, phones, True)
    return key


def pocketsphinx_align(audio: np.ndarray, words: list[str], sample_rate: int = 16000
                       ) -> tuple[list[Interval], list[Interval]]:
    """Force-align English `words` (the known transcript of this audio clip, 16 kHz mono float32) with
    pocketsphinx's en-us model. Returns (word_intervals, phone_intervals), each a list of
    (start_s, end_s, label); silences dropped; phone labels mapped from CMU ARPAbet to the IPA labels
    that espeak-ng (en-us voice) uses (see ARPABET_TO_IPA), so they compare with voli's phone labels.

    Words are lower-cased and stripped of punctuation (apostrophes kept) for the dictionary lookup;
    a word missing from pocketsphinx's cmudict is added with espeak-ng's pronunciation mapped back
    to ARPAbet, and one with no pronunciation at all is left out with a warning. Word labels are
    returned as given. Returns two empty lists (with a warning) when pocketsphinx cannot align.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if sample_rate != 16000:
        import soxr

        audio = soxr.resample(audio, sample_rate, 16000).astype(np.float32)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    decoder = _get_decoder()
    kept = [(w, k) for w in words if (k := _dict_word(decoder, w)) is not None]
    if not kept:
        return [], []
    try:
        decoder.set_align_text(" ".join(k for _, k in kept))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        decoder.set_alignment()  # second pass: phone and state durations
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        alignment = decoder.get_alignment()
    except RuntimeError as e:
        warnings.warn(f"pocketsphinx could not align {len(kept)} words: {e}", stacklevel=2)
        return [], []
    frate = 100.0
    word_iv: list[Interval] = []
    phone_iv: list[Interval] = []
    queue = list(kept)
    for w in alignment:
        name = re.sub(r"\(\d+\)$", "", w.name)
        if name.startswith("<") or name.startswith("[") or not queue:
            continue  # <sil>, <s>, </s>, fillers
        original, key = queue.pop(0)
        if name != key:
            warnings.warn(f"pocketsphinx aligned {name!r} where {key!r} was expected", stacklevel=2)
        word_iv.append((w.start / frate, (w.start + w.duration) / frate, original))
        segs = [(p.name, p.start / frate, (p.start + p.duration) / frate) for p in w]
        segs = [s for s in segs if s[0] in ARPABET_TO_IPA]  # drop SIL and noise phones
        k = 0
        for label, span in _to_ipa([s[0] for s in segs]):
            phone_iv.append((segs[k][1], segs[k + span - 1][2], label))
            k += span
    return word_iv, phone_iv


# ----------------------------------------------------------------------------- demo

def _match(pred: list[str], truth: list[str]) -> list[tuple[int, int]]:
    """Pairs (i, j) of equal labels, in order (longest common subsequence)."""
    n, m = len(pred), len(truth)
    L = np.zeros((n + 1, m + 1), dtype=np.int32)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            L[i, j] = L[i + 1, j + 1] + 1 if pred[i] == truth[j] else max(L[i + 1, j], L[i, j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if pred[i] == truth[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif L[i + 1, j] >= L[i, j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _load16k(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, 16000).astype(np.float32) if sr != 16000 else x


def _demo_en01() -> None:
    import pandas as pd

    truth_dir = ROOT / "corpora_sample" / "truth"
    tw = pd.read_parquet(truth_dir / "words.parquet")
    tp = pd.read_parquet(truth_dir / "phones.parquet")
    tw, tp = tw[tw.recording_id == "en_01"], tp[tp.recording_id == "en_01"]
    x = _load16k(ROOT / "corpora_sample" / "audio" / "en_01.flac")
    wd, pd_err, n_tp, n_matched, n_words = [], [], 0, 0, 0
    t_align = 0.0
    for utt, w in tw.groupby("utterance_id", sort=False):
        w = w.sort_values("start")
        p = tp[tp.utterance_id == utt].sort_values("start")
        t0 = max(0.0, w.start.min() - 0.3)
        t1 = w.end.max() + 0.3
        clip = x[int(t0 * 16000):int(t1 * 16000)]
        tic = time.perf_counter()
        words, phones = pocketsphinx_align(clip, list(w.word))
        t_align += time.perf_counter() - tic
        n_words += len(w)
        for i, j in _match([_normalise(a[2]) for a in words], [_normalise(s) for s in w.word]):
            wd += [abs(words[i][0] + t0 - w.start.iloc[j]), abs(words[i][1] + t0 - w.end.iloc[j])]
        pairs = _match([a[2] for a in phones], list(p.phone))
        n_tp += len(p)
        n_matched += len(pairs)
        for i, j in pairs:
            pd_err += [abs(phones[i][0] + t0 - p.start.iloc[j]), abs(phones[i][1] + t0 - p.end.iloc[j])]
    wd, pd_err = np.array(wd), np.array(pd_err)
    print(f"en_01 ({tw.utterance_id.nunique()} utterances, {n_words} words, {len(x) / 16000:.1f} s audio): "
          f"align time {t_align:.2f} s")
    print(f"  word boundaries: mean abs error {wd.mean() * 1000:.1f} ms, median {np.median(wd) * 1000:.1f} ms, "
          f"within 20 ms {np.mean(wd <= 0.02):.0%} ({len(wd)} boundaries)")
    print(f"  phone boundaries: mean abs error {pd_err.mean() * 1000:.1f} ms, median {np.median(pd_err) * 1000:.1f} ms, "
          f"within 20 ms {np.mean(pd_err <= 0.02):.0%}; phones matched by label {n_matched}/{n_tp} "
          f"({n_matched / n_tp:.0%})")


def _demo_sonnet() -> None:
    import csv

    d = ROOT / "tests" / "data" / "librivox_sonnet1"
    x = _load16k(d / "sonnet1.mp3")
    rows = list(csv.reader(open(d / "sonnet1_lines.csv", encoding="utf-8")))  # id, start, end, text
    words = (d / "sonnet1.txt").read_text(encoding="utf-8").split()
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        word_iv, phone_iv = pocketsphinx_align(x, words)
    dt = time.perf_counter() - tic
    for c in caught:
        print("  warning:", c.message)
    # line boundaries: start of each line's first word, end of its last word
    errs, k = [], 0
    for _, start, end, text in rows:
        n = len(text.split())
        line = word_iv[k:k + n]
        k += n
        if len(line) == n:
            errs += [abs(line[0][0] - float(start)), abs(line[-1][1] - float(end))]
    errs = np.array(errs)
    # fairer: distance from each reference boundary between two lines to the predicted pause
    # [end of line i's last word, start of line i+1's first word] (0 when it falls inside)
    gap_errs, k = [], 0
    spans = []
    for _, start, end, text in rows:
        n = len(text.split())
        spans.append(word_iv[k:k + n] if len(word_iv[k:k + n]) == n else None)
        k += n
    for (_, _, end, _), a, b in zip(rows[:-1], spans[:-1], spans[1:]):
        if a and b:
            lo, hi = a[-1][1], b[0][0]
            gap_errs.append(max(0.0, lo - float(end), float(end) - hi))
    gap_errs = np.array(gap_errs)
    print(f"sonnet1 ({len(x) / 16000:.1f} s, {len(words)} words, {len(rows)} lines): align time {dt:.2f} s, "
          f"{len(word_iv)} words and {len(phone_iv)} phones aligned")
    print(f"  line boundaries vs sonnet1_lines.csv: mean abs error {errs.mean() * 1000:.0f} ms, "
          f"median {np.median(errs) * 1000:.0f} ms ({len(errs)} boundaries; the reference's line "
          "boundaries include the pauses between lines, so a gap of silence counts as error here)")
    print(f"  reference line boundary outside the predicted pause between lines: mean {gap_errs.mean() * 1000:.0f} ms, "
          f"max {gap_errs.max() * 1000:.0f} ms, inside for {np.mean(gap_errs == 0):.0%} of {len(gap_errs)}")


if __name__ == "__main__":
    tic = time.perf_counter()
    _get_decoder()
    print(f"pocketsphinx decoder load: {time.perf_counter() - tic:.2f} s")
    _demo_en01()
    _demo_sonnet()
