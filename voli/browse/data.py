"""The work directory's tables as the token browser needs them.

Loaded once when ``voli browse`` starts: vowel tokens with their word and utterance spans and
outlier measures, utterances, speakers with their survey columns, recordings with their audio
and TextGrid paths.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from voli.errors import VoliError
from voli.io.exclusions import read_exclusions
from voli.query import check_workdir, corpus_of, missing_stage_message, speaker_table
from voli.workdir import Workdir as Layout

F1, F2 = "f1_50_hz", "f2_50_hz"  # the chart's point: formants at the vowel's midpoint


def mahalanobis(frame: pd.DataFrame, *, x: str = F1, y: str = F2) -> np.ndarray:
    """Each token's Mahalanobis distance of (``x``, ``y``) from its speaker's mean for its phone.

    The covariance is the speaker's pooled within-vowel covariance (every vowel's tokens around
    their own mean), so a vowel with three tokens still gets a distance. NaN for a vowel with one
    token, a speaker with fewer than 3 degrees of freedom, or missing formants.

    Returns
    -------
    ndarray, shape (n_tokens,)
    """
    out = np.full(len(frame), np.nan)
    pos = pd.RangeIndex(len(frame))
    data = pd.DataFrame({"speaker_id": frame["speaker_id"].to_numpy(), "phone": frame["phone"].to_numpy(),
                         "x": frame[x].to_numpy(dtype=float), "y": frame[y].to_numpy(dtype=float)}, index=pos)
    data = data.dropna()
    for _, speaker in data.groupby("speaker_id", sort=False):
        counts = speaker.groupby("phone")["x"].transform("size").to_numpy()
        centred = speaker[["x", "y"]] - speaker.groupby("phone")[["x", "y"]].transform("mean")
        many = counts >= 2
        dof = int(many.sum() - speaker.loc[many, "phone"].nunique())
        if dof < 3:
            continue
        d = centred.to_numpy()[many]
        cov = d.T @ d / dof
        if np.linalg.matrix_rank(cov) < 2:
            continue
        inv = np.linalg.inv(cov)
        dist = np.sqrt(np.einsum("ij,jk,ik->i", d, inv, d))
        out[speaker.index.to_numpy()[many]] = dist
    return out


@dataclass
class Workdir:
    """A work directory's tables, loaded for browsing."""

    path: Path
    corpus: Path | None = None  # where the corpus lies now, if it moved since `voli prepare`
    tokens: pd.DataFrame = field(init=False)
    utterances: pd.DataFrame = field(init=False)
    speakers: pd.DataFrame = field(init=False)
    survey_columns: list[str] = field(init=False)
    recordings: pd.DataFrame = field(init=False)
    channels: dict = field(init=False)  # (recording_id, speaker_id) -> 1-based channel
    _tracks: dict = field(init=False, default_factory=dict)

    @property
    def layout(self) -> Layout:
        """Where each stage's files are in the work directory."""
        return Layout(self.path)

    def __post_init__(self):
        self.path = check_workdir(self.path)
        if not self.layout.table("features", "vowels").is_file():
            raise VoliError(missing_stage_message(self.path, "vowels"))
        self.recordings = pd.read_parquet(self.layout.table("prepare", "recordings")).set_index("recording_id")
        rs = pd.read_parquet(self.layout.table("prepare", "recording_speakers"))
        self.channels = {(r.recording_id, r.speaker_id): int(r.channel)
                         for r in rs.itertuples() if pd.notna(r.channel)}
        survey = pd.read_parquet(self.layout.table("prepare", "speakers"))
        self.survey_columns = [c for c in survey.columns if c not in ("speaker_id", "enrolment")]
        speakers = speaker_table(self.path)
        self.speakers = speakers[["speaker_id", *[c for c in ["role", *self.survey_columns] if c in speakers]]]
        self.tokens = self._tokens()
        self.utterances = self._utterances()

    def _spans(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(words: recording_id, utterance_id, word_index -> word_start, word_end;
        utterances: utterance_id -> utt_start, utt_end)."""
        phones = self.layout.table("align", "phones")
        utts = self.layout.table("align", "utterances")
        words = pd.DataFrame(columns=["utterance_id", "word_index", "word_start", "word_end"])
        if phones.is_file():
            p = pd.read_parquet(phones, columns=["utterance_id", "word_index", "start", "end"])
            words = (p.groupby(["utterance_id", "word_index"], as_index=False)
                     .agg(word_start=("start", "min"), word_end=("end", "max")))
        spans = pd.DataFrame(columns=["utterance_id", "utt_start", "utt_end"])
        if utts.is_file():
            spans = pd.read_parquet(utts, columns=["utterance_id", "start", "end"]).rename(
                columns={"start": "utt_start", "end": "utt_end"})
        return words, spans

    def _tokens(self) -> pd.DataFrame:
        v = pd.read_parquet(self.layout.table("features", "vowels"))
        v = v.reset_index(drop=True)
        v["token_id"] = np.arange(len(v))  # the row of vowels.parquet
        v["mahalanobis"] = mahalanobis(v)
        words, spans = self._spans()
        v = v.merge(words, on=["utterance_id", "word_index"], how="left").merge(spans, on="utterance_id", how="left")
        v["word_start"] = v["word_start"].fillna(v["start"])
        v["word_end"] = v["word_end"].fillna(v["end"])
        v["utt_start"] = v["utt_start"].fillna(v["word_start"])
        v["utt_end"] = v["utt_end"].fillna(v["word_end"])
        return v.sort_values("token_id").reset_index(drop=True)

    def _utterances(self) -> pd.DataFrame:
        from voli.query import run_query

        try:
            u = run_query(self.path, "SELECT * FROM utterances")
        except VoliError:
            return pd.DataFrame(columns=["utterance_id", "recording_id", "speaker_id", "start", "end", "text"])
        text = self.layout.table("transcribe", "utterances")
        if text.is_file():
            t = pd.read_parquet(text, columns=["utterance_id", "text"])
            u = u.merge(t, on="utterance_id", how="left")
        words = self.layout.table("align", "words")
        if words.is_file() and ("text" not in u or u["text"].isna().any()):
            w = pd.read_parquet(words, columns=["utterance_id", "word"])
            joined = w.groupby("utterance_id", sort=False)["word"].agg(" ".join)
            u["text"] = u.get("text", pd.Series(index=u.index, dtype=object)).fillna(u["utterance_id"].map(joined))
        return u

    # -- recordings -------------------------------------------------------------------------------

    def recording(self, recording_id: str) -> pd.Series:
        if recording_id not in self.recordings.index:
            raise VoliError(f"unknown recording {recording_id!r}; the work directory has "
                            f"{', '.join(map(str, self.recordings.index))}")
        return self.recordings.loc[recording_id]

    def audio_path(self, recording_id: str) -> Path:
        """The recording's audio file; if the corpus moved, found under ``corpus`` by the same
        path relative to the corpus that `voli prepare` read."""
        path = Path(self.recording(recording_id)["audio_path"])
        if path.is_file():
            return path
        if self.corpus is not None:
            old = Path(corpus_of(self.path))
            try:
                moved = Path(self.corpus) / path.resolve().relative_to(old.resolve())
            except ValueError:
                moved = Path(self.corpus) / path.name
            if moved.is_file():
                return moved
        raise VoliError(f"recording {recording_id}: audio {path} not found; if the corpus moved, start "
                        "`voli browse WORKDIR --corpus NEW_CORPUS_DIR`")

    def textgrid(self, recording_id: str) -> dict:
        """The recording's TextGrids and a command that opens them in Praat with the audio."""
        aligned = self.layout.textgrid("align", recording_id)
        measured = self.layout.textgrid("features", recording_id)
        try:
            audio = str(self.audio_path(recording_id).resolve())
        except VoliError:
            audio = None
        out = {"textgrid": str(aligned.resolve()) if aligned.is_file() else None,
               "formant_textgrid": str(measured.resolve()) if measured.is_file() else None, "audio": audio}
        files = [f for f in (out["textgrid"], audio) if f]
        out["praat"] = ("praat --open " + " ".join(shlex.quote(f) for f in files)) if out["textgrid"] else None
        return out

    def channel(self, recording_id: str, speaker_id: str | None) -> int | None:
        return self.channels.get((recording_id, speaker_id)) if speaker_id else None

    def _recording_rows(self, path: Path, recording_id: str) -> pd.DataFrame | None:
        """One recording's rows of a features table, read once (None while the stage has written none:
        a table written later, by a features run beside the browser, is then read)."""
        key = (str(path), recording_id)
        if key not in self._tracks:
            if not path.is_file():
                return None
            if len(self._tracks) > 32:
                self._tracks.clear()
            self._tracks[key] = pd.read_parquet(path, filters=[("recording_id", "==", recording_id)])
        return self._tracks[key]

    def tracks(self, kind: str, recording_id: str) -> pd.DataFrame | None:
        """The features stage's track ``kind`` (f0, ...) for one recording (None if it wrote none)."""
        return self._recording_rows(self.layout.tracks(kind), recording_id)

    def vowel_track(self, recording_id: str, start: float, speaker_id: str | None = None) -> pd.DataFrame | None:
        """The 11-point trajectory of the vowel token starting at ``start`` (s, within 1 ms) in one
        recording, from the features stage's vowel_tracks (None without it or without that token)."""
        rows = self._recording_rows(self.layout.table("features", "vowel_tracks"), recording_id)
        if rows is None:
            return None
        rows = rows[(rows.start - start).abs() <= 0.001]
        if speaker_id:
            rows = rows[rows.speaker_id == speaker_id]
        return rows.sort_values("point") if len(rows) else None

    # -- what the page reads ----------------------------------------------------------------------

    def excluded_ids(self) -> list[int]:
        """token_ids listed in exclusions.csv."""
        from voli.io.exclusions import apply_exclusions

        kept, _ = apply_exclusions(self.tokens, read_exclusions(self.path))
        return sorted(set(self.tokens["token_id"]) - set(kept["token_id"]))

    def page_data(self) -> dict:
        """Everything the page draws, as JSON-ready lists."""
        token_cols = ["token_id", "recording_id", "utterance_id", "speaker_id", "role", "language", "word", "phone",
                      "previous_phone", "next_phone", "is_filler", "start", "end", "duration_s", F1, F2, "f0_hz",
                      "word_probability", "log_likelihood", "duration_z", "mahalanobis", "ceiling_hz",
                      "word_start", "word_end", "utt_start", "utt_end", "checked"]
        tokens = self.tokens[[c for c in token_cols if c in self.tokens]].rename(columns={F1: "f1", F2: "f2"})
        utt_cols = ["utterance_id", "recording_id", "speaker_id", "role", "start", "end", "duration_s", "n_words",
                    "speech_rate", "articulation_rate", "n_pauses", "f0_median_hz", "log_likelihood", "status", "text"]
        utterances = self.utterances[[c for c in utt_cols if c in self.utterances]]
        return {
            "workdir": str(self.path.resolve()),
            "tokens": _records(tokens),
            "utterances": _records(utterances),
            "speakers": _records(self.speakers),
            "group_columns": ["speaker_id", "role", *self.survey_columns],
            "excluded": self.excluded_ids(),
            "recordings": {rid: self.textgrid(rid) for rid in self.recordings.index},
        }


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN and infinities as None and numpy scalars as Python ones (JSON-ready)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for row in rows:
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = row[k] = v.item()
            if isinstance(v, float) and not np.isfinite(v):
                row[k] = None
    return rows
