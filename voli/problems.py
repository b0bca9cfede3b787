"""Problems: results that stand, but that a user must know about before trusting them.

A failure stops one recording (``failures.parquet``); a problem does not: a recording left out
of the alignment model's training, a statistical model that fell back to another engine, a
figure that could not be drawn, an utterance with no aligned phones. Code that takes such a
fallback calls :func:`report`; the runner collects what each recording and each stage reports
into the stage's ``problems.parquet`` (columns of :class:`voli.schema.Problem`), logs it as a
warning and counts it in the summary line::

    align: 8 processed, 0 already done, 0 failed, 1 problem in 17.2 s -> exp/sample/<align's directory>

Outside a run (a library call, a test) a report is only logged.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from voli.schema import Problem

log = logging.getLogger("voli")

_found: ContextVar[list | None] = ContextVar("voli_problems", default=None)
_where: ContextVar[tuple[str, str | None]] = ContextVar("voli_problem_where", default=("", None))


@contextmanager
def collecting(stage: str, recording_id: str | None = None) -> Iterator[list[Problem]]:
    """Collect the problems reported inside the block (into the yielded list); a collector
    around this one receives them too when the block ends."""
    found: list[Problem] = []
    outer = _found.get()
    token, where = _found.set(found), _where.set((stage, recording_id))
    try:
        yield found
    finally:
        _found.reset(token)
        _where.reset(where)
        if outer is not None:
            outer.extend(found)


def report(kind: str, message: str, *, recording_id: str | None = None, speaker_id: str | None = None) -> Problem:
    """Record a problem of the stage and recording being processed (or of ``recording_id``).

    ``kind`` is a short stable code to filter on (``left_out_of_training``, ``model_fallback``);
    ``message`` says what happened, what it changes, and how to avoid it.
    """
    stage, current = _where.get()
    problem = Problem(stage, recording_id if recording_id is not None else current, speaker_id, kind, message)
    where = " ".join(x for x in (stage, problem.recording_id and f"recording {problem.recording_id}",
                                 speaker_id and f"speaker {speaker_id}") if x)
    log.warning("%s: %s", where or "voli", message)
    found = _found.get()
    if found is not None:
        found.append(problem)
    return problem
