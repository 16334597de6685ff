"""Columnar agent state: one numpy array per attribute (struct of arrays).

The weekly rules act on whole columns at once, in compiled loops over the occupied rows
(``abm.compiled``). A *slot* is one row; people leave and arrive every week, so slots
are reused (``active`` tells whether a slot holds someone).
Citizens' slots are grouped in contiguous blocks per municipality, which keeps finding
free places and the social network's within-municipality ties cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from abm import mechanisms
from abm.compiled import kernel, slot
from abm.jobcenter import NO_CASEWORKER, department  # noqa: F401 (NO_CASEWORKER: the fill of ``caseworker``)
SPELL_BINS = 1040  # the census counts spells by week up to 20 years: median spells that short are exact


class Table:
    """A table of equally long numpy columns: ``FIELDS`` (name -> (dtype, fill value)) are the
    columns the registered rules declare for the subclass's ``TABLE`` (``abm.mechanisms``),
    as registered when the table is made."""

    TABLE = ""

    def __init__(self, size: int):
        self.FIELDS: dict[str, tuple[type, object]] = mechanisms.state_columns(self.TABLE)
        for name, (dtype, fill) in self.FIELDS.items():
            setattr(self, name, np.full(size, fill, dtype=dtype))

    @property
    def size(self) -> int:
        return len(self.active)

    def assign(self, rows: np.ndarray, values: dict[str, np.ndarray]) -> None:
        for name, column in values.items():
            getattr(self, name)[rows] = column

    def reset(self, rows: np.ndarray) -> None:
        """Empty these slots (back to each column's fill value)."""
        for name, (_, fill) in self.FIELDS.items():
            getattr(self, name)[rows] = fill

    def _resized(self, size: int, old_to_new: np.ndarray) -> None:
        """Columns of ``size`` rows where old row i is now ``old_to_new[i]`` (-1: dropped)."""
        kept = np.flatnonzero(old_to_new >= 0)
        new_rows = old_to_new[kept]
        for name, (dtype, fill) in self.FIELDS.items():
            column = np.full(size, fill, dtype=dtype)
            column[new_rows] = getattr(self, name)[kept]
            setattr(self, name, column)


class CitizenState(Table):
    """Everyone in contact with a jobcenter: one slot per citizen, the columns the rules declare as ``citizen_state``."""

    TABLE = "citizens"

    def __init__(self, slots_per_municipality: np.ndarray):
        super().__init__(int(slots_per_municipality.sum()))
        self.n_municipalities = len(slots_per_municipality)
        self.slot_municipality = np.repeat(
            np.arange(self.n_municipalities, dtype=np.int32), slots_per_municipality
        )
        self._next_person = 0
        self._occupied: np.ndarray | None = None

    # Every change of ``active`` goes through ``occupy``, ``reset``, ``relocate`` or a
    # resize, which forget the cached ``occupied()`` rows.

    def occupied(self) -> np.ndarray:
        """The slots that hold someone now, ascending (rules work on these rows only)."""
        if self._occupied is None:
            self._occupied = np.flatnonzero(self.active)
            self._occupied.flags.writeable = False
        return self._occupied

    def occupy(self, rows: np.ndarray) -> None:
        self.active[rows] = True
        self._occupied = None

    def reset(self, rows: np.ndarray) -> None:
        super().reset(rows)
        self._occupied = None

    def relocate(self, rows: np.ndarray, new_rows: np.ndarray) -> None:
        """Citizens move from ``rows`` to ``new_rows`` with every attribute."""
        for name in self.FIELDS:
            column = getattr(self, name)
            column[new_rows] = column[rows]
        self.reset(rows)

    def _resized(self, size: int, old_to_new: np.ndarray) -> None:
        super()._resized(size, old_to_new)
        self._occupied = None

    def census(self, age: bool = False) -> "Census":
        """Everyone counted per municipality, in one pass over the slots; with ``age``, at the
        end of a week: each spell (and benefit history) a week older first, and this week's
        caseworker changes forgotten (one pass for both)."""
        counts, trust, spells = _census(
            self.occupied(), self.slot_municipality, self.group, self.unit, self.caseworker, self.spell, self.changes,
            self.trust, self.n_municipalities, SPELL_BINS, age, self.benefit_weeks, self.changed,
        )
        return Census(counts[:, :3], *counts[:, 3:].T, trust, spells)

    def block_starts(self) -> np.ndarray:
        """The first slot of each municipality's block."""
        # Needles of the column's own dtype: mixed int32 / int64 would copy the whole column first (~1 ms).
        return np.searchsorted(self.slot_municipality, np.arange(self.n_municipalities, dtype=self.slot_municipality.dtype))

    def block_sizes(self) -> np.ndarray:
        """Slots (occupied or free) of each municipality."""
        return np.diff(self.block_starts(), append=self.size)

    def new_person_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_person, self._next_person + n, dtype=np.int64)
        self._next_person += n
        return ids

    def free_slots(self, wanted: np.ndarray) -> np.ndarray | None:
        """``wanted[m]`` free slots of each municipality m (its first ones), ordered by municipality.

        ``None`` if some municipality has too few; the caller grows the table first.
        """
        starts = self.block_starts()
        slots, enough = _first_free(self.active, starts, np.append(starts[1:], self.size), np.asarray(wanted, dtype=np.int64))
        return slots if enough else None

    def occupied_in(self, municipalities: np.ndarray) -> np.ndarray:
        """The slots that hold someone now in these municipalities, ascending: a pass over
        their clients only (each municipality's occupied slots are one stretch of ``occupied()``)."""
        rows = self.occupied()
        chosen = np.unique(municipalities)
        starts = self.block_starts()
        ends = np.append(starts[1:], self.size)
        first, last = np.searchsorted(rows, starts[chosen]), np.searchsorted(rows, ends[chosen])
        return np.concatenate([rows[a:b] for a, b in zip(first, last)]) if len(chosen) else rows[:0]

    def clients(self) -> np.ndarray:
        """Occupied slots per municipality (each municipality's are one stretch of ``occupied()``): no pass over the slots."""
        rows = self.occupied()
        return np.diff(np.searchsorted(rows, self.block_starts()), append=len(rows))

    def free_count(self) -> np.ndarray:
        """Free slots per municipality."""
        return self.block_sizes() - self.clients()

    def grow(self, extra: np.ndarray) -> np.ndarray:
        """Add ``extra[m]`` empty slots to the end of municipality m's block; returns the old->new slot map."""
        muni = self.slot_municipality
        block_sizes = self.block_sizes() + extra
        old_to_new = _starts(block_sizes)[muni] + (np.arange(self.size) - self.block_starts()[muni])
        return self._reblocked(block_sizes, old_to_new)

    def pack(self, block_sizes: np.ndarray) -> np.ndarray:
        """Blocks of ``block_sizes`` slots, each municipality's citizens at the front of theirs, in order.

        Returns the old->new slot map; free slots are dropped (-1). Rules loop over occupied
        slots, but a sparse table still costs memory traffic: this keeps it dense.
        """
        rows = self.occupied()
        muni = self.slot_municipality[rows]
        rank = np.arange(len(rows)) - np.searchsorted(rows, self.block_starts())[muni]
        old_to_new = np.full(self.size, -1, dtype=np.int64)
        old_to_new[rows] = _starts(block_sizes)[muni] + rank
        return self._reblocked(block_sizes, old_to_new)

    def _reblocked(self, block_sizes: np.ndarray, old_to_new: np.ndarray) -> np.ndarray:
        self._resized(int(block_sizes.sum()), old_to_new)
        self.slot_municipality = np.repeat(np.arange(self.n_municipalities, dtype=np.int32), block_sizes)
        return old_to_new


