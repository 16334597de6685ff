"""Results: each run's rows as tables, and files written whole or not at all.

:func:`summary_row` and :func:`weekly_rows` tabulate a finished run of a batch the same way
for ``abm compare`` and ``abm sweep``: its identity (run id, labels, seed, varied
parameters) first, then what the run produced. Each file is written to a temporary name
beside its target (``.<name>.<random>.tmp``) and renamed into place, so an interrupted or
failed write never leaves half a file under ``results/``; :func:`remove_stale_temporaries`
clears what a killed process left. Files are readable by the group and others as the umask
allows (0644 under the usual umask 022), like the plots, so a colleague on a shared server
can read them. Parquet files carry key-value metadata: ``abm_version``, ``seed`` (the
config's or experiment's seed, where one was given) and ``units`` (JSON: column -> unit, for
the columns :data:`WEEKLY_UNITS` and :data:`SUMMARY_UNITS` declare).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import polars as pl
import tomli_w

from abm import __version__
from abm.errors import UserError
from abm import mechanisms
from abm.mechanisms import OUTPUTS
from abm.simulate import FIGURES, OUTCOME_LABELS  # noqa: F401 (OUTCOME_LABELS: read from here by tables and reports)

if TYPE_CHECKING:
    from abm.execution import Task
    from abm.simulate import RunResult

TEMPORARY = ".*.tmp"
"""The names of files being written (see :func:`write_parquet`)."""

WEEKLY_UNITS = mechanisms.LiveMapping(mechanisms.follows_registry(lambda: {output.name: output.unit for output in OUTPUTS if output.recorded}))
"""The unit of each column of the weekly table, as its output declares it (:mod:`abm.mechanisms`)."""

_KIND_UNITS = {"total": "", "per_year": " per year", "final_year": " (final year)"}

SUMMARY_UNITS = mechanisms.LiveMapping(mechanisms.follows_registry(lambda: {
    **{figure.name: figure.unit for figure in FIGURES},
    **{f"{output.name}_{kind}": f"{output.unit}{_KIND_UNITS[kind]}" for output in OUTPUTS for kind in output.summary},
}))
"""The unit of each figure of the summary row (one per run): those :data:`abm.simulate.FIGURES`
computes and those outputs declare; shown in tables and reports. Derived columns
(``<outcome>_ci95``, ``<outcome>_vs_<baseline>``) share their outcome's unit."""


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


def unit_of(column: str, units: dict[str, str]) -> str | None:
    """The unit of a result column, also of a derived one (``trust_mean_ci95`` -> trust's)."""
    for name in sorted(units, key=len, reverse=True):  # the longest declared name the column starts with
        if column == name or column.startswith(f"{name}_ci95") or column.startswith(f"{name}_vs_"):
            return units[name]
    return None


def parquet_metadata(frame: pl.DataFrame, seed: int | None = None) -> dict[str, str]:
    """What a Parquet file says about itself: abm's version, the seed, the columns' units
    (a table with a ``week`` column is weekly, any other has summary figures)."""
    declared = WEEKLY_UNITS if "week" in frame.columns else SUMMARY_UNITS
    units = {column: unit for column in frame.columns if (unit := unit_of(column, declared)) is not None}
    metadata = {"abm_version": __version__, "units": json.dumps(units, ensure_ascii=False)}
    return metadata | ({"seed": str(seed)} if seed is not None else {})


@contextlib.contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to: renamed to ``path`` when the block ends
    without an error, removed otherwise, so ``path`` is either whole or untouched."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, _readable_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_parquet(frame: pl.DataFrame, path: str | Path, *, seed: int | None = None) -> Path:
    """Write ``frame`` to ``path`` atomically, with :func:`parquet_metadata`."""
    with atomic(path) as temporary:
        frame.write_parquet(temporary, compression="zstd", metadata=parquet_metadata(frame, seed))
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    with atomic(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_toml(document: dict, path: str | Path, header: str = "") -> Path:
    """Write a TOML file atomically, through a TOML writer (never by formatting strings);
    ``header`` becomes comment lines above it."""
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return write_text(comments + tomli_w.dumps(document), path)


def _readable_mode() -> int:
    """The mode an ordinary new file gets (0644 under umask 022): mkstemp's 0600 would hide
    results from the group. The umask can only be read by setting it, so it is set back at once."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
