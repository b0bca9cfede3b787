"""Compare pipeline outputs with a simulated corpus's truth.

* :func:`wer` — word error rate after normalisation (case, punctuation);
  filled pauses are scored apart, since transcription conventions for them
  differ (Whisper often drops them);
* :func:`boundary_errors` — |predicted − true| for every interval boundary,
  after aligning the two label sequences (:func:`transcription_boundaries`:
  Whisper's word starts and ends, before alignment);
* :func:`filler_detection` — filled pauses spoken and written, recall and precision;
* :func:`f0_errors` — gross error rate and cents on frames both call voiced;
* :func:`evaluate_workdir` — all of it for whatever stages have run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voli.text import normalise_words
from voli.workdir import Workdir

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas as pd

GROSS_F0_ERROR = 0.2  # relative deviation counted as a gross (octave-type) error


def align_sequences(ref: list, hyp: list, same=lambda a, b: a == b):
    """Levenshtein alignment; returns (substitutions, deletions, insertions, matched index pairs)."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (0 if same(ref[i - 1], hyp[j - 1]) else 1))
    i, j, s, dl, ins, pairs = n, m, 0, 0, 0, []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (0 if same(ref[i - 1], hyp[j - 1]) else 1):
            if same(ref[i - 1], hyp[j - 1]):
                pairs.append((i - 1, j - 1))
            else:
                s += 1
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            dl, i = dl + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return s, dl, ins, pairs[::-1]


@dataclass(frozen=True)
class WerResult:
    words: int  # reference words (fillers excluded)
    substitutions: int
    deletions: int
    insertions: int

    @property
    def wer(self) -> float:
        return (self.substitutions + self.deletions + self.insertions) / max(self.words, 1)


def wer(reference: str | list[str], hypothesis: str | list[str], *, fillers: tuple[str, ...] = ()) -> WerResult:
    """Word error rate of ``hypothesis`` against ``reference``; ``fillers`` are left out of both."""
    ref = normalise_words(reference) if isinstance(reference, str) else [w for t in reference for w in normalise_words(t)]
    hyp = normalise_words(hypothesis) if isinstance(hypothesis, str) else [w for t in hypothesis for w in normalise_words(t)]
    drop = {f.lower() for f in fillers}
    ref = [w for w in ref if w not in drop]
    hyp = [w for w in hyp if w not in drop]
    s, d, i, _ = align_sequences(ref, hyp)
    return WerResult(len(ref), s, d, i)


def boundary_errors(truth: list[tuple[float, float, str]], predicted: list[tuple[float, float, str]]) -> np.ndarray:
    """Absolute errors (s) of start and end boundaries of intervals whose labels align: each
    aligned interval's start error, then its end error."""
    _, _, _, pairs = align_sequences([t[2] for t in truth], [p[2] for p in predicted])
    errors = []
    for i, j in pairs:
        errors.append(abs(predicted[j][0] - truth[i][0]))
        errors.append(abs(predicted[j][1] - truth[i][1]))
    return np.array(errors)


def boundary_errors_by_language(truth: "pd.DataFrame", predicted: "pd.DataFrame", label: str) -> dict[str, list]:
    """{language: [boundary_errors of each recording that has predicted rows]}: ``truth`` and
    ``predicted`` intervals (recording_id, start, end, ``label``; truth with its language) matched
    by label within each recording, in time order."""
    out: dict[str, list] = {}
    for lang, group in truth.groupby("language"):
        out[lang] = []
        for rid, t in group.groupby("recording_id"):
            p = predicted[predicted.recording_id == rid].sort_values("start")
            t = t.sort_values("start")
            if len(p):
                out[lang].append(boundary_errors(list(zip(t.start, t.end, t[label])), list(zip(p.start, p.end, p[label]))))
    return out


