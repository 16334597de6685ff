"""An in-office trial (``council.trial_weeks`` > 0): a randomised share of clients is served
in a treatment unit (the jobcenter's second unit) at ``trial_caseload`` while the ordinary
unit, the control, keeps the caseload it had, for a fixed period, with nothing scaled up.
It runs in every municipality whose council does not use the second unit for its own
strategy (a pilot), and overrides the council's strategy there while it lasts.
"""

from __future__ import annotations

import numpy as np

from abm import jobcenter
from abm.declarations import Output, Weighted, When, per_municipality, ratio
from abm.jobcenter import ORDINARY, SECOND
from abm.rules import costs, turnover
from abm.rules.council.layoffs import enforce_headcount
from abm.rules.council.pilot import merge_second_units
from abm.rules.progress import EXITS, OUT_OF_LABOUR_FORCE_ON

TREATMENT = SECOND
"""The trial's treated clients and their caseworkers are in the jobcenter's second unit."""

ON = When("council.trial_weeks > 0", lambda config: config.council.trial_weeks > 0)
_ON_WITH_OUT_OF_LABOUR_FORCE = When(f"{ON.doc} and {OUT_OF_LABOUR_FORCE_ON.doc}",
                                    lambda config: ON.holds(config) and OUT_OF_LABOUR_FORCE_ON.holds(config))
UNITS = {"control": ORDINARY, "trial": TREATMENT}
"""The trial's units by the prefix of their outputs: the ordinary unit is the control."""


def _unit_rows(model, unit: int) -> np.ndarray:
    staff = model.caseworkers
    rows = staff.employed()
    return rows[staff.unit[rows] == unit]


def _unit_caseworkers(model, unit: int) -> np.ndarray:
    return per_municipality(model, model.caseworkers.municipality[_unit_rows(model, unit)])


def _unit_caseload(model, unit: int) -> np.ndarray:
    staff = model.caseworkers
    rows = _unit_rows(model, unit)
    return ratio(per_municipality(model, staff.municipality[rows], staff.caseload[rows]), _unit_caseworkers(model, unit))


def _unit_outputs(prefix: str, unit: int, label: str) -> tuple[Output, ...]:
    return (
        Output(f"{prefix}_clients", "int", "citizens", f"clients in the {label}",
               measure=lambda model: model.census.by_department()[:, unit], when=ON),
        *(Output(f"{prefix}_exits_{kind}", "int", "citizens", f"exits ({kind}) from the {label} this week",
                 when=_ON_WITH_OUT_OF_LABOUR_FORCE if kind == "out_of_labour_force" else ON) for kind in EXITS),
        Output(f"{prefix}_caseworkers", "int", "caseworkers", f"caseworkers of the {label}",
               measure=lambda model: _unit_caseworkers(model, unit), when=ON),
        Output(f"{prefix}_caseload", "float", "cases / caseworker", f"realised caseload of the {label}",
               national=Weighted(f"{prefix}_caseworkers"), measure=lambda model: _unit_caseload(model, unit), when=ON),
        Output(f"{prefix}_net_cost", "float", "DKK", f"benefits and staff of the {label} this week",
               measure=lambda model: costs.unit_cost(model, unit), when=ON),
    )


OUTPUTS = (
    *_unit_outputs("trial", TREATMENT, "trial's treatment unit"),
    *_unit_outputs("control", ORDINARY, "ordinary unit (the trial's control)"),
)


def count_exits_by_unit(model, slots: np.ndarray, kind: np.ndarray) -> None:
    """The week's leavers (in ``slots``, by exit code ``kind``) counted per unit and kind of exit."""
    if model.params.council.trial_weeks == 0:
        return  # not recorded
    citizens = model.citizens
    municipality, unit = citizens.slot_municipality[slots], citizens.unit[slots]
    for prefix, code in UNITS.items():
        in_unit = unit == code
        for exit_code, name in enumerate(EXITS):
            model.tally.add(f"{prefix}_exits_{name}", municipality[in_unit & (kind == exit_code)])


def running(model) -> bool:
    p = model.params.council
    return p.trial_weeks > 0 and p.trial_start_week <= model.week < p.trial_start_week + p.trial_weeks


def municipalities(model) -> np.ndarray:
    """Where a trial runs (a mask): every municipality whose council's strategy leaves the second unit free."""
    return np.array([not strategy.uses_second_unit for strategy in model.councils.followed], dtype=bool)[model.councils.strategy]


