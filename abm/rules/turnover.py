"""Turnover: caseworker stress, quits, recruitment delays and trainees.

Stress moves toward a level set by the caseload above what the hours allow and by media
pressure from protests. Quits have a weekly hazard rising with stress; a quit hands the
cases to colleagues, or to the week's new hires (cases are assigned once, after both).
Open positions (the council's headcount minus staff and hires under way) are advertised
and filled after a recruitment delay; new hires start as trainees.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from abm import jobcenter
from abm.jobcenter import ORDINARY
from abm.declarations import Column, Output, Ratio, Rule, Weighted, per_municipality, ratio
from abm.parameters import Param

PARAMS = {
    "sustainable_caseload": Param(
        60.0, "cases / caseworker",
        "Caseload above which stress rises (below it, stress stays at stress_base). At 60, ordinary caseloads (~100) already stress caseworkers, so investing below them lowers turnover.",
        "seed 000: union recommends at most 55 (activity-ready) and 45 (resource programmes); MODEL.md: stress rises when the caseload is above what the hours allow",
        low=1.0, high=1000.0,
        plausible=(45.0, 80.0), plausible_source="seed 000: the union recommends 45-55; assumption up to 80",
    ),
    "stress_base": Param(0.1, "0-1", "Stress of a caseworker at a sustainable caseload and no protests.", "assumption", low=0.0, high=1.0),
    "stress_load": Param(
        0.3, "stress", "Stress added per unit of caseload above sustainable (relative).",
        "calibrated: ~24% of social workers often or always stressed (2023; MODEL.md base rates, publisher not named)", low=0.0, high=10.0,
    ),
    "stress_media": Param(0.2, "stress", "Stress added at full media pressure.", "assumption (direction: seed 004, protests weigh on staff)", low=0.0, high=10.0),
    "stress_adjust": Param(0.05, "per week", "Speed at which stress follows its level.", "assumption", low=0.0, high=1.0),
    "quit_base": Param(
        0.0018, "per week", "Weekly quit hazard at zero stress.",
        "calibrated: targets/denmark.toml, 2026-12-02: 14-15% yearly turnover of municipal social workers in ordinary years (Dansk Socialrådgiverforening)", low=0.0, high=1.0,
        plausible=(0.001, 0.003), plausible_source="assumption: 5-15% yearly quits without stress, around the calibrated 9%",
    ),
    "quit_stress": Param(
        1.46, "log-hazard / stress", "Rise of the log quit hazard with stress.",
        "calibrated: targets/denmark.toml, 2026-12-02: 25-35% yearly turnover reported in overloaded units (Dansk Socialrådgiverforening), taken at 200 cases", low=0.0, high=20.0,
        plausible=(0.5, 4.0), plausible_source="assumption: about a third to 2.7 times the calibrated 1.46 (fitted to the 25-35% turnover of overloaded units, Dansk Socialrådgiverforening)",
    ),
    "rebalance_tolerance": Param(
        0.2, "share", "When staff arrive, cases move only from colleagues above an even share by more than this.",
        "assumption: new hires build their caseload mostly from new cases", low=0.0, high=10.0,
    ),
    "recruitment_weeks": Param(12, "weeks", "Time from an opening to the new hire starting.", "assumption", low=0, high=520, plausible=(4, 26), plausible_source="assumption: one to six months to fill a position"),
    "initial_experience_weeks": Param(
        520, "weeks", "Caseworkers at the start have served up to this many weeks (uniformly).", "assumption", low=1, high=5200,
    ),
}

CASEWORKER_STATE = {
    "experience": Column(np.int32, 0, "weeks since hired", agent="write", low=0),
    "stress": Column(np.float64, 0.0, "stress, 0-1", agent="write", low=0.0, high=1.0),
}


def _stress_mean(model) -> np.ndarray:
    staff = model.caseworkers
    rows = staff.employed()
    municipality = staff.municipality[rows]
    return ratio(per_municipality(model, municipality, staff.stress[rows]), per_municipality(model, municipality))


OUTPUTS = (
    Output("stress_mean", "float", "0-1", "mean stress of the caseworkers", national=Weighted("caseworkers"), measure=_stress_mean,
           summary=("final_year",)),
    Output("hires", "int", "caseworkers", "new caseworkers starting this week", summary=("per_year",)),
    Output("quits", "int", "caseworkers", "caseworkers quitting this week"),
    Output("turnover_annualised", "float", "quits / caseworker-year", "quits x 52 / caseworkers (annualised_turnover)",
           national=Ratio("quits", "caseworkers", 52.0),
           measure=lambda model: annualised_turnover(model.tally.values["quits"], per_municipality(
               model, model.caseworkers.municipality[model.caseworkers.active]))),
    Output("recruiting", "int", "positions", "recruitments under way",
           measure=lambda model: per_municipality(model, model.recruitment.municipality)),
)


TURNOVER_WINDOW = 52
"""Weeks that plotted turnover sums quits and caseworkers over (one week is too noisy to read)."""


def annualised_turnover(quits, caseworker_weeks):
    """Caseworker turnover: quits per caseworker-year, ``quits x 52 / caseworker-weeks``.

    The one definition of turnover: both are summed over the same window, stated where it
    is used (one week in the weekly table and the DataCollector, ``TURNOVER_WINDOW`` weeks
    in plots, the whole run in the summary). Numbers or numpy arrays (NaN without
    caseworkers) or polars expressions (null without caseworkers).
    """
    if isinstance(caseworker_weeks, pl.Expr):
        return pl.when(caseworker_weeks > 0).then(quits * 52 / caseworker_weeks)
    caseworker_weeks = np.asarray(caseworker_weeks, dtype=float)
    return np.divide(np.asarray(quits, dtype=float) * 52, caseworker_weeks, out=np.full(caseworker_weeks.shape, np.nan),
                     where=caseworker_weeks > 0)


def stress_level(p, caseload: np.ndarray, media_pressure: np.ndarray | float) -> np.ndarray:
    """The stress a caseload (and media pressure) pushes a caseworker toward, 0-1.

    Only the caseload above ``sustainable_caseload`` stresses: that threshold decides whether
    the status quo's stress channel (stress -> quality, quits, caseworker changes) acts at
    ordinary caseloads or only in overload.
    """
    return np.clip(p.stress_base + p.stress_load * np.maximum(caseload / p.sustainable_caseload - 1, 0)
                   + p.stress_media * media_pressure, 0.0, 1.0)


def stress_at(model, caseload: float) -> float:
    """The stress a steady ``caseload`` settles a caseworker at, without media pressure."""
    return float(stress_level(model.params.turnover, np.array([caseload]), 0.0)[0])


def quit_chance(p, stress):
    """A caseworker's weekly chance of quitting: ``quit_base`` x exp(``quit_stress`` x stress),
    at most 1 (a chance: extreme configs give a hazard above it, a certain quit)."""
    return np.minimum(p.quit_base * np.exp(p.quit_stress * stress), 1.0)


def quit_chance_at(model, caseload: float) -> float:
    """The weekly quit chance at a steady ``caseload``; a quit hands all of the caseworker's
    cases on, so it is also each client's weekly chance of a caseworker change there."""
    return float(quit_chance(model.params.turnover, stress_at(model, caseload)))


