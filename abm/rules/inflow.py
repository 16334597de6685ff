"""Inflow: new unemployed from each municipality's labour force.

Weekly arrivals are Poisson with a rate per 1,000 inhabitants, moved by the labour-market
scenario and an optional business cycle. Newcomers get a caseworker at once.
"""

from __future__ import annotations

import numpy as np

from abm import jobcenter
from abm.declarations import Output, Rule
from abm.parameters import Param
from abm.population import GROUPS, draw_groups, group_shares, new_citizen_attributes

SCENARIOS = ("baseline", "boom", "recession")

PARAMS = {
    "scenario": Param("baseline", "", "Labour-market scenario (moves inflow and job chances).", "assumption", choices=SCENARIOS),
    "inflow_per_1000": Param(
        0.95, "citizens / 1,000 inhabitants / week",
        "New clients per week; with the default spells and inflow_shares it keeps about 1.8% of inhabitants job-ready and "
        "1.6% activity-ready in the jobcenter.",
        "set with inflow_shares so that the stock meets the per-group client shares of targets/denmark.toml (Statistics "
        "Denmark 2019: 104,400 gross unemployed, 90,800 cash/education/integration-benefit recipients not job-ready, in "
        "5.8 million inhabitants): job-ready inflow 0.76 a week per 1,000 inhabitants, the others as before",
        low=0.0, high=50.0,
        plausible=(0.7, 1.2), plausible_source="assumption: +/- 25% around 0.95 (inflow over a business cycle)",
    ),
    "inflow_shares": Param(
        [0.80, 0.16, 0.04], "shares", "New clients by target group: job-ready, activity-ready, resource programme.",
        "set with inflow_per_1000 to the per-group client shares of targets/denmark.toml (Statistics Denmark 2019); "
        "the resource programme's share (no 2019 count found) keeps its earlier inflow of 0.038 a week per 1,000 "
        "inhabitants (assumption)",
        low=0.0, high=1.0, kind="list[float]", length=len(GROUPS), total=1.0,
    ),
    "cycle_amplitude": Param(0.0, "share", "Business-cycle swing of inflow (0 = no cycle).", "assumption", low=0.0, high=0.95),
    "cycle_period_weeks": Param(416, "weeks", "Length of a business cycle.", "assumption (about 8 years)", low=4, high=5200),
    "boom_inflow_factor": Param(0.8, "x", "Inflow in a boom relative to baseline.", "assumption", low=0.0, high=10.0),
    "boom_job_factor": Param(1.2, "x", "Job chances in a boom relative to baseline.", "assumption", low=0.0, high=10.0),
    "recession_inflow_factor": Param(1.3, "x", "Inflow in a recession relative to baseline.", "assumption", low=0.0, high=10.0),
    "recession_job_factor": Param(0.75, "x", "Job chances in a recession relative to baseline.", "assumption", low=0.0, high=10.0),
}


OUTPUTS = (Output("inflow", "int", "citizens", "new clients this week"),)


def scenario_factors(params) -> tuple[float, float]:
    """(inflow factor, job-chance factor) of the labour-market scenario."""
    p = params.labour_market
    if p.scenario == "boom":
        return p.boom_inflow_factor, p.boom_job_factor
    if p.scenario == "recession":
        return p.recession_inflow_factor, p.recession_job_factor
    return 1.0, 1.0


def expected_inflow(model) -> np.ndarray:
    """New clients per week in each municipality under the scenario, before the business cycle."""
    p = model.params.labour_market
    return p.inflow_per_1000 * model.inhabitants / 1000.0 * scenario_factors(model.params)[0]


def entry_shares(params) -> np.ndarray:
    """New clients' shares by target group (``inflow_shares``, adding up to 1)."""
    return group_shares(params.labour_market.inflow_shares)


def entrants(model, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Entry attributes of ``n`` new clients, their groups in the shares ``inflow_shares``."""
    return new_citizen_attributes(rng, model.params, draw_groups(rng, model.params.labour_market.inflow_shares, n))


def apply(model) -> None:
    p = model.params.labour_market
    rng = model.streams.inflow
    cycle = 1.0 + p.cycle_amplitude * np.sin(2 * np.pi * model.week / p.cycle_period_weeks)
    arrivals = rng.poisson(expected_inflow(model) * cycle)
    if arrivals.sum() == 0:
        return
    slots = model.people.make_room(arrivals)
    model.people.enter(slots, entrants(model, rng, len(slots)))
    model.tally.add("inflow", model.citizens.slot_municipality[slots])
    jobcenter.assign_waiting(model)


RULE = Rule("inflow", params={"labour_market": PARAMS}, outputs=OUTPUTS, apply=apply)