def transcription_boundaries(true_words: "pd.DataFrame", words: "pd.DataFrame") -> "pd.DataFrame":
    """Whisper's word times against the true ones, per language: mean and median error (ms) of
    the starts and of the ends of the words whose spelling (lower case) aligns."""
    import pandas as pd

    rows = []
    lower = {"word": lambda t: t.word.str.lower()}
    for lang, errs in boundary_errors_by_language(true_words.assign(**lower), words.assign(**lower), "word").items():
        both = np.concatenate(errs) if errs else np.array([])  # start, end, start, end, ...
        s, e = both[0::2], both[1::2]
        rows.append({"language": lang, "words": len(s), "start_mean_ms": s.mean() * 1000 if len(s) else np.nan,
                     "start_median_ms": np.median(s) * 1000 if len(s) else np.nan,
                     "end_mean_ms": e.mean() * 1000 if len(e) else np.nan,
                     "end_median_ms": np.median(e) * 1000 if len(e) else np.nan})
    return pd.DataFrame(rows)


def summarise_boundaries(errors: np.ndarray) -> dict:
    """Mean and median (ms) and the share within 10, 20 and 50 ms."""
    if len(errors) == 0:
        return {"n": 0, "mean_ms": np.nan, "median_ms": np.nan, "within_10ms": np.nan, "within_20ms": np.nan, "within_50ms": np.nan}
    return {
        "n": int(len(errors)),
        "mean_ms": float(errors.mean() * 1000),
        "median_ms": float(np.median(errors) * 1000),
        **{f"within_{ms}ms": float(np.mean(errors <= ms / 1000 + 1e-9)) for ms in (10, 20, 50)},
    }


def f0_errors(true_times: np.ndarray, true_hz: np.ndarray, times: np.ndarray, hz: np.ndarray) -> dict:
    """Compare a measured F0 track with the true one on frames both call voiced (NaN or 0 = unvoiced)."""
    true_hz = np.where(true_hz > 0, true_hz, np.nan)
    hz = np.where(hz > 0, hz, np.nan)
    order = np.argsort(times)
    nearest = np.clip(np.searchsorted(times[order], true_times), 0, len(times) - 1)
    measured = hz[order][nearest]
    close = np.abs(times[order][nearest] - true_times) <= 0.0125
    both = np.isfinite(true_hz) & np.isfinite(measured) & close
    if not both.any():
        return {"frames": 0, "gross_error_rate": np.nan, "median_abs_cents": np.nan}
    ratio = measured[both] / true_hz[both]
    cents = 1200 * np.log2(ratio)
    gross = np.abs(ratio - 1) > GROSS_F0_ERROR
    return {"frames": int(both.sum()), "gross_error_rate": float(gross.mean()),
            "median_abs_cents": float(np.median(np.abs(cents[~gross]))) if (~gross).any() else np.nan}


def filler_detection(truth: "pd.DataFrame", words: "pd.DataFrame", *, tolerance_s: float = 0.3) -> "pd.DataFrame":
    """Filled pauses per language: how many were spoken and written, the share of spoken ones that a
    written filler (``is_filler``) starts within ``tolerance_s`` of (recall) and the share of written
    ones that a spoken one does (precision)."""
    import pandas as pd

    def near(table, w) -> bool:
        return bool(((table.recording_id == w.recording_id) & table.is_filler
                     & ((table.start - w.start).abs() < tolerance_s)).any())

    rows = []
    for lang, ref in truth.groupby("language"):
        hyp = words[words.recording_id.isin(ref.recording_id)]
        spoken, written = ref[ref.is_filler], hyp[hyp.is_filler]
        rows.append({"language": lang, "spoken": len(spoken), "written": len(written),
                     "recall": np.mean([near(hyp, w) for w in spoken.itertuples()]) if len(spoken) else np.nan,
                     "precision": np.mean([near(ref, w) for w in written.itertuples()]) if len(written) else np.nan})
    return pd.DataFrame(rows)


