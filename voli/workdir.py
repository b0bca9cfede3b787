"""The work directory's layout: the one module that knows where each stage's files are.

``voli run CORPUS`` writes to a work directory (``exp/<corpus name>`` unless ``--workdir`` says
otherwise) that holds one directory per stage, named by the stage's place in the pipeline
(:data:`STAGE_ORDER`) and its name::

    <workdir>/corrections/<recording>.TextGrid|.eaf   a linguist's corrections (align reads them)
              exclusions.csv                          tokens excluded by ear (voli browse; voli.io.exclusions)
              00_prepare/{recordings,recording_speakers,speakers}.parquet
              01_transcribe/{utterances,words,speaker_summary}.parquet  textgrids/
              02_align/{words,phones,utterances}.parquet  textgrids/  eaf/  model/  lexicon.dict
              03_features/{vowels,vowel_tracks,vowel_dct,prosody,speaker_prosody}.parquet  tracks/  pitchtiers/
                          textgrids/
              04_profile/{speakers,tokens,models,calibration,...}.parquet  report/index.html  export/

    each stage's directory: parts/<recording_id>/ (one recording's tables and its .done),
    <table>.parquet (all recordings), failures.parquet, config.yaml, .done (see voli.runner)

Everything else asks this module for a path instead of spelling one, so that the directory names
live here only (``tests/test_layout.py`` fails on a stage directory's name written elsewhere)::

    w = Workdir("exp/sample")
    w.stage("align")              # exp/sample/02_align
    w.table("features", "vowels") # exp/sample/03_features/vowels.parquet
    w.textgrid("align", "rec1")   # exp/sample/02_align/textgrids/rec1.TextGrid
    rel("align", "model")         # "02_align/model", for messages and help text

:mod:`voli.stages` (the registry) puts the stages in the order of :data:`STAGE_ORDER`, and the
runner names a stage's directory with :func:`stage_dirname`, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from voli.errors import VoliError

# the pipeline's stages, in order: the only list of their names and their order (voli.stages follows it)
STAGE_ORDER = ("prepare", "transcribe", "align", "features", "profile")
CORRECTIONS = "corrections"  # a linguist's corrected TextGrids / ELAN files, directly under the work directory


def stage_dirname(index: int, name: str) -> str:
    """The directory name of the stage at ``index`` in a pipeline (``2, "align"`` -> ``"02_align"``)."""
    return f"{index:02d}_{name}"


def dirname(stage: str) -> str:
    """The directory name of one of voli's stages (``"align"`` -> ``"02_align"``)."""
    if stage not in STAGE_ORDER:
        raise VoliError(f"no stage named {stage!r}; voli's stages are {', '.join(STAGE_ORDER)}")
    return stage_dirname(STAGE_ORDER.index(stage), stage)


def rel(stage: str, *parts: str) -> str:
    """A path under the work directory as text, for messages, help and docs:
    ``rel("align", "model")`` -> ``"02_align/model"``; ``rel("prepare")`` -> ``"00_prepare"``."""
    return str(PurePosixPath(dirname(stage), *parts))


@dataclass(frozen=True)
class Workdir:
    """A work directory: the paths of every stage's directory, tables and files under ``root``.

    Nothing here touches the disk; each method returns a path, present or not.
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # -- any stage ------------------------------------------------------------------------------------

    def stage(self, name: str) -> Path:
        """The stage's directory: ``<root>/02_align`` for ``"align"``."""
        return self.root / dirname(name)

    def table(self, stage: str, table: str) -> Path:
        """A stage's table of all recordings: ``table("align", "words")`` -> ``<root>/02_align/words.parquet``."""
        return self.stage(stage) / f"{table}.parquet"

    def part(self, stage: str, recording_id: str) -> Path:
        """One recording's directory of a stage's tables: ``<root>/02_align/parts/<recording_id>``."""
        return self.stage(stage) / "parts" / recording_id

    def done(self, stage: str) -> Path:
        """The marker a stage writes when it has finished its pass (``.done``)."""
        return self.stage(stage) / ".done"

    def config(self, stage: str) -> Path:
        """The config a stage ran with, library versions and machine (``config.yaml``)."""
        return self.stage(stage) / "config.yaml"

    def failures(self, stage: str) -> Path:
        """The recordings a stage could not process, and why."""
        return self.table(stage, "failures")

    def textgrid(self, stage: str, recording_id: str) -> Path:
        """The TextGrid a stage wrote for a recording (transcribe, align; features with formant tiers)."""
        return self.stage(stage) / "textgrids" / f"{recording_id}.TextGrid"

    # -- one stage's own files ------------------------------------------------------------------------

    def eaf(self, recording_id: str) -> Path:
        """The ELAN file of a recording's alignment."""
        return self.stage("align") / "eaf" / f"{recording_id}.eaf"

    def model(self) -> Path:
        """The directory of the alignment model that align trained (model.pt, card.json)."""
        return self.stage("align") / "model"

    def lexicon(self) -> Path:
        """Every word align pronounced, in MFA's dictionary format."""
        return self.stage("align") / "lexicon.dict"

    def tracks(self, kind: str) -> Path:
        """A time series that features measured (``tracks("f0")``), all recordings."""
        return self.stage("features") / "tracks" / f"{kind}.parquet"

    def pitchtiers(self) -> Path:
        """The Praat PitchTier files that features wrote."""
        return self.stage("features") / "pitchtiers"

    def report(self) -> Path:
        """The profile stage's HTML report."""
        return self.stage("profile") / "report" / "index.html"

    def export(self) -> Path:
        """The profile stage's export for R (CSV files and models.R)."""
        return self.stage("profile") / "export"

    # -- beside the stages ----------------------------------------------------------------------------

    def corrections(self, recording_id: str | None = None, suffix: str = ".TextGrid") -> Path:
        """The linguist's corrections directory, or one recording's correction in it (``suffix``
        ``.TextGrid`` or ``.eaf``)."""
        directory = self.root / CORRECTIONS
        return directory if recording_id is None else directory / f"{recording_id}{suffix}"
