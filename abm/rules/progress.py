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

from typing import NamedTuple

import numpy as np

from abm.compiled import bundle, kernel, slot
from abm.declarations import Column, Output, Ratio, Rule, Weighted, When, ratio
from abm.parameters import FITTED_TO_EXPERIMENTS, PRIOR_OF_THE_FIT, SUM_TOLERANCE, Check, Param
from abm.population import GROUPS, group_means
from abm.rules import casework, turnover
from abm.rules.inflow import scenario_factors

EXITS = ("job", "education", "flexjob", "disability", "out_of_labour_force")

PARAMS = {
    "job_hazard": Param(
        [0.045, 0.0045, 0.0002], "per week",
        "Weekly chance of a job at the reference caseload, by group (job-ready, activity-ready, resource).",
        "assumption, set by hand: job-ready spells of about 5 months and activity-ready clients on benefits for years; the resource group's chance set so that about 4% of resource programmes end in a job (STAR / Ankestyrelsen, programmes ending in 2018)",
        low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "education_hazard": Param(
        [0.006, 0.0015, 0.0001], "per week", "Weekly chance of starting education at the reference caseload, by group.",
        "assumption", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "out_of_labour_force_hazard": Param(
        0.005, "per week",
        "Weekly chance that a job-ready client leaves the labour force (deregistered without a job); casework does not change it. 0 = no such exit.",
        "assumption (field trials count it apart from jobs, e.g. Böheim, Eppel & Mahringer 2023; without it, sick job-ready clients worn down by pressing stayed for decades: 45% of the stationary job-ready stock had spells over 20 years; at 0.005 such spells last about four years)",
        low=0.0, high=1.0,
    ),
    "sanction_elasticity": Param(
        2.65, "", "The chance of leaving the labour force (out_of_labour_force_hazard) scales with meeting quality as "
        "self_help_share + (1 - self_help_share) x (quality / reference quality)^this: more time per client brings more meetings, "
        "monitoring and sanctions, so more clients leave the register without a job. 0 = casework does not change it.",
        "mechanism: Böheim, Eppel & Mahringer (2023): lower caseloads brought more meetings, job offers, programme assignments and sanctions, "
        "and more exits out of the labour force; Hainmueller et al. (2016): offices with lower caseloads monitored and sanctioned more; "
        f"the value: {FITTED_TO_EXPERIMENTS}",
        low=0.0, high=10.0,
        plausible=(0.0, 6.0), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "job_loss_hazard": Param(
        0.01, "per week",
        "Weekly chance that a job found after a spell ends (the former client returns to unemployment). The model has no employment "
        "spell after an exit; only the in-office trial statistics use this, in closed form (abm/calibration/statistics.py).",
        "assumption: about 40% of jobs taken after unemployment end within a year (jobs after unemployment are often short)",
        low=0.0, high=1.0,
    ),
    "quality_elasticity": Param(
        0.840, "", "Exit and clarification speed scale as (quality / reference quality) to this power.",
        f"calibrated: the {FITTED_TO_EXPERIMENTS}", low=0.0, high=10.0,
        plausible=(0.3, 4.5), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "meeting_elasticity": Param(
        0.409, "", "Job chance of a client in the early weeks of their spell scales with the meeting frequency relative to the usual schedule "
        "(casework.early_contact_factor) as self_help_share + (1 - self_help_share) x factor^this: what more frequent meetings do beyond the time they buy "
        "(counselling, monitoring, the threat of a next meeting). Caseload changes alter the time per meeting, not the schedule.",
        f"calibrated: the {FITTED_TO_EXPERIMENTS} (Maibom et al.: fortnightly meetings in the first 13 weeks saved about 5 weeks over two years)", low=0.0, high=5.0,
        plausible=(0.0, 1.5), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "self_help_share": Param(
        0.3, "share", "Share of the base exit chances that does not depend on casework at all.", "assumption",
        low=0.0, high=1.0,
    ),
    "distance_effect": Param(1.5, "", "Log-hazard change per unit distance from the labour market.", "assumption", low=0.0, high=20.0),
    "health_effect": Param(1.0, "", "Exit hazards scale as (health / group mean health) to this power.", "assumption", low=0.0, high=10.0),
    "change_penalty": Param(
        0.22, "share", "Lower chance of a job per caseworker change in the spell (activity-ready and resource-programme clients; "
        "job-ready clients: this x change_penalty_job_ready_factor).",
        "public figure: one caseworker change ~22% lower job chance for activity-ready clients (Rosholm, Sørensen & Skipper, Væksthusets Forskningscenter 2017)", low=0.0, high=1.0,
        plausible=(0.1, 0.35), plausible_source="public figure: one change ~22% lower job chance (Rosholm, Sørensen & Skipper 2017); assumption +/- half",
    ),
    "change_penalty_job_ready_factor": Param(
        0.865, "share", "The job-ready group's penalty per caseworker change as a share of change_penalty "
        "(1 = the activity-ready figure, 0 = a change costs job-ready clients nothing).",
        "the 22% figure was measured for activity-ready clients only and no figure for job-ready clients is known (for Swiss "
        "insured unemployed a caseworker's unplanned absence, fewer meetings and a replacement, lengthened spells about 5%: "
        f"Schiprowski, IZA DP 11040, 2017); the value: {FITTED_TO_EXPERIMENTS}, prior [0, 1] (at most the activity-ready penalty, assumption)",
        low=0.0, high=1.0,
        plausible=(0.0, 1.0), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "change_penalty_cap": Param(3, "changes", "Changes beyond this add no further penalty.", "assumption", low=0, high=100),
    "clarification_weeks": Param(
        [0.0, 130.0, 170.0], "weeks",
        "Mean time to a flexjob / disability-pension decision at the reference caseload, by group (0 = no clarification track).",
        "assumption: long spells of activity-ready clients (63% on benefits 80% of 5 years)", low=0.0, high=2000.0,
        kind="list[float]", length=len(GROUPS),
    ),
    "disability_share": Param(
        [0.0, 0.25, 0.50], "share", "Share of decisions that grant disability pension, by group.",
        "calibrated: targets/denmark.toml, 2026-12-02: resource programmes ended 56% in disability pension (STAR / Ankestyrelsen, 2018); poor health raises the share at the decision", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "flexjob_share": Param(
        [0.0, 0.35, 0.31], "share", "Share of decisions that grant a flexjob, by group (the rest return to the job-ready track).",
        "calibrated: targets/denmark.toml, 2026-12-02: resource programmes ended ~25% in flexjob (STAR / Ankestyrelsen, 2018); a flexjob is granted only where disability is not", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "sick_threshold": Param(0.4, "health", "Below this health a citizen counts as sick.", "assumption", low=0.0, high=1.0),
    "press_probability": Param(
        0.35, "per week", "Chance a sick citizen is pressed to activation in a week, at the reference caseload.",
        "assumption, set by hand with seed 004 in mind (a survey of 1,667 jobcenter staff: more than 1/3 say jobcenters press sick citizens too much; an opinion share, not a weekly chance)", low=0.0, high=1.0,
        plausible=(0.2, 0.5), plausible_source="seed 004: more than a third of staff say sick citizens are pressed; assumption",
    ),
    "press_quality_exponent": Param(
        0.33, "", "Pressing scales as (1 - quality) / (1 - reference quality) to this power.",
        "assumption, set under the earlier Hill exponent 3 (1 - quality then grew as the caseload cubed, and 1/3 made pressing about proportional to the caseload; at 2 the status quo drifted); at the fitted exponent 0.72 pressing varies little with the caseload (docs/ODD.md)", low=0.0, high=10.0,
    ),
    "press_health_damage": Param(0.01, "health / week", "Health lost in a week of being pressed.", "assumption", low=0.0, high=1.0),
    "health_recovery": Param(0.02, "share / week", "Share of the gap to one's usual health recovered per week.", "assumption", low=0.0, high=1.0),
    "protest_handling_effect": Param(
        0.5, "share", "Pressing avoided at full media pressure (protests change case handling).",
        "assumption (direction: seed 004, a staff survey: 1 in 6 saw protests or media change case handling)", low=0.0, high=1.0,
    ),
    "pressed_memory": Param(0.9, "per week", "How long being pressed is remembered (weekly persistence).", "assumption", low=0.0, high=0.999),
    "clarification_shape": Param(
        2.0, "", "Gamma shape of the progress a clarification needs (mean: clarification_weeks; higher = less spread).",
        "assumption", low=0.01, high=1000.0,
    ),
}

CITIZEN_STATE = {
    "health": Column(np.float64, 1.0, "health, 0-1 (1 = well)", agent="write", low=0.0, high=1.0),
    "distance_factor": Column(np.float64, 1.0, "the distance term of the exit hazards (see distance_factor; follows distance and group)"),
    "clarification": Column(np.float64, 0.0, "progress toward a flexjob / disability-pension decision", agent="write", low=0.0),
    "clarification_need": Column(np.float64, 0.0, "progress that decision requires (0: no clarification track)", agent="write",
                                 low=0.0),
    "pressed": Column(bool, False, "sick and pressed to activation this week (set by progress)"),
    "pressed_recent": Column(np.float64, 0.0, "being pressed, remembered (weekly persistence pressed_memory), 0-1", agent="write",
                             low=0.0, high=1.0),
}

_EXIT_COUNTS = tuple(f"exits_{kind}" for kind in EXITS if kind != "out_of_labour_force")  # always in the table
OUT_OF_LABOUR_FORCE_ON = When("progress.out_of_labour_force_hazard > 0",
                              lambda config: config.progress.out_of_labour_force_hazard > 0)

OUTPUTS = (
    Output("exits_job", "int", "citizens", "clients who found a job this week"),
    Output("exits_education", "int", "citizens", "clients who started education this week"),
    Output("exits_flexjob", "int", "citizens", "clients granted a flexjob this week"),
    Output("exits_disability", "int", "citizens", "clients granted disability pension this week"),
    Output("exits_out_of_labour_force", "int", "citizens", "job-ready clients who left the labour force (no job) this week",
           when=OUT_OF_LABOUR_FORCE_ON),
    Output("exits_job_early", "int", "citizens",
           "of the clients who found a job this week, those in the first casework.early_contact_weeks weeks of their spell",
           when=When("casework.early_contact_weeks > 0", lambda config: casework.early_weeks(config) > 0)),
    Output("exit_spell_weeks", "float", "weeks", "summed spells of this week's leavers", recorded=False),
    # Nationally weighted by the exits always in the table (out of the labour force is not, when off).
    Output("exit_spell_mean", "float", "weeks", "mean spell of the clients who left this week",
           national=Weighted(_EXIT_COUNTS),
           measure=lambda model: ratio(model.tally.values["exit_spell_weeks"], sum(model.tally.values[f"exits_{kind}"] for kind in EXITS))),
    Output("decisions", "int", "decisions", "flexjob / disability-pension / back-to-job-track decisions this week"),
    Output("decision_weeks", "float", "weeks", "summed spells at this week's decisions", recorded=False),
    Output("decision_weeks_mean", "float", "weeks", "mean spell at this week's decisions", national=Weighted("decisions"),
           measure=lambda model: ratio(model.tally.values["decision_weeks"], model.tally.values["decisions"])),
    Output("sick", "int", "citizens", "sick clients (health below sick_threshold)"),
    Output("sick_pressed", "int", "citizens", "sick clients pressed to activation this week"),
    Output("sick_pressed_share", "float", "share", "sick_pressed / sick", national=Ratio("sick_pressed", "sick"),
           measure=lambda model: ratio(model.tally.values["sick_pressed"], model.tally.values["sick"])),
)


def _decision_shares_problem(config) -> str | None:
    """A clarification decision grants disability pension, a flexjob, or neither: the two
    shares of one group cannot add up to more than the whole."""
    p = config.progress
    for group, disability, flexjob in zip(GROUPS, p.disability_share, p.flexjob_share):
        if disability + flexjob > 1 + SUM_TOLERANCE:
            return (f"progress.disability_share + progress.flexjob_share = {disability:g} + {flexjob:g} for {group} "
                    f"is not allowed: the two shares of a group must add up to at most 1")
    return None


CHECKS = [Check(("progress.disability_share", "progress.flexjob_share"), _decision_shares_problem)]


JOB, EDUCATION, FLEXJOB, DISABILITY, OUT_OF_LABOUR_FORCE = range(len(EXITS))


def quality_boost(quality: np.ndarray, model) -> np.ndarray:
    """Multiplier of exit and clarification speed: 1 at the reference caseload."""
    p = model.params.progress
    ratio = quality / casework.reference_quality(model.params)
    return p.self_help_share + (1 - p.self_help_share) * ratio**p.quality_elasticity


def sanction_boost(quality: np.ndarray, model) -> np.ndarray:
    """Multiplier of the chance of leaving the labour force: 1 at the reference caseload, and
    exactly 1 everywhere when ``sanction_elasticity`` is 0 (casework does not change it)."""
    p = model.params.progress
    quality = np.asarray(quality, dtype=float)
    if p.sanction_elasticity == 0:
        return np.ones_like(quality)
    ratio = quality / casework.reference_quality(model.params)
    return p.self_help_share + (1 - p.self_help_share) * ratio**p.sanction_elasticity


def meeting_boost(params) -> float:
    """Multiplier of the job chance of clients in their early weeks, from meeting more (or
    less) often than the usual schedule: 1 without early contact."""
    p = params.progress
    return p.self_help_share + (1 - p.self_help_share) * casework.early_meeting_frequency(params) ** p.meeting_elasticity


def press_chance(quality: np.ndarray, p, q_ref: float) -> np.ndarray:
    """Weekly chance a sick client is pressed to activation, by meeting quality (``p``: progress).

    The shortfall from perfect quality counts relative to the reference's; a reference of
    exactly 1 (possible for extreme curves) counts as a tiny shortfall, not a division by zero.
    A chance: at most 1, however poor the quality.
    """
    shortfall = 1 - np.asarray(quality, dtype=float)
    return np.minimum(p.press_probability * np.clip(shortfall / max(1 - q_ref, 1e-12), 0, 3) ** p.press_quality_exponent, 1.0)


def distance_factor(model, distance: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The exit hazards' distance term, exp(-effect x (distance - the group's mean distance)).

    Fixed while the citizen stays in their group, so it is kept as a column
    (``citizens.distance_factor``, set on entry) rather than recomputed every week.
    """
    _, distance_mean = group_means(model.params)
    return _distance_term(distance, distance_mean[group], model.params.progress.distance_effect)


@kernel
def _distance_term(distance, group_mean, effect):
    """exp(-effect x (distance - group_mean)), for arrays (on entry) and single citizens (in ``_week``)."""
    return np.exp(-effect * (distance - group_mean))


def init(model, start) -> None:
    """The clients at the start are part-way through their clarification (a stationary
    start's stock brings its own progress)."""
    if start.stock is not None:
        return
    citizens = model.citizens
    slots = citizens.occupied()
    citizens.clarification[slots] = model.streams.build.random(len(slots)) * citizens.clarification_need[slots]


def _distance_set(model, rows: np.ndarray) -> None:
    """The exit hazards' distance term, kept rather than recomputed weekly, follows a distance set from outside."""
    citizens = model.citizens
    citizens.distance_factor[rows] = distance_factor(model, citizens.distance[rows], citizens.group[rows])


def on_entry(model, slots: np.ndarray, rng: np.random.Generator) -> None:
    """Entrants' clarification need (gamma, mean ``clarification_weeks`` of their group) and distance term."""
    citizens = model.citizens
    group = citizens.group[slots]
    citizens.distance_factor[slots] = distance_factor(model, citizens.distance[slots], group)
    citizens.clarification_need[slots] = clarification_need(model.params, group, rng)


def clarification_need(params, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Progress each entrant's clarification decision requires: gamma, mean ``clarification_weeks``
    of their group (0: no clarification track)."""
    weeks = np.asarray(params.progress.clarification_weeks, dtype=float)[group]
    return np.where(weeks > 0, rng.gamma(*_need_gamma(params, weeks)), 0.0)


def _need_gamma(params, weeks):
    """The clarification need's gamma (shape, scale) for a mean of ``weeks``."""
    shape = params.progress.clarification_shape
    return shape, np.maximum(weeks, 1e-9) / shape


def has_clarification(params) -> np.ndarray:
    """Which target groups have a clarification track (``clarification_weeks`` > 0)."""
    return np.asarray(params.progress.clarification_weeks, dtype=float) > 0


class StationaryCasework(NamedTuple):
    """Casework in the spells of a stationary start: one caseload all along (``council.initial_caseload``)."""

    boost: float  # speed-up of exits and clarification (quality_boost)
    press: float  # weekly chance a sick client is pressed (press_chance)
    horizon: int  # spell weeks followed (population.stationary_horizon_weeks)
    sanction: float  # multiplier of leaving the labour force (sanction_boost)
    change: float  # weekly chance of a caseworker change: the caseworker quits (turnover.quit_chance_at)


def stationary_casework(model, caseload: float, horizon: int) -> StationaryCasework:
    """The casework of every spell a stationary start follows, at a steady ``caseload``: the
    quality an experienced caseworker gives at it, and the quits its stress brings."""
    quality = casework.quality_at_caseload(model, caseload)
    return StationaryCasework(float(quality_boost(quality, model)),
                              float(press_chance(quality, model.params.progress, casework.reference_quality(model.params))),
                              horizon, float(sanction_boost(quality, model)), turnover.quit_chance_at(model, caseload))


def _stationary_params(model, spells: StationaryCasework) -> Params:
    """The exit model's parameters for a stationary start: the week's, with the chance of leaving
    the labour force at the spells' one quality (``sanction``; a constant, as ``boost`` is)."""
    params = week_params(model)
    return params._replace(out_of_labour_force_hazard=params.out_of_labour_force_hazard * spells.sanction)


class NeedProposal(NamedTuple):
    """How a stationary start draws its candidates' clarification needs in a group: in
    proportion to the need's density x (``per_need`` x need + ``extra``), an upper bound of
    presence (the weeks to the decision, then at most ``extra`` - 1 on the job-ready track),
    so that few candidates with short needs are drawn only to be thinned away; or, where
    that bound's mean is not below the horizon, plainly (``per_need`` 0), bound ``horizon``."""

    rate: float  # the bound's mean over the need's distribution: candidates drawn per week of the group's inflow
    per_need: float  # weeks to the decision per unit of need (1 / boost)
    extra: float


def need_proposal(model, spells: StationaryCasework, group: int) -> NeedProposal:
    """The ``NeedProposal`` of a group with a clarification track."""
    mean_need = model.params.progress.clarification_weeks[group]
    per_need = 1 / max(spells.boost, 1e-9)
    extra = 1 + _geometric_sum(_stationary_params(model, spells).out_of_labour_force_hazard, spells.horizon)
    if mean_need * per_need + extra >= spells.horizon:
        return NeedProposal(float(spells.horizon), 0.0, float(spells.horizon))
    return NeedProposal(mean_need * per_need + extra, per_need, extra)


def proposed_needs(params, proposal: NeedProposal, group: int, n: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` needs drawn as ``proposal`` says, and the bound each was drawn in proportion to.
    The need is gamma (``clarification_need``); weighted by need, it is gamma of one more
    shape, so the weighted draw is a mixture of the two."""
    shape, scale = _need_gamma(params, params.progress.clarification_weeks[group])
    weighted_by_need = rng.random(n) < (proposal.rate - proposal.extra) / proposal.rate
    need = rng.gamma(shape + weighted_by_need, scale)
    return need, need * proposal.per_need + proposal.extra


def presence_bound(model, spells: StationaryCasework, group: np.ndarray, need: np.ndarray,
                   health_base: np.ndarray | None = None) -> np.ndarray:
    """An upper bound of ``presence`` from the group and the clarification need (no exit chance
    is below the group's chance of leaving the labour force), tighter with the usual health
    (no exit chance is below that of someone as far from the labour market as can be, at the
    settled health). Never above ``horizon``, the most weeks anyone can be present: in extreme
    configs (a group mean health of 0) the closed form is infinite or undefined, and the
    horizon is then the bound."""
    health = np.empty(0) if health_base is None else health_base
    bound = _presence_bounds(_stationary_params(model, spells), spells.boost, spells.press, spells.horizon, group, need, health)
    return np.minimum(np.nan_to_num(bound, nan=spells.horizon), spells.horizon)


def stationary_clients(model, rng: np.random.Generator, spells: StationaryCasework, attributes: dict[str, np.ndarray],
                       need: np.ndarray, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Of entrants drawn at ``bound`` / ``horizon`` times the inflow, which make up the stock
    the flows keep, their weeks in the spell and their progress columns now.

    Each is kept with chance presence / ``bound``, where presence is the expected number of
    weeks (up to ``horizon``) they would be a client, and given a spell drawn in proportion to
    their chance of still being a client that far in (the week's exit model, ``_stationary``).
    Each entrant's caseworker changes are drawn first, a change a week with chance
    ``spells.change`` (the spell weeks from which the first ``change_penalty_cap`` count; the
    later ones cost no more job chance and are counted once the spell is known), so that the
    longer spells that changes bring are in the stock from the start.
    """
    group = attributes["group"].astype(np.int64)
    cap = model.params.progress.change_penalty_cap
    uniforms = rng.random((2, len(group)))  # keeping, the spell
    change_weeks = _change_weeks(rng, spells, (len(group), cap))
    kept, spell, *columns, changes = _stationary(
        _stationary_params(model, spells), spells.boost, spells.press, spells.horizon, group, attributes["distance"],
        attributes["health_base"], need, bound, uniforms, change_weeks)
    spell, changes = spell[kept], changes[kept]
    at_cap = changes == cap
    since = spell[at_cap] - (change_weeks[kept][at_cap, cap - 1] if cap > 0 else 0)
    changes[at_cap] += rng.binomial(np.maximum(since, 0), spells.change)
    state = {name: column[kept] for name, column in zip(STATIONARY_COLUMNS, columns)}
    return kept, spell, state | {"changes": changes}


def _change_weeks(rng: np.random.Generator, spells: StationaryCasework, shape: tuple[int, int]) -> np.ndarray:
    """The spell weeks from which each entrant's 1st, 2nd, ... caseworker change counts: one
    chance ``spells.change`` a week, after the week's exits (as the week runs turnover after
    progress), so a change in spell week w counts from week w + 1. Beyond the horizon: none."""
    if spells.change <= 0:
        return np.full(shape, spells.horizon + 1, dtype=np.int64)
    return np.minimum(np.cumsum(rng.geometric(spells.change, shape), axis=1), spells.horizon + 1)


STATIONARY_COLUMNS = ("group", "distance_factor", "clarification", "clarification_need", "health", "pressed_recent")
"""The columns ``_stationary`` returns after the spell and before the changes: a client's state at a stationary start."""


class Columns(NamedTuple):
    """The citizens' columns the week reads and writes."""

    slot_municipality: np.ndarray
    group: np.ndarray
    health: np.ndarray
    health_base: np.ndarray
    distance: np.ndarray
    distance_factor: np.ndarray
    changes: np.ndarray
    spell: np.ndarray
    caseworker: np.ndarray
    clarification: np.ndarray
    clarification_need: np.ndarray
    pressed: np.ndarray
    pressed_recent: np.ndarray


class Casework(NamedTuple):
    """This week's casework: per caseworker (last entry: none) and per municipality."""

    boost: np.ndarray  # speed-up of exits and clarification by the caseworker's quality
    press: np.ndarray  # chance a sick client is pressed, by the caseworker's quality
    early_boost: np.ndarray  # the same for clients early in their spell (casework.early_contact_weeks)
    early_press: np.ndarray
    sanction: np.ndarray  # multiplier of leaving the labour force, by the caseworker's quality (sanction_boost)
    early_sanction: np.ndarray
    press_handling: np.ndarray  # per municipality: pressing left after protests changed case handling


class Params(NamedTuple):
    """The week's parameters, by target group where arrays (hazards with this week's job chances)."""

    sick_threshold: float
    early_contact_weeks: int  # clients below this spell get the early quality (0: none)
    early_meeting_boost: float  # their job chance's multiplier from meeting frequency (meeting_boost)
    press_health_damage: float
    health_recovery: float
    pressed_memory: float
    health_effect: float
    distance_effect: float
    health_mean: np.ndarray
    distance_mean: np.ndarray
    churn_by_changes: np.ndarray  # by group (rows) the job chance left after 0, 1, ... cap caseworker changes (columns)
    job_hazard: np.ndarray
    education_hazard: np.ndarray
    out_of_labour_force_hazard: float
    disability_share: np.ndarray
    flexjob_share: np.ndarray


def week_params(model) -> Params:
    """The exit model's parameters, for the week (``_week``) and the stationary start (``_stationary``)."""
    p = model.params.progress
    _, job_factor = scenario_factors(model.params)
    health_mean, distance_mean = group_means(model.params)
    early_contact = casework.early_contact(model.params)
    return bundle(
        Params, p, health_mean=health_mean, distance_mean=distance_mean,
        early_contact_weeks=casework.early_weeks(model.params) if early_contact else 0,
        early_meeting_boost=meeting_boost(model.params),
        churn_by_changes=churn_by_changes(p),
        job_hazard=np.asarray(p.job_hazard, dtype=float) * job_factor,
    )


def change_penalties(p) -> np.ndarray:
    """The job chance lost per caseworker change, by group: ``change_penalty``, the job-ready
    group's scaled by ``change_penalty_job_ready_factor`` (the figure is an activity-ready one)."""
    penalty = np.full(len(GROUPS), p.change_penalty)
    penalty[0] = p.change_penalty * p.change_penalty_job_ready_factor
    return penalty


def churn_by_changes(p) -> np.ndarray:
    """The job chance left after 0, 1, ... ``change_penalty_cap`` caseworker changes, by group (rows)."""
    return (1 - change_penalties(p))[:, None] ** np.arange(p.change_penalty_cap + 1.0)[None, :]


class Counts(NamedTuple):
    """Per municipality, filled by the week."""

    sick: np.ndarray
    sick_pressed: np.ndarray
    decisions: np.ndarray
    decision_weeks: np.ndarray


def apply(model) -> None:
    p = model.params.progress
    citizens = model.citizens
    # Quality is the caseworker's, the same for all their clients: what follows from it is
    # computed per caseworker (the last entry answers for NO_CASEWORKER, -1: quality 0).
    quality = np.append(model.caseworkers.quality, 0.0)
    q_ref = casework.reference_quality(model.params)
    boost = quality_boost(quality, model)
    press = press_chance(quality, p, q_ref)
    sanction = sanction_boost(quality, model)
    early_contact = casework.early_contact(model.params)
    if early_contact:  # clients early in their spell get their own quality (casework.early_contact_weeks)
        early_quality = np.append(model.caseworkers.early_quality, 0.0)
        early_press = press_chance(early_quality, p, q_ref)
    this_week = Casework(
        boost=boost,
        press=press,
        early_boost=quality_boost(early_quality, model) if early_contact else boost,
        early_press=early_press if early_contact else press,
        sanction=sanction,
        early_sanction=sanction_boost(early_quality, model) if early_contact else sanction,
        press_handling=1 - p.protest_handling_effect * model.councils.media_pressure,  # protests change case handling
    )
    params = week_params(model)
    counts = Counts(*np.zeros((4, model.n_municipalities), dtype=np.int64))
    rows = citizens.occupied()
    rng = model.streams.progress
    leaving, kind = _week(rng, rows, rng.random(len(rows)), bundle(Columns, citizens), this_week, params, counts)
    for name, values in counts._asdict().items():
        model.tally.add_totals(name, values)
    municipality = citizens.slot_municipality[leaving]
    for code, name in enumerate(EXITS):
        model.tally.add(f"exits_{name}", municipality[kind == code])
    if len(leaving):
        model.tally.add("exit_spell_weeks", municipality, citizens.spell[leaving])
    early_weeks = casework.early_weeks(model.params)
    if early_weeks:
        model.tally.add("exits_job_early", municipality[(kind == JOB) & (citizens.spell[leaving] < early_weeks)])
    model.people.leave(leaving, kind)


NO_EXIT = -1


@kernel
def _week(rng, rows, exit_draws, c, this_week, p, counts):
    """One week of each citizen in ``rows``, in one pass: health and pressing, exits to job,
    education or out of the labour force, clarification and its decision (the sub-models of ODD 7.3, in order).

    ``exit_draws`` has one uniform number per row (drawn in bulk: cheaper); the rarer
    draws (pressing, decisions) come from ``rng`` as needed. Updates the columns in place,
    adds to ``counts`` and returns the leavers' slots and exit kinds. The formulas are
    helpers of numbers only (see ``abm.compiled``).
    """
    leaving = np.empty(len(rows), dtype=np.int64)
    kind = np.empty(len(rows), dtype=np.int8)
    n_leaving = 0
    for r in range(len(rows)):
        i = slot(rows[r])
        g, m, worker = slot(c.group[i]), slot(c.slot_municipality[i]), c.caseworker[i]  # (worker -1: none)
        early = c.spell[i] < p.early_contact_weeks  # more meetings early in the spell

        # Health and pressing: sick citizens may be pressed to activation (losing health); the others recover.
        # (Whether the draw presses them is not a branch: a third are pressed, which the processor would mispredict.)
        is_pressed = False
        if c.health[i] < p.sick_threshold:
            counts.sick[m] += 1
            press = this_week.early_press[worker] if early else this_week.press[worker]
            is_pressed = rng.random() < press * this_week.press_handling[m]
            counts.sick_pressed[m] += is_pressed
        c.pressed[i] = is_pressed
        health = _health_after(c.health[i], c.health_base[i], is_pressed, p.press_health_damage, p.health_recovery)
        c.health[i] = health
        c.pressed_recent[i] = p.pressed_memory * c.pressed_recent[i] + (1 - p.pressed_memory) * is_pressed

        # Exits to job or education: one uniform draw decides.
        boost = this_week.early_boost[worker] if early else this_week.boost[worker]
        sanction = this_week.early_sanction[worker] if early else this_week.sanction[worker]
        job, education, out = _exit_chances(
            p.job_hazard[g], p.education_hazard[g], p.out_of_labour_force_hazard * sanction if g == 0 else 0.0, boost,
            c.distance_factor[i], health, p.health_mean[g], p.health_effect,
            p.churn_by_changes[g, slot(min(c.changes[i], p.churn_by_changes.shape[1] - 1))], p.early_meeting_boost if early else 1.0,
        )
        exit_kind = NO_EXIT
        draw = exit_draws[r]
        exiting = draw < job + education + out

        # Clarification (when not leaving): progress at the speed of casework; at its end, a
        # decision. Chosen by a select, not a branch: the 54% on the track are a branch the
        # processor mispredicts (the pass took a fifth longer).
        need = c.clarification_need[i]
        clarifying = (need > 0) & (not exiting)
        before = c.clarification[i]
        after = before + boost
        progress = after if clarifying else before
        c.clarification[i] = progress
        if exiting:
            exit_kind = JOB if draw < job else (EDUCATION if draw < job + education else OUT_OF_LABOUR_FORCE)
        elif clarifying & (progress >= need):
            counts.decisions[m] += 1
            counts.decision_weeks[m] += c.spell[i]
            exit_kind = _decision(rng.random(), p.disability_share[g], p.flexjob_share[g], health, p.health_mean[g])
            if exit_kind == NO_EXIT:  # back to the job-ready track
                c.group[i] = 0
                c.distance_factor[i] = _distance_term(c.distance[i], p.distance_mean[0], p.distance_effect)
                c.clarification[i] = 0.0
                c.clarification_need[i] = 0.0

        if exit_kind != NO_EXIT:
            leaving[n_leaving], kind[n_leaving] = i, exit_kind
            n_leaving += 1
    return leaving[:n_leaving], kind[:n_leaving]


# -- The exit model: one implementation for the week (``_week``) and the stationary start (``_stationary``).
# Helpers of numbers only (see ``abm.compiled``).


@kernel
def _exit_chances(job_hazard, education_hazard, out_hazard, boost, distance_factor, health, health_mean, health_effect,
                  churn, meetings):
    """(job, education, out of the labour force) chances this week: base rate x casework x the
    citizen's distance and health; the job chance also x churn (what caseworker changes leave
    of it) x meetings (the early meeting frequency's effect, 1 outside the early weeks)."""
    health_ratio = max(health, 1e-6) / health_mean
    if health_effect != 1.0:
        health_ratio = health_ratio**health_effect
    personal = distance_factor * health_ratio
    return job_hazard * boost * personal * churn * meetings, education_hazard * boost * personal, out_hazard


@kernel
def _exit_chance(job_hazard, education_hazard, out_hazard, boost, distance_factor, health, health_mean, health_effect, churn):
    """The chance of any of those exits this week, outside the early weeks of meetings (at most 1)."""
    job, education, out = _exit_chances(job_hazard, education_hazard, out_hazard, boost, distance_factor, health,
                                        health_mean, health_effect, churn, 1.0)
    return min(job + education + out, 1.0)


@kernel
def _health_after(health, health_base, is_pressed, press_health_damage, health_recovery):
    """This week's health, 0-1: worn down when pressed, else recovering toward the usual level."""
    if is_pressed:
        h = health - press_health_damage
    else:
        h = health + health_recovery * (health_base - health)
    return min(max(h, 0.0), 1.0)


@kernel
def _settled_health(health_base, sick_threshold, press, press_health_damage, rate):
    """Where ``_health_after``'s mean settles for a client pressed with chance ``press`` a week
    while sick (usual health below ``sick_threshold``): the week's expected loss, ``press x
    damage``, equals the expected recovery at ``rate`` = (1 - press) x recovery."""
    if health_base < sick_threshold:
        return max(health_base - press * press_health_damage / max(rate, 1e-12), 0.0)
    return health_base


@kernel
def _expected_health(health_base, settled, rate, weeks):
    """Health after ``weeks`` weeks of ``_health_after`` in expectation, from the usual level toward ``settled``."""
    return settled + (health_base - settled) * (1 - rate) ** weeks


@kernel
def _presence(settle, decision, horizon, job, rest, churn_before, churn_after, back, change_weeks, target):
    """Walk a spell's weeks 0 .. horizon - 1 in segments of constant weekly exit chance: before
    and after the decision week (in the group, then on the job-ready track with chance
    ``back`` of getting there), at the usual health before spell week ``settle`` and the
    settled health after, and between the spell weeks ``change_weeks`` from which each
    caseworker change counts. ``job`` and ``rest`` are the job chance before changes and the
    other exits' chances, each (usual before, settled before, usual after, settled after);
    ``churn_before`` and ``churn_after`` what 0, 1, ... changes leave of the job chance in the
    group and on the job-ready track. Returns (presence: the sum of the chances of still
    being a client in each week, the first week where that running sum exceeds ``target``, or -1).
    """
    total, alive, start, changes = 0.0, 1.0, 0.0, 0
    while start < horizon:
        end = horizon
        if start < settle:
            end = min(end, settle)
        if start < decision:
            end = min(end, decision)
        elif start == decision:
            alive *= back
        while changes < len(change_weeks) and change_weeks[changes] <= start:
            changes += 1
        if changes < len(change_weeks):
            end = min(end, change_weeks[changes])
        which = (0 if start < decision else 2) + (0 if start < settle else 1)
        churn = churn_before[changes] if start < decision else churn_after[changes]
        chance = min(job[which] * churn + rest[which], 1.0)
        weeks, stay = end - start, 1.0 - chance
        part = alive * weeks if stay == 1.0 else alive * (1.0 - stay**weeks) / chance
        if total + part > target:
            if stay == 1.0:
                into = np.floor((target - total) / alive)
            elif stay == 0.0:
                into = 0.0
            else:
                into = np.floor(np.log(1.0 - (target - total) * chance / alive) / np.log(stay))
            return total + part, start + min(max(into, 0.0), weeks - 1.0)
        total += part
        alive *= stay**weeks
        start = end
    return total, -1.0


@kernel
def _geometric_sum(chance, weeks):
    """Sum of (1 - chance)^k for k < weeks: the most weeks a client stays whose weekly exit chance is at least ``chance``
    (a chance is at most 1, as the week's draw treats it: a larger one, possible in extreme configs, is 1)."""
    chance = min(chance, 1.0)
    return weeks if chance <= 0.0 else (1.0 - (1.0 - chance) ** weeks) / chance


@kernel
def _decision_week(need, boost):
    """The spell week of the clarification decision at a constant ``boost`` (infinite without one)."""
    return np.ceil(need / max(boost, 1e-9)) if need > 0 else np.inf


@kernel
def _presence_bounds(p, boost, press, horizon, group, need, health_base):
    """``presence_bound`` of each entrant (``health_base`` empty: not known yet): their exit
    chances at their lowest, as far from the labour market as anyone, at the settled health,
    after as many caseworker changes as lower the job chance."""
    known = len(health_base) > 0
    rate = (1 - press) * p.health_recovery
    farthest = np.empty(len(p.distance_mean))  # the distance term at distance 1, by group
    for g in range(len(farthest)):
        farthest[g] = _distance_term(1.0, p.distance_mean[g], p.distance_effect)
    most_changes = p.churn_by_changes.shape[1] - 1
    bound = np.empty(len(group))
    for i in range(len(group)):
        g = group[i]
        decision = _decision_week(need[i], boost)
        lowest = _settled_health(health_base[i], p.sick_threshold, press, p.press_health_damage, rate) if known else 0.0
        before = p.out_of_labour_force_hazard if g == 0 else 0.0
        if known:
            before = _exit_chance(p.job_hazard[g], p.education_hazard[g], before, boost, farthest[g], lowest,
                                  p.health_mean[g], p.health_effect, p.churn_by_changes[g, most_changes])
        bound[i] = _geometric_sum(before, min(decision, horizon))
        if decision < horizon:
            after = p.out_of_labour_force_hazard
            if known:
                after = _exit_chance(p.job_hazard[0], p.education_hazard[0], after, boost, farthest[0], lowest,
                                     p.health_mean[0], p.health_effect, p.churn_by_changes[0, most_changes])
            bound[i] += _geometric_sum(after, horizon - decision)
    return bound


@kernel
def _disability_chance(disability_share, health, health_mean):
    """The share of decisions granting disability pension, higher in poor health (at most twice ``disability_share``)."""
    return disability_share * min(max((1 - health) / (1 - health_mean), 0.0), 2.0)


@kernel
def _decision(draw, disability_share, flexjob_share, health, health_mean):
    """The end of clarification: disability pension (likelier in poor health), flexjob, or ``NO_EXIT``."""
    disability = _disability_chance(disability_share, health, health_mean)
    if draw < disability:
        return DISABILITY
    if draw < disability + flexjob_share:
        return FLEXJOB
    return NO_EXIT


@kernel
def _stationary(p, boost, press, horizon, group, distance, health_base, need, bound, uniforms, change_weeks):
    """Entrants (group, distance, usual health, clarification need, the spell weeks from which
    their caseworker changes count) in a spell of constant casework (``boost``, pressing
    chance ``press``): whether each is kept (chance presence / ``bound``), the spell week
    drawn for them, their ``STATIONARY_COLUMNS`` at that week and their changes by then (at
    most ``change_weeks``' columns).

    Health follows its expected path: exits use the usual health for the first ``settle``
    weeks of a spell (the health path's time constant) and the settled health after; without
    that the start is healthier than the stock the flows keep, and the status quo drifts
    upward for a decade while the sick accumulate.
    """
    n = len(group)
    kept = np.zeros(n, dtype=np.bool_)
    spell = np.zeros(n, dtype=np.int32)
    changes = np.zeros(n, dtype=np.int32)
    new_group = np.empty(n, dtype=np.int8)
    distance_factor, clarification, clarification_need = np.empty(n), np.empty(n), np.empty(n)
    health, pressed_recent = np.empty(n), np.empty(n)
    rate = (1 - press) * p.health_recovery
    settle = np.ceil(1 / max(rate, 1e-12)) if press > 0 else 0.0
    for i in range(n):
        g, usual = group[i], health_base[i]
        settled = _settled_health(usual, p.sick_threshold, press, p.press_health_damage, rate)
        decision = _decision_week(need[i], boost)
        term = _distance_term(distance[i], p.distance_mean[g], p.distance_effect)
        term_after = _distance_term(distance[i], p.distance_mean[0], p.distance_effect)  # on the job-ready track
        out = p.out_of_labour_force_hazard if g == 0 else 0.0
        job_before, education, out_before = _exit_chances(p.job_hazard[g], p.education_hazard[g], out, boost, term, usual,
                                                          p.health_mean[g], p.health_effect, 1.0, 1.0)
        job_before_settled, education_settled, _ = _exit_chances(p.job_hazard[g], p.education_hazard[g], out, boost, term,
                                                                 settled, p.health_mean[g], p.health_effect, 1.0, 1.0)
        job_after, education_after, out_after = _exit_chances(
            p.job_hazard[0], p.education_hazard[0], p.out_of_labour_force_hazard, boost, term_after, usual, p.health_mean[0],
            p.health_effect, 1.0, 1.0)
        job_after_settled, education_after_settled, _ = _exit_chances(
            p.job_hazard[0], p.education_hazard[0], p.out_of_labour_force_hazard, boost, term_after, settled,
            p.health_mean[0], p.health_effect, 1.0, 1.0)
        job = (job_before, job_before_settled, job_after, job_after_settled)
        rest = (education + out_before, education_settled + out_before, education_after + out_after,
                education_after_settled + out_after)
        back = 0.0
        if decision < horizon:  # the chance the decision sends them back to the job-ready track
            at_decision = _expected_health(usual, settled, rate, decision)
            back = max(1.0 - _disability_chance(p.disability_share[g], at_decision, p.health_mean[g]) - p.flexjob_share[g], 0.0)
        churn_before, churn_after, weeks_of_change = p.churn_by_changes[g], p.churn_by_changes[0], change_weeks[i]
        presence, _ = _presence(settle, decision, horizon, job, rest, churn_before, churn_after, back, weeks_of_change,
                                np.inf)
        if not uniforms[0, i] * bound[i] < presence:
            continue
        _, week = _presence(settle, decision, horizon, job, rest, churn_before, churn_after, back, weeks_of_change,
                            uniforms[1, i] * presence)
        week = horizon - 1.0 if week < 0 else week  # (rounding)
        decided = week >= decision  # and back on the job-ready track
        kept[i] = True
        spell[i] = week
        for change_week in weeks_of_change:
            changes[i] += change_week <= week
        new_group[i] = 0 if decided else g
        distance_factor[i] = term_after if decided else term
        clarification[i] = week * boost if need[i] > 0 and not decided else 0.0
        clarification_need[i] = 0.0 if decided else need[i]
        health[i] = _expected_health(usual, settled, rate, week)
        pressed_recent[i] = press if usual < p.sick_threshold else 0.0
    return kept, spell, new_group, distance_factor, clarification, clarification_need, health, pressed_recent, changes


RULE = Rule("progress", params={"progress": PARAMS}, checks=tuple(CHECKS), citizen_state=CITIZEN_STATE, outputs=OUTPUTS,
            start=init, on_entry=on_entry, apply=apply, on_agent_set={"distance": _distance_set})