def speaker_attribution(truth: "pd.DataFrame", words: "pd.DataFrame", *, tolerance_s: float = 0.15) -> "pd.DataFrame":
    """Share of transcribed words given to the speaker who was talking at their midpoint.

    ``truth``: who spoke when (recording_id, speaker_id, start, end: true words or turns). A word
    whose midpoint lies in no true stretch takes the speakers within ``tolerance_s``; words with no
    true speaker that near are not counted. Where two true speakers overlap, either is right;
    ``overlap_words`` counts those words, and ``flagged_overlap`` the share of them voli marked
    ``overlap`` (``false_overlap``: the share of the other words marked). 1 minus
    ``speaker_accuracy`` is a word-level diarization error rate.
    """
    import pandas as pd

    rows = []
    for rid, got in words.groupby("recording_id"):
        ref = truth[truth.recording_id == rid]
        starts, ends, who_ = ref.start.to_numpy(), ref.end.to_numpy(), ref.speaker_id.to_numpy()
        right, in_overlap, flags = [], [], []
        flagged = got.overlap.to_numpy() if "overlap" in got else np.zeros(len(got), dtype=bool)
        for m, spk, flag in zip(((got.start + got.end) / 2).to_numpy(), got.speaker_id, flagged):
            inside = (starts <= m) & (ends >= m)
            if not inside.any():
                inside = (starts <= m + tolerance_s) & (ends >= m - tolerance_s)
            if not inside.any():
                continue
            speakers = set(who_[inside])
            right.append(spk in speakers)
            in_overlap.append(len(speakers) > 1)
            flags.append(bool(flag))
        right, in_overlap, flags = np.array(right, bool), np.array(in_overlap, bool), np.array(flags, bool)
        rows.append({"recording_id": rid, "words": len(right),
                     "speaker_accuracy": float(right.mean()) if len(right) else np.nan,
                     "overlap_words": int(in_overlap.sum()),
                     "flagged_overlap": float(flags[in_overlap].mean()) if in_overlap.any() else np.nan,
                     "false_overlap": float(flags[~in_overlap].mean()) if (~in_overlap).any() else np.nan})
    return pd.DataFrame(rows)


def turns_from_words(words: "pd.DataFrame", *, max_gap_s: float = 0.5) -> "pd.DataFrame":
    """Speaker turns (recording_id, speaker_id, start, end) from timed words: a speaker's
    consecutive words less than ``max_gap_s`` apart form one turn."""
    import pandas as pd

    rows = []
    for rid, got in words.sort_values(["recording_id", "start"]).groupby("recording_id"):
        for w in got.itertuples():
            if rows and rows[-1]["recording_id"] == rid and rows[-1]["speaker_id"] == w.speaker_id \
                    and w.start - rows[-1]["end"] < max_gap_s:
                rows[-1]["end"] = max(rows[-1]["end"], w.end)
            else:
                rows.append({"recording_id": rid, "speaker_id": w.speaker_id, "start": w.start, "end": w.end})
    return pd.DataFrame(rows, columns=["recording_id", "speaker_id", "start", "end"])


DER_COLLAR_S = 0.25  # pyannote.metrics' collar: s left out around each reference boundary, half on each side


