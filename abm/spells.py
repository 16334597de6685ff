"""The per-person spell log: one row per spell, as register studies measure unemployment.

Optional (``JobcenterModel(..., spell_log=True)``, ``run_simulation(..., spell_log=True)``):
off, the model holds ``None`` and pays nothing. On, the model tells the log when
citizens enter (``entered``), move (``moved``) and leave (``ended``); what the log needs
about a person from their entry is kept in arrays indexed by the person id (ids are
handed out in sequence), so every hook is a few vectorised writes.

A spell's entry week is its exit week minus its length in weeks (a spell ages at the end
of every week it is open, moves included), so the starting population, already mid-spell,
gets entry weeks before the burn-in. Spells that end during the burn-in are not kept;
those still open when the run ends are kept as ``censored`` (exit week null). ``exit_group``
is the group at the exit (or at the end of the run): a clarification that sends a citizen
back to the job-ready track changes the group, not the spell. ``unit`` is the unit at entry,
or, for the clients an in-office trial randomised at its start (the stock), the arm they
were randomised to, with the week in ``randomised_week`` (null for everyone else): an
experiment's intention to treat, whatever moves happen later.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from abm.rules.progress import EXITS

CENSORED = "censored"
EXIT_KINDS = (*EXITS, CENSORED)


class SpellLog:
    """Spells of every citizen who was in a jobcenter while the run was recorded."""

    def __init__(self) -> None:
        self._group = np.zeros(0, dtype=np.int8)         # by person id: group at entry
        self._municipality = np.zeros(0, dtype=np.int32)  # municipality at entry
        self._unit = np.zeros(0, dtype=np.int8)          # unit (ordinary 0, pilot 1) at entry
        self._moves = np.zeros(0, dtype=np.int16)        # moves to another municipality so far
        self._randomised = np.zeros(0, dtype=np.int32)   # week a trial randomised the open spell (-1: never)
        self._ended: list[dict[str, np.ndarray]] = []

    def entered(self, person: np.ndarray, municipality: np.ndarray, unit: np.ndarray, group: np.ndarray) -> None:
        needed = int(person.max()) + 1 if len(person) else 0
        if needed > len(self._group):
            size = max(needed, 2 * len(self._group))
            for name in ("_group", "_municipality", "_unit", "_moves", "_randomised"):
                column = getattr(self, name)
                grown = np.full(size, -1 if name == "_randomised" else 0, dtype=column.dtype)
                grown[: len(column)] = column
                setattr(self, name, grown)
        self._group[person] = group
        self._municipality[person] = municipality
        self._unit[person] = unit
        self._moves[person] = 0
        self._randomised[person] = -1

    def randomised(self, week: int, person: np.ndarray, unit: np.ndarray) -> None:
        """A trial randomised these clients, mid-spell, to ``unit`` in ``week``."""
        self._unit[person] = unit
        self._randomised[person] = week

    def moved(self, person: np.ndarray) -> None:
        self._moves[person] += 1

    def ended(self, week: int, person: np.ndarray, spell: np.ndarray, municipality: np.ndarray, group: np.ndarray,
              kind: np.ndarray) -> None:
        """Spells ending in ``week`` (kind: index into ``EXIT_KINDS``); those of the burn-in are dropped."""
        if week < 0 or len(person) == 0:
            return
        self._ended.append({
            "person": person.astype(np.int64), "exit_municipality": municipality.astype(np.int32),
            "exit_group": group.astype(np.int8), "entry_week": (week - spell).astype(np.int32), "exit_week": np.full(len(person), week, dtype=np.int32),
            "exit_kind": kind.astype(np.int8),
        })

    def frame(self, model) -> pl.DataFrame:
        """Every spell kept: the ended ones and, as censored, those open now (at the end of the run)."""
        citizens = model.citizens
        rows = citizens.occupied()
        open_spells = {
            "person": citizens.person[rows], "exit_municipality": citizens.slot_municipality[rows].astype(np.int32),
            "exit_group": citizens.group[rows].astype(np.int8),
            "entry_week": (model.week - citizens.spell[rows]).astype(np.int32),
            "exit_week": np.full(len(rows), -1, dtype=np.int32),
            "exit_kind": np.full(len(rows), EXIT_KINDS.index(CENSORED), dtype=np.int8),
        }
        columns = {name: np.concatenate([part[name] for part in [*self._ended, open_spells]]) for name in open_spells}
        person = columns["person"]
        return pl.DataFrame({
            "person": person,
            "municipality": self._municipality[person],
            "unit": self._unit[person],
            "group": self._group[person],
            "entry_week": columns["entry_week"],
            "exit_week": pl.Series(columns["exit_week"]).replace(-1, None),
            "exit_kind": pl.Series(np.asarray(EXIT_KINDS)[columns["exit_kind"]]),
            "exit_municipality": columns["exit_municipality"],
            "exit_group": columns["exit_group"],
            "moves": self._moves[person],
            "randomised_week": pl.Series(self._randomised[person]).replace(-1, None),
        })
