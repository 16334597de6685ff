"""Trust: moves toward the quality a citizen experiences, spreads between friends.

Each week a citizen talks to one random tie. Trust moves toward experienced quality
(lowered when pressed while sick), toward the friend's trust, and drops at each caseworker
change. A friend in another municipality who is treated better adds to the comparison
grievance that feeds protest (seed 004's cross-pressure).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from abm.compiled import bundle, kernel, slot
from abm.declarations import Column, Output, Rule, Weighted, ratio
from abm.parameters import Param

PARAMS = {
    "experience_rate": Param(0.05, "per week", "Speed at which trust follows experienced quality.", "assumption", low=0.0, high=1.0, plausible=(0.01, 0.2), plausible_source="assumption: trust follows experience within months to years"),
    "full_trust_quality": Param(
        0.8, "quality", "Experienced quality that earns full trust.",
        "assumption (direction: seeds 001, 003, a fixed caseworker and time to listen build trust)", low=0.01, high=1.0,
    ),
    "social_rate": Param(0.05, "per week", "Pull of a friend's trust on one's own.", "assumption", low=0.0, high=1.0, plausible=(0.01, 0.2), plausible_source="assumption: trust follows the network within months to years"),
    "change_shock": Param(0.08, "trust", "Trust lost at each caseworker change.", "assumption (direction: seeds 001, 003, a fixed caseworker matters)", low=0.0, high=1.0),
    "pressed_penalty": Param(0.5, "share", "Share of experienced quality lost when pressed while sick.", "assumption", low=0.0, high=1.0),
    "comparison_margin": Param(0.05, "quality", "How much better a friend elsewhere must be treated to count.", "assumption", low=0.0, high=1.0),
    "comparison_weight": Param(1.5, "grievance / quality", "Grievance per unit of better treatment seen elsewhere.", "assumption (direction: seed 004, citizens compare with friends or relatives elsewhere who got a benefit they were refused)", low=0.0, high=100.0),
    "comparison_memory": Param(0.95, "per week", "Weekly persistence of comparison grievance.", "assumption", low=0.0, high=0.999),
}

CITIZEN_STATE = {
    "trust": Column(np.float64, 0.5, "trust in the jobcenter, 0-1", agent="write", low=0.0, high=1.0),
    "comparison": Column(np.float64, 0.0, "grievance from ties treated better elsewhere", agent="write", low=0.0),
}

OUTPUTS = (
    Output("trust_mean", "float", "0-1", "mean trust of the clients", national=Weighted("clients"),
           measure=lambda model: ratio(model.census.trust, model.census.clients)),
)


class Columns(NamedTuple):
    """What the week reads and writes: the citizens' columns, and this week's friend of each."""

    active: np.ndarray
    slot_municipality: np.ndarray
    friend: np.ndarray
    trust: np.ndarray  # read only: the new trust is returned
    quality: np.ndarray
    pressed: np.ndarray
    changed: np.ndarray
    comparison: np.ndarray
    block_start: np.ndarray  # each municipality's first slot, then the table's size: whose block a friend's slot is in


class Params(NamedTuple):
    experience_rate: float
    full_trust_quality: float
    social_rate: float
    change_shock: float
    pressed_penalty: float
    comparison_margin: float
    comparison_weight: float
    comparison_memory: float


def apply(model) -> None:
    citizens = model.citizens
    block_start = np.append(citizens.block_starts(), citizens.size)
    citizens.trust = _week(citizens.occupied(), bundle(Columns, citizens, friend=model.friend, block_start=block_start),
                           bundle(Params, model.params.trust))


@kernel
def _week(rows, c, p):
    """The new trust of each citizen in ``rows`` (from everyone's trust last week), and comparison grievance."""
    new_trust = c.trust.copy()
    for r in rows:
        i = slot(r)
        friend = c.friend[i]
        f = slot(friend)
        friend_here = c.active[f]
        before = c.trust[i]
        experienced = c.quality[i] * (1 - p.pressed_penalty * c.pressed[i])
        updated = before + p.experience_rate * (min(experienced / p.full_trust_quality, 1.0) - before)
        if friend_here:
            updated += p.social_rate * (c.trust[f] - before)
        if c.changed[i]:
            updated -= p.change_shock
        new_trust[i] = min(max(updated, 0.0), 1.0)

        seen = 0.0  # grievance from a friend elsewhere who is treated clearly better
        m = slot(c.slot_municipality[i])
        # In another municipality: outside the citizen's block of slots (no read of the friend's slot, often far away).
        if friend_here and not c.block_start[m] <= friend < c.block_start[m + 1]:
            gap = c.quality[f] - c.quality[i]
            if gap > p.comparison_margin:
                seen = p.comparison_weight * gap
        c.comparison[i] = p.comparison_memory * c.comparison[i] + (1 - p.comparison_memory) * seen
    return new_trust


RULE = Rule("trust", params={"trust": PARAMS}, citizen_state=CITIZEN_STATE, outputs=OUTPUTS, apply=apply)
