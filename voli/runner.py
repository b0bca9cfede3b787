"""The stage runner: work directory, resume, failures, executors.

A stage is a plan (which recordings to process, each with a fingerprint of
its inputs), a per-recording ``process`` function that returns tables, and an
optional corpus-level ``finalize``. The runner owns everything around that::

    exp/<corpus>/NN_<stage>/
        parts/<recording_id>/<table>.parquet   one recording's rows
        parts/<recording_id>/.done             its input fingerprint
        <table>.parquet                        all recordings, combined
        failures.parquet                       recordings that failed, and why
        config.yaml                            resolved config and versions
        .done                                  the stage finished its pass

* Resume: a recording whose ``.done`` holds the current fingerprint is
  skipped; any change to its inputs or to the stage's config redoes it.
  ``force=True`` redoes everything.
* Crash safety: every file is written to a temporary name and renamed into
  place; a recording's ``.done`` is written after its tables, and the stage's
  ``.done`` after the combined tables. A killed run never leaves a marker that
  vouches for missing or half-written work.
* Failures: an exception in one recording is recorded in ``failures.parquet``
  and the others go on; results that stand but need a look go to ``problems.parquet``.

The runner is machinery only: it knows no stage. Each stage package defines its stage in
``stage.py`` (``voli/prepare.py`` for prepare) and :mod:`voli.stages` puts them in order.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import math
import multiprocessing
import platform
import re
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa

from voli import __version__, problems
from voli.config import VoliConfig, dump_yaml
from voli.errors import VoliError, bug_message
from voli.io.tables import read_table, write_table, write_text
from voli.reproducibility import machine_description
from voli.schema import Failure, Problem, arrow_schema, from_table, to_table
from voli.workdir import stage_dirname

log = logging.getLogger(__name__)

# the libraries every stage's output goes through; each stage adds those that compute it (Stage.libraries)
# and the programs it runs (Stage.programs): config.yaml says what made a transcript or a p value
LIBRARIES = ("numpy", "pandas", "pyarrow", "soundfile", "soxr", "torch")


@dataclass(frozen=True)
class WorkItem:
    """One recording for a stage to process."""

    recording_id: str
    fingerprint: str  # hash of everything the result depends on
    payload: object = None  # what ``process`` needs; must pickle


@dataclass(frozen=True)
class StageContext:
    corpus_dir: Path
    workdir: Path
    config: VoliConfig
    device: object = None  # torch.device for stages with needs_device, else None
    stages: tuple = ()  # the pipeline's stages, in order (voli.stages), so a stage finds another's directory

    def stage(self, name: str) -> "Stage":
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise VoliError(f"no stage named {name!r} in this pipeline ({', '.join(s.name for s in self.stages)})")

    def stage_dir(self, stage: "Stage | str") -> Path:
        """The directory of a stage of this pipeline (by name) or of the given stage."""
        return self.workdir / (self.stage(stage) if isinstance(stage, str) else stage).dirname


@dataclass(frozen=True)
class Stage:
    """One stage: a plan (the recordings to process, each with a fingerprint of its inputs), an
    optional corpus-level ``train`` step (a model made from every planned recording's input, which
    the recordings are then processed with), a per-recording ``process`` returning tables, and an
    optional corpus-level ``finalize``. Each stage package defines its own in ``stage.py``;
    :mod:`voli.stages` puts them in order."""

    name: str
    summary: str  # one line, for --help
    outputs: dict  # per-recording table name -> record type
    plan: Callable[[StageContext], list[WorkItem]] | None = None
    process: Callable[[WorkItem, StageContext], dict[str, pa.Table]] | None = None
    finalize: Callable[[StageContext], dict[str, pa.Table]] | None = None
    train: "Callable[[StageContext, list[WorkItem]], Trained] | None" = None
    needs_device: bool = False
    keeps_model: bool = False  # loads a model per process (ASR, alignment): Ray runs it on long-lived actors
    libraries: tuple[str, ...] = ()  # Python distributions that compute its output (versions in config.yaml)
    programs: Callable[[], dict[str, str]] | None = None  # programs it runs and their versions (R, its packages...)
    index: int | None = None  # its place in the pipeline (voli.stages sets it): the directory is NN_<name>

    @property
    def dirname(self) -> str:
        if self.index is None:
            raise VoliError(f"stage {self.name!r} has no place in a pipeline yet; take it from voli.stages.STAGES")
        return stage_dirname(self.index, self.name)


@dataclass(frozen=True)
class Trained:
    """What a stage's ``train`` step made: its fingerprint (a recording is redone when it changes)
    and the payload every recording is processed with (e.g. the model's directory)."""

    fingerprint: str
    payload: object


@dataclass
class StageResult:
    stage: str
    stage_dir: Path
    processed: int = 0
    skipped: int = 0
    failures: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)  # Problem records: results that need a look
    seconds: float = 0.0  # wall time of the stage's pass

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class _ItemOutcome:
    recording_id: str
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    bug: bool = False