def diarization_error(truth: "pd.DataFrame", hypothesis: "pd.DataFrame") -> "pd.DataFrame":
    """Diarization error rate per recording with pyannote.metrics, without a collar and with
    ``DER_COLLAR_S`` (its ``collar`` argument), overlapped speech scored. ``truth`` and
    ``hypothesis`` are turn tables (recording_id, speaker_id, start, end); the hypothesis' speaker
    names are mapped to the truth's optimally, as the metric does."""
    import warnings

    import pandas as pd

    try:
        from pyannote.core import Annotation, Segment
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError as err:
        from voli.errors import VoliError

        raise VoliError("the diarization error rate needs pyannote.metrics: pip install pyannote.metrics") from err

    def annotation(table, rid):
        a = Annotation(uri=rid)
        for k, t in enumerate(table[table.recording_id == rid].itertuples()):
            if t.end > t.start:
                a[Segment(float(t.start), float(t.end)), k] = str(t.speaker_id)
        return a

    rows = []
    for rid in sorted(set(truth.recording_id)):
        ref, hyp = annotation(truth, rid), annotation(hypothesis, rid)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'uem' approximated by the union of both extents: intended
            plain = DiarizationErrorRate()(ref, hyp, detailed=True)
            collar = DiarizationErrorRate(collar=DER_COLLAR_S)(ref, hyp)
        total = plain["total"] or np.nan
        rows.append({"recording_id": rid, "der": plain["diarization error rate"], "der_collar": collar,
                     "missed": plain["missed detection"] / total, "false_alarm": plain["false alarm"] / total,
                     "confusion": plain["confusion"] / total})
    return pd.DataFrame(rows)


def truth_phones(truth_dir: Path, words: "pd.DataFrame | None" = None) -> "pd.DataFrame":
    """A simulated corpus's true phones with their language, labelled as voli's lexicon labels
    them (a corpus simulated before the language files' ``respellings`` has espeak-ng's own pt labels).
    ``words``: the truth's words table, if already read."""
    import pandas as pd

    from voli.espeak import respell

    if words is None:
        words = pd.read_parquet(Path(truth_dir) / "words.parquet")
    phones = pd.read_parquet(Path(truth_dir) / "phones.parquet")
    if "language" not in phones:
        phones = phones.merge(words[["recording_id", "language"]].drop_duplicates(), on="recording_id")
    phones["phone"] = [respell(p, lang) for p, lang in zip(phones.phone, phones.language)]
    return phones


def evaluate_turns(rttm: Path, workdir: Path) -> dict[str, object]:
    """Who spoke when, against true turns in RTTM (a corpus such as bench/speakers.py builds)."""
    import pandas as pd

    from voli.simulate.conversations import read_rttm

    hyp_path = Workdir(workdir).table("transcribe", "words")
    if not hyp_path.is_file():
        return {"speakers": "no transcription yet: run `voli transcribe`"}
    truth, hyp = read_rttm(rttm), pd.read_parquet(hyp_path)
    attribution = speaker_attribution(truth, hyp)
    return {"speakers": attribution.merge(diarization_error(truth, turns_from_words(hyp)), on="recording_id", how="left")}


