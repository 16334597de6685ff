"""Councils: the budget cycle's headcount decision under each strategy, pilots and in-office trials.

Every council follows a strategy, named in ``council.strategy``, ``council.strategy_mix``
or ``council.strategy_by_municipality`` and looked up in the registry (:mod:`abm.strategies`,
where the built-in strategies are defined). Councils set the number of positions per unit
(``headcount``) and the jobcenter fills or cuts to it. This module declares the council's
rule (its parameters, outputs and hooks) and its week; the jobs are in their own modules:

- :mod:`~abm.rules.council.councils`: the councils' table and their start;
- :mod:`~abm.rules.council.budget`: the budget decision (and the burn-in's steady caseload);
- :mod:`~abm.rules.council.pilot`: pilot units in the jobcenter's second unit;
- :mod:`~abm.rules.council.trial`: the in-office trial (treatment in the second unit);
- :mod:`~abm.rules.council.layoffs`: cutting staff to the positions paid for.
"""

from __future__ import annotations

import numpy as np

from abm import strategies
from abm.declarations import Output, Rule
from abm.parameters import Param
from abm.rules.council import budget, councils, pilot, trial

OBJECTIVES = ("net_cost", "trust", "protests", "unemployment")
TRIAL_CLIENTS = ("both", "stock", "entrants")
TRIAL_STAFF = ("experienced", "new_hires")

PARAMS = {
    "strategy": Param(
        "status_quo", "", "Strategy of every council (unless strategy_mix is given): a registered strategy.", "assumption: the status quo unless a config says otherwise (MODEL.md strategy table)",
        choices=strategies.names,
    ),
    "strategy_mix": Param(
        [], "", "Strategies given to the municipalities in turn (first to the first, ...); empty = all follow strategy.",
        "assumption", choices=strategies.names, kind="list[str]",
    ),
    "strategy_by_municipality": Param(
        {}, "", "Strategy of named municipalities, e.g. {\"Høje-Taastrup\" = \"invest\"}; overrides strategy and strategy_mix for them.",
        "assumption", choices=strategies.names, kind="table[str]",
    ),
    "initial_caseload": Param(
        100.0, "cases / caseworker", "Caseload councils start from (mean over municipalities).",
        "seeds 000-003: Copenhagen ~90 overall, ordinary departments 100-120", low=1.0, high=1_000_000.0,
        plausible=(60.0, 150.0), plausible_source="seeds 000-003: Copenhagen ~90, ordinary departments 100-120; Hainmueller et al. (2016): 150 before",
    ),
    "initial_caseload_by_municipality": Param(
        {}, "cases / caseworker", "Starting caseload of named municipalities, e.g. {\"Høje-Taastrup\" = 120}; others start from initial_caseload.",
        "assumption", low=1.0, high=1_000_000.0, kind="table[float]",
    ),
    "initial_caseload_spread": Param(
        0.15, "share", "Municipalities start within +/- this share of the initial caseload.",
        "assumption (seed 001: caseloads differ between municipalities)", low=0.0, high=0.9,
        plausible=(0.05, 0.3), plausible_source="assumption (seed 001: caseloads differ between municipalities)",
    ),
    "budget_cycle_weeks": Param(52, "weeks", "Weeks between headcount decisions.", "yearly municipal budget", low=1, high=5200),
    "first_decision_week": Param(0, "week", "Week of the first decision (strategies act from here).", "assumption", low=0, high=5200),
    "caseload_target": Param(
        55.0, "cases / caseworker", "Caseload the invest strategy hires to.",
        "seed 000: union's recommended maximum for activity-ready clients", low=1.0, high=1000.0,
        plausible=(40.0, 150.0), plausible_source="seed 000: the union recommends 45-55; Hainmueller et al. (2016): offices at 70 to 150 cases",
    ),
    "min_caseload": Param(
        40.0, "cases / caseworker", "No council hires below this caseload, whatever its strategy.",
        "seed 000: lowest recommended maximum is 45 (resource programmes)", low=1.0, high=1000.0,
    ),
    "austerity_rate": Param(
        0.10, "share / year", "Share of positions the austerity strategy cuts each budget cycle.",
        "assumption (seeds 001, 004: resources taken as savings)", low=0.0, high=1.0,
        plausible=(0.0, 0.2), plausible_source="assumption (seeds 001, 004: savings taken from staff, at most a fifth a year)",
    ),
    "max_headcount_factor": Param(
        3.0, "x", "A council never pays for more than this multiple of its initial positions.", "assumption", low=0.0, high=100.0,
    ),
    "pilot_share": Param(
        0.2, "share", "Share of clients placed in the pilot unit.", "assumption (seed 002: the Høje-Taastrup pilot served part of the citizens)", low=0.0, high=1.0,
    ),
    "pilot_caseload": Param(60.0, "cases / caseworker", "Caseload of the pilot unit (and after scaling).", "seed 002: max 60 cases", low=1.0, high=1000.0, plausible=(40.0, 80.0), plausible_source="seed 002: the Høje-Taastrup pilot's 60 cases, assumption +/- 20"),
    "pilot_evaluation_weeks": Param(78, "weeks", "Pilot length before it is evaluated.", "seed 002: result after 1.5 years", low=1, high=5200),
    "pilot_win_margin": Param(
        0.0, "share", "Pilot is scaled up if its exit rate beats the rest by more than this share (0 = if it wins).",
        "assumption (MODEL.md: scaled to everyone if it wins; the margin is ours)", low=-1.0, high=10.0,
    ),
    "trial_weeks": Param(
        0, "weeks", "Length of an in-office trial in every municipality not running pilot_then_scale (0 = no trial).",
        "Böheim, Eppel & Mahringer (2023): a randomised share of an office's clients served at a lower caseload", low=0, high=5200,
    ),
    "trial_start_week": Param(0, "week", "Week the trial starts (clients are randomised then).", "assumption", low=0, high=5200),
    "trial_share": Param(0.5, "share", "Share of clients randomised into the trial's treatment unit.", "assumption", low=0.0, high=1.0),
    "trial_caseload": Param(
        70.0, "cases / caseworker", "Caseload of the treatment unit (its positions follow its clients).",
        "Hainmueller et al. (2016): caseloads about 1:150 -> 1:70", low=1.0, high=1000.0,
    ),
    "trial_clients": Param(
        "both", "", "Who is randomised: the clients at the start (stock), only those entering during the trial, or both.",
        "Böheim, Eppel & Mahringer (2023) randomised both the stock and the entrants", choices=TRIAL_CLIENTS,
    ),
    "trial_staff": Param(
        "experienced", "",
        "Who staffs the treatment unit: caseworkers moved from the control unit (then new hires for the rest), or new hires only (the control's excess is laid off).",
        "assumption", choices=TRIAL_STAFF,
    ),
    "trial_merge_at_end": Param(
        False, "", "At the end, merge the treatment unit into the ordinary one (else its clients finish their spells there).",
        "assumption: no reassignment at the end unless asked",
    ),
    "responsive_threshold": Param(0.3, "media pressure", "Media pressure at which a responsive council hires.", "assumption", low=0.0, high=1.0),
    "responsive_step": Param(0.15, "share", "Share of positions a responsive council adds under pressure.", "assumption", low=0.0, high=10.0),
    "responsive_budget_factor": Param(
        1.1, "x", "A responsive council's staff budget relative to its initial staff cost; it cuts when over.", "assumption",
        low=0.0, high=100.0,
    ),
    "imitate_objective": Param(
        "net_cost", "", "What imitating councils compare peers on (per inhabitant, over the last cycle).",
        "assumption (seed 001: policy diffusion, two thirds of municipalities cut caseloads)", choices=OBJECTIVES,
    ),
}

