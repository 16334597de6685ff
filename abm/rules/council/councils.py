"""The councils' table: one row per municipality, with the strategy each follows and the
positions it pays for per unit, and how it is set up at the start."""

from __future__ import annotations

import numpy as np

from abm import strategies
from abm.denmark import named_strategies
from abm.jobcenter import ORDINARY
from abm.strategies import Strategy


class CouncilState:
    """One row per municipality: the council's strategy, positions, pressure and scores."""

    def __init__(self, strategy_names: list[str], headcount: np.ndarray, starting_caseload: np.ndarray):
        n = len(strategy_names)
        chosen = {strategies.lookup(name).name for name in strategy_names}
        self.followed = tuple(s for s in strategies.registered().values() if s.name in chosen)  # in registry order
        codes = {s.name: code for code, s in enumerate(self.followed)}
        self.starting_caseload = starting_caseload
        self.strategy = np.array([codes[name] for name in strategy_names], dtype=np.int8)  # index into followed
        self.initial_headcount = headcount.astype(np.int64)
        self.headcount = np.zeros((n, 2), dtype=np.int64)  # positions: ordinary unit, second unit
        self.headcount[:, ORDINARY] = headcount
        self.media_pressure = np.zeros(n)
        self.pilot_phase = np.zeros(n, dtype=np.int8)
        self.pilot_exits = np.zeros((n, 2))
        self.pilot_client_weeks = np.zeros((n, 2))
        self.score = np.zeros(n)  # the imitation objective, summed over the current cycle
        self.control_caseload = np.zeros(n)  # the control unit's caseload when a trial started

    def strategy_names(self) -> list[str]:
        return [self.followed[s].name for s in self.strategy]

    def groups(self) -> list[tuple[Strategy, np.ndarray]]:
        """(strategy, which municipalities follow it) for each strategy followed, in registry order."""
        return [(strategy, self.strategy == code) for code, strategy in enumerate(self.followed)]

    def ordinary_positions(self) -> np.ndarray:
        """Positions paid for in each municipality's ordinary unit."""
        return self.headcount[:, ORDINARY]


def init(model, start) -> None:
    """Councils at the start: their strategies, and positions for a starting caseload around
    each municipality's ``initial_caseload`` (the section's, or the one set by name)."""
    p = model.params.council
    n = model.n_municipalities
    spread = model.streams.build.uniform(1 - p.initial_caseload_spread, 1 + p.initial_caseload_spread, n)
    starting_caseload = model.municipalities["initial_caseload"].to_numpy() * spread
    strategy = named_strategies(assigned_strategies(p, n), model.municipalities)
    model.councils = CouncilState(strategy, np.ceil(start.clients / starting_caseload).astype(np.int64), starting_caseload)


def assigned_strategies(p, n_municipalities: int) -> list[str]:
    """Each municipality's strategy: ``strategy_mix`` in turn, else ``strategy`` for all."""
    names = p.strategy_mix or [p.strategy]
    return [names[m % len(names)] for m in range(n_municipalities)]
