"""Casework: a caseworker's hours are shared over the caseload; time buys meeting quality.

Minutes per citizen per week = casework hours x productivity / caseload. Quality is a
saturating (Hill) function of those minutes, lowered by stress; trainees are less productive.
A citizen waiting for a caseworker gets no casework (quality 0). Contact intensity by spell
stage: clients early in their spell may get several times a client's share of the time,
which leaves less for the others, or is paid as extra hours (``early_contact_paid``, as in
the field trial). Caseworker absence: for a period, a share of the
caseworkers is away each week and their clients' meetings are cancelled.
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel, slot
from abm.declarations import Column, Output, Rule, When, per_municipality
from abm.jobcenter import NO_CASEWORKER
from abm.parameters import FITTED_TO_EXPERIMENTS, PRIOR_OF_THE_FIT, Param
from abm.rules import turnover

PARAMS = {
    "hours_per_week": Param(37.0, "hours", "A caseworker's working week.", "public figure: the Danish standard full-time week of 37 hours", low=1.0, high=80.0),
    "casework_share": Param(
        0.6, "share", "Share of the week left for casework (meetings, preparation, follow-up).", "assumption",
        low=0.01, high=1.0,
        plausible=(0.4, 0.8), plausible_source="assumption: the rest of the week goes to administration and meetings",
    ),
    "half_quality_minutes": Param(
        5.66, "minutes / citizen / week",
        "Time per citizen at which meeting quality is half its maximum.",
        f"calibrated: the {FITTED_TO_EXPERIMENTS}",
        low=0.01, high=1000.0,
        plausible=(1.0, 15.0), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "felt_half_minutes": Param(
        15.0, "minutes / citizen / week",
        "Time per citizen at which a citizen feels half as well served as at unlimited time (felt quality, m / (m + this)): what trust and comparisons follow.",
        "seed 000: 25 min for a whole conversation; the curve the seeds' trust and protest patterns were calibrated on (split from meeting quality, whose curve the exit evidence sets)",
        low=0.01, high=1000.0,
    ),
    "quality_exponent": Param(
        0.722, "", "Steepness of quality in minutes (Hill exponent): quality = m^n / (m^n + half^n). 1 is the plain saturating curve; above 1 quality saturates at ordinary caseloads, so each case removed buys less as caseloads fall (diminishing returns).",
        f"calibrated: the {FITTED_TO_EXPERIMENTS}; prior [0.5, 3], from a plain saturating curve to strongly diminishing returns (assumption)", low=0.1, high=10.0,
        plausible=(0.5, 3.0), plausible_source=PRIOR_OF_THE_FIT,
    ),
    "reference_caseload": Param(
        100.0, "cases / caseworker", "Caseload at which exit hazards take their base values.",
        "seeds 001, 003: ordinary department ~100 cases", low=1.0, high=1000.0,
    ),
    "trainee_weeks": Param(26, "weeks", "Training period of a new hire.", "public figure: union advises ~6 months reduced caseload", low=0, high=520),
    "trainee_productivity": Param(0.5, "share", "Productivity of a new hire at the start of training.", "assumption", low=0.01, high=1.0),
    "early_contact_weeks": Param(
        0, "weeks", "Weeks at the start of a spell in which a client gets early_contact_factor times a client's share of casework time (0 = none).",
        "Maibom, Rosholm & Svarer (2017): fortnightly meetings in the first 13 weeks of a spell",
        low=0, high=520,
    ),
    "early_contact_factor": Param(
        1.0, "x", "Casework time of a client early in the spell relative to the others' (more meetings); the caseworker's hours stay the same, so the others get less.",
        "assumption (1 = every client the same share, the earlier calibration)", low=0.0, high=20.0,
    ),
    "early_contact_paid": Param(
        False, "", "The early clients' time beyond a client's usual share is paid as extra hours (counted as staff cost) instead of coming out of the other clients' time.",
        "Maibom, Rosholm & Svarer (2017) count the extra meetings' cost; their experiment did not take time from the control group", kind="bool",
    ),
    "absence_weeks": Param(
        0, "weeks", "Length of a period of caseworker absence (0 = none).",
        "assumption: caseworker absence as a virtual field trial", low=0, high=5200,
    ),
    "absence_start_week": Param(0, "week", "First week of the absence period.", "assumption", low=0, high=5200),
    "absence_share": Param(
        0.5, "share", "Share of caseworkers away in each week of the period (drawn afresh each week); their clients' meetings are cancelled (quality 0).",
        "assumption", low=0.0, high=1.0,
    ),
    "stress_quality_penalty": Param(0.3, "share", "Quality lost at full stress.", "assumption", low=0.0, high=1.0),
}

CITIZEN_STATE = {"quality": Column(np.float64, 0.0, "felt quality of this week's meeting, what trust follows (0 while waiting)")}
CASEWORKER_STATE = {
    "quality": Column(np.float64, 0.0, "meeting quality this week"),
    "early_quality": Column(np.float64, 0.0, "meeting quality for clients early in their spell (early_contact_weeks)"),
    "paid_extra_share": Column(np.float64, 0.0, "paid extra hours for early meetings this week, as a share of the caseworker's week (early_contact_paid)"),
}


def _trainees(model) -> np.ndarray:
    staff = model.caseworkers
    rows = staff.employed()
    return per_municipality(model, staff.municipality[rows], staff.experience[rows] < model.params.casework.trainee_weeks)


OUTPUTS = (
    Output("trainees", "int", "caseworkers", "caseworkers still in training", measure=_trainees),
    Output("meetings_cancelled", "int", "citizens", "clients whose caseworker is away this week (meetings cancelled)",
           when=When("casework.absence_weeks > 0", lambda config: config.casework.absence_weeks > 0)),
)


def _hill(minutes: np.ndarray | float, half: float, exponent: float) -> np.ndarray | float:
    """(m/half)^n / (1 + (m/half)^n): half at ``half`` minutes; exponent 1 is the plain m / (m + half)."""
    if exponent == 1.0:
        return minutes / (minutes + half)
    scaled = (minutes / half) ** exponent
    return scaled / (scaled + 1.0)


def quality_of_minutes(minutes: np.ndarray | float, p) -> np.ndarray | float:
    """Meeting quality, a Hill curve: with exponent 1, quality as a function of the caseload c is H/(H + half x c),
    convex in c, so every case removed buys more than the one before; above 1 it is an S-curve in log c whose
    marginal effect peaks at a caseload above which cuts pay more and below which they pay less."""
    return _hill(minutes, p.half_quality_minutes, p.quality_exponent)


def reference_quality(params) -> float:
    """Quality an experienced, unstressed caseworker gives at the reference caseload."""
    p = params.casework
    return float(quality_of_minutes(p.hours_per_week * p.casework_share * 60 / p.reference_caseload, p))


def quality_at_caseload(model, caseload: float) -> float:
    """Quality an experienced caseworker gives at ``caseload``, stressed as that caseload makes them."""
    p = model.params.casework
    stress = turnover.stress_at(model, caseload)
    return float(quality_of_minutes(p.hours_per_week * p.casework_share * 60 / caseload, p) * (1 - p.stress_quality_penalty * stress))


def early_weeks(params) -> int:
    """The first weeks of a spell, in which a client counts as early (``early_contact_weeks``; 0: none)."""
    return params.casework.early_contact_weeks


def early_contact(params) -> bool:
    """Whether clients early in their spell get a different share of casework time."""
    p = params.casework
    return p.early_contact_weeks > 0 and p.early_contact_factor != 1.0


def early_meeting_frequency(params) -> float:
    """How often a client in their early weeks meets, relative to the usual schedule (1: as usual)."""
    return params.casework.early_contact_factor if early_contact(params) else 1.0


def caseworker_minutes(model, early_clients: np.ndarray | None = None) -> np.ndarray:
    """Minutes a week each caseworker gives an ordinary client (0 for empty rows).

    With ``early_clients`` (per caseworker) getting ``early_contact_factor`` times a share
    each, the hours are shared over the weighted caseload, unless the early clients' extra
    time is paid (``early_contact_paid``): then the others keep their share.
    """
    p = model.params.casework
    staff = model.caseworkers
    ramp = np.minimum(staff.experience / max(p.trainee_weeks, 1), 1.0) if p.trainee_weeks else 1.0
    productivity = p.trainee_productivity + (1 - p.trainee_productivity) * ramp
    shared = early_clients is not None and not p.early_contact_paid
    caseload = staff.caseload + (p.early_contact_factor - 1) * early_clients if shared else staff.caseload
    minutes = p.hours_per_week * p.casework_share * 60 * productivity / np.maximum(caseload, 1)
    return np.where(staff.active, minutes, 0.0)


def felt_quality_of_minutes(minutes: np.ndarray | float, p) -> np.ndarray | float:
    """How well served a citizen feels: the plain saturating curve in minutes (half at
    ``felt_half_minutes``). Trust and comparisons follow it; exits follow ``quality_of_minutes``."""
    return _hill(minutes, p.felt_half_minutes, 1.0)


def apply(model) -> None:
    """Each caseworker's meeting quality this week (what exits, clarification and pressing
    follow), and each client's felt quality (what trust follows); 0 while waiting or while
    the caseworker is away; empty slots keep 0."""
    p = model.params.casework
    citizens, staff = model.citizens, model.caseworkers
    stress_factor = 1 - p.stress_quality_penalty * staff.stress
    early = _early_clients(citizens.occupied(), citizens.caseworker, citizens.spell, p.early_contact_weeks, staff.size) \
        if early_contact(model.params) else None
    minutes = caseworker_minutes(model, early)
    if early is not None and p.early_contact_paid:  # the early clients' extra time, in weeks of this caseworker's time
        staff.paid_extra_share = np.where(staff.active, (p.early_contact_factor - 1) * early / np.maximum(staff.caseload, 1), 0.0)
    staff.quality = quality_of_minutes(minutes, p) * stress_factor
    felt = felt_quality_of_minutes(minutes, p) * stress_factor
    away = _away_this_week(model)
    staff.quality[away] = felt[away] = 0.0
    if early is None:
        _citizen_quality(citizens.occupied(), citizens.caseworker, felt, citizens.quality)
        return
    early_minutes = minutes * p.early_contact_factor
    staff.early_quality = quality_of_minutes(early_minutes, p) * stress_factor
    early_felt = felt_quality_of_minutes(early_minutes, p) * stress_factor
    staff.early_quality[away] = early_felt[away] = 0.0
    _citizen_quality_by_stage(citizens.occupied(), citizens.caseworker, citizens.spell, p.early_contact_weeks,
                              felt, early_felt, citizens.quality)


def _away_this_week(model) -> np.ndarray:
    """In the absence period, the caseworkers away this week (a share ``absence_share``,
    drawn afresh): their clients' meetings are cancelled."""
    p = model.params.casework
    if not p.absence_start_week <= model.week < p.absence_start_week + p.absence_weeks:
        return np.empty(0, dtype=np.int64)
    staff = model.caseworkers
    rows = staff.employed()
    away = rows[model.streams.absence.random(len(rows)) < p.absence_share]
    model.tally.add("meetings_cancelled", staff.municipality[away], staff.caseload[away])
    return away


@kernel
def _citizen_quality(rows, caseworker, by_caseworker, quality):
    for r in rows:
        i = slot(r)
        quality[i] = by_caseworker[caseworker[i]] if caseworker[i] != NO_CASEWORKER else 0.0


@kernel
def _early_clients(rows, caseworker, spell, early_weeks, n_staff):
    """Each caseworker's clients in the first ``early_weeks`` weeks of their spell."""
    early = np.zeros(n_staff)
    for r in rows:
        i = slot(r)
        if caseworker[i] != NO_CASEWORKER and spell[i] < early_weeks:
            early[caseworker[i]] += 1
    return early


@kernel
def _citizen_quality_by_stage(rows, caseworker, spell, early_weeks, by_caseworker, early_by_caseworker, quality):
    for r in rows:
        i = slot(r)
        if caseworker[i] == NO_CASEWORKER:
            quality[i] = 0.0
        elif spell[i] < early_weeks:
            quality[i] = early_by_caseworker[caseworker[i]]
        else:
            quality[i] = by_caseworker[caseworker[i]]


RULE = Rule("casework", params={"casework": PARAMS}, citizen_state=CITIZEN_STATE, caseworker_state=CASEWORKER_STATE,
            outputs=OUTPUTS, apply=apply)
