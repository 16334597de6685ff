"""Protest: grievance from hardship and low trust; joining when it passes a threshold.

Grievance follows hardship x (1 - trust), as in Epstein's civil-violence model with trust
in the jobcenter as legitimacy. A citizen protests while grievance plus the pull of the
share of ties already protesting passes a personal threshold (Granovetter). A
municipality has a protest event in a week when enough citizens protest; events feed the
council's media pressure, which stresses caseworkers and changes case handling.
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel
from abm.declarations import Column, Output
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

CITIZEN_STATE = {
    "grievance": Column(np.float64, 0.0, "grievance: hardship x (1 - trust), remembered"),
    "threshold": Column(np.float64, 1.0, "personal protest threshold"),
    "protesting": Column(bool, False, "protesting this week"),
}

OUTPUTS = (
    Output("protesters", "int", "citizens", "citizens protesting this week"),
    Output("protest_event", "int", "events", "1 if the protesters made a protest event this week"),
    Output("media_pressure", "float", "0-1", "the council's media pressure after protest events", national=None,
           measure=lambda model: model.councils.media_pressure.copy()),
)


def apply(model) -> None:
    p = model.params.protest
    citizens = model.citizens
    protesters = np.zeros(model.n_municipalities, dtype=np.int64)
    clients = np.zeros(model.n_municipalities, dtype=np.int64)
    citizens.protesting = _week(
        citizens.occupied(), citizens.active, citizens.slot_municipality, citizens.group, citizens.health, citizens.pressed_recent,
        citizens.spell, citizens.comparison, citizens.trust, citizens.grievance, citizens.threshold,
        citizens.protesting, model.network.ties, protesters, clients,
        np.asarray(p.hardship_base, dtype=float), p.sickness_hardship, p.pressed_hardship, p.spell_hardship,
        p.spell_hardship_weeks, p.grievance_memory, p.network_weight,
    )
    events = protesters >= np.maximum(p.event_min_protesters, p.event_share * clients)
    model.tally.add_totals("protesters", protesters)
    model.tally.set("protest_event", events.astype(float))
    councils = model.councils
    councils.media_pressure = p.media_memory * councils.media_pressure + (1 - p.media_memory) * events


@kernel
def _week(rows, active, municipality, group, health, pressed_recent, spell, comparison, trust, grievance, threshold,
          protesting, ties, protesters, clients, hardship_base, sickness_hardship, pressed_hardship,
          spell_hardship, spell_hardship_weeks, grievance_memory, network_weight):
    """Grievance of each citizen in ``rows``; who protests this week (from who protested last week)."""
    now_protesting = np.zeros(len(active), dtype=np.bool_)
    for i in rows:
        m = municipality[i]
        clients[m] += 1
        hardship = (
            hardship_base[group[i]]
            + sickness_hardship * (1 - health[i])
            + pressed_hardship * pressed_recent[i]
            + spell_hardship * min(spell[i] / spell_hardship_weeks, 1.0)
            + comparison[i]
        )
        g = grievance_memory * grievance[i] + (1 - grievance_memory) * hardship * (1 - trust[i])
        grievance[i] = g
        if g + network_weight <= threshold[i]:
            continue  # not even a fully protesting network could tip this citizen
        present = protesting_ties = 0
        for tie in ties[i]:
            if active[tie]:
                present += 1
                protesting_ties += protesting[tie]
        share = protesting_ties / present if present > 0 else 0.0
        if g + network_weight * share > threshold[i]:
            now_protesting[i] = True
            protesters[m] += 1
    return now_protesting
