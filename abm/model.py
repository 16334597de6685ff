"""The model: municipalities with councils, jobcenters and citizens, stepped weekly.

``JobcenterModel`` only schedules: the week is the registered rules' ``apply`` in the order
of ``abm.rules.WEEK`` (``schedule()``), then the week is measured; each rule lives in its own
module with its parameters, state, outputs and hooks (``abm.mechanisms``). State is columnar
(``abm.state``); who enters, leaves and moves is ``abm.people.LifeCycle``; the Mesa agents
in ``abm.agents`` are views of the rows.
"""

from __future__ import annotations

import difflib
import secrets
import time

import mesa
import numpy as np
import polars as pl

from abm import mechanisms
from abm.agents import Caseworker, Citizen, Council, Municipality, Roster
from abm.config import SCHEMA, Config, defaults
from abm.denmark import run_municipalities
from abm.errors import ConfigError
from abm.metrics import Tally, WeeklyRecord, national_now, recorded_outputs
from abm.network import council_network
from abm.people import LifeCycle, starting_clients
from abm.spells import SpellLog
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


class RunOver(RuntimeError):
    """A step asked for after the last week of the run (``run.weeks``)."""


def with_parameters(config: Config, seed: int | None, parameters: dict) -> tuple[Config, int]:
    """``config`` with the constructor's keyword parameters, and the model's seed.

    A keyword names a parameter as ``section__key`` or, where no other section has the key,
    as the bare key. The seed is ``seed``, else ``run__seed``, else a fresh one from the
    operating system's entropy (the config then records the seed that ran).
    """
    leaves: dict[str, list[str]] = {}
    for section, keys in SCHEMA.items():
        for key in keys:
            leaves.setdefault(key, []).append(section)
    overrides = {}
    for name, value in parameters.items():
        if "__" in name:
            dotted = name.replace("__", ".", 1)
        elif len(leaves.get(name, ())) == 1:
            dotted = f"{leaves[name][0]}.{name}"
        elif name in leaves:
            options = ", ".join(f"{section}__{name}" for section in leaves[name])
            raise ConfigError(f"JobcenterModel: parameter {name!r} is in several sections; give one of {options}")
        else:
            close = difflib.get_close_matches(name, list(leaves), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"JobcenterModel: unknown parameter {name!r}{hint}; give section__key "
                              f"(e.g. council__caseload_target) or a key of docs/parameters.md found in one section only")
        overrides[dotted] = value
    named_seed = overrides.pop("run.seed", None)
    if seed is not None and named_seed is not None and int(seed) != named_seed:
        raise ConfigError(f"JobcenterModel: seed={seed} and run__seed={named_seed} disagree; give one")
    seed = next((int(s) for s in (seed, named_seed) if s is not None), None)
    seed = secrets.randbits(63) if seed is None else seed
    config = config.with_overrides({**overrides, "run.seed": seed}, origin="JobcenterModel")
    return config, config.run.seed


