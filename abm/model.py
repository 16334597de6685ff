"""The model: municipalities with councils, jobcenters and citizens, stepped weekly.

``JobcenterModel.step`` is the weekly schedule, top to bottom; each rule lives in
``abm/rules/`` with its parameters. State is columnar (``abm.state``); the Mesa agents in
``abm.agents`` are views of its rows.
"""

from __future__ import annotations

import time

import mesa
import numpy as np
import polars as pl

from abm import jobcenter
from abm.agents import Caseworker, Citizen, Council, Municipality
from abm.compiled import kernel
from abm.config import Config, defaults
from abm.jobcenter import department
from abm.metrics import Tally, WeeklyRecord, national, weekly_frame
from abm.network import CitizenNetwork, council_network
from abm.population import draw_groups, municipality_sizes, new_citizen_attributes
from abm.rules import casework, council, inflow, migration, progress, protest, trust, turnover
from abm.rules.council import ORDINARY
from abm.state import CaseworkerState, CitizenState, Recruitment

SLOT_HEADROOM = 1.3  # slots per municipality at the start (and when packed), as a multiple of its clients
PACK_SAVING = 0.2  # the table is packed when that would drop at least this share of its slots


class RandomStreams:
    """One independent generator per rule, all from the run's seed, keyed by the rule's name.

    ``streams.inflow`` is the generator of ``SeedSequence(seed, spawn_key=<the bytes of
    "inflow">)``: adding, removing or reordering rules changes no other rule's numbers.
    Runs that share a seed share every stream, so strategies are compared under common
    random numbers: a rule draws the same numbers whatever the other rules did.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def __getattr__(self, name: str) -> np.random.Generator:
        if name.startswith("_"):
            raise AttributeError(name)
        generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=tuple(name.encode()))))
        setattr(self, name, generator)  # later look-ups find the attribute and skip __getattr__
        return generator


class JobcenterModel(mesa.Model):
    """Danish-style municipal jobcenters under council investment strategies."""

    def __init__(self, config: Config | None = None, seed: int | None = None):
        config = config or defaults()
        seed = config.run.seed if seed is None else int(seed)
        super().__init__(seed=seed)
        self.config = self.params = config
        self.seed = seed
        self.streams = RandomStreams(seed)
        self.week = 0  # weeks before 0 are the burn-in
        self.inhabitants = municipality_sizes(config.municipalities)
        self.n_municipalities = len(self.inhabitants)
        self.tally = Tally(self.n_municipalities)
        self.record = WeeklyRecord(config.run.weeks, self.n_municipalities)
        self.latest: dict[str, np.ndarray] = {}
        self._national: tuple[int, dict[str, float]] | None = None  # (week, this week's national figures)
        self.rule_seconds: dict[str, float] | None = None  # set to {} to time each rule
        self._populate()
        self.datacollector = mesa.DataCollector(model_reporters=NATIONAL_REPORTERS)
        self.week = -config.run.burn_in_weeks
        while self.week < 0:
            self.step()
        self.steps = 0  # Mesa counts steps; the recorded run starts after the burn-in

    # -- the week ---------------------------------------------------------------------

    def step(self) -> None:
        """One week, in the order of MODEL.md's schedule (see ``SCHEDULE``)."""
        self.tally.reset()
        for name, rule in SCHEDULE:
            if self.rule_seconds is None:
                rule(self)
            else:
                started = time.perf_counter()
                rule(self)
                self.rule_seconds[name] = self.rule_seconds.get(name, 0.0) + time.perf_counter() - started

    def run(self, weeks: int | None = None, progress_bar=None) -> "JobcenterModel":
        """Step ``weeks`` (default: the config's ``run.weeks``) weeks."""
        for _ in range(self.config.run.weeks if weeks is None else weeks):
            self.step()
            if progress_bar is not None:
                progress_bar.update(1)
        return self

    def meet_friends(self) -> None:
        """Each citizen talks to one random tie this week (used by trust and migration)."""
        self.friend = self.network.random_tie(self.streams.network, self.citizens.occupied())

    def end_week(self) -> None:
        """Spells age, the citizens are counted (``census``), the week is measured and recorded."""
        citizens = self.citizens
        _age_spells(citizens.occupied(), citizens.spell, citizens.benefit_weeks, citizens.changed)
        self.census = citizens.census()
        self._sync_caseworker_agents()
        if self.week >= 0:
            self.latest = self.record.record(self)
            self.datacollector.collect(self)
        self._pack_when_sparse()
        self.week += 1

    # -- results ------------------------------------------------------------------------

    def weekly(self) -> pl.DataFrame:
        """The weekly time series, one row per municipality and week."""
        return self.record.frame(self)

    def national(self, name: str) -> float:
        """This week's figure for the whole country (``metrics.national`` of the latest week)."""
        if not self.latest:
            return float("nan")
        if self._national is None or self._national[0] != self.week:
            row = national(weekly_frame(self.latest), by=(), names=REPORTED).row(0, named=True)
            self._national = (self.week, {key: float("nan") if value is None else float(value) for key, value in row.items()})
        return self._national[1][name]

    # -- bookkeeping used by the rules ----------------------------------------------------

    def make_room(self, wanted: np.ndarray, carry: np.ndarray | None = None):
        """Free citizen slots, ``wanted[m]`` in municipality m (ordered by municipality).

        Grows the table when a municipality's block is full; ``carry`` (slot numbers the
        caller holds) is returned remapped beside the slots when given.
        """
        slots = self.citizens.free_slots(wanted)
        if slots is None:
            # Growing copies every column and the network, so every municipality that is short
            # or low on room grows at once, by a quarter of its block: grows stay rare.
            free = self.citizens.free_count()
            block = self.citizens.block_sizes()
            low = (free < wanted) | (free - wanted < block // 8)
            old_to_new = self._reblocked(self.citizens.grow(np.where(low, np.maximum(wanted - free, 0) + block // 4 + 16, 0)))
            carry = None if carry is None else old_to_new[carry]
            slots = self.citizens.free_slots(wanted)
        return slots if carry is None else (slots, carry)

    def enter(self, slots: np.ndarray, attributes: dict[str, np.ndarray]) -> None:
        """New citizens take these free slots (free slots hold every column's fill value) and start a spell."""
        citizens = self.citizens
        citizens.assign(slots, attributes)
        citizens.occupy(slots)
        citizens.person[slots] = citizens.new_person_ids(len(slots))
        rng = self.streams.inflow
        progress.on_entry(self, slots, rng)
        citizens.unit[slots] = council.entering_unit(self, slots, rng)

    def leave(self, slots: np.ndarray) -> None:
        """Citizens end their spell (the caller counts the kind of exit)."""
        if len(slots) == 0:
            return
        citizens = self.citizens
        self.tally.exits_by_department += np.bincount(
            department(citizens.slot_municipality[slots], citizens.unit[slots]), minlength=2 * self.n_municipalities
        )
        assigned = citizens.caseworker[slots]
        assigned = assigned[assigned >= 0]
        self.caseworkers.caseload -= np.bincount(assigned, minlength=self.caseworkers.size).astype(np.int32)
        citizens.reset(slots)

    def move(self, slots: np.ndarray, destination: np.ndarray) -> None:
        """Citizens move to another municipality, keeping their spell, with a new caseworker."""
        order = np.argsort(destination, kind="stable")
        slots, destination = slots[order], destination[order]
        wanted = np.bincount(destination, minlength=self.n_municipalities)
        new_slots, slots = self.make_room(wanted, carry=slots)
        citizens = self.citizens
        jobcenter.detach(self, slots)
        self.tally.add("moved_out", citizens.slot_municipality[slots])
        self.tally.add("moved_in", citizens.slot_municipality[new_slots])
        citizens.relocate(slots, new_slots)
        citizens.unit[new_slots] = 0
        jobcenter.assign_waiting(self)

    # -- construction -----------------------------------------------------------------------

    def _populate(self) -> None:
        """Municipalities at their starting state, each mechanism setting up what it owns.

        The order is that of the draws from the ``build`` stream: the citizens' network, the
        councils' peers, the councils' starting caseloads, the clients, the staff.
        """
        p = self.params
        rng = self.streams.build
        n = self.n_municipalities
        clients = np.round(self.inhabitants * p.population.client_share).astype(np.int64)
        self.citizens = CitizenState(np.ceil(clients * SLOT_HEADROOM).astype(np.int64) + 16)
        self.network = CitizenNetwork(rng, p.network, self.citizens.slot_municipality)
        self.council_peers = council_network(rng, p.network, n)
        self.caseworkers = CaseworkerState(0)
        self.recruitment = Recruitment()
        self.friend = np.arange(self.citizens.size)  # the tie each citizen talks to this week (see meet_friends)
        council.init(self, clients)

        slots = self.citizens.free_slots(clients)
        groups = draw_groups(rng, p.population.stock_shares, len(slots))
        self.enter(slots, new_citizen_attributes(rng, p.population, groups))
        self.citizens.spell[slots] = rng.exponential(np.asarray(p.population.initial_spell_mean, dtype=float)[groups]).astype(np.int32)
        progress.init(self, slots)
        turnover.init(self, clients / np.maximum(self.councils.headcount[:, ORDINARY], 1))
        jobcenter.assign_waiting(self)
        self.census = self.citizens.census()  # the citizens as last counted: at the end of each week

        self.municipality_agents = [Municipality(self, m, int(self.inhabitants[m])) for m in range(n)]
        self.council_agents = [Council(self, m) for m in range(n)]
        self._citizen_agents: list[Citizen] | None = None  # made when first asked for (see citizen_agents)
        self.caseworker_agents = [Caseworker(self, row) for row in range(self.caseworkers.size)]

    # -- Mesa's view of the citizens ----------------------------------------------------------

    @property
    def citizen_agents(self) -> list[Citizen]:
        """One ``Citizen`` agent per slot (``citizen_agents[row].row == row``).

        Made the first time they are asked for, here or through Mesa's ``agents`` and
        ``agents_by_type``: the weekly rules never need them, and creating hundreds of
        thousands of Mesa agents would take a third of a Denmark-size build.
        """
        return self._make_citizen_agents()

    def _make_citizen_agents(self) -> list[Citizen]:
        if self._citizen_agents is None:
            self._citizen_agents = [Citizen(self, row) for row in range(self.citizens.size)]
        return self._citizen_agents

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self._make_citizen_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        self._make_citizen_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._make_citizen_agents()
        return super().agent_types

    def _pack_when_sparse(self) -> None:
        """Shrink the citizens' table when that drops a good share of it (after the burn-in, say).

        The rules loop over occupied slots only, but empty ones between them still cost
        memory traffic. Packed, each municipality keeps ``SLOT_HEADROOM`` slots per client.
        """
        citizens = self.citizens
        sizes = np.ceil((citizens.block_sizes() - citizens.free_count()) * SLOT_HEADROOM).astype(np.int64) + 16
        if sizes.sum() <= (1 - PACK_SAVING) * citizens.size:
            self._reblocked(citizens.pack(sizes))

    def _reblocked(self, old_to_new: np.ndarray) -> np.ndarray:
        """The network, this week's friends and the agents follow the citizens to their new slots."""
        self.network.follow(self.streams.network, old_to_new, self.citizens.slot_municipality)
        self.friend = _moved_friends(self.friend, old_to_new, self.citizens.size)
        if self._citizen_agents is not None:
            agents = [None] * self.citizens.size
            for agent, row in zip(self._citizen_agents, old_to_new.tolist()):
                if row < 0:
                    agent.remove()  # a dropped empty slot
                else:
                    agent.row = row
                    agents[row] = agent
            self._citizen_agents = [agent or Citizen(self, row) for row, agent in enumerate(agents)]
        return old_to_new

    def _sync_caseworker_agents(self) -> None:
        """Agents for caseworker rows added this week (the table doubles when full)."""
        for row in range(len(self.caseworker_agents), self.caseworkers.size):
            self.caseworker_agents.append(Caseworker(self, row))


def _moved_friends(friend: np.ndarray, old_to_new: np.ndarray, size: int) -> np.ndarray:
    """This week's friends in the new slots; a friend's dropped slot was empty, as is talking to oneself."""
    moved = np.arange(size)
    kept = np.flatnonzero(old_to_new >= 0)
    friend_now = old_to_new[friend[kept]]
    moved[old_to_new[kept]] = np.where(friend_now >= 0, friend_now, old_to_new[kept])
    return moved


@kernel
def _age_spells(rows, spell, benefit_weeks, changed):
    for i in rows:
        spell[i] += 1
        benefit_weeks[i] += 1
        changed[i] = False


SCHEDULE = (
    ("inflow", inflow.apply),
    ("network", JobcenterModel.meet_friends),
    ("casework", casework.apply),
    ("progress", progress.apply),
    ("trust", trust.apply),
    ("protest", protest.apply),
    ("turnover", turnover.apply),
    ("migration", migration.apply),
    ("council", council.apply),
    ("data collection", JobcenterModel.end_week),
)
"""The week, in order: each rule is a function of the model (``abm/rules/<name>.py``)."""

NATIONAL_REPORTERS = {
    "Clients": lambda m: m.national("clients"),
    "Trust": lambda m: m.national("trust_mean"),
    "Protesters": lambda m: m.national("protesters"),
    "Turnover": lambda m: m.national("turnover_annualised"),
    "Caseload": lambda m: m.national("caseload_mean"),
    "Net cost (M DKK/week)": lambda m: m.national("net_cost") / 1e6,
}
"""The DataCollector's national series (``model.datacollector``), each a ``metrics.national`` figure."""

REPORTED = ("clients", "trust_mean", "protesters", "turnover_annualised", "caseload_mean", "net_cost")
