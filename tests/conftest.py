"""Shared fixtures: small corpora built in a temporary directory."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voli.workdir import dirname

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpora_sample"

# Float results (torch, CTranslate2) depend on the number of threads a reduction is split over,
# so runs whose bytes are compared (resume after a kill, Ray against local) use the same count.
# Two by default; make test gives each of its pytest-xdist workers one (VOLI_TEST_THREADS), so that their threads
# do not spin against each other.
THREADS_ENV = {**os.environ, "OMP_NUM_THREADS": os.environ.get("VOLI_TEST_THREADS", "2")}


def voli_process(*args, **popen) -> subprocess.Popen:
    """`python -m voli ARGS` in a fresh process with a fixed thread count; output merged into stdout
    unless ``stderr`` is given."""
    popen.setdefault("stderr", subprocess.STDOUT)
    return subprocess.Popen([sys.executable, "-m", "voli", *map(str, args)], env=THREADS_ENV, text=True,
                            stdout=subprocess.PIPE, **popen)


def run_voli(*args, timeout: float = 900) -> tuple[int, str]:
    """Run `python -m voli ARGS` to the end (see voli_process); its exit code and output."""
    proc = voli_process(*args)
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output


# `python -m voli` with every socket refused: a run that tries the network fails, saying so
OFFLINE = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("voli test: network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from voli.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_voli_offline(*args, timeout: float = 900) -> tuple[int, str]:
    """Run voli ARGS in a fresh process whose sockets refuse to connect; its exit code and its output
    (standard output and error)."""
    out = subprocess.run([sys.executable, "-c", OFFLINE, *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env=THREADS_ENV)
    return out.returncode, out.stdout + out.stderr


# what the session fixtures' voli processes wrote on standard error, by fixture
FIXTURE_STDERR: dict[str, str] = {}


def run_fixture_stage(name: str, *args, timeout: float = 900) -> int:
    """Run `python -m voli ARGS` for a session fixture; its standard error is kept in FIXTURE_STDERR."""
    proc = voli_process(*args, stderr=subprocess.PIPE)
    _, FIXTURE_STDERR[name] = proc.communicate(timeout=timeout)
    return proc.returncode


@pytest.fixture(autouse=True)
def voli_logs_reach_caplog():
    """`voli.cli.main` gives the voli logger its own stderr handler and stops propagation; undo that
    after each test, so a later test's caplog still sees voli's warnings."""
    import logging

    yield
    logger = logging.getLogger("voli")
    logger.handlers[:] = []
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _r_packages(*names: str) -> bool:
    from voli.profile.engines import r_versions

    return all(r_versions().get(n, "not")[0].isdigit() for n in ("R", *names))


# The programs some tests need, all installed by `make install` (scripts/system-deps.sh). A test
# marked @pytest.mark.needs("praat") FAILS when its program is missing, saying how to install it: a
# skip would pass CI without checking anything. VOLI_SKIP_MISSING_TOOLS=1 turns those failures into
# skips, on purpose only (a machine without apt).
TOOLS = {
    "praat": (lambda: shutil.which("praat") is not None, "Debian's praat: apt-get install praat"),
    "chromium": (lambda: CHROMIUM.is_file() and CHROMEDRIVER.is_file(),
                 f"{CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver"),
    "lme4": (lambda: _r_packages("lme4", "lmerTest"), "R with lme4 and lmerTest: apt-get install r-cran-lmertest"),
    "mgcv": (lambda: _r_packages("mgcv"), "R's mgcv: apt-get install r-cran-mgcv"),
    "pbkrtest": (lambda: _r_packages("pbkrtest", "emmeans"),
                 "R's pbkrtest and emmeans: apt-get install r-cran-pbkrtest r-cran-emmeans"),
}
SKIP_MISSING_TOOLS = os.environ.get("VOLI_SKIP_MISSING_TOOLS") == "1"


def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs"):
        for tool in mark.args:
            found, how = TOOLS[tool]
            if not found():
                message = f"needs {how} (make install does it; VOLI_SKIP_MISSING_TOOLS=1 skips such tests)"
                pytest.skip(message) if SKIP_MISSING_TOOLS else pytest.fail(message, pytrace=False)


# the session fixtures built from corpora_sample, one on the other (transcribe, align, features, profile)
SAMPLE_CHAIN = ("transcribed", "aligned", "featured", "profiled")
CHAIN_TESTS = ("test_resume_and_ray.py::test_sigkill_mid_stage", "test_resume_and_ray.py::test_ray_executor")  # by name
# other module fixtures worth building once: their tests go to one worker (group named for the fixture)
SHARED_FIXTURES = ("hard_corpus",)


def _in_group(item, group: str) -> None:
    """Send ``item`` to one pytest-xdist worker with the others of ``group`` (--dist loadgroup).

    pytest-xdist 3.8 does it by appending "@group" to the node ID in its workers, through an attribute
    (``_nodeid``) that pytest 9 no longer reads (it reads ``_id``): with the xdist_group mark alone
    every worker built the sample's chain. So the suffix is written here, as xdist means to."""
    item.add_marker(pytest.mark.xdist_group(group))
    if not getattr(item.config.option, "loadgroup", False) or "@" in item.nodeid:
        return
    try:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")
    except ImportError:  # pytest < 9
        item._nodeid = f"{item.nodeid}@{group}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test on the sample's fixture chain runs on one pytest-xdist worker, which builds the
    chain once, while the others run the rest (so do the tests of each SHARED_FIXTURES fixture).
    Tests that need a CUDA GPU skip without one."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(n in SAMPLE_CHAIN for n in names) or any(t in item.nodeid for t in CHAIN_TESTS):
            _in_group(item, "sample_chain")
        elif shared := next((n for n in SHARED_FIXTURES if n in names), None):
            _in_group(item, shared)
    cuda = None
    for item in items:
        if "requires_cuda" in item.keywords:
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def tone(freq_hz: float = 220.0, duration_s: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def write_csv(path: Path, rows: list[dict], *, delimiter: str = ",", encoding: str = "utf-8") -> None:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


class TinyCorpus:
    """A three-recording corpus of tones, to break in one way per test."""

    def __init__(self, root: Path):
        self.root = root
        (root / "audio").mkdir(parents=True)
        self.speakers = [
            {"speaker_id": "I1", "gender": "woman", "age": ""},
            {"speaker_id": "S1", "gender": "man", "age": "31"},
            {"speaker_id": "S2", "gender": "woman", "age": "45"},
            {"speaker_id": "S3", "gender": "man", "age": "27"},
        ]
        self.recordings = []
        for i, sid in enumerate(["S1", "S2", "S3"], start=1):
            sf.write(root / "audio" / f"r{i}.wav", tone(200 + 50 * i, 0.5), 16000)
            self.recordings.append({"recording_id": f"r{i}", "audio": f"audio/r{i}.wav", "language": "fr",
                                    "interviewer": "I1", "interviewee": sid, "channels": ""})

    def save(self) -> Path:
        write_csv(self.root / "recordings.csv", self.recordings)
        write_csv(self.root / "speakers.csv", self.speakers)
        return self.root


@pytest.fixture
def tiny(tmp_path) -> TinyCorpus:
    return TinyCorpus(tmp_path / "corpus")


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    dst = tmp_path / "corpora_sample"
    shutil.copytree(SAMPLE, dst)
    return dst


@pytest.fixture(scope="session")
def transcribed(tmp_path_factory):
    """prepare + transcribe on the eight sample interviews (MP3, WAV and FLAC mono, stereo) and a
    noise-only file; es_02's language is left to be detected. Alignment tests train on it.
    Like the fixtures after it, it runs in a fresh `voli` process, as the crash and Ray tests do."""
    root = tmp_path_factory.mktemp("tr")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE, corpus)
    rec = pd.read_csv(corpus / "recordings.csv", keep_default_na=False)
    keep = rec.copy()
    keep.loc[keep.recording_id == "es_02", "language"] = ""  # to be detected
    noise = (0.01 * np.random.default_rng(0).standard_normal(16000 * 3)).astype(np.float32)
    sf.write(corpus / "audio" / "noise.wav", noise, 16000)
    extra = pd.DataFrame([{**keep.iloc[0].to_dict(), "recording_id": "noise", "audio": "audio/noise.wav"}])
    pd.concat([keep, extra]).to_csv(corpus / "recordings.csv", index=False)
    code = run_fixture_stage("transcribed", "run", corpus, "--workdir", root / "exp", "--stop-stage", "transcribe", "-q",
                             "--device", "cpu")
    return code, root / "exp", corpus