def _starts(block_sizes: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(block_sizes)[:-1]))


@kernel
def _first_free(active, starts, ends, wanted):
    slots = np.empty(wanted.sum(), dtype=np.int64)
    taken = 0
    for m in range(len(wanted)):
        needed = wanted[m]
        i = starts[m]
        while needed > 0 and i < ends[m]:
            if not active[i]:
                slots[taken] = i
                taken += 1
                needed -= 1
            i += 1
        if needed > 0:
            return slots[:0], False
    return slots, True


class Census(NamedTuple):
    """Citizens per municipality: counts, and sums to divide by the clients for means."""

    by_group: np.ndarray  # (municipalities, 3): job-ready, activity-ready, resource programme
    pilot: np.ndarray     # in the pilot unit
    waiting: np.ndarray   # without a caseworker
    spell: np.ndarray     # sum of weeks in the current spell
    changes: np.ndarray   # sum of caseworker changes in the current spell
    trust: np.ndarray     # sum of trust
    spells: np.ndarray    # (municipalities, SPELL_BINS): clients by weeks in the current spell (last bin: that or more)

    @property
    def clients(self) -> np.ndarray:
        return self.by_group.sum(axis=1)

    def by_department(self) -> np.ndarray:
        """Clients per municipality and unit (ordinary, pilot), shape (municipalities, 2)."""
        return np.stack((self.clients - self.pilot, self.pilot), axis=1)

    def mean_trust(self) -> np.ndarray:
        return self.trust / np.maximum(self.clients, 1)

    def median_spell(self) -> np.ndarray:
        """Median weeks in the current spell (exact below ``SPELL_BINS``); NaN without clients."""
        clients = self.clients
        below = np.cumsum(self.spells, axis=1) < ((clients + 1) // 2)[:, None]
        return np.where(clients > 0, below.sum(axis=1), np.nan)


@kernel
def _census(rows, municipality, group, unit, caseworker, spell, changes, trust, n, spell_bins, age, benefit_weeks, changed):
    counts = np.zeros((n, 7), dtype=np.int64)  # 3 groups, pilot, waiting, spell, changes
    trust_sum = np.zeros(n)
    spells = np.zeros((n, spell_bins), dtype=np.int64)
    for r in rows:
        i = slot(r)
        if age:
            spell[i] += 1
            benefit_weeks[i] += 1
            changed[i] = False
        m = slot(municipality[i])
        counts[m, slot(group[i])] += 1
        counts[m, 3] += unit[i]
        counts[m, 4] += caseworker[i] < 0
        counts[m, 5] += spell[i]
        counts[m, 6] += changes[i]
        trust_sum[m] += trust[i]
        spells[m, slot(min(spell[i], spell_bins - 1))] += 1
    return counts, trust_sum, spells


class CaseworkerState(Table):
    """Caseworkers in the municipalities' jobcenter departments: the columns the rules declare as ``caseworker_state``."""

    TABLE = "caseworkers"

    def __init__(self, size: int):
        super().__init__(size)
        self._next_id = 0
        self._employed: np.ndarray | None = None

    # Caseworkers come only through ``employ`` and go only through ``reset`` (or a resize),
    # which forget the cached ``employed()`` rows.

    def employed(self) -> np.ndarray:
        """The rows that hold a caseworker now, ascending (the same array until someone comes or goes)."""
        if self._employed is None:
            self._employed = np.flatnonzero(self.active)
            self._employed.flags.writeable = False
        return self._employed

    def employ(self, rows: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """New caseworkers take these empty rows, each with an id of their own."""
        self.assign(rows, {**values, "active": True})
        self.hired_id[rows] = np.arange(self._next_id, self._next_id + len(rows))
        self._next_id += len(rows)
        self._employed = None

    def reset(self, rows: np.ndarray) -> None:
        super().reset(rows)
        self._employed = None

    def _resized(self, size: int, old_to_new: np.ndarray) -> None:
        super()._resized(size, old_to_new)
        self._employed = None

    def free_slots(self, n: int) -> np.ndarray:
        """``n`` empty rows, growing the table (doubling) when it is full."""
        free = np.flatnonzero(~self.active)
        if len(free) < n:
            old = self.size
            new_size = max(2 * old, old + n - len(free), 16)
            self._resized(new_size, np.arange(old))
            free = np.flatnonzero(~self.active)
        return free[:n]

    def department(self) -> np.ndarray:
        return department(self.municipality, self.unit)


class Recruitment:
    """Open positions being filled: each arrives as a new caseworker when due."""

    def __init__(self) -> None:
        self.municipality = np.empty(0, dtype=np.int32)
        self.unit = np.empty(0, dtype=np.int8)
        self.due_week = np.empty(0, dtype=np.int32)

    def add(self, municipality: np.ndarray, unit: np.ndarray, due_week: np.ndarray) -> None:
        self.municipality = np.concatenate((self.municipality, municipality.astype(np.int32)))
        self.unit = np.concatenate((self.unit, unit.astype(np.int8)))
        self.due_week = np.concatenate((self.due_week, due_week.astype(np.int32)))

    def take(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Remove the entries where ``keep`` is False; returns their municipality and unit."""
        taken = (self.municipality[~keep], self.unit[~keep])
        self.municipality, self.unit, self.due_week = self.municipality[keep], self.unit[keep], self.due_week[keep]
        return taken

    def count(self, n_departments: int) -> np.ndarray:
        return np.bincount(department(self.municipality, self.unit), minlength=n_departments)
