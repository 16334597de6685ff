"""Results: each run's rows as tables, and files written whole or not at all.

:func:`summary_row` and :func:`weekly_rows` tabulate a finished run of a batch the same way
for ``abm compare`` and ``abm sweep``: its identity (run id, labels, seed, varied
parameters) first, then what the run produced. Each file is written to a temporary name
beside its target (``.<name>.<random>.tmp``) and renamed into place, so an interrupted or
failed write never leaves half a file under ``results/``; :func:`remove_stale_temporaries`
clears what a killed process left.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from abm.errors import UserError

if TYPE_CHECKING:
    from abm.execution import Task
    from abm.simulate import RunResult

TEMPORARY = ".*.tmp"
"""The names of files being written (see :func:`write_parquet`)."""


def summary_row(task: Task, result: RunResult) -> dict:
    """A run's summary with its identity first: run_id, labels, seed, varied parameters."""
    row = {"run_id": task.run_id, **task.labels, "seed": task.seed, **task.parameters}
    return row | {key: value for key, value in result.summary.items() if key not in row}


def weekly_rows(task: Task, result: RunResult) -> pl.DataFrame:
    """A run's weekly rows with its run_id and labels in front (joins need nothing else)."""
    labels = {"run_id": task.run_id, **task.labels}
    identity = [pl.lit(value).alias(key) for key, value in labels.items() if key not in result.weekly.columns]
    return result.weekly.select(*identity, pl.all())


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary files an interrupted write left in ``folder``; return how many."""
    stale = list(folder.glob(TEMPORARY))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def prepare_output_dir(path: str | Path) -> Path:
    """Create the folder if needed and check it can be written, before any work starts."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as error:
        raise UserError(f"output folder {path}: cannot be written ({error.strerror or error}); choose another with --out") from None
    return path


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        frame.write_parquet(temporary, compression="zstd")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
