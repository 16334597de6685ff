"""Costs: benefits paid for every citizen on benefits plus the staff the council pays for.

Counted every week, per municipality, in DKK. Benefits follow the target group's usual
benefit; staff cost counts every caseworker employed (trainees included) and the extra hours
paid for early meetings (``casework.early_contact_paid``), at a caseworker's cost.
"""

from __future__ import annotations

import numpy as np

from abm.declarations import Output, Rule, per_municipality
from abm.parameters import Param
from abm.population import GROUPS

PARAMS = {
    "benefit_per_week": Param(
        [4553.0, 2757.0, 2757.0], "DKK / week",
        "Benefit per client by group: job-ready (unemployment insurance), activity-ready and resource (cash-benefit level).",
        "public figures 2023: dagpenge 19,728 and kontanthjælp 11,944 DKK / month", low=0.0, high=1e6, kind="list[float]", length=len(GROUPS),
    ),
    "caseworker_cost_per_year": Param(
        483_000.0, "DKK / year", "A caseworker's yearly cost including pension.",
        "public figure 2022: ~483,000 DKK (seed 002 implies ~437,500)", low=0.0, high=1e8,
    ),
}

OUTPUTS = (
    Output("benefit_cost", "float", "DKK", "benefits paid this week", measure=lambda model: week_cost(model, model.census)[0]),
    Output("staff_cost", "float", "DKK", "cost of the staff employed this week", measure=lambda model: week_cost(model, model.census)[1]),
    Output("net_cost", "float", "DKK", "benefits + staff this week", measure=lambda model: week_cost(model, model.census)[2]),
)

RULE = Rule("costs", params={"costs": PARAMS}, outputs=OUTPUTS)


def week_cost(model, census) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(benefit cost, staff cost, net cost) per municipality this week; ``census`` is ``citizens.census()``."""
    p = model.params.costs
    staff = model.caseworkers
    benefits = census.by_group @ np.asarray(p.benefit_per_week, dtype=float)
    staffing = _staff_cost(model, staff.employed())
    return benefits, staffing, benefits + staffing


def _staff_cost(model, rows: np.ndarray) -> np.ndarray:
    """Per municipality, this week's cost of the caseworkers in ``rows``: each a caseworker's
    weekly cost, plus their paid extra hours for early meetings."""
    staff = model.caseworkers
    paid = per_municipality(model, staff.municipality[rows], 1.0 + staff.paid_extra_share[rows])
    return paid * model.params.costs.caseworker_cost_per_year / 52.0


def unit_cost(model, unit: int) -> np.ndarray:
    """Benefits and staff of one unit (the ordinary unit or the pilot / trial unit) this week,
    per municipality: what a trial's arms cost, as ``week_cost`` counts it."""
    p = model.params.costs
    citizens, staff = model.citizens, model.caseworkers
    rows = citizens.occupied()
    rows = rows[citizens.unit[rows] == unit]
    benefits = per_municipality(model, citizens.slot_municipality[rows], np.asarray(p.benefit_per_week, dtype=float)[citizens.group[rows]])
    rows = staff.employed()
    return benefits + _staff_cost(model, rows[staff.unit[rows] == unit])
