"""A toy stage for runner tests: one table row per recording, optionally slow.

Run as a script (``python stage_fixture.py WORKDIR``) it runs the stage; with
VOLI_TEST_HANG=<recording_id> it writes ``<workdir>/hanging`` on reaching that
recording and then sleeps, so a test can kill it mid-stage; with VOLI_TEST_CRASH=<recording_id>
the process handling that recording exits at once (a Ray worker dying). VOLI_TEST_FAIL fails a
recording with a VoliError (the recording's fault), VOLI_TEST_BUG with a KeyError (voli's fault),
and VOLI_TEST_PROBLEM reports a problem for a recording that still finishes.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from voli import problems
from voli.config import VoliConfig
from voli.errors import VoliError
from voli.runner import Stage, StageContext, WorkItem, fingerprint, run_stage
from voli.schema import to_table

RECORDINGS = [f"rec{i}" for i in range(5)]


@dataclass(frozen=True)
class Row:
    recording_id: str
    value: float


def plan(ctx: StageContext) -> list[WorkItem]:
    return [WorkItem(rid, fingerprint(rid, os.environ.get("VOLI_TEST_VERSION", "1")), rid) for rid in RECORDINGS]


def process(item: WorkItem, ctx: StageContext):
    log = ctx.workdir / "processed.log"
    with open(log, "a") as fh:
        fh.write(item.recording_id + "\n")
    if os.environ.get("VOLI_TEST_CRASH") == item.recording_id:
        os._exit(1)  # the worker process dies, as on running out of memory
    if os.environ.get("VOLI_TEST_FAIL") == item.recording_id:
        raise VoliError(f"{item.recording_id}: broken on purpose")
    if os.environ.get("VOLI_TEST_BUG") == item.recording_id:
        {}["no such key"]
    if os.environ.get("VOLI_TEST_PROBLEM") == item.recording_id:
        problems.report("toy_fallback", "a fallback that changes the result")
    if os.environ.get("VOLI_TEST_HANG") == item.recording_id:
        (ctx.workdir / "hanging").write_text(item.recording_id)
        time.sleep(120)
    return {"rows": to_table([Row(item.recording_id, float(len(item.recording_id)) * 1.5)], Row)}


TOY = Stage("toy", "toy stage for tests", outputs={"rows": Row}, plan=plan, process=process, index=7)


def run(workdir: Path, **kw):
    ctx = StageContext(Path(workdir), Path(workdir), VoliConfig())
    return run_stage(TOY, ctx, progress=False, **kw)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
