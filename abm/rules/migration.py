"""Migration: a few citizens with very low trust move to where a tie is treated better.

Doctors advised patients to move to another municipality (seeds 000, 003). A citizen whose
trust is below a threshold, and whose friend this week lives in another municipality and
trusts its jobcenter clearly more, moves there with a small weekly chance, keeping the
spell but starting with a new caseworker.
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel, slot
from abm.declarations import Output, Rule
from abm.parameters import Param

PARAMS = {
    "trust_threshold": Param(0.2, "trust", "Only citizens trusting less than this consider moving.", "assumption", low=0.0, high=1.0),
    "weekly_chance": Param(0.02, "per week", "Chance an eligible citizen moves in a week.", "assumption: small (seeds 000, 003: doctors advising patients to move to another municipality)", low=0.0, high=1.0),
    "trust_margin": Param(0.2, "trust", "How much more the friend elsewhere must trust their jobcenter.", "assumption", low=0.0, high=1.0),
}

OUTPUTS = (
    Output("moved_in", "int", "citizens", "clients who moved here this week"),
    Output("moved_out", "int", "citizens", "clients who moved away this week"),
)


def apply(model) -> None:
    p = model.params.migration
    citizens = model.citizens
    eligible = _eligible(
        citizens.occupied(), citizens.active, citizens.slot_municipality, citizens.trust, model.friend,
        p.trust_threshold, p.trust_margin,
    )
    movers = eligible[model.streams.migration.random(len(eligible)) < p.weekly_chance]
    if len(movers):
        model.people.move(movers, citizens.slot_municipality[model.friend[movers]])


RULE = Rule("migration", params={"migration": PARAMS}, outputs=OUTPUTS, apply=apply)


@kernel
def _eligible(rows, active, municipality, trust, friend, trust_threshold, trust_margin):
    """Citizens with low trust whose friend this week lives elsewhere and trusts clearly more."""
    eligible = np.empty(len(rows), dtype=np.int64)
    n_eligible = 0
    for r in rows:
        i = slot(r)
        if trust[i] >= trust_threshold:
            continue
        f = slot(friend[i])
        if active[f] and municipality[f] != municipality[i] and trust[f] > trust[i] + trust_margin:
            eligible[n_eligible] = i
            n_eligible += 1
    return eligible[:n_eligible]