def evaluate_workdir(corpus_dir: Path, workdir: Path) -> dict[str, object]:
    """Evaluate every stage output that exists in ``workdir`` against ``corpus_dir/truth``.

    Returns {section: DataFrame or a sentence saying what to run first}.
    """
    import pandas as pd

    from voli import languages

    truth = Path(corpus_dir) / "truth"
    if not (truth / "words.parquet").is_file() and (truth / "turns.rttm").is_file():
        return evaluate_turns(truth / "turns.rttm", workdir)
    if not (truth / "words.parquet").is_file():
        from voli.errors import VoliError

        raise VoliError(f"{truth}: no truth tables; `voli evaluate` needs a corpus made by `voli simulate` "
                        "(truth/words.parquet) or true speaker turns (truth/turns.rttm)")
    results: dict[str, object] = {}
    true_words = pd.read_parquet(truth / "words.parquet")
    hyp_path = Workdir(workdir).table("transcribe", "words")
    if hyp_path.is_file():
        hyp = pd.read_parquet(hyp_path)
        rows = []
        for lang, group in true_words.groupby("language"):
            total = WerResult(0, 0, 0, 0)
            for rid, ref in group.groupby("recording_id"):
                r = wer(list(ref.sort_values("start").word), list(hyp[hyp.recording_id == rid].sort_values("start").word),
                        fillers=languages.get(lang).fillers)
                total = WerResult(*(a + b for a, b in zip(
                    (total.words, total.substitutions, total.deletions, total.insertions),
                    (r.words, r.substitutions, r.deletions, r.insertions))))
            rows.append({"language": lang, "words": total.words, "wer": total.wer})
        results["wer"] = pd.DataFrame(rows)
        results["fillers"] = filler_detection(true_words, hyp)
        results["transcription_boundaries"] = transcription_boundaries(true_words, hyp)
        attribution = speaker_attribution(true_words, hyp)
        der = diarization_error(turns_from_words(true_words), turns_from_words(hyp))
        results["speakers"] = attribution.merge(der, on="recording_id", how="left")
    else:
        results["wer"] = "no transcription yet: run `voli transcribe`"
    for level in ("words", "phones"):
        pred_path = Workdir(workdir).table("align", level)
        if not pred_path.is_file():
            results[f"{level}_boundaries"] = "no alignment yet: run `voli align`"
            continue
        true_tab = true_words if level == "words" else truth_phones(truth, true_words)
        pred_tab = pd.read_parquet(pred_path)
        label = "word" if level == "words" else "phone"
        results[f"{level}_boundaries"] = pd.DataFrame([
            {"language": lang, **summarise_boundaries(np.concatenate(errs) if errs else np.array([]))}
            for lang, errs in boundary_errors_by_language(true_tab, pred_tab, label).items()])
    f0_path = Workdir(workdir).tracks("f0")
    if f0_path.is_file() and (truth / "f0.parquet").is_file():
        true_f0, got = pd.read_parquet(truth / "f0.parquet"), pd.read_parquet(f0_path)
        rows = []
        for rid, t in true_f0.groupby("recording_id"):
            g = got[got.recording_id == rid]
            rows.append({"recording_id": rid, **f0_errors(t.time.to_numpy(), t.f0_hz.to_numpy(), g.time.to_numpy(), g.f0_hz.to_numpy())})
        results["f0"] = pd.DataFrame(rows)
    else:
        results["f0"] = "no F0 tracks yet: run `voli features`"
    from voli.simulate.effects import EffectSpec

    spec_path = truth / "spec.yaml"
    if spec_path.is_file():
        import yaml

        data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        data.pop("simulation", None)
        spec = EffectSpec.from_dict(data, str(spec_path))
        speakers = pd.read_csv(Path(corpus_dir) / "speakers.csv", dtype=str)
        results["effects_oracle"] = recovered_effects(speaker_measures_from_truth(truth), speakers, spec)
        profile = Workdir(workdir).table("profile", "speakers")
        if profile.is_file():
            results["effects_pipeline"] = recovered_effects(pd.read_parquet(profile), speakers, spec)
        else:
            results["effects_pipeline"] = "no speaker measures yet: run `voli profile`"
    return results


# -- planted vs recovered effects ---------------------------------------------------------------

# spec measure -> (speaker-level column that shows it, sign: +1 the column grows with the
# measure's multiplier, -1 it shrinks as the measure grows)
EFFECT_COLUMNS = {
    "speech_rate": ("articulation_rate", +1),
    "f0_level": ("f0_median_hz", +1),
    "f0_range": ("f0_sd_st", +1),
    "vocal_tract": ("formant_scale_hz", +1),
    "centralisation": ("vowel_dispersion_hz", -1),
}


