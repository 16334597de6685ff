"""The Mesa agents: citizens, caseworkers, councils and municipalities.

They are Mesa agents so that Mesa's tools (AgentSet, DataCollector, SolaraViz) see them,
but their state lives in the model's columns (``abm.state``) and the weekly rules act on
those columns at once. An agent is a view of one row: reading ``citizen.trust`` reads the
column. Citizens are bound to slots, which people enter and leave; ``citizen.active``
says whether someone is there now and ``citizen.person`` who.
"""

from __future__ import annotations

import itertools
import weakref

import mesa


class _IdCounters(weakref.WeakKeyDictionary):
    """Mesa's per-model ``unique_id`` counters, holding each model weakly.

    Mesa 3.3 keeps them in a class-level ``defaultdict`` keyed by the model, so every model
    ever built stays in memory (mesa#3179, fixed after 3.3): a process that runs many
    simulations one after another (a serial sweep, a Ray worker, ``abm compare``) grew by
    one whole model per run.
    """

    def __getitem__(self, model) -> itertools.count:
        return self.setdefault(model, itertools.count(1))


class JobcenterAgent(mesa.Agent):
    """Base of this model's agents: Mesa's agent, without keeping its model alive."""

    _ids = _IdCounters()


def _column(table: str, name: str, doc: str) -> property:
    def read(agent):
        return getattr(getattr(agent.model, table), name)[agent.row].item()

    return property(read, doc=doc)


class Citizen(JobcenterAgent):
    """A person in contact with the jobcenter (one slot of ``model.citizens``)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    active = _column("citizens", "active", "Whether someone occupies this slot now.")
    person = _column("citizens", "person", "Unique id of the person in this slot.")
    group = _column("citizens", "group", "0 job-ready, 1 activity-ready, 2 resource programme.")
    health = _column("citizens", "health", "Health, 1 = well.")
    distance = _column("citizens", "distance", "Distance from the labour market.")
    trust = _column("citizens", "trust", "Trust in the jobcenter.")
    grievance = _column("citizens", "grievance", "Grievance (hardship x (1 - trust)).")
    spell = _column("citizens", "spell", "Weeks in the current spell.")
    benefit_weeks = _column("citizens", "benefit_weeks", "Weeks on benefits so far.")
    caseworker = _column("citizens", "caseworker", "Row of the caseworker, -1 while waiting.")
    changes = _column("citizens", "changes", "Caseworker changes in this spell.")
    protesting = _column("citizens", "protesting", "Protesting this week.")

    @property
    def municipality(self) -> int:
        return int(self.model.citizens.slot_municipality[self.row])


class Caseworker(JobcenterAgent):
    """A caseworker in a municipality's jobcenter (one row of ``model.caseworkers``)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    active = _column("caseworkers", "active", "Whether this position is held now.")
    municipality = _column("caseworkers", "municipality", "Municipality of the jobcenter.")
    unit = _column("caseworkers", "unit", "0 ordinary department, 1 pilot unit.")
    caseload = _column("caseworkers", "caseload", "Citizens assigned.")
    experience = _column("caseworkers", "experience", "Weeks since hired.")
    stress = _column("caseworkers", "stress", "Stress, 0-1.")


class Council(JobcenterAgent):
    """A municipal council: strategy, positions paid for, media pressure."""

    def __init__(self, model, municipality: int):
        super().__init__(model)
        self.row = municipality

    @property
    def strategy(self) -> str:
        return self.model.councils.strategy_names()[self.row]

    @property
    def positions(self) -> int:
        return int(self.model.councils.headcount[self.row].sum())

    @property
    def media_pressure(self) -> float:
        return float(self.model.councils.media_pressure[self.row])


class Municipality(JobcenterAgent):
    """The container of a council, a jobcenter and its citizens."""

    def __init__(self, model, row: int, inhabitants: int):
        super().__init__(model)
        self.row = row
        self.inhabitants = inhabitants

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
        return self.model.council_agents[self.row]

    @property
    def clients(self) -> int:
        citizens = self.model.citizens
        return int((citizens.active & (citizens.slot_municipality == self.row)).sum())