@pytest.fixture(scope="session")
def aligned(transcribed, tmp_path_factory):
    """The transcribed sample aligned (20 training iterations); the features tests measure it."""
    _, exp, corpus = transcribed
    work = tmp_path_factory.mktemp("al") / "exp"
    shutil.copytree(exp, work)
    config = work.parent / "config.yaml"
    # fewer training iterations and permutations than the defaults (30, 200): the suite's time
    config.write_text("align:\n  iterations: 20\nprofile:\n  permutations: 20\n")
    code = run_fixture_stage("aligned", "align", corpus, "--workdir", work, "--config", config, "-q", "--device", "cpu")
    return code, work, corpus, config


@pytest.fixture(scope="session")
def featured(aligned, tmp_path_factory):
    """The aligned sample measured by the features stage (a copy of the aligned workdir)."""
    _, aligned_work, corpus, config = aligned
    work = tmp_path_factory.mktemp("ft") / "exp"
    shutil.copytree(aligned_work, work)
    code = run_fixture_stage("featured", "features", corpus, "--workdir", work, "--config", config, "-q", "--device", "cpu")
    return code, work, corpus


@pytest.fixture(scope="session")
def profiled(featured, aligned, tmp_path_factory):
    """The measured sample through the profile stage (a copy of the featured workdir)."""
    _, featured_work, corpus = featured
    config = aligned[3]
    work = tmp_path_factory.mktemp("pr") / "exp"
    shutil.copytree(featured_work, work, ignore=shutil.ignore_patterns(dirname("profile")))
    code = run_fixture_stage("profiled", "profile", corpus, "--workdir", work, "--config", config, "-q", "--device", "cpu")
    return code, work, corpus
