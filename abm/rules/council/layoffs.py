"""Layoffs: when a council pays for fewer positions than are filled or being filled."""

from __future__ import annotations

import numpy as np

from abm import jobcenter


def enforce_headcount(model) -> None:
    """Cut to the new positions: cancel hires under way first, then lay off at random."""
    n_departments = jobcenter.department_count(model)
    positions = model.councils.headcount.ravel()
    staff, recruitment = model.caseworkers, model.recruitment
    rows = staff.employed()
    row_department = staff.department()[rows]
    filled = np.bincount(row_department, minlength=n_departments)
    pending = recruitment.count(n_departments)
    excess = filled + pending - positions
    if not np.any(excess > 0):
        return
    department = jobcenter.department(recruitment.municipality, recruitment.unit)
    order = np.argsort(department, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(department[order], department[order])
    recruitment.take(keep=rank >= np.maximum(excess, 0)[department])
    excess = np.maximum(excess - pending, 0)
    order = np.lexsort((model.streams.council.random(len(rows)), row_department))
    rows, row_department = rows[order], row_department[order]
    rank = np.arange(len(rows)) - np.searchsorted(row_department, row_department)
    jobcenter.remove_caseworkers(model, rows[rank < excess[row_department]], "layoffs")
    jobcenter.assign_waiting(model)
