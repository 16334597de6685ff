"""Casework: a caseworker's hours are shared over the caseload; time buys meeting quality.

Minutes per citizen per week = casework hours x productivity / caseload. Quality is a
saturating function of those minutes, lowered by stress; trainees are less productive.
A citizen waiting for a caseworker gets no casework (quality 0).
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel
from abm.declarations import Column, Output, per_municipality
from abm.jobcenter import NO_CASEWORKER
from abm.parameters import Param

PARAMS = {
    "hours_per_week": Param(37.0, "hours", "A caseworker's working week.", "Danish standard full-time week", low=1.0, high=80.0),
    "casework_share": Param(
        0.6, "share", "Share of the week left for casework (meetings, preparation, follow-up).", "assumption",
        low=0.01, high=1.0,
    ),
    "half_quality_minutes": Param(
        15.0, "minutes / citizen / week",
        "Time per citizen at which meeting quality is half its maximum.",
        "assumption, so 220 cases leave ~6 min/week (seed 000: 25 min for a whole conversation)",
        low=0.01, high=1000.0,
    ),
    "quality_exponent": Param(
        1.0, "", "Steepness of quality in minutes (Hill exponent): quality = m^n / (m^n + half^n). 1 is the plain saturating curve; above 1 quality saturates at ordinary caseloads, so each case removed buys less as caseloads fall (diminishing returns).",
        "assumption (issue 14: diminishing returns; 1 keeps the earlier calibration)", low=0.1, high=10.0,
    ),
    "reference_caseload": Param(
        100.0, "cases / caseworker", "Caseload at which exit hazards take their base values.",
        "seeds 001, 003: ordinary department ~100 cases", low=1.0, high=1000.0,
    ),
    "trainee_weeks": Param(26, "weeks", "Training period of a new hire.", "public figure: union advises ~6 months reduced caseload", low=0, high=520),
    "trainee_productivity": Param(0.5, "share", "Productivity of a new hire at the start of training.", "assumption", low=0.01, high=1.0),
    "stress_quality_penalty": Param(0.3, "share", "Quality lost at full stress.", "assumption", low=0.0, high=1.0),
}

CITIZEN_STATE = {"quality": Column(np.float64, 0.0, "meeting quality this week (0 while waiting)")}
CASEWORKER_STATE = {"quality": Column(np.float64, 0.0, "meeting quality this week")}


def _trainees(model) -> np.ndarray:
    staff = model.caseworkers
    rows = np.flatnonzero(staff.active)
    return per_municipality(model, staff.municipality[rows], staff.experience[rows] < model.params.casework.trainee_weeks)


OUTPUTS = (Output("trainees", "int", "caseworkers", "caseworkers still in training", measure=_trainees),)


def quality_of_minutes(minutes: np.ndarray | float, p) -> np.ndarray | float:
    """Hill curve: with exponent 1, quality as a function of the caseload c is H/(H + half x c), convex in c,
    so every case removed buys more than the one before; above 1 it is an S-curve in log c whose
    marginal effect peaks at a caseload above which cuts pay more and below which they pay less."""
    if p.quality_exponent == 1.0:
        return minutes / (minutes + p.half_quality_minutes)
    scaled = (minutes / p.half_quality_minutes) ** p.quality_exponent
    return scaled / (scaled + 1.0)


def reference_quality(p) -> float:
    """Quality an experienced, unstressed caseworker gives at the reference caseload."""
    return float(quality_of_minutes(p.hours_per_week * p.casework_share * 60 / p.reference_caseload, p))


def caseworker_quality(model) -> np.ndarray:
    """Meeting quality each caseworker gives this week (0 for empty rows)."""
    p = model.params.casework
    staff = model.caseworkers
    ramp = np.minimum(staff.experience / max(p.trainee_weeks, 1), 1.0) if p.trainee_weeks else 1.0
    productivity = p.trainee_productivity + (1 - p.trainee_productivity) * ramp
    minutes = p.hours_per_week * p.casework_share * 60 * productivity / np.maximum(staff.caseload, 1)
    quality = quality_of_minutes(minutes, p) * (1 - p.stress_quality_penalty * staff.stress)
    return np.where(staff.active, quality, 0.0)


def apply(model) -> None:
    """Each caseworker's quality this week, and so each client's (0 while waiting; empty slots keep 0)."""
    model.caseworkers.quality = caseworker_quality(model)
    citizens = model.citizens
    _citizen_quality(citizens.occupied(), citizens.caseworker, model.caseworkers.quality, citizens.quality)


@kernel
def _citizen_quality(rows, caseworker, by_caseworker, quality):
    for i in rows:
        quality[i] = by_caseworker[caseworker[i]] if caseworker[i] != NO_CASEWORKER else 0.0
