"""The built-in council strategies: each one definition, registered by name in the registry
(:mod:`abm.strategies`). They decide in this order; each reads the figures as they were
before any council acted. A researcher's own strategy is written the same way, in their
own file (``docs/extending.md``).
"""

from __future__ import annotations

import numpy as np

from abm import strategies
from abm.jobcenter import ORDINARY
from abm.rules import costs
from abm.rules.council import pilot
from abm.strategies import Decision, Strategy


def _keep(d: Decision) -> np.ndarray:
    return d.ordinary_positions


def _invest(d: Decision) -> np.ndarray:
    return d.capped(np.ceil(d.ordinary_clients / d.params.caseload_target))


def _cut(d: Decision) -> np.ndarray:
    return np.floor(d.ordinary_positions * (1 - d.params.austerity_rate))


def _pilot_then_scale(d: Decision) -> np.ndarray:
    """Start pilots, keep them staffed, evaluate them, then scale them up or stop them."""
    model, p, piloting, clients = d.model, d.params, d.follows, d.clients
    councils = model.councils
    phase = councils.pilot_phase
    starting = piloting & (phase == pilot.NOT_STARTED)
    if starting.any():
        pilot.start(model, np.flatnonzero(starting), p)
        clients = model.citizens.census().by_department()
    running = piloting & (phase == pilot.RUNNING)
    councils.headcount[running, pilot.PILOT_UNIT] = np.ceil(clients[running, pilot.PILOT_UNIT] / p.pilot_caseload)
    if d.weeks_since_first_decision >= p.pilot_evaluation_weeks and running.any():
        rate = councils.pilot_exits / np.maximum(councils.pilot_client_weeks, 1)
        wins = running & (rate[:, pilot.PILOT_UNIT] > rate[:, ORDINARY] * (1 + p.pilot_win_margin))
        phase[wins] = pilot.SCALED
        phase[running & ~wins] = pilot.STOPPED
        pilot.merge_second_units(model, np.flatnonzero(running))
        clients = model.citizens.census().by_department()
    scaled = piloting & (phase == pilot.SCALED)
    target = d.ordinary_positions  # a running or stopped pilot leaves the ordinary positions as they were
    target[scaled] = np.ceil(clients[scaled].sum(axis=1) / p.pilot_caseload)
    return d.capped(target)


def _respond(d: Decision) -> np.ndarray:
    p, councils, ordinary = d.params, d.model.councils, d.ordinary_positions
    pressed = councils.media_pressure > p.responsive_threshold
    budget = np.floor(councils.initial_headcount * p.responsive_budget_factor)
    return np.where(pressed, d.capped(np.ceil(ordinary * (1 + p.responsive_step))), np.minimum(ordinary, budget))


def _imitate(d: Decision) -> np.ndarray:
    """Positions giving each council the caseload of its best-scoring peer (itself included)."""
    councils = d.model.councils
    clients = d.clients.sum(axis=1)
    caseload = np.maximum(clients, 1) / np.maximum(d.positions.sum(axis=1), 1)
    target = d.ordinary_positions
    for m, peers in enumerate(d.model.council_peers):
        group = np.append(peers, m)
        best = group[np.argmin(councils.score[group])]
        if best != m:
            target[m] = np.ceil(clients[m] / caseload[best])
    councils.score[:] = 0.0  # the next cycle is scored afresh
    return d.capped(target)


def _score(model, p) -> None:
    """Weekly: every council's imitation score (lower is better), from the week's report.

    Councils follow the figures of the week's report: the citizens as counted at the end
    of last week (``model.census``), this week's exits and protests.
    """
    councils, census = model.councils, model.census
    per_inhabitant = 1.0 / model.inhabitants
    if p.imitate_objective == "net_cost":
        councils.score += costs.week_cost(model, census)[2] * per_inhabitant
    elif p.imitate_objective == "trust":
        councils.score -= census.mean_trust()
    elif p.imitate_objective == "protests":
        councils.score += model.tally.values["protest_event"]
    else:
        councils.score += census.clients * per_inhabitant


for _strategy in (
    Strategy("status_quo", _keep, "keeps the positions it has"),
    Strategy("invest", _invest, "hires or cuts to ceil(ordinary clients / `caseload_target`)", ("council.caseload_target",), capped=True),
    Strategy("austerity", _cut, "cuts to floor(positions x (1 - `austerity_rate`))", ("council.austerity_rate",)),
    Strategy(
        "pilot_then_scale", _pilot_then_scale,
        "first decision: a share `pilot_share` of clients moves to a pilot unit staffed at once at `pilot_caseload` "
        "(extra positions), whose positions then follow its clients; at the first decision after "
        "`pilot_evaluation_weeks`, if the pilot's exit rate per client-week beats the ordinary unit's by more than "
        "`pilot_win_margin`, it is scaled up (everyone at `pilot_caseload` from then on), else stopped (back to the "
        "earlier positions); either way the units merge (Høje-Taastrup's pilot)",
        ("council.pilot_share", "council.pilot_caseload", "council.pilot_evaluation_weeks", "council.pilot_win_margin"),
        capped=True, track=pilot.track, uses_second_unit=True,
    ),
    Strategy(
        "responsive", _respond,
        "under media pressure above `responsive_threshold`: adds `responsive_step` of its positions (up to the cap); "
        "otherwise cuts to its budget (`responsive_budget_factor` x initial positions) if above it",
        ("council.responsive_threshold", "council.responsive_step", "council.responsive_budget_factor"), capped=True,
    ),
    Strategy(
        "imitate", _imitate,
        "takes the caseload of the best-scoring council among its peers and itself (`imitate_objective` per "
        "inhabitant over the last cycle; policy diffusion)",
        ("council.imitate_objective",), capped=True, track=_score,
    ),
):
    strategies.register_built_in(_strategy)

