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
        1.257, "citizens / 1,000 inhabitants / week",
        "New clients per week; with the default spells it keeps about 5% of inhabitants in the jobcenter.",
        "calibrated 2026-12-02 to the client share targets/denmark.toml had then, ~300,000 clients in 5.9 million inhabitants: a sum of public figures that overlap (121,300 on cash-benefit-type benefits, Statistics Denmark 2019; 76,700 full-time on sickness benefit, 2023; about 100,000 'not ready for the labour market') and leave out the insured unemployed; the per-group targets that replaced it are in targets/denmark.toml", low=0.0, high=50.0,
        plausible=(0.9, 1.6), plausible_source="assumption: +/- 25% around the calibrated 1.257 (inflow over a business cycle)",
    ),
    "inflow_shares": Param(
        [0.85, 0.12, 0.03], "shares", "New clients by target group: job-ready, activity-ready, resource programme.",
        "assumption (job-ready spells are short, so most of the flow)", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS), total=1.0,
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