# -- executors ---------------------------------------------------------------------


class LocalExecutor:
    """Runs work items in this process (jobs=1) or in a pool of processes."""

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise VoliError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs

    def map_unordered(self, fn: Callable, calls: list[tuple], *, keeps_model: bool = False,
                      uses_gpu: bool = False, lost: Callable | None = None) -> Iterator:
        if self.jobs == 1 or len(calls) <= 1:
            for args in calls:
                yield fn(*args)
            return
        # 'spawn': a fresh interpreter per worker, safe beside torch's threads.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(calls)), mp_context=ctx) as pool:
            futures = [pool.submit(fn, *args) for args in calls]
            for future in as_completed(futures):
                yield future.result()

    def close(self) -> None:
        pass


def _on_ray_worker(fn: Callable, *args):
    """Call ``fn`` in a Ray worker. Ray shows a worker only the GPU it was given, as cuda:0, so a
    stage context resolved to cuda:N in the driver is moved to that one."""
    moved = []
    for arg in args:
        if isinstance(arg, StageContext) and getattr(arg.device, "type", None) == "cuda":
            import torch

            arg = dataclasses.replace(arg, device=torch.device("cuda", 0))
        moved.append(arg)
    return fn(*moved)


class _RayWorker:
    """A Ray actor that runs work items one after another; the models a stage loads stay in its
    process (voli's model caches are per process), so each worker loads Whisper or the HMM once."""

    def run(self, fn: Callable, *args):
        return _on_ray_worker(fn, *args)


class RayExecutor:
    """Runs work items on Ray: stages that load a model (ASR, alignment) on a pool of ``workers``
    long-lived actors, the others (prepare, features) as one Ray task per recording.

    Without ``address`` it starts a Ray instance on this machine with ``workers`` CPUs (and the
    GPUs torch sees); with one (``auto``, ``ray://head:10001``) it joins that cluster, whose nodes
    must have the same voli installed and see the corpus and the work directory at the same paths.
    A task or actor asks for one CPU, and on a GPU run a share of one GPU (workers split them).
    Each gets as many torch threads as CPUs (Ray's OMP_NUM_THREADS), unless OMP_NUM_THREADS is set.
    A worker that dies (out of memory, a crash) costs the recording it held, which ``lost`` turns
    into a failure; its actor is replaced and the others go on.
    """

    def __init__(self, workers: int = 1, address: str | None = None):
        if workers < 1:
            raise VoliError(f"--jobs must be at least 1, got {workers}")
        try:
            import ray
        except ImportError as err:
            raise VoliError("--executor ray needs Ray: pip install 'ray==2.60.0' (or pip install 'voli[ray]')") from err
        import os

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray reports usage over the network unless told not to
        self.workers = workers
        self._started = not ray.is_initialized()
        if self._started:
            if address:
                ray.init(address=address, logging_level=logging.WARNING)
            else:
                import torch

                # address="local": a new instance, even where RAY_ADDRESS or `ray start` names a cluster.
                # voli's tasks return a small outcome and write their tables to the work directory
                # themselves, so Ray's shared-memory object store can stay small
                ray.init(address="local", num_cpus=workers, num_gpus=torch.cuda.device_count(), include_dashboard=False,
                         object_store_memory=256 * 2**20, logging_level=logging.WARNING)
        resources = ray.cluster_resources()
        log.info("ray: %g CPU(s), %g GPU(s), %d worker(s)", resources.get("CPU", 0), resources.get("GPU", 0), workers)

    def _gpu_share(self, n: int) -> float:
        """The fraction of a GPU each of ``n`` workers asks for; a fraction must fit on one GPU."""
        import ray

        gpus = ray.cluster_resources().get("GPU", 0)
        if not gpus:
            raise VoliError("the stage runs on a GPU but the Ray cluster has none; use --device cpu or add GPU nodes")
        return 1.0 / math.ceil(n / gpus)

    def map_unordered(self, fn: Callable, calls: list[tuple], *, keeps_model: bool = False,
                      uses_gpu: bool = False, lost: Callable | None = None) -> Iterator:
        import ray
        from ray.exceptions import RayError

        if not calls:
            return
        n = min(self.workers, len(calls))
        options = {"num_cpus": 1, "num_gpus": self._gpu_share(n) if uses_gpu else 0}

        def failed(err: Exception, args: tuple):
            if lost is None:
                raise err
            return lost(args, err)

        if not keeps_model:
            task = ray.remote(**options)(_on_ray_worker)
            running = {task.remote(fn, *args): args for args in calls}  # Ray runs as many at once as CPUs allow
            while running:
                (ref,), _ = ray.wait(list(running), num_returns=1)
                args = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayError as err:
                    result = failed(err, args)
                yield result
            return
        worker = ray.remote(**options)(_RayWorker)
        idle, queue, running = [worker.remote() for _ in range(n)], list(calls), {}
        try:
            while queue or running:
                while queue and idle:
                    actor, args = idle.pop(), queue.pop(0)
                    running[actor.run.remote(fn, *args)] = (actor, args)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                actor, args = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayError as err:
                    ray.kill(actor)  # dead or broken: a fresh one takes its place
                    actor = worker.remote()
                    result = failed(err, args)
                idle.append(actor)
                yield result
        finally:
            for actor in idle + [a for a, _ in running.values()]:
                ray.kill(actor)

    def close(self) -> None:
        import ray

        if self._started:
            ray.shutdown()


