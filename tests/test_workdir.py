"""voli.workdir: the work directory's layout, and the registry that follows its order."""

from __future__ import annotations

from pathlib import Path

import pytest

from voli.config import VoliConfig
from voli.errors import VoliError
from voli.runner import StageContext
from voli.stages import DEFINED, STAGES
from voli.workdir import STAGE_ORDER, Workdir, dirname, rel


def test_the_registry_has_exactly_the_stages_of_stage_order_in_that_order():
    assert set(DEFINED) == set(STAGE_ORDER)  # a stage defined but missing from STAGE_ORDER would be dropped
    assert list(STAGES) == list(STAGE_ORDER)
    assert [s.index for s in STAGES.values()] == list(range(len(STAGE_ORDER)))


@pytest.mark.parametrize("name", STAGE_ORDER)
def test_the_runner_and_workdir_name_the_same_directory(tmp_path, name):
    ctx = StageContext(tmp_path / "corpus", tmp_path / "exp", VoliConfig(), stages=tuple(STAGES.values()))
    assert ctx.stage_dir(name) == Workdir(tmp_path / "exp").stage(name)
    assert STAGES[name].dirname == dirname(name) == rel(name)


def test_paths():
    w = Workdir("exp/sample")
    assert w.root == Path("exp/sample")
    assert w.stage("prepare") == Path("exp/sample") / dirname("prepare")
    assert dirname("prepare").endswith("_prepare") and dirname("prepare")[:2] == "00"
    assert dirname("profile")[:2] == f"{len(STAGE_ORDER) - 1:02d}"
    align = w.stage("align")
    assert w.table("align", "words") == align / "words.parquet"
    assert w.part("align", "rec1") == align / "parts" / "rec1"
    assert w.done("align") == align / ".done"
    assert w.config("align") == align / "config.yaml"
    assert w.failures("align") == align / "failures.parquet"
    assert w.textgrid("align", "rec1") == align / "textgrids" / "rec1.TextGrid"
    assert w.eaf("rec1") == align / "eaf" / "rec1.eaf"
    assert w.model() == align / "model"
    assert w.lexicon() == align / "lexicon.dict"
    assert w.tracks("f0") == w.stage("features") / "tracks" / "f0.parquet"
    assert w.pitchtiers() == w.stage("features") / "pitchtiers"
    assert w.report() == w.stage("profile") / "report" / "index.html"
    assert w.export() == w.stage("profile") / "export"
    assert w.corrections() == Path("exp/sample/corrections")
    assert w.corrections("rec1", ".eaf") == Path("exp/sample/corrections/rec1.eaf")


def test_rel_is_the_path_under_the_workdir_as_text():
    w = Workdir("/some/where")
    assert rel("align", "model") == w.model().relative_to(w.root).as_posix()
    assert rel("profile", "report", "index.html") == w.report().relative_to(w.root).as_posix()


def test_an_unknown_stage_is_named_with_the_known_ones():
    with pytest.raises(VoliError, match=r"no stage named 'alignment'; voli's stages are prepare, transcribe, align"):
        Workdir("exp").stage("alignment")
