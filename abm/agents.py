"""The Mesa agents: citizens, caseworkers, councils and municipalities.

They are Mesa agents so that Mesa's tools (AgentSet, DataCollector, SolaraViz) see them,
but their state lives in the model's columns (``abm.state``) and the weekly rules act on
those columns at once. An agent is a view of one person's row: ``citizen.trust`` reads
the column, ``citizen.trust = 0.2`` writes it, and the next week's rules start from it.

Their attributes are the columns the registered rules declare (``abm.mechanisms``; a
column's ``agent`` says whether it is shown and can be set), added to the classes when a
model is built, so a rule of your own shows its columns on the agents without an edit here.

A ``Citizen`` is one person (``person``, stable across a move and a repacking of the
table) and a ``Caseworker`` one employment (``hired_id``). Their agents are made when
Mesa's views are asked for (``model.agents``, ``agents_by_type``, ``agent_types``, which
the DataCollector uses): a ``Roster`` then adds an agent for each newcomer and removes
the agents of those who left. The weekly rules never pay for agents.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable

import mesa
import numpy as np

from abm import mechanisms
from abm.jobcenter import ORDINARY, SECOND
from abm.rules.council.pilot import PHASES

MESA_ATTRIBUTES = frozenset({"model", "unique_id", "pos", "cell"})
"""Attributes Mesa itself sets on agents (``cell``: its discrete spaces)."""


class _IdCounters(weakref.WeakKeyDictionary):
    """Mesa's per-model ``unique_id`` counters, holding each model weakly.

    Mesa 3.3 keeps them in a class-level ``defaultdict`` keyed by the model, so every model
    ever built stays in memory (mesa#3179, fixed after 3.3): a process that runs many
    simulations one after another (a serial sweep, a Ray worker, ``abm compare``) grew by
    one whole model per run.
    """

    def __getitem__(self, model) -> itertools.count:
        return self.setdefault(model, itertools.count(1))


class Cell:
    """An agent attribute that is the agent's cell of a column of the model's table.

    ``writable`` cells can be set (checked against ``low``/``high``); after a write, the
    rules that keep values derived from the column update them (``Rule.on_agent_set``).
    ``declared``: made from a rule's column declaration (:meth:`PersonAgent.declare_columns`).
    """

    def __init__(self, doc: str, writable: bool = False, low: float | None = None, high: float | None = None,
                 column: str | None = None, part: int | None = None, declared: bool = False):
        self.__doc__ = doc
        self.writable, self.low, self.high = writable, low, high
        self.column, self.part, self.declared = column, part, declared

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.column = self.column or name

    def _cell(self, agent):
        index = agent.row if self.part is None else (agent.row, self.part)
        return getattr(agent.table, self.column), index

    def __get__(self, agent, owner=None):
        if agent is None:
            return self
        column, index = self._cell(agent)
        return column[index].item()

    def __set__(self, agent, value) -> None:
        kind = type(agent).__name__
        if not self.writable:
            raise AttributeError(f"{kind}.{self.name} cannot be set: {self.__doc__}")
        if not ((self.low is None or value >= self.low) and (self.high is None or value <= self.high)):  # NaN fails too
            raise ValueError(f"{kind}.{self.name} = {value!r} is out of range [{self.low}, {self.high}]")
        column, index = self._cell(agent)
        column[index] = value
        if getattr(agent, "TABLE", "") == "citizens":
            for follow in mechanisms.agent_setters(self.column):
                follow(agent.model, np.array([agent.row]))


class JobcenterAgent(mesa.Agent):
    """Base of this model's agents: Mesa's agent, without keeping its model alive.

    Only Mesa's own attributes, private ones (``_name``) and attributes the class declares
    can be set, so a misspelt ``citizen.trsut = 0.9`` raises instead of doing nothing. A
    subclass adds an attribute of its own by declaring it (``wealth: float = 0.0``).
    """

    _ids = _IdCounters()

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_") or name in MESA_ATTRIBUTES:
            super().__setattr__(name, value)
            return
        declared = getattr(type(self), name, None)
        if isinstance(declared, property) and declared.fset is None:
            raise AttributeError(f"{type(self).__name__}.{name} cannot be set: {declared.__doc__}")
        if hasattr(type(self), name):
            super().__setattr__(name, value)
            return
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r} to set; settable: {', '.join(self.settable())}"
            f" (Mesa's: {', '.join(sorted(MESA_ATTRIBUTES))})"
        )

    @classmethod
    def settable(cls) -> list[str]:
        """The state attributes that can be set."""
        return [name for name in dir(cls) if isinstance(getattr(cls, name), Cell) and getattr(cls, name).writable]


class PersonAgent(JobcenterAgent):
    """An agent for one person in a table, found by their id wherever the table keeps them."""

    TABLE = ""  # the model's attribute holding the table (and the table rules declare columns of)
    ID = ""  # the table's column of ids

    @classmethod
    def declare_columns(cls) -> None:
        """One attribute per column the registered rules declare for this table (unless the
        class defines the name itself, or the column is hidden); attributes of rules no longer
        registered go."""
        declared = mechanisms.declared_columns(cls.TABLE)
        for name, value in list(vars(cls).items()):
            if isinstance(value, Cell) and value.declared and (name not in declared or declared[name][1].agent == "hidden"):
                delattr(cls, name)
        for name, (_, column) in declared.items():
            existing = getattr(cls, name, None)
            if column.agent == "hidden" or name in MESA_ATTRIBUTES or (existing is not None and not isinstance(existing, Cell)):
                continue
            cell = Cell(column.doc[:1].upper() + column.doc[1:] + ".", writable=column.agent == "write", low=column.low,
                        high=column.high, declared=True)
            cell.__set_name__(cls, name)
            setattr(cls, name, cell)

    def __init__(self, model, person_id: int):
        super().__init__(model)
        self._id = person_id
        self._row = -1

    @property
    def table(self):
        """The model's table this agent is a row of."""
        return getattr(self.model, self.TABLE)

    @property
    def row(self) -> int:
        """The person's row now (rows change as the table is repacked)."""
        table = self.table
        row = self._row
        if not 0 <= row < table.size or not table.active[row] or getattr(table, self.ID)[row] != self._id:
            row = self._row = self.model.rosters[type(self).TABLE].row_of(self._id, type(self).__name__)
        return row


class Citizen(PersonAgent):
    """A person in contact with a jobcenter, for as long as their spell lasts."""

    TABLE, ID = "citizens", "person"

    @property
    def person(self) -> int:
        """The person's id (``model.citizens.person``), kept across a move and a repacking."""
        return self._id

    @property
    def municipality(self) -> int:
        """Municipality of the person's jobcenter (changed only by migration)."""
        return int(self.model.citizens.slot_municipality[self.row])

    @property
    def caseworker(self) -> "Caseworker | None":
        """The person's caseworker, None while waiting (assigned by the jobcenter, which keeps caseloads in step)."""
        row = int(self.model.citizens.caseworker[self.row])
        return None if row < 0 else self.model.rosters["caseworkers"].agent_at(row)


class Caseworker(PersonAgent):
    """A caseworker, from being hired until quitting or being laid off."""

    TABLE, ID = "caseworkers", "hired_id"

    @property
    def hired_id(self) -> int:
        """The employment's id (``model.caseworkers.hired_id``)."""
        return self._id


Citizen.declare_columns()  # the built-in rules' columns; a model built later adds those registered since
Caseworker.declare_columns()


class MunicipalAgent(JobcenterAgent):
    """An agent for one municipality's row (councils and municipalities never come or go)."""

    def __init__(self, model, municipality: int):
        super().__init__(model)
        self._row = municipality

    @property
    def row(self) -> int:
        """The municipality's number."""
        return self._row


class Council(MunicipalAgent):
    """A municipal council: strategy, positions paid for, media pressure."""

    @property
    def table(self):
        """The councils' table (one row per municipality)."""
        return self.model.councils

    @property
    def strategy(self) -> str:
        """The council's strategy (from the config: build the model with ``council__strategy=`` to change it)."""
        return self.model.councils.strategy_names()[self.row]

    @property
    def positions(self) -> int:
        """Positions paid for, both units."""
        return int(self.model.councils.headcount[self.row].sum())

    @property
    def pilot_phase(self) -> str:
        """The pilot unit's phase: not started, running, scaled or stopped (the council's pilot rule)."""
        return PHASES[self.model.councils.pilot_phase[self.row]]

    ordinary_positions = Cell("Positions paid for in the ordinary department (the jobcenter hires or cuts to them).",
                              writable=True, low=0, column="headcount", part=ORDINARY)
    pilot_positions = Cell("Positions paid for in the second unit (a pilot's or a trial's treatment unit).", writable=True,
                           low=0, column="headcount", part=SECOND)
    initial_positions = Cell("Positions at the start.", column="initial_headcount")
    starting_caseload = Cell("Caseload the council held during the burn-in.")
    media_pressure = Cell("Media pressure, 0-1.", writable=True, low=0.0, high=1.0)
    score = Cell("The imitation objective, summed over the current budget cycle.")


class Municipality(MunicipalAgent):
    """The container of a council, a jobcenter and its citizens."""

    @property
    def inhabitants(self) -> int:
        """Inhabitants (fixed for the run)."""
        return int(self.model.inhabitants[self.row])

    @property
    def name(self) -> str:
        """"Høje-Taastrup" (preset denmark) or "Synthetic 03"."""
        return self.model.municipalities["name"][self.row]

    @property
    def region(self) -> str | None:
        """One of Denmark's five regions; None for a synthetic municipality."""
        return self.model.municipalities["region"][self.row]

    @property
    def council(self) -> Council:
        """The municipality's council agent."""
        return self.model.council_agents[self.row]

    @property
    def clients(self) -> int:
        """Citizens in the municipality's jobcenter now."""
        citizens = self.model.citizens
        return int((citizens.active & (citizens.slot_municipality == self.row)).sum())


class Roster:
    """The agents of one table's people: exactly one per person present, made when asked for.

    ``sync`` (run whenever Mesa's views of the model are asked for) adds agents for the
    people who arrived and removes those of the people who left; ``row_of`` finds a
    person's row through an index of ids, rebuilt only when the table has changed.
    """

    def __init__(self, model, agent_class: type[PersonAgent], present_rows: Callable[[], np.ndarray]):
        agent_class.declare_columns()
        self.model = model
        self.agent_class = agent_class
        self.present_rows = present_rows
        self.agents: dict[int, PersonAgent] = {}
        self._seen: np.ndarray | None = None  # the rows the index was built from
        self._ids = np.empty(0, dtype=np.int64)  # sorted ids of the people present at the last index
        self._rows = np.empty(0, dtype=np.int64)  # their rows
        self._agent_ids = np.empty(0, dtype=np.int64)  # sorted ids of the agents (at the last sync)

    def _ids_column(self) -> np.ndarray:
        return getattr(getattr(self.model, self.agent_class.TABLE), self.agent_class.ID)

    def _index(self) -> None:
        rows = self.present_rows()
        if rows is self._seen:
            return  # the table keeps the same array of present rows until someone arrives or leaves
        ids = self._ids_column()[rows]
        order = np.argsort(ids, kind="stable")
        self._seen, self._ids, self._rows = rows, ids[order], rows[order]

    def sync(self) -> None:
        """One agent per person present: newcomers get one, leavers' agents leave Mesa."""
        self._index()
        if self._agent_ids is self._ids:
            return
        for person in np.setdiff1d(self._agent_ids, self._ids, assume_unique=True).tolist():
            self.agents.pop(person).remove()
        for person in np.setdiff1d(self._ids, self._agent_ids, assume_unique=True).tolist():
            self.agents[person] = self.agent_class(self.model, person)
        self._agent_ids = self._ids

    def row_of(self, person: int, kind: str) -> int:
        self._index()
        i = np.searchsorted(self._ids, person)
        if i == len(self._ids) or self._ids[i] != person:
            raise LookupError(f"{kind} {person} is no longer in the model (the agent is left over from an earlier week)")
        return int(self._rows[i])

    def agent_at(self, row: int) -> PersonAgent:
        """The agent of whoever holds this row now."""
        self.sync()
        return self.agents[int(self._ids_column()[row])]
