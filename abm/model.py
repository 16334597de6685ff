"""The model: municipalities with councils, jobcenters and citizens, stepped weekly.

``JobcenterModel`` only schedules: ``SCHEDULE`` is the week, top to bottom; each rule
lives in ``abm/rules/`` with its parameters, state and outputs (``abm.mechanisms``). State
is columnar (``abm.state``); who enters, leaves and moves is ``abm.people.Population``;
the Mesa agents in ``abm.agents`` are views of the rows.
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
from abm.metrics import Tally, WeeklyRecord, national_now, recorded_outputs
from abm.network import council_network
from abm.people import Population, stationary_stock
from abm.population import municipality_sizes
from abm.rules import casework, council, inflow, migration, progress, protest, trust, turnover
from abm.rules.council import ORDINARY
from abm.state import CaseworkerState, Recruitment


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
        self.record = WeeklyRecord(config.run.weeks, self.n_municipalities, recorded_outputs(config))
        self.latest: dict[str, np.ndarray] = {}
        self._national: tuple[int, dict[str, float]] | None = None  # (week, this week's national figures)
        self.rule_seconds: dict[str, float] | None = None  # set to {} to time each rule
        self._populate()
        self.datacollector = mesa.DataCollector(model_reporters=NATIONAL_REPORTERS)
        self.week = -config.run.burn_in_weeks
        while self.week < 0:
            self.step()
        self.steps = 0  # Mesa counts steps; the recorded run starts after the burn-in

    def _populate(self) -> None:
        """Municipalities at their starting state, each mechanism setting up what it owns.

        The order is that of the draws from the ``build`` stream: the citizens' network, the
        councils' peers, the councils' starting caseloads, the clients, the staff.
        """
        stock = stationary_stock(self) if self.params.population.start == "stationary" else None
        if stock is None:
            clients = np.round(self.inhabitants * self.params.population.client_share).astype(np.int64)
        else:
            clients = np.bincount(stock.municipality, minlength=self.n_municipalities)
        self.people = Population(self, clients)
        self.council_peers = council_network(self.streams.build, self.params.network, self.n_municipalities)
        self.caseworkers = CaseworkerState(0)
        self.recruitment = Recruitment()
        council.init(self, clients)
        self.people.start(clients, stock)
        turnover.init(self, clients / np.maximum(self.councils.headcount[:, ORDINARY], 1))
        jobcenter.assign_waiting(self)
        self.census = self.citizens.census()  # the citizens as last counted: at the end of each week

        self.municipality_agents = [Municipality(self, m, int(self.inhabitants[m])) for m in range(self.n_municipalities)]
        self.council_agents = [Council(self, m) for m in range(self.n_municipalities)]
        self.caseworker_agents = [Caseworker(self, row) for row in range(self.caseworkers.size)]

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
        self.people.pack_when_sparse()
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
            self._national = (self.week, national_now(self.latest, REPORTED))
        return self._national[1][name]

    # -- Mesa's view of the agents ----------------------------------------------------------

    @property
    def citizen_agents(self) -> list[Citizen]:
        """One ``Citizen`` agent per slot, made when first asked for (see ``Population.citizen_agents``)."""
        return self.people.citizen_agents()

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self.people.citizen_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        self.people.citizen_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self.people.citizen_agents()
        return super().agent_types

    def _sync_caseworker_agents(self) -> None:
        """Agents for caseworker rows added this week (the table doubles when full)."""
        for row in range(len(self.caseworker_agents), self.caseworkers.size):
            self.caseworker_agents.append(Caseworker(self, row))


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
