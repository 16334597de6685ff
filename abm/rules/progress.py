"""Progress and exits: health under activation pressure, clarification, exits.

Exit hazards to job and education are base rates per target group, scaled by meeting
quality relative to the reference caseload, by distance from the labour market and health
(both relative to the group's mean), and lowered by each caseworker change. Activity-ready
and resource-programme citizens also move through clarification at a speed set by quality;
at its end comes a decision: disability pension, flexjob, or back to the job-ready track.
Sick citizens may be pressed to activation, more often when quality is low and less
often when protests have changed case handling; being pressed wears their health down.
"""

from __future__ import annotations

import numpy as np

from abm.parameters import Param
from abm.rules import casework
from abm.rules.inflow import scenario_factors

EXITS = ("job", "education", "flexjob", "disability")

PARAMS = {
    "job_hazard": Param(
        [0.045, 0.0045, 0.0002], "per week",
        "Weekly chance of a job at the reference caseload, by group (job-ready, activity-ready, resource).",
        "calibrated: job-ready spells ~5 months; resource programmes end in a job 4% of the time (2018)",
        low=0.0, high=1.0, kind="list[float]",
    ),
    "education_hazard": Param(
        [0.006, 0.0015, 0.0001], "per week", "Weekly chance of starting education at the reference caseload, by group.",
        "assumption", low=0.0, high=1.0, kind="list[float]",
    ),
    "quality_elasticity": Param(
        1.5, "", "Exit and clarification speed scale as (quality / reference quality) to this power.",
        "calibrated to seed 002: pilot at 60 vs ~120 cases shortened spells by ~1.3 years", low=0.0, high=10.0,
    ),
    "self_help_share": Param(
        0.3, "share", "Share of the base exit chances that does not depend on casework at all.", "assumption",
        low=0.0, high=1.0,
    ),
    "distance_effect": Param(1.5, "", "Log-hazard change per unit distance from the labour market.", "assumption", low=0.0, high=20.0),
    "health_effect": Param(1.0, "", "Exit hazards scale as (health / group mean health) to this power.", "assumption", low=0.0, high=10.0),
    "change_penalty": Param(
        0.22, "share", "Lower chance of a job per caseworker change in the spell.",
        "public figure: one change ~22% lower job chance (activity-ready)", low=0.0, high=1.0,
    ),
    "change_penalty_cap": Param(3, "changes", "Changes beyond this add no further penalty.", "assumption", low=0, high=100),
    "clarification_weeks": Param(
        [0.0, 130.0, 170.0], "weeks",
        "Mean time to a flexjob / disability-pension decision at the reference caseload, by group (0 = no clarification track).",
        "assumption: long spells of activity-ready clients (63% on benefits 80% of 5 years)", low=0.0, high=2000.0,
        kind="list[float]",
    ),
    "disability_share": Param(
        [0.0, 0.25, 0.56], "share", "Share of decisions that grant disability pension, by group.",
        "public figure: resource programmes ended 56% in disability pension (2018)", low=0.0, high=1.0, kind="list[float]",
    ),
    "flexjob_share": Param(
        [0.0, 0.35, 0.25], "share", "Share of decisions that grant a flexjob, by group (the rest return to the job-ready track).",
        "public figure: resource programmes ended ~25% in flexjob (2018)", low=0.0, high=1.0, kind="list[float]",
    ),
    "sick_threshold": Param(0.4, "health", "Below this health a citizen counts as sick.", "assumption", low=0.0, high=1.0),
    "press_probability": Param(
        0.35, "per week", "Chance a sick citizen is pressed to activation in a week, at the reference caseload.",
        "calibrated to seed 004: >1/3 of staff say sick citizens are pressed too much", low=0.0, high=1.0,
    ),
    "press_quality_exponent": Param(
        2.0, "", "Pressing scales as (1 - quality) / (1 - reference quality) to this power.", "assumption", low=0.0, high=10.0,
    ),
    "press_health_damage": Param(0.01, "health / week", "Health lost in a week of being pressed.", "assumption", low=0.0, high=1.0),
    "health_recovery": Param(0.02, "share / week", "Share of the gap to one's usual health recovered per week.", "assumption", low=0.0, high=1.0),
    "protest_handling_effect": Param(
        0.5, "share", "Pressing avoided at full media pressure (protests change case handling).",
        "seed 004: 1 in 6 staff saw protests or media change case handling", low=0.0, high=1.0,
    ),
    "pressed_memory": Param(0.9, "per week", "How long being pressed is remembered (weekly persistence).", "assumption", low=0.0, high=0.999),
}


