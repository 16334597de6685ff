"""Trust: moves toward the quality a citizen experiences, spreads between friends.

Each week a citizen talks to one random tie. Trust moves toward experienced quality
(lowered when pressed while sick), toward the friend's trust, and drops at each caseworker
change. A friend in another municipality who is treated better adds to the comparison
grievance that feeds protest (seed 004's cross-pressure).
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel
from abm.declarations import Column, Output, Weighted, ratio
from abm.parameters import Param

PARAMS = {
    "experience_rate": Param(0.05, "per week", "Speed at which trust follows experienced quality.", "assumption", low=0.0, high=1.0),
    "full_trust_quality": Param(
        0.8, "quality", "Experienced quality that earns full trust.",
        "seeds 001, 003: a fixed caseworker and time to listen build trust", low=0.01, high=1.0,
    ),
    "social_rate": Param(0.05, "per week", "Pull of a friend's trust on one's own.", "assumption", low=0.0, high=1.0),
    "change_shock": Param(0.08, "trust", "Trust lost at each caseworker change.", "seeds 001, 003: a fixed caseworker matters", low=0.0, high=1.0),
    "pressed_penalty": Param(0.5, "share", "Share of experienced quality lost when pressed while sick.", "assumption", low=0.0, high=1.0),
    "comparison_margin": Param(0.05, "quality", "How much better a friend elsewhere must be treated to count.", "assumption", low=0.0, high=1.0),
    "comparison_weight": Param(1.5, "grievance / quality", "Grievance per unit of better treatment seen elsewhere.", "seed 004", low=0.0, high=100.0),
    "comparison_memory": Param(0.95, "per week", "Weekly persistence of comparison grievance.", "assumption", low=0.0, high=0.999),
}

CITIZEN_STATE = {
    "trust": Column(np.float64, 0.5, "trust in the jobcenter, 0-1"),
    "comparison": Column(np.float64, 0.0, "grievance from ties treated better elsewhere"),
}

OUTPUTS = (
    Output("trust_mean", "float", "0-1", "mean trust of the clients", national=Weighted("clients"),
           measure=lambda model: ratio(model.census.trust, model.census.clients)),
)


def apply(model) -> None:
    p = model.params.trust
    citizens = model.citizens
    citizens.trust = _week(
        citizens.occupied(), citizens.active, citizens.slot_municipality, model.friend, citizens.trust, citizens.quality,
        citizens.pressed, citizens.changed, citizens.comparison, p.experience_rate, p.full_trust_quality,
        p.social_rate, p.change_shock, p.pressed_penalty, p.comparison_margin, p.comparison_weight,
        p.comparison_memory,
    )


@kernel
def _week(rows, active, municipality, friend, trust, quality, pressed, changed, comparison, experience_rate,
          full_trust_quality, social_rate, change_shock, pressed_penalty, comparison_margin, comparison_weight,
          comparison_memory):
    """The new trust of each citizen in ``rows`` (from everyone's trust last week), and comparison grievance."""
    new_trust = trust.copy()
    for i in rows:
        f = friend[i]
        friend_here = active[f]
        before = trust[i]
        experienced = quality[i] * (1 - pressed_penalty * pressed[i])
        updated = before + experience_rate * (min(experienced / full_trust_quality, 1.0) - before)
        if friend_here:
            updated += social_rate * (trust[f] - before)
        if changed[i]:
            updated -= change_shock
        new_trust[i] = min(max(updated, 0.0), 1.0)

        seen = 0.0  # grievance from a friend elsewhere who is treated clearly better
        if friend_here and municipality[f] != municipality[i]:
            gap = quality[f] - quality[i]
            if gap > comparison_margin:
                seen = comparison_weight * gap
        comparison[i] = comparison_memory * comparison[i] + (1 - comparison_memory) * seen
    return new_trust