class JobcenterModel(mesa.Model):
    """Danish-style municipal jobcenters under council investment strategies."""

    def __init__(self, config: Config | None = None, seed: int | None = None, spell_log: bool = False, **parameters):
        """A model of ``config`` (default: the schema's defaults) with any parameter overridden.

        Parameters are keywords, ``section__key=value`` (``council__caseload_target=80``) or
        the bare key where no other section has it (``caseload_target=80``), so that
        ``mesa.batch_run(JobcenterModel, parameters={...})`` works. ``seed=None`` draws a
        fresh seed (``model.seed``), as Mesa does; ``run__seed=`` is the same as ``seed=``.
        ``run_simulation`` and the command line use the config's ``run.seed`` instead.
        ``spell_log=True`` keeps one row per spell (``abm.spells``).
        """
        config, seed = with_parameters(config or defaults(), seed, parameters)
        super().__init__(seed=seed)
        self.config = self.params = config
        self.seed = seed
        self.streams = RandomStreams(seed)
        self.week = -config.run.burn_in_weeks  # weeks before 0 are the burn-in; the starting population enters at its start
        self.municipalities = run_municipalities(config)  # name, region, inhabitants and settings by name
        self.inhabitants = self.municipalities["inhabitants"].to_numpy()
        self.n_municipalities = len(self.inhabitants)
        self.tally = Tally(self.n_municipalities)
        self.record = WeeklyRecord(config.run.weeks, self.n_municipalities, recorded_outputs(config))
        self.latest: dict[str, np.ndarray] = {}
        self._national: tuple[dict, dict[str, float]] | None = None  # (the row it was computed from, the national figures)
        self.rule_seconds: dict[str, float] | None = None  # set to {} to time each rule
        self.spell_log = SpellLog() if spell_log else None  # per-person spells (abm.spells), off by default
        self.schedule = schedule()  # the rules registered when the model is built
        self._populate()
        while self.week < 0:
            self.step()
        self.steps = 0  # Mesa counts steps; the recorded run starts after the burn-in
        self.latest = WeeklyRecord(1, self.n_municipalities, self.record.outputs).record(self)  # week 0 starts from the last burn-in week: measured, not kept
        self.datacollector = mesa.DataCollector(model_reporters=NATIONAL_REPORTERS)
        self.datacollector.collect(self)  # Mesa's step 0; then after every week

    def _populate(self) -> None:
        """Municipalities at their starting state, each rule setting up what it owns.

        The order is that of the draws from the ``build`` stream: the citizens' network, the
        councils' peers, then the rules' start-up hooks in the order of ``abm.rules.START``.
        """
        clients, stock = starting_clients(self)
        self.people = LifeCycle(self, clients)
        self.council_peers = council_network(self.streams.build, self.params, self.municipalities)
        self.caseworkers = CaseworkerState(0)
        self.recruitment = Recruitment()
        start = mechanisms.Start(clients, stock)
        for hook in mechanisms.starting():
            hook(self, start)
        self.census = self.citizens.census()  # the citizens as last counted: at the end of each week

        self.municipality_agents = [Municipality(self, m) for m in range(self.n_municipalities)]
        self.council_agents = [Council(self, m) for m in range(self.n_municipalities)]
        self.rosters = {
            "citizens": Roster(self, Citizen, lambda: self.citizens.occupied()),
            "caseworkers": Roster(self, Caseworker, lambda: self.caseworkers.employed()),
        }

    # -- the week ---------------------------------------------------------------------

    def step(self) -> None:
        """One week, in the order of MODEL.md's schedule (see ``schedule()``).

        ``running`` turns False after the config's ``run.weeks``; a step beyond is an error.
        """
        if self.week >= self.config.run.weeks:
            self.steps -= 1  # Mesa counted the step before calling this
            raise RunOver(f"the run is over: run.weeks = {self.config.run.weeks} weeks were simulated; "
                          f"build the model with run__weeks= for a longer run")
        self.tally.reset()
        for name, rule in self.schedule:
            if self.rule_seconds is None:
                rule(self)
            else:
                started = time.perf_counter()
                rule(self)
                self.rule_seconds[name] = self.rule_seconds.get(name, 0.0) + time.perf_counter() - started
        self.running = self.week < self.config.run.weeks

    def run(self, weeks: int | None = None, progress_bar=None) -> "JobcenterModel":
        """Step ``weeks`` weeks (default: to the end of the run, ``run.weeks``)."""
        for _ in range(self.config.run.weeks - self.week if weeks is None else weeks):
            self.step()
            if progress_bar is not None:
                progress_bar.update(1)
        return self

    def end_week(self) -> None:
        """Spells age, the citizens are counted (``census``), the week is measured and recorded."""
        self.census = self.citizens.census(age=True)
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
        """This week's figure for the whole country of any recorded output (``metrics.national``
        of the latest week), for the DataCollector's model reporters (``m.national("clients")``)."""
        if not self.latest:
            return float("nan")
        if self._national is None or self._national[0] is not self.latest:
            self._national = (self.latest, {})
        figures = self._national[1]
        if name not in figures:
            figures.update(national_now(self.latest, (name,)))
            if name not in figures:
                raise KeyError(f"{name!r} is not an output of this run with a national figure; outputs: {', '.join(self.latest)}")
        return figures[name]

    # -- Mesa's view of the citizens ----------------------------------------------------------

    # Citizen and Caseworker agents are the people now in the tables, brought up to date
    # whenever Mesa's views are asked for: the weekly rules never need them, and keeping
    # hundreds of thousands of Mesa agents in step every week would cost more than the rules.

    def sync_agents(self) -> None:
        """One agent per citizen and caseworker present now (Mesa's views call this)."""
        for roster in self.rosters.values():
            roster.sync()

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self.sync_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        self.sync_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self.sync_agents()
        return super().agent_types


def schedule() -> tuple[tuple[str, object], ...]:
    """The week, in order: each registered rule's ``apply`` (``abm.rules.WEEK``, and where a
    rule of your own was registered), then the week is measured and recorded."""
    return (*mechanisms.week(), ("data collection", JobcenterModel.end_week))

NATIONAL_REPORTERS = {
    "Clients": lambda m: m.national("clients"),
    "Trust": lambda m: m.national("trust_mean"),
    "Protesters": lambda m: m.national("protesters"),
    "Turnover": lambda m: m.national("turnover_annualised"),
    "Caseload": lambda m: m.national("caseload_mean"),
    "Net cost (M DKK/week)": lambda m: m.national("net_cost") / 1e6,
}
"""The DataCollector's national series (``model.datacollector``), each a ``metrics.national`` figure."""