def quality_boost(quality: np.ndarray, model) -> np.ndarray:
    """Multiplier of exit and clarification speed: 1 at the reference caseload."""
    p = model.params.progress
    ratio = quality / casework.reference_quality(model.params.casework)
    return p.self_help_share + (1 - p.self_help_share) * ratio**p.quality_elasticity


def apply(model) -> None:
    p = model.params.progress
    citizens = model.citizens
    rng = model.streams.progress
    active = citizens.active
    group = citizens.group
    boost = quality_boost(citizens.quality, model)
    _press_sick(model, p, rng)

    health_mean = np.asarray(model.params.population.health_mean)[group]
    distance_mean = np.asarray(model.params.population.distance_mean)[group]
    personal = np.exp(-p.distance_effect * (citizens.distance - distance_mean)) * (
        np.maximum(citizens.health, 1e-6) / health_mean
    ) ** p.health_effect
    _, job_factor = scenario_factors(model.params.labour_market)
    churn = (1 - p.change_penalty) ** np.minimum(citizens.changes, p.change_penalty_cap)
    job = np.asarray(p.job_hazard)[group] * boost * personal * churn * job_factor
    education = np.asarray(p.education_hazard)[group] * boost * personal
    draw = rng.random(citizens.size)
    to_job = active & (draw < job)
    to_education = active & ~to_job & (draw < job + education)

    on_track = active & ~to_job & ~to_education & (citizens.clarification_need > 0)
    citizens.clarification += np.where(on_track, boost, 0.0)
    decided = on_track & (citizens.clarification >= citizens.clarification_need)
    outcome = rng.random(citizens.size)
    disability_chance = np.asarray(p.disability_share)[group] * np.clip((1 - citizens.health) / (1 - health_mean), 0, 2)
    to_disability = decided & (outcome < disability_chance)
    to_flexjob = decided & ~to_disability & (outcome < disability_chance + np.asarray(p.flexjob_share)[group])
    back_to_job_track = np.flatnonzero(decided & ~to_disability & ~to_flexjob)

    model.tally.add("decisions", citizens.slot_municipality[decided])
    model.tally.add("decision_weeks", citizens.slot_municipality[decided], citizens.spell[decided])
    for name, leaving in zip(EXITS, (to_job, to_education, to_flexjob, to_disability)):
        model.leave(np.flatnonzero(leaving), f"exits_{name}")
    citizens.group[back_to_job_track] = 0
    citizens.clarification[back_to_job_track] = 0.0
    citizens.clarification_need[back_to_job_track] = 0.0


def _press_sick(model, p, rng) -> None:
    """Sick citizens pressed to activation lose health; the others recover toward their usual health."""
    citizens = model.citizens
    q_ref = casework.reference_quality(model.params.casework)
    shortfall = np.clip((1 - citizens.quality) / (1 - q_ref), 0, 3) ** p.press_quality_exponent
    handling = 1 - p.protest_handling_effect * model.councils.media_pressure[citizens.slot_municipality]
    chance = p.press_probability * shortfall * handling
    sick = citizens.active & (citizens.health < p.sick_threshold)
    pressed = sick & (rng.random(citizens.size) < chance)
    citizens.pressed = pressed
    citizens.health = np.clip(
        np.where(pressed, citizens.health - p.press_health_damage,
                 citizens.health + p.health_recovery * (citizens.health_base - citizens.health)),
        0.0, 1.0,
    )
    citizens.pressed_recent = p.pressed_memory * citizens.pressed_recent + (1 - p.pressed_memory) * pressed
    model.tally.add("sick", citizens.slot_municipality[sick])
    model.tally.add("sick_pressed", citizens.slot_municipality[pressed])
