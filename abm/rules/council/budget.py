"""The budget decision: every ``budget_cycle_weeks`` from ``first_decision_week``, each
council sets the positions of its ordinary unit by its strategy (:mod:`abm.strategies`);
during the burn-in, positions follow the clients so each council keeps its starting caseload.
"""

from __future__ import annotations

import numpy as np

from abm.jobcenter import ORDINARY
from abm.rules.council.layoffs import enforce_headcount
from abm.strategies import Decision, Strategy, headcount_cap


def is_decision_week(model) -> bool:
    p = model.params.council
    return model.week >= p.first_decision_week and (model.week - p.first_decision_week) % p.budget_cycle_weeks == 0


def track(model) -> None:
    """Weekly: the bookkeeping of every strategy followed (``Strategy.track``), before any decision."""
    p = model.params.council
    for strategy, _ in model.councils.groups():
        if strategy.track is not None:
            strategy.track(model, strategy.declared(p))


def decide(model) -> None:
    """The budget cycle: each council sets its ordinary unit's positions by its strategy."""
    councils = model.councils
    p = model.params.council
    clients = model.citizens.census().by_department()
    positions = councils.headcount.copy()
    clients.setflags(write=False)  # every strategy decides on the same figures
    positions.setflags(write=False)
    cap = headcount_cap(councils.initial_headcount, clients, p)
    target = positions[:, ORDINARY].astype(float)
    for strategy, follows in councils.groups():
        decision = Decision(model, strategy.declared(p), follows, clients, positions, model.week - p.first_decision_week,
                            cap if strategy.capped else None)
        target[follows] = _checked_targets(strategy, strategy.decide(decision), follows)
    councils.headcount[:, ORDINARY] = np.clip(target, 0, None)
    enforce_headcount(model)


def hold_starting_caseload(model) -> None:
    """Burn-in: positions follow the clients (as last counted) so each council keeps its starting caseload."""
    councils = model.councils
    councils.headcount[:, ORDINARY] = np.ceil(model.census.clients / councils.starting_caseload)
    councils.initial_headcount = councils.headcount[:, ORDINARY].copy()
    enforce_headcount(model)


def _checked_targets(strategy: Strategy, target, follows: np.ndarray) -> np.ndarray:
    """The positions a strategy decided for its councils, or an error naming the strategy."""
    target = np.asarray(target, dtype=float)
    if target.shape != follows.shape or not np.isfinite(target[follows]).all():
        raise ValueError(f"strategy {strategy.name!r} must return a finite number of positions per municipality, "
                         f"shape {follows.shape}; it returned shape {target.shape}: {target}")
    return target[follows]