def init(model, start) -> None:
    """The starting staff of the councils' ordinary positions: stressed by their municipality's
    caseload (``start.clients`` per position), of every seniority."""
    p = model.params.turnover
    rng = model.streams.build
    headcount = model.councils.ordinary_positions()
    load_by_municipality = start.clients / np.maximum(headcount, 1)
    rows = model.caseworkers.free_slots(int(headcount.sum()))
    municipality = np.repeat(np.arange(model.n_municipalities), headcount)
    stress = stress_level(p, load_by_municipality, 0.0)
    model.caseworkers.employ(rows, {
        "municipality": municipality, "unit": ORDINARY,
        "experience": rng.integers(0, p.initial_experience_weeks, len(rows)), "stress": stress[municipality],
    })


def apply(model) -> None:
    p = model.params.turnover
    staff = model.caseworkers
    rows = staff.employed()
    level = stress_level(p, staff.caseload[rows], model.councils.media_pressure[staff.municipality[rows]])
    staff.stress[rows] += p.stress_adjust * (level - staff.stress[rows])
    staff.experience[rows] += 1

    hazard = quit_chance(p, staff.stress[rows])
    jobcenter.remove_caseworkers(model, rows[model.streams.turnover.random(len(rows)) < hazard], "quits")

    recruitment = model.recruitment
    municipality, unit = recruitment.take(keep=recruitment.due_week > model.week)
    hire(model, municipality, unit)
    jobcenter.assign_waiting(model)  # the quitters' clients and the cases rebalanced to the new hires
    advertise_openings(model)


def hire(model, municipality: np.ndarray, unit: np.ndarray) -> None:
    """New caseworkers start, as trainees at ``stress_base``; their departments are rebalanced, the moved cases wait."""
    if len(municipality) == 0:
        return
    jobcenter.employ(model, municipality, unit, {"experience": 0, "stress": model.params.turnover.stress_base})
    model.tally.add("hires", municipality)
    rebalance(model, np.unique(jobcenter.department(municipality, unit)))


def rebalance(model, departments: np.ndarray) -> None:
    """Staff arrived in these departments: cases beyond ``rebalance_tolerance`` above an even share move (``jobcenter.rebalance``)."""
    jobcenter.rebalance(model, departments, model.params.turnover.rebalance_tolerance)


def advertise_openings(model) -> None:
    """Open a recruitment for every position not filled nor being filled."""
    n_departments = jobcenter.department_count(model)
    staff = model.caseworkers
    filled = np.bincount(staff.department()[staff.active], minlength=n_departments)
    openings = np.maximum(model.councils.headcount.ravel() - filled - model.recruitment.count(n_departments), 0)
    if openings.sum() == 0:
        return
    department = np.repeat(np.arange(n_departments), openings)
    due = np.full(len(department), model.week + model.params.turnover.recruitment_weeks)
    model.recruitment.add(department // 2, department % 2, due)


RULE = Rule("turnover", params={"turnover": PARAMS}, caseworker_state=CASEWORKER_STATE, outputs=OUTPUTS, start=init, apply=apply)