def entering_unit(model, municipality: np.ndarray, draw: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """The unit of citizens entering in ``municipality``: a share ``trial_share`` (``draw`` below it)
    joins the treatment unit of a running trial that randomises entrants, the others ``unit``."""
    p = model.params.council
    if p.trial_clients == "stock" or not running(model):
        return unit
    return np.where(municipalities(model)[municipality] & (draw < p.trial_share), TREATMENT, unit)


def week(model) -> None:
    """A trial's week: it starts, holds both units' caseloads while it runs, then winds down
    (the treatment unit keeps its clients at its caseload until they leave, the control its
    caseload until then) or merges if asked. It overrides the council's strategy."""
    p = model.params.council
    towns = np.flatnonzero(municipalities(model))
    end = p.trial_start_week + p.trial_weeks
    if model.week < p.trial_start_week or len(towns) == 0 or (model.week > end and p.trial_merge_at_end):
        return
    if model.week == p.trial_start_week:
        _start(model, towns)
    if model.week == end and p.trial_merge_at_end:
        merge_second_units(model, towns)
        return
    councils = model.councils
    clients = model.citizens.census().by_department()
    held = towns[(model.week < end) | (clients[towns, TREATMENT] > 0)]  # then the council's strategy sets it again
    councils.headcount[held, ORDINARY] = np.ceil(clients[held, ORDINARY] / councils.control_caseload[held])
    councils.headcount[towns, TREATMENT] = np.ceil(clients[towns, TREATMENT] / p.trial_caseload)
    enforce_headcount(model)
    if model.week < end:  # the experiment keeps its unit staffed: openings are filled at once, not after recruiting
        staff = model.caseworkers
        filled = np.bincount(staff.municipality[_unit_rows(model, TREATMENT)], minlength=model.n_municipalities)
        missing = np.maximum(councils.headcount[towns, TREATMENT] - filled[towns], 0)
        model.recruitment.take(keep=(model.recruitment.unit != TREATMENT) | ~np.isin(model.recruitment.municipality, towns))
        turnover.hire(model, np.repeat(towns, missing), np.full(missing.sum(), TREATMENT))
        jobcenter.assign_waiting(model)


def _start(model, towns: np.ndarray) -> None:
    """Randomise clients into the treatment unit; with experienced staff, move the control's
    caseworkers beyond its positions there (``week`` then sets both units' positions and hires the rest)."""
    p = model.params.council
    citizens, staff, councils = model.citizens, model.caseworkers, model.councils
    before = citizens.census().by_department()[:, ORDINARY]
    ordinary_staff = np.bincount(staff.municipality[_unit_rows(model, ORDINARY)], minlength=model.n_municipalities)
    councils.control_caseload[towns] = np.maximum(before[towns], 1) / np.maximum(ordinary_staff[towns], 1)
    if p.trial_clients != "entrants":
        in_town = np.isin(citizens.slot_municipality, towns) & citizens.active
        treat = in_town & (model.streams.trial.random(citizens.size) < p.trial_share)
        # Both arms are set: the week's entrants, randomised at entry, are randomised once more as stock.
        jobcenter.detach(model, np.flatnonzero(in_town & (treat != (citizens.unit == TREATMENT))))
        citizens.unit[in_town] = np.where(treat[in_town], TREATMENT, ORDINARY)
        if model.spell_log is not None:  # the log follows both arms of the stock from here
            stock = np.flatnonzero(in_town)
            model.spell_log.randomised(model.week, citizens.person[stock], citizens.unit[stock])
    treated = np.bincount(citizens.slot_municipality[citizens.active & (citizens.unit == TREATMENT)], minlength=model.n_municipalities)
    positions = np.ceil(treated / p.trial_caseload).astype(np.int64)
    control_positions = np.ceil((before - treated) / np.maximum(councils.control_caseload, 1e-9)).astype(np.int64)
    if p.trial_staff == "experienced":  # the control's caseworkers beyond its positions move to the treatment unit
        movers = np.minimum(np.maximum(ordinary_staff - control_positions, 0), positions)
        rows = _unit_rows(model, ORDINARY)
        rows = rows[np.isin(staff.municipality[rows], towns)]
        order = np.lexsort((model.streams.trial.random(len(rows)), staff.municipality[rows]))
        rows = rows[order]
        rank = np.arange(len(rows)) - np.searchsorted(staff.municipality[rows], staff.municipality[rows])
        jobcenter.move_caseworkers(model, rows[rank < movers[staff.municipality[rows]]], TREATMENT)
