"""Pilot units: a council moves a share of its clients into the jobcenter's second unit,
staffed at a lower caseload, follows the two units' exits, and later merges them.

The ``pilot_then_scale`` strategy (:mod:`abm.strategies.built_in`) runs a pilot with these
steps; an in-office trial (:mod:`abm.rules.council.trial`) uses the same second unit.
"""

from __future__ import annotations

import numpy as np

from abm import jobcenter
from abm.jobcenter import ORDINARY, SECOND
from abm.rules import turnover

PILOT_UNIT = SECOND
"""A pilot's clients and caseworkers are in the jobcenter's second unit."""

NOT_STARTED, RUNNING, SCALED, STOPPED = 0, 1, 2, 3
PHASES = ("not started", "running", "scaled", "stopped")
"""A council's pilot phase (``councils.pilot_phase``), by its code."""


def entering_unit(model, municipality: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """The unit of citizens entering in ``municipality``: a share ``pilot_share`` (``draw`` below it) joins a running pilot."""
    piloting = model.councils.pilot_phase[municipality] == RUNNING
    return np.where(piloting & (draw < model.params.council.pilot_share), PILOT_UNIT, ORDINARY)


def start(model, municipalities: np.ndarray, p) -> None:
    """Move a share ``pilot_share`` of clients into a pilot unit staffed at once at ``pilot_caseload``."""
    citizens = model.citizens
    in_town = np.isin(citizens.slot_municipality, municipalities) & citizens.active
    chosen = np.flatnonzero(in_town & (model.streams.council.random(citizens.size) < p.pilot_share))
    jobcenter.detach(model, chosen)
    citizens.unit[chosen] = PILOT_UNIT
    model.councils.pilot_phase[municipalities] = RUNNING
    pilot_clients = np.bincount(citizens.slot_municipality[chosen], minlength=model.n_municipalities)
    model.councils.headcount[municipalities, PILOT_UNIT] = np.ceil(pilot_clients[municipalities] / p.pilot_caseload)
    positions = model.councils.headcount[municipalities, PILOT_UNIT]
    turnover.hire(model, np.repeat(municipalities, positions), np.full(positions.sum(), PILOT_UNIT))
    jobcenter.assign_waiting(model)


def track(model, p) -> None:
    """Weekly: the running pilots' exits and client-weeks by unit, for their evaluation."""
    councils = model.councils
    running = councils.pilot_phase == RUNNING
    councils.pilot_client_weeks[running] += model.census.by_department()[running]
    councils.pilot_exits[running] += model.tally.exits_by_department.reshape(-1, 2)[running]


def merge_second_units(model, municipalities: np.ndarray) -> None:
    """End the second units (a pilot's, or a trial's that merges at its end): their clients
    and caseworkers join the ordinary unit, with its positions."""
    citizens, staff, councils = model.citizens, model.caseworkers, model.councils
    citizens.unit[np.isin(citizens.slot_municipality, municipalities)] = ORDINARY
    staff.unit[np.isin(staff.municipality, municipalities)] = ORDINARY
    councils.headcount[municipalities, ORDINARY] += councils.headcount[municipalities, SECOND]
    councils.headcount[municipalities, SECOND] = 0
    keep = ~np.isin(model.recruitment.municipality, municipalities) | (model.recruitment.unit == ORDINARY)
    model.recruitment.take(keep)
    turnover.rebalance(model, jobcenter.department(municipalities, ORDINARY))
    jobcenter.assign_waiting(model)
