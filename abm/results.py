"""Writing results: Parquet files written whole or not at all.

Each file is written to a temporary name beside its target and renamed into place, so an
interrupted or failed write never leaves half a file under ``results/``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from abm.errors import UserError


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
