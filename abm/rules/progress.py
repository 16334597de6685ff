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
    rows = citizens.occupied()  # everything below is per occupied slot, in slot order
    group = citizens.group[rows]
    boost = quality_boost(citizens.quality[rows], model)
    _press_sick(model, p, rng, rows)
    health = citizens.health[rows]

    health_mean = np.asarray(model.params.population.health_mean)[group]
    distance_mean = np.asarray(model.params.population.distance_mean)[group]
    personal = np.exp(-p.distance_effect * (citizens.distance[rows] - distance_mean)) * (
        np.maximum(health, 1e-6) / health_mean
    ) ** p.health_effect
    _, job_factor = scenario_factors(model.params.labour_market)
    churn_by_changes = (1 - p.change_penalty) ** np.arange(p.change_penalty_cap + 1.0)
    churn = churn_by_changes[np.minimum(citizens.changes[rows], p.change_penalty_cap)]
    job = np.asarray(p.job_hazard)[group] * boost * personal * churn * job_factor
    education = np.asarray(p.education_hazard)[group] * boost * personal
    draw = rng.random(citizens.size)[rows]  # one draw per slot, occupied or not
    to_job = draw < job
    to_education = ~to_job & (draw < job + education)

    # The clarification track: ``on_track`` and ``decided`` are positions in ``rows``.
    need = citizens.clarification_need[rows]
    on_track = np.flatnonzero(~to_job & ~to_education & (need > 0))
    citizens.clarification[rows[on_track]] += boost[on_track]
    decided = on_track[citizens.clarification[rows[on_track]] >= need[on_track]]
    outcome = rng.random(citizens.size)[rows[decided]]
    decided_group = group[decided]
    disability_chance = np.asarray(p.disability_share)[decided_group] * np.clip(
        (1 - health[decided]) / (1 - health_mean[decided]), 0, 2
    )
    to_disability = outcome < disability_chance
    to_flexjob = ~to_disability & (outcome < disability_chance + np.asarray(p.flexjob_share)[decided_group])
    decided = rows[decided]
    back_to_job_track = decided[~to_disability & ~to_flexjob]

    model.tally.add("decisions", citizens.slot_municipality[decided])
    model.tally.add("decision_weeks", citizens.slot_municipality[decided], citizens.spell[decided])
    for name, leaving in zip(EXITS, (rows[to_job], rows[to_education], decided[to_flexjob], decided[to_disability])):
        model.leave(leaving, f"exits_{name}")
    citizens.group[back_to_job_track] = 0
    citizens.clarification[back_to_job_track] = 0.0
    citizens.clarification_need[back_to_job_track] = 0.0


def _press_sick(model, p, rng, rows: np.ndarray) -> None:
    """Sick citizens pressed to activation lose health; the others recover toward their usual health."""
    citizens = model.citizens
    draw = rng.random(citizens.size)  # one draw per slot, occupied or not
    health = citizens.health[rows]
    sick = rows[health < p.sick_threshold]
    q_ref = casework.reference_quality(model.params.casework)
    shortfall = np.clip((1 - citizens.quality[sick]) / (1 - q_ref), 0, 3) ** p.press_quality_exponent
    handling = 1 - p.protest_handling_effect * model.councils.media_pressure[citizens.slot_municipality[sick]]
    chance = p.press_probability * shortfall * handling
    pressed = sick[draw[sick] < chance]
    citizens.pressed = np.zeros(citizens.size, dtype=bool)
    citizens.pressed[pressed] = True
    is_pressed = citizens.pressed[rows]
    citizens.health[rows] = np.clip(
        np.where(is_pressed, health - p.press_health_damage,
                 health + p.health_recovery * (citizens.health_base[rows] - health)),
        0.0, 1.0,
    )
    citizens.pressed_recent[rows] = p.pressed_memory * citizens.pressed_recent[rows] + (1 - p.pressed_memory) * is_pressed
    model.tally.add("sick", citizens.slot_municipality[sick])
    model.tally.add("sick_pressed", citizens.slot_municipality[pressed])