def make_executor(kind: str = "local", jobs: int = 1, ray_address: str | None = None):
    """The executor named on the command line: ``local`` (processes on this machine) or ``ray``."""
    if kind == "local":
        if ray_address:
            raise VoliError("--ray-address needs --executor ray")
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(jobs, ray_address)
    raise VoliError(f"unknown executor {kind!r}; use local or ray")


# -- markers -----------------------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def part_fingerprint(stage_dir: Path, recording_id: str) -> str | None:
    """The fingerprint a finished recording was made with, or None."""
    marker = _read_json(stage_dir / "parts" / recording_id / ".done")
    return marker.get("fingerprint") if marker else None


def stage_done(stage_dir: Path) -> bool:
    return (stage_dir / ".done").is_file()


def fingerprint(*parts) -> str:
    """A stable hash of JSON-serialisable parts (config dicts, upstream fingerprints)."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def library_versions(stage: "Stage | None" = None) -> dict[str, str]:
    """voli's, Python's and the libraries' versions (LIBRARIES and the stage's own), then the
    versions of the programs the stage runs."""
    versions = {"voli": __version__, "python": platform.python_version()}
    for name in LIBRARIES + (stage.libraries if stage is not None else ()):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    if stage is not None and stage.programs is not None:
        versions.update(stage.programs())
    return versions


# -- running one stage --------------------------------------------------------------


def _process_item(stage: Stage, item: WorkItem, ctx: StageContext, part_dir: str) -> _ItemOutcome:
    """Process one recording and write its part; never raises for a bad recording.

    A VoliError is the recording's fault and its message says how to fix it; any other
    exception is voli's, and its message says so (the traceback goes to failures.parquet).
    """
    part = Path(part_dir)
    if part.exists():
        shutil.rmtree(part)  # its .done goes first: a crash below leaves it unfinished
    try:
        with problems.collecting(stage.name, item.recording_id) as found:
            tables = stage.process(item, ctx)
        unknown = set(tables) - set(stage.outputs)
        if unknown:
            raise VoliError(f"stage {stage.name} returned unknown table(s) {sorted(unknown)}")
        for name, table in tables.items():
            write_table(table, part / f"{name}.parquet")
        if found:
            write_table(to_table(found, Problem), part / "problems.parquet")
        write_text(json.dumps({"fingerprint": item.fingerprint}), part / ".done")
        return _ItemOutcome(item.recording_id)
    except KeyboardInterrupt:
        raise
    except VoliError as err:
        return _ItemOutcome(item.recording_id, type(err).__name__, str(err), traceback.format_exc())
    except Exception as err:  # noqa: BLE001 - one recording's crash must not stop the corpus; it is recorded as a bug
        message = bug_message(err)  # the failure row and the log line name the stage and the recording
        return _ItemOutcome(item.recording_id, type(err).__name__, message, traceback.format_exc(), bug=True)


def _lost_on_ray(call: tuple, err: Exception) -> _ItemOutcome:
    """The failure of a recording whose Ray worker died under it (the call is _process_item's arguments)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # Ray colours its messages
    first_line = text.splitlines()[0] if text else type(err).__name__
    return _ItemOutcome(call[1].recording_id, type(err).__name__,
                        f"the Ray worker processing it was lost ({first_line}); check the node's memory and that "
                        "voli is installed there, then rerun to retry it", traceback.format_exc())


def _combine(stage: Stage, stage_dir: Path, recording_ids: Iterable[str]) -> dict[str, pa.Table]:
    tables = {}
    for name, record_type in {**stage.outputs, "problems": Problem}.items():
        schema = arrow_schema(record_type)
        pieces = []
        for rid in recording_ids:
            path = stage_dir / "parts" / rid / f"{name}.parquet"
            if path.exists():
                pieces.append(read_table(path).cast(schema))
        tables[name] = pa.concat_tables(pieces) if pieces else schema.empty_table()
    return tables


def run_stage(
    stage: Stage,
    ctx: StageContext,
    *,
    force: bool = False,
    executor: LocalExecutor | RayExecutor | None = None,
    progress: bool = True,
) -> StageResult:
    """Run one stage over every recording in its plan; see the module docstring."""
    started = time.perf_counter()
    executor = executor or LocalExecutor()
    stage_dir = ctx.stage_dir(stage)
    if force and stage_dir.exists():
        shutil.rmtree(stage_dir)  # everything is redone, corpus-level products (a trained model) included
    stage_dir.mkdir(parents=True, exist_ok=True)
    (stage_dir / ".done").unlink(missing_ok=True)
    with problems.collecting(stage.name) as stage_problems:  # corpus-level ones (a model trained on it)
        items = stage.plan(ctx)
        if stage.train is not None:  # a corpus-level model: every recording is processed with it
            trained = stage.train(ctx, items)
            items = [dataclasses.replace(it, fingerprint=fingerprint(it.fingerprint, trained.fingerprint),
                                         payload=trained.payload) for it in items]
    planned = {it.recording_id for it in items}
    parts_root = stage_dir / "parts"
    if parts_root.exists():
        for old in parts_root.iterdir():
            if force or old.name not in planned:
                shutil.rmtree(old)
    result = StageResult(stage.name, stage_dir)
    todo = []
    for item in items:
        if part_fingerprint(stage_dir, item.recording_id) == item.fingerprint:
            result.skipped += 1
        else:
            todo.append(item)
    if result.skipped:
        log.info("%s: %d recording(s) already done, %d to process", stage.name, result.skipped, len(todo))
    calls = [(stage, item, ctx, str(parts_root / item.recording_id)) for item in todo]
    uses_gpu = stage.needs_device and getattr(ctx.device, "type", "cpu") == "cuda"
    outcomes = executor.map_unordered(_process_item, calls, keeps_model=stage.keeps_model, uses_gpu=uses_gpu,
                                      lost=_lost_on_ray)
    if progress and todo:
        from tqdm import tqdm

        outcomes = tqdm(outcomes, total=len(todo), desc=stage.name, unit="rec", disable=None)
    for outcome in outcomes:
        if outcome.error_type is None:
            result.processed += 1
            continue
        result.failures.append(Failure(stage.name, outcome.recording_id, outcome.error_type, outcome.message,
                                       outcome.bug, outcome.traceback if outcome.bug else None))
        log.error("%s: recording %s failed: %s", stage.name, outcome.recording_id, outcome.message)
        log.debug("%s", outcome.traceback)
    failed = {f.recording_id for f in result.failures}
    finished = sorted(rid for rid in planned if rid not in failed)
    tables = _combine(stage, stage_dir, finished)
    if stage.finalize is not None:
        with problems.collecting(stage.name) as finalize_problems:
            tables.update(stage.finalize(ctx))
        stage_problems.extend(finalize_problems)
    tables["problems"] = pa.concat_tables([to_table(stage_problems, Problem), tables["problems"]])
    result.problems = from_table(tables["problems"], Problem)
    for name, table in tables.items():
        write_table(table, stage_dir / f"{name}.parquet")
    result.failures.sort(key=lambda f: f.recording_id)
    write_table(to_table(result.failures, Failure), stage_dir / "failures.parquet")
    section = ctx.config.section(stage.name)
    write_text(
        dump_yaml({
            "stage": stage.name,
            "corpus": str(ctx.corpus_dir),
            "device": str(ctx.device) if ctx.device is not None else None,
            "config": dataclasses.asdict(section) if section is not None else {},
            "versions": library_versions(stage),
            "machine": machine_description(),
        }),
        stage_dir / "config.yaml",
    )
    result.seconds = time.perf_counter() - started
    write_text(json.dumps({"stage": stage.name, "recordings": len(finished), "failed": len(failed),
                           "problems": len(result.problems)}), stage_dir / ".done")
    return result


# -- the pipeline --------------------------------------------------------------------


class WorkdirLock:
    """An exclusive lock on a work directory: two runs must not write one workdir."""

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / ".lock"

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            self._fh.close()
            raise VoliError(f"{self.path.parent}: another voli run is using this work directory; wait for it or use another --workdir") from err
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def require_done(ctx: StageContext, name: str) -> Path:
    """The directory of a finished upstream stage; an error naming the command otherwise."""
    stage_dir = ctx.stage_dir(name)
    if not stage_done(stage_dir):
        raise VoliError(f"{stage_dir}: stage '{name}' has not finished; run `voli {name} {ctx.corpus_dir}` first")
    return stage_dir


def upstream_items(ctx: StageContext, upstream: str, stage_config: dict, recording_ids: list[str]) -> list[WorkItem]:
    """Plan a per-recording stage over the recordings (of ``recording_ids``, in that order) that the
    stage named ``upstream`` finished.

    Each item's fingerprint chains the upstream recording's fingerprint with
    this stage's config, so a change upstream or in the config redoes it.
    """
    stage_dir = require_done(ctx, upstream)
    items = []
    for rid in recording_ids:
        up = part_fingerprint(stage_dir, rid)
        if up is not None:
            items.append(WorkItem(rid, fingerprint(up, stage_config), None))
    return items


def run_pipeline(
    stages: list[Stage],
    corpus_dir: Path,
    workdir: Path,
    config: VoliConfig,
    *,
    device: str = "auto",
    start: str | None = None,
    stop: str | None = None,
    force: bool = False,
    jobs: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    progress: bool = True,
) -> list[StageResult]:
    """Run ``stages`` from ``start`` to ``stop`` (names; the first stage and ``start`` by default).

    The device is resolved once, when the first stage that needs it runs.
    """
    names = [s.name for s in stages]
    start = start or names[0]
    for name in (start, stop):
        if name is not None and name not in names:
            raise VoliError(f"unknown stage {name!r}; stages are {', '.join(names)}")
    stop = stop or start
    selected = stages[names.index(start): names.index(stop) + 1]
    if not selected:
        raise VoliError(f"stage {start!r} comes after {stop!r}; choose a start stage before the stop stage")
    ctx = StageContext(Path(corpus_dir).resolve(), Path(workdir).resolve(), config, stages=tuple(stages))
    results = []
    with WorkdirLock(ctx.workdir):
        workers = make_executor(executor, jobs, ray_address)
        try:
            for stage in selected:
                if stage.needs_device and ctx.device is None:
                    from voli.device import describe_device, resolve_device

                    ctx = dataclasses.replace(ctx, device=resolve_device(device))
                    log.info("device: %s", describe_device(ctx.device))
                log.info("stage %s: %s", stage.dirname, stage.summary)
                results.append(run_stage(stage, ctx, force=force, executor=workers, progress=progress))
        finally:
            workers.close()
    return results
