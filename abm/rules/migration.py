"""Migration: a few citizens with very low trust move to where a tie is treated better.

Doctors advised patients to move to another municipality (seeds 000, 003). A citizen whose
trust is below a threshold, and whose friend this week lives in another municipality and
trusts its jobcenter clearly more, moves there with a small weekly chance, keeping the
spell but starting with a new caseworker.
"""

from __future__ import annotations

import numpy as np

from abm.parameters import Param

PARAMS = {
    "trust_threshold": Param(0.2, "trust", "Only citizens trusting less than this consider moving.", "assumption", low=0.0, high=1.0),
    "weekly_chance": Param(0.02, "per week", "Chance an eligible citizen moves in a week.", "seeds 000, 003 (assumed small)", low=0.0, high=1.0),
    "trust_margin": Param(0.2, "trust", "How much more the friend elsewhere must trust their jobcenter.", "assumption", low=0.0, high=1.0),
}


def apply(model) -> None:
    p = model.params.migration
    citizens = model.citizens
    muni = citizens.slot_municipality
    draw = model.streams.migration.random(citizens.size)  # one draw per slot, occupied or not
    low_trust = np.flatnonzero(citizens.active & (citizens.trust < p.trust_threshold))
    friend = model.friend[low_trust]
    eligible = low_trust[
        citizens.active[friend]
        & (muni[friend] != muni[low_trust])
        & (citizens.trust[friend] > citizens.trust[low_trust] + p.trust_margin)
    ]
    movers = eligible[draw[eligible] < p.weekly_chance]
    if len(movers):
        model.move(movers, muni[model.friend[movers]])
