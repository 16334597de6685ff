"""Trust: moves toward the quality a citizen experiences, spreads between friends.

Each week a citizen talks to one random tie. Trust moves toward experienced quality
(lowered when pressed while sick), toward the friend's trust, and drops at each caseworker
change. A friend in another municipality who is treated better adds to the comparison
grievance that feeds protest (seed 004's cross-pressure).
"""

from __future__ import annotations

import numpy as np

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


def apply(model) -> None:
    p = model.params.trust
    citizens = model.citizens
    rows = citizens.occupied()  # occupied slots; ``friend`` is each one's tie this week
    friend = model.friend[rows]
    friend_here = citizens.active[friend]
    before = citizens.trust[rows]
    quality = citizens.quality[rows]
    experienced = quality * (1 - p.pressed_penalty * citizens.pressed[rows])
    anchor = np.minimum(experienced / p.full_trust_quality, 1.0)
    trust = before + p.experience_rate * (anchor - before)
    trust += np.where(friend_here, p.social_rate * (citizens.trust[friend] - before), 0.0)
    trust -= p.change_shock * citizens.changed[rows]
    citizens.trust[rows] = np.clip(trust, 0.0, 1.0)

    elsewhere = friend_here & (citizens.slot_municipality[friend] != citizens.slot_municipality[rows])
    gap = citizens.quality[friend] - quality
    better = elsewhere & (gap > p.comparison_margin)
    citizens.comparison[rows] = p.comparison_memory * citizens.comparison[rows] + (1 - p.comparison_memory) * np.where(
        better, p.comparison_weight * gap, 0.0
    )
