"""Protest: grievance from hardship and low trust; joining when it passes a threshold.

Grievance follows hardship x (1 - trust), as in Epstein's civil-violence model with trust
in the jobcenter as legitimacy. A citizen protests while grievance plus the pull of the
share of ties already protesting passes a personal threshold (Granovetter). A
municipality has a protest event in a week when enough citizens protest; events feed the
council's media pressure, which stresses caseworkers and changes case handling.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from abm.compiled import bundle, kernel, slot
from abm.declarations import Column, Output, Rule
from abm.parameters import Param
from abm.population import GROUPS

PARAMS = {
    "hardship_base": Param(
        [0.3, 0.5, 0.6], "hardship", "Hardship of being a client, by group (job-ready, activity-ready, resource).",
        "assumption", low=0.0, high=10.0, kind="list[float]", length=len(GROUPS),
    ),
    "sickness_hardship": Param(0.5, "hardship", "Added hardship per unit of ill health.", "assumption (direction: seeds 000, 003, sick citizens protest)", low=0.0, high=10.0),
    "pressed_hardship": Param(0.6, "hardship", "Added hardship of being pressed while sick (remembered).", "assumption (direction: seeds 000, 004, citizens pressed while sick protest)", low=0.0, high=10.0),
    "spell_hardship": Param(0.2, "hardship", "Added hardship of a long spell (full at spell_hardship_weeks).", "assumption", low=0.0, high=10.0),
    "spell_hardship_weeks": Param(104, "weeks", "Spell length at which the long-spell hardship is full.", "assumption", low=1, high=5200),
    "grievance_memory": Param(0.8, "per week", "Weekly persistence of grievance.", "assumption", low=0.0, high=0.999),
    "network_weight": Param(0.3, "grievance", "Pull toward protest when all of one's ties protest (Granovetter).", "assumption", low=0.0, high=10.0, plausible=(0.0, 1.0), plausible_source="assumption: friends' grievance counts at most as much as one's own"),
    "event_min_protesters": Param(
        10, "citizens", "Fewest protesters that make a protest event.", "assumption (seed 000: groups of sick citizens demonstrating)", low=1, high=100_000,
    ),
    "event_share": Param(0.001, "share of clients", "Share of clients protesting that makes an event (if more than the minimum).", "assumption", low=0.0, high=1.0),
    "media_memory": Param(0.85, "per week", "Weekly persistence of media pressure after protest events.", "assumption", low=0.0, high=0.999),
}

CITIZEN_STATE = {
    "grievance": Column(np.float64, 0.0, "grievance: hardship x (1 - trust), remembered", agent="write", low=0.0),
    "threshold": Column(np.float64, 1.0, "personal protest threshold", agent="write", low=0.0),
    "protesting": Column(bool, False, "protesting this week (ties see it next week)", agent="write"),
}

OUTPUTS = (
    Output("protesters", "int", "citizens", "citizens protesting this week"),
    Output("protest_event", "int", "events", "1 if the protesters made a protest event this week"),
    Output("media_pressure", "float", "0-1", "the council's media pressure after protest events", national=None,
           measure=lambda model: model.councils.media_pressure.copy()),
)


class Columns(NamedTuple):
    """What the week reads and writes: the citizens' columns and their ties."""

    active: np.ndarray
    slot_municipality: np.ndarray
    group: np.ndarray
    health: np.ndarray
    pressed_recent: np.ndarray
    spell: np.ndarray
    comparison: np.ndarray
    trust: np.ndarray
    grievance: np.ndarray
    threshold: np.ndarray
    protesting: np.ndarray  # read only: who protests now is returned
    ties: np.ndarray


class Params(NamedTuple):
    hardship_base: np.ndarray
    sickness_hardship: float
    pressed_hardship: float
    spell_hardship: float
    spell_hardship_weeks: int
    grievance_memory: float
    network_weight: float


def apply(model) -> None:
    p = model.params.protest
    citizens = model.citizens
    protesters = np.zeros(model.n_municipalities, dtype=np.int64)
    citizens.protesting = _week(citizens.occupied(), bundle(Columns, citizens, ties=model.network.ties), bundle(Params, p),
                                protesters)
    events = protesters >= np.maximum(p.event_min_protesters, p.event_share * citizens.clients())
    model.tally.add_totals("protesters", protesters)
    model.tally.set("protest_event", events.astype(float))
    councils = model.councils
    councils.media_pressure = p.media_memory * councils.media_pressure + (1 - p.media_memory) * events


@kernel
def _week(rows, c, p, protesters):
    """Grievance of each citizen in ``rows``; who protests this week (from who protested last
    week), counted by municipality in ``protesters``.

    Two passes: grievance for everyone (arithmetic only: no branch on the citizen, which the
    processor would mispredict), then the ties of the few whom a fully protesting network
    could tip (about 0.4%).
    """
    near = np.empty(len(rows), dtype=np.int64)
    n_near = 0
    for r in rows:
        i = slot(r)
        hardship = (
            p.hardship_base[slot(c.group[i])]
            + p.sickness_hardship * (1 - c.health[i])
            + p.pressed_hardship * c.pressed_recent[i]
            + p.spell_hardship * min(c.spell[i] / p.spell_hardship_weeks, 1.0)
            + c.comparison[i]
        )
        g = p.grievance_memory * c.grievance[i] + (1 - p.grievance_memory) * hardship * (1 - c.trust[i])
        c.grievance[i] = g
        near[n_near] = i  # kept only if a fully protesting network could tip this citizen
        n_near += g + p.network_weight > c.threshold[i]
    now_protesting = np.zeros(len(c.active), dtype=np.bool_)
    for k in range(n_near):
        i = slot(near[k])
        present = protesting_ties = 0
        for t in c.ties[i]:
            tie = slot(t)
            if c.active[tie]:
                present += 1
                protesting_ties += c.protesting[tie]
        share = protesting_ties / present if present > 0 else 0.0
        if c.grievance[i] + p.network_weight * share > c.threshold[i]:
            now_protesting[i] = True
            protesters[c.slot_municipality[i]] += 1
    return now_protesting


RULE = Rule("protest", params={"protest": PARAMS}, citizen_state=CITIZEN_STATE, outputs=OUTPUTS, apply=apply)
