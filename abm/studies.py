"""Optuna studies kept in a file: the storage from a path, and whether a file holds our study.

The storage is built from the file's path with SQLAlchemy's URL object, never by formatting
a string, so a folder named ``o?mode=ro`` is a folder, not options of the database. Before a
resumed command writes anything, :func:`check_study` reads the file (read-only, with the
standard library) and refuses one that is not a database, is damaged, is another program's,
or holds a study started for something else.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy.engine import URL, make_url

from abm.errors import UserError, cut

SQLITE_HEADER = b"SQLite format 3\x00"
IDENTITY = "identity"
"""The study's user attribute that says what it was started for (targets, parameters, method ...)."""


def study_storage(path: Path) -> optuna.storages.RDBStorage:
    """Optuna's storage in the SQLite file ``path`` (made if missing)."""
    url = URL.create("sqlite", database=str(Path(path).resolve())).render_as_string(hide_password=False)
    # Optuna fills its own template into the URL with str.format: braces of a path are kept by doubling them
    storage = optuna.storages.RDBStorage(url.replace("{", "{{").replace("}", "}}"))
    if make_url(storage.url).database != str(Path(path).resolve()):  # the URL names exactly this file
        raise UserError(f"{cut(str(path))}: this path cannot hold a study; choose another folder with --out")
    return storage


def check_study(path: Path, study_name: str, identity: dict[str, Any], option: str = "--resume",
                added: tuple[str, ...] = ()) -> None:
    """Refuse, before anything is written, a ``path`` that does not hold this command's own study.

    ``added``: keys of ``identity`` that studies written by earlier versions lack; such a study
    is compared without them."""
    where = f"{option}: {cut(str(path))}"
    if not path.is_file():
        raise UserError(f"{where}: no such study file; run without {option} to start one")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise UserError(f"{where}: not an SQLite database (expected the study.db an earlier run of this command wrote); "
                        f"use another --out folder")
    try:
        with sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"studies", "study_user_attributes"} <= tables:
                raise UserError(f"{where}: an SQLite database, but not an Optuna study (tables: "
                                f"{cut(', '.join(sorted(tables)) or 'none')}); use another --out folder")
            rows = connection.execute(
                "SELECT a.value_json FROM studies s JOIN study_user_attributes a ON a.study_id = s.study_id "
                "WHERE s.study_name = ? AND a.key = ?", (study_name, IDENTITY)).fetchall()
    except sqlite3.DatabaseError as error:
        raise UserError(f"{where}: the database is damaged ({error}); use another --out folder") from None
    if not rows:
        raise UserError(f"{where}: holds no {study_name!r} study of abm; use another --out folder")
    try:
        stored = json.loads(rows[0][0])
    except (TypeError, ValueError):
        raise UserError(f"{where}: the study's record of what it was started for is damaged; use another --out folder") from None
    if isinstance(stored, dict):
        identity = {key: value for key, value in identity.items() if key in stored or key not in added}
    if not isinstance(stored, dict) or stored != json.loads(json.dumps(identity)):
        stored = stored if isinstance(stored, dict) else {}
        differences = [f"{key} = {cut(repr(stored.get(key)), 120)} there, {cut(repr(value), 120)} now"
                       for key, value in identity.items() if stored.get(key) != json.loads(json.dumps(value))]
        raise UserError(f"{where}: the study there was started for something else: {'; '.join(differences)}")
