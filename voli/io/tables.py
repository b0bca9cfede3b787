"""Parquet tables and small text files, written atomically.

Every write goes to a temporary file in the same directory, is flushed to
disk, and is then renamed over the target. A run killed mid-write leaves at
worst a stray ``.tmp`` file, never a truncated table under the real name.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from voli.errors import VoliError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it into place on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_table(table: pa.Table, path: str | os.PathLike) -> Path:
    """Write an Arrow table to Parquet atomically. Returns the path."""
    with atomic_path(path) as tmp:
        # No statistics timestamps or writer-specific metadata: the same
        # table always gives the same bytes.
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def read_table(path: str | os.PathLike) -> pa.Table:
    """Read a Parquet table, with an error that names the file."""
    path = Path(path)
    if not path.exists():
        raise VoliError(f"{path}: table not found; run the stage that writes it first")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise VoliError(f"{path}: not a readable Parquet table ({err}); delete it and rerun the stage") from err


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write a UTF-8 text file atomically. Returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