def speaker_measures_from_truth(truth_dir: Path) -> "pd.DataFrame":
    """Speaker-level measures computed from a simulated corpus's truth (an oracle).

    articulation_rate: vowels per second of speech (pauses excluded);
    f0_median_hz, f0_sd_st: of the true F0; formant_scale_hz: geometric mean
    of the vowels' planted F1 and F2; vowel_dispersion_hz: median distance of
    the planted (F1, F2) from the speaker's centre. The pipeline's own
    measures (profile stage) are judged against the same planted effects.
    """
    import pandas as pd

    from voli.profile.speakers import formant_scale_hz, vowel_dispersion_hz
    from voli.simulate.vowels import is_vowel

    truth_dir = Path(truth_dir)
    phones = pd.read_parquet(truth_dir / "phones.parquet")
    words = pd.read_parquet(truth_dir / "words.parquet")
    f0 = pd.read_parquet(truth_dir / "f0.parquet") if (truth_dir / "f0.parquet").is_file() else None
    vowels = pd.read_parquet(truth_dir / "vowels.parquet")
    rows = []
    for sid, w in words.groupby("speaker_id"):
        p = phones[phones.speaker_id == sid]
        speech_s = float((w.end - w.start).sum())
        row = {"speaker_id": sid, "articulation_rate": sum(is_vowel(x) for x in p.phone) / speech_s}
        if f0 is not None:
            hz = f0[(f0.speaker_id == sid) & np.isfinite(f0.f0_hz)].f0_hz.to_numpy()
            row["f0_median_hz"] = float(np.median(hz))
            row["f0_sd_st"] = float(np.std(12 * np.log2(hz / 100.0)))
        v = vowels[(vowels.speaker_id == sid) & np.isfinite(vowels.f1_hz) & np.isfinite(vowels.f2_hz)]
        f1, f2 = v.f1_hz * v.f1_ratio, v.f2_hz * v.f2_ratio
        row["formant_scale_hz"] = formant_scale_hz(f1, f2)  # the pipeline's definitions, on the planted values
        row["vowel_dispersion_hz"] = vowel_dispersion_hz(f1, f2)
        rows.append(row)
    return pd.DataFrame(rows)


def recovered_effects(measures: "pd.DataFrame", speakers: "pd.DataFrame", spec) -> "pd.DataFrame":
    """Each planted effect beside the effect the speaker-level measures show.

    A per-unit effect is recovered as the slope of the measure on the
    attribute divided by the fitted value at the reference (the relative
    change per unit), sign-corrected; a level effect as the ratio of the
    level's mean to the mean of speakers in unlisted levels.
    """
    import pandas as pd

    by_name = {a.name: a for a in spec.attributes}
    measures = measures[[c for c in measures.columns if c == "speaker_id" or c not in speakers.columns]]
    data = measures.merge(speakers, on="speaker_id")
    rows = []
    for e in spec.effects:
        column, sign = EFFECT_COLUMNS.get(e.measure, (None, 0))
        row = {"measure": e.measure, "attribute": e.attribute, "column": column}
        if column is None or column not in data or data[e.attribute].isna().all():
            rows.append({**row, "planted": np.nan, "recovered": np.nan, "n_speakers": 0, "same_sign": None})
            continue
        d = data[data[e.attribute].notna() & data[column].notna()]
        attr = by_name[e.attribute]
        if e.per_unit is not None and d[e.attribute].nunique() < 2:  # one speaker, or all alike: no slope
            rows.append({**row, "planted": e.per_unit, "recovered": np.nan, "n_speakers": len(d), "same_sign": None})
            continue
        if e.per_unit is not None:
            x = np.array([attr.position(float(v) if attr.range else v) for v in d[e.attribute]])
            slope, intercept = np.polyfit(x, d[column].to_numpy(float), 1)
            recovered = sign * slope / intercept
            planted = e.per_unit
        else:  # the first listed level against every speaker outside it
            level, planted = next(iter(e.levels.items()))
            inside = d[e.attribute].astype(str) == level
            ratio = d[column][inside].mean() / d[column][~inside].mean()
            # an additive effect (centralisation c) scales the column by (1 - c)
            recovered = 1 - ratio if sign < 0 else ratio
        additive = e.per_unit is not None or sign < 0
        baseline = 0.0 if additive else 1.0
        rows.append({**row, "planted": planted, "recovered": float(recovered), "n_speakers": int(len(d)),
                     "same_sign": bool(np.sign(planted - baseline) == np.sign(recovered - baseline))})
    return pd.DataFrame(rows)
