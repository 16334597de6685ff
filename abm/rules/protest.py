"""Protest: grievance from hardship and low trust; joining when it passes a threshold.

Grievance follows hardship x (1 - trust), as in Epstein's civil-violence model with trust
in the jobcenter as legitimacy. A citizen protests while grievance plus the pull of the
share of ties already protesting passes a personal threshold (Granovetter). A
municipality has a protest event in a week when enough citizens protest; events feed the
council's media pressure, which stresses caseworkers and changes case handling.
"""

from __future__ import annotations

import numpy as np

from abm.parameters import Param

PARAMS = {
    "hardship_base": Param(
        [0.3, 0.5, 0.6], "hardship", "Hardship of being a client, by group (job-ready, activity-ready, resource).",
        "assumption", low=0.0, high=10.0, kind="list[float]",
    ),
    "sickness_hardship": Param(0.5, "hardship", "Added hardship per unit of ill health.", "seeds 000, 003: sick citizens protest", low=0.0, high=10.0),
    "pressed_hardship": Param(0.6, "hardship", "Added hardship of being pressed while sick (remembered).", "seeds 000, 004", low=0.0, high=10.0),
    "spell_hardship": Param(0.2, "hardship", "Added hardship of a long spell (full at spell_hardship_weeks).", "assumption", low=0.0, high=10.0),
    "spell_hardship_weeks": Param(104, "weeks", "Spell length at which the long-spell hardship is full.", "assumption", low=1, high=5200),
    "grievance_memory": Param(0.8, "per week", "Weekly persistence of grievance.", "assumption", low=0.0, high=0.999),
    "network_weight": Param(0.3, "grievance", "Pull toward protest when all of one's ties protest (Granovetter).", "assumption", low=0.0, high=10.0),
    "event_min_protesters": Param(
        10, "citizens", "Fewest protesters that make a protest event.", "seed 000: groups of sick citizens demonstrating", low=1, high=100_000,
    ),
    "event_share": Param(0.001, "share of clients", "Share of clients protesting that makes an event (if more than the minimum).", "assumption", low=0.0, high=1.0),
    "media_memory": Param(0.85, "per week", "Weekly persistence of media pressure after protest events.", "assumption", low=0.0, high=0.999),
}


def apply(model) -> None:
    p = model.params.protest
    citizens = model.citizens
    rows = citizens.occupied()
    long_spell = np.minimum(citizens.spell[rows] / p.spell_hardship_weeks, 1.0)
    hardship = (
        np.asarray(p.hardship_base)[citizens.group[rows]]
        + p.sickness_hardship * (1 - citizens.health[rows])
        + p.pressed_hardship * citizens.pressed_recent[rows]
        + p.spell_hardship * long_spell
        + citizens.comparison[rows]
    )
    grievance = p.grievance_memory * citizens.grievance[rows] + (1 - p.grievance_memory) * hardship * (1 - citizens.trust[rows])
    citizens.grievance[rows] = grievance

    # Only citizens whom even a fully protesting network could tip need their ties' share.
    could = rows[grievance + p.network_weight > citizens.threshold[rows]]
    share = model.network.share_active(could, citizens.protesting, citizens.active)
    protesting = np.zeros(citizens.size, dtype=bool)
    protesting[could] = citizens.grievance[could] + p.network_weight * share > citizens.threshold[could]
    citizens.protesting = protesting

    muni = citizens.slot_municipality
    protesters = np.bincount(muni[protesting], minlength=model.n_municipalities)
    clients = citizens.per_municipality(rows)
    events = protesters >= np.maximum(p.event_min_protesters, p.event_share * clients)
    model.tally.add("protesters", muni[protesting])
    model.tally.set("protest_event", events.astype(float))
    councils = model.councils
    councils.media_pressure = p.media_memory * councils.media_pressure + (1 - p.media_memory) * events