OUTPUTS = (
    Output("clients_pilot", "int", "citizens", "clients in a pilot unit", measure=lambda model: model.census.pilot),
    Output("positions", "int", "positions", "positions the council pays for",
           measure=lambda model: model.councils.headcount.sum(axis=1)),
    Output("layoffs", "int", "caseworkers", "caseworkers laid off this week", summary=("per_year",)),
    *trial.OUTPUTS,
)


def starting_caseload(model) -> float:
    """The caseload the jobcenters start at nationally (``initial_caseload``, before any by name or spread)."""
    return model.params.council.initial_caseload


def apply(model) -> None:
    """Weekly bookkeeping; at the budget cycle, each council sets its headcount by its strategy;
    a trial holds its units' caseloads."""
    if model.week < 0:
        budget.hold_starting_caseload(model)
        return
    budget.track(model)
    if budget.is_decision_week(model):
        budget.decide(model)
    if model.params.council.trial_weeks > 0:
        trial.week(model)


def _entering_unit(model, slots: np.ndarray, rng: np.random.Generator) -> None:
    """Citizens entering these slots join a running pilot or trial's treatment unit by one draw each."""
    municipality = model.citizens.slot_municipality[slots]
    draw = rng.random(len(slots))
    unit = pilot.entering_unit(model, municipality, draw)
    model.citizens.unit[slots] = trial.entering_unit(model, municipality, draw, unit)


RULE = Rule("council", params={"council": PARAMS}, outputs=OUTPUTS, start=councils.init, on_entry=_entering_unit,
            on_exit=trial.count_exits_by_unit, apply=apply)
