"""Output folders: a command writes only into a folder it may use, and leaves no debris.

Every command that writes results claims its folder with :func:`output_folder` after its
input is checked and before its first run:

- A folder that holds files is refused with one line naming it and what is in it, unless
  the user adds ``--overwrite`` (then the command replaces the files it writes and leaves
  the others). A sweep's folder (it holds ``manifest.json`` or ``runs/``) is refused even
  with ``--overwrite``: only ``abm sweep --resume`` writes there.
- If the command fails or is interrupted, temporary files are removed; a folder it created
  is removed again when nothing finished in it; the exception carries a note saying
  truthfully what was kept (the command line prints it).
- A full disk (or another failure to write) becomes one :class:`~abm.errors.UserError`
  naming the folder; what this command wrote there is removed, so nothing partial is left.

Names read from files and used as folder names (``name = ...`` of a targets or experiment
file) are checked by :func:`safe_name`.
"""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
from pathlib import Path
from typing import Iterator

from abm.errors import UserError, cut
from abm.results import TEMPORARY, prepare_output_dir

SWEEP_MARKERS = ("manifest.json", "runs")
SWEEP_OWN = ("runs", "weekly", "failed", "plots")
"""The subfolders a sweep writes its own files in (:mod:`abm.sweep.store`, its plots)."""
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,99}")
"""A name that can be one folder anywhere: letters, digits, space and ``._+-``, not starting with a dot."""
SHOWN = 4  # entries of a folder named in a refusal
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EIO)


def safe_name(name: str, origin: str) -> str:
    """``name`` if it can be used as one folder's name, else one clear line naming ``origin``."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or name[-1] in " .":
        raise UserError(f"{origin}: name = {cut(repr(name))} is not allowed: it names the results folder, so "
                        f"expected 1-100 letters, digits, spaces or ._+- (no / or ..), starting with a letter or digit "
                        f"and not ending in a space or dot")
    return name


def contents(folder: Path) -> str:
    """What a folder holds, for a message: ``summary.parquet, weekly.parquet and 3 more``."""
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def is_sweep_folder(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in SWEEP_MARKERS)


def enclosing_sweep(path: Path, analysis: bool) -> Path | None:
    """The sweep folder ``path`` lies inside (it holds manifest.json and runs/); for an
    ``analysis`` (discover, robustness) only if ``path`` is in one of the sweep's own subfolders."""
    resolved = path.resolve()
    for parent in resolved.parents:
        if all((parent / marker).exists() for marker in SWEEP_MARKERS):
            inside = resolved.relative_to(parent).parts
            return None if analysis and inside[0] not in SWEEP_OWN else parent
    return None


def usable_path(path: str | Path, option: str = "--out") -> Path:
    """``path``, if the system can look it up (not too long, no NUL character), else one clear line."""
    path = Path(path)
    try:
        path.lstat()
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as error:
        raise UserError(f"{option} {cut(str(path))}: cannot be written ({getattr(error, 'strerror', None) or error}); "
                        f"choose another with {option}") from None
    return path


def check_output_folder(path: str | Path, overwrite: bool = False, option: str = "--out", can_overwrite: bool = True,
                        analysis: bool = False) -> Path:
    """Refuse a folder that may not be written (a file, a sweep's folder or one inside it, one
    holding files without ``overwrite``), before any work starts; return the path.
    ``can_overwrite``: the command has ``--overwrite`` (the refusal mentions it);
    ``analysis``: the command analyses a sweep and may write in a new subfolder of its folder."""
    path = usable_path(path, option)
    sweep = enclosing_sweep(path, analysis)
    if sweep is not None:
        raise UserError(f"{option} {cut(str(path))}: inside the sweep's results folder {cut(str(sweep))}, which only "
                        f"`abm sweep --resume` writes; choose a folder outside it with {option}")
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {cut(str(path))}: is a file, expected a folder for the results; choose another with {option}")
    if path.is_dir() and any(path.iterdir()):
        if is_sweep_folder(path):
            raise UserError(f"{cut(str(path))} is a sweep's results folder ({contents(path)}): only `abm sweep --resume` "
                            f"writes there; choose another folder with {option}")
        if not overwrite:
            raise UserError(f"{cut(str(path))} holds results already ({contents(path)}): choose another folder with "
                            f"{option}" + (", or add --overwrite to replace the files this command writes" if can_overwrite else ""))
    return path


@contextlib.contextmanager
def output_folder(path: str | Path, overwrite: bool = False, option: str = "--out", keep_finished: bool = False,
                  checked: bool = True, scaffolding: tuple[str, ...] = (), create: bool = True,
                  can_overwrite: bool = True, analysis: bool = False) -> Iterator[Path]:
    """The folder to write into (checked by :func:`check_output_folder` unless ``checked``
    is False, e.g. a resumed study's), cleaned up if the block fails; see the module's docstring.

    ``keep_finished``: on a full disk keep what finished (a sweep's runs, resumable).
    ``scaffolding``: names of files that are no finished result (a sweep's manifest.json):
    a folder this command made that holds only these is removed too.
    ``create``: make the folder now (else the block makes it once its input is checked)."""
    path = check_output_folder(path, overwrite, option, can_overwrite, analysis) if checked else usable_path(path, option)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    before = _snapshot(path)
    folder = prepare_output_dir(path) if create else path
    try:
        yield folder
    except BaseException as error:
        _remove_temporaries(folder)
        written = _written_since(folder, before)
        disk = isinstance(error, OSError) and error.errno in DISK_ERRORS
        if disk and not keep_finished:
            for file in written:
                file.unlink(missing_ok=True)
            written = []
        if missing and not missing[-1].exists():
            kept = "nothing was written"
        elif missing and all(p.name in scaffolding for p in folder.rglob("*") if p.is_file()):
            shutil.rmtree(missing[-1], ignore_errors=True)  # the outermost folder this command made
            kept = f"nothing was kept (removed {missing[-1]}, which this command had made)"
        elif written:
            kept = f"kept in {folder}/: {', '.join(str(p.relative_to(folder)) for p in written[:SHOWN])}" + \
                   (f" and {len(written) - SHOWN} more" if len(written) > SHOWN else "")
        else:
            kept = f"nothing of this command's was kept in {folder}"
        if disk:
            reason = "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else error.strerror
            raise UserError(f"cannot write into {folder}: {reason}; {kept}; free some space or choose another {option}") from None
        error.add_note(kept)
        raise


def _remove_temporaries(folder: Path) -> None:
    if folder.is_dir():
        for temporary in folder.rglob(TEMPORARY):
            temporary.unlink(missing_ok=True)


def _snapshot(folder: Path) -> dict[Path, int]:
    """Every file in ``folder`` (if it exists) with its modification time."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def _written_since(folder: Path, before: dict[Path, int]) -> list[Path]:
    """The files in ``folder`` this command wrote: new, or changed since ``before``."""
    now = _snapshot(folder)
    return sorted(p for p, mtime in now.items() if before.get(p) != mtime)
