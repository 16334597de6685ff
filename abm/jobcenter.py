"""The jobcenter's case allocation: who is whose caseworker.

A department is a municipality's ordinary unit or its second unit (a pilot's, or a trial's treatment unit; ``department(m, unit)``). Citizens waiting for a caseworker (newcomers, those whose caseworker quit or was
laid off, movers, those moved by a rebalancing) are given the least-loaded caseworkers of
their department. Every reassignment of a citizen who had a caseworker counts as a
caseworker change: the churn citizens suffer.
"""

from __future__ import annotations

import numpy as np

from abm.compiled import kernel, slot
from abm.declarations import Column, Output, Ratio, Rule, Weighted, group_quantile, per_municipality, ratio

NO_CASEWORKER = -1
KEEP_ALL = np.iinfo(np.int64).max  # ``rebalance``: a department that moves none of its cases

ORDINARY, SECOND = 0, 1
"""A jobcenter's two units: the ordinary department, and a second unit that a council's pilot
or an in-office trial's treatment staffs at a lower caseload (empty otherwise)."""

CITIZEN_STATE = {
    "unit": Column(np.int8, ORDINARY, "0 ordinary department, 1 second unit (a pilot's or a trial's treatment)"),
    "caseworker": Column(np.int32, NO_CASEWORKER, "row of the caseworker, -1 while waiting for one", agent="hidden"),
    "changes": Column(np.int16, 0, "caseworker changes in this spell", agent="write", low=0),
    "changed": Column(bool, False, "caseworker changed this week (set by the jobcenter)"),
}

CASEWORKER_STATE = {
    "active": Column(bool, False, "whether the row holds a caseworker", agent="hidden"),
    "municipality": Column(np.int32, -1, "municipality of the jobcenter"),
    "unit": Column(np.int8, ORDINARY, "0 ordinary department, 1 second unit (a pilot's or a trial's treatment)"),
    "caseload": Column(np.int32, 0, "citizens assigned (refreshed after every reassignment)"),
    "hired_id": Column(np.int64, -1, "one id per employment, so a Mesa agent can follow the caseworker", agent="hidden"),
}


def _staff(model) -> tuple[np.ndarray, np.ndarray]:
    """The employed caseworkers' rows and municipalities."""
    staff = model.caseworkers
    rows = staff.employed()
    return rows, staff.municipality[rows]


def caseworkers_per_municipality(model) -> np.ndarray:
    return per_municipality(model, _staff(model)[1])


def _caseload_mean(model) -> np.ndarray:
    rows, municipality = _staff(model)
    return ratio(per_municipality(model, municipality, model.caseworkers.caseload[rows]), per_municipality(model, municipality))


def _caseload_p90(model) -> np.ndarray:
    rows, municipality = _staff(model)
    return group_quantile(municipality, model.caseworkers.caseload[rows], model.n_municipalities, 0.9)


OUTPUTS = (
    Output("caseworkers", "int", "caseworkers", "staff employed at the end of the week", measure=caseworkers_per_municipality),
    Output("caseload_mean", "float", "cases / caseworker", "mean cases per caseworker",
           national=Ratio(("clients", "waiting_for_caseworker"), "caseworkers"), measure=_caseload_mean),
    Output("caseload_p90", "float", "cases / caseworker", "90th percentile of cases per caseworker",
           national=None, measure=_caseload_p90),
    Output("caseworker_changes", "int", "reassignments", "citizens who lost their caseworker this week (a change)"),
    Output("changes_per_client", "float", "changes", "mean caseworker changes in the current spell",
           national=Weighted("clients"), measure=lambda model: ratio(model.census.changes, model.census.clients)),
    Output("waiting_for_caseworker", "int", "citizens", "clients without a caseworker at the end of the week",
           measure=lambda model: model.census.waiting),
)


def _start(model, start) -> None:
    """Every starting client gets a caseworker."""
    assign_waiting(model)


RULE = Rule("jobcenter", citizen_state=CITIZEN_STATE, caseworker_state=CASEWORKER_STATE, outputs=OUTPUTS, start=_start)


def department(municipality, unit):
    """The department code of a municipality's unit (``ORDINARY`` or ``SECOND``).

    Municipality m's departments are 2m and 2m + 1: ``code // 2`` is the municipality,
    ``code % 2`` the unit, and codes index ``councils.headcount.ravel()``.
    """
    return municipality * 2 + unit


def department_count(model) -> int:
    return model.n_municipalities * 2


def assign_waiting(model) -> None:
    """Give waiting citizens caseworkers, least-loaded first, up to an even share each."""
    citizens, staff = model.citizens, model.caseworkers
    waiting_flag = np.zeros(staff.size + 1, dtype=bool)
    waiting_flag[NO_CASEWORKER] = True
    waiting = _clients_of(citizens.occupied(), citizens.caseworker, waiting_flag)
    if len(waiting) == 0:
        return
    rows = staff.employed()
    _least_loaded_first(waiting, department(citizens.slot_municipality[waiting], citizens.unit[waiting]), rows,
                        staff.department()[rows], department_count(model), citizens.caseworker, staff.caseload)


@kernel
def _least_loaded_first(waiting, waiting_department, rows, row_department, n_departments, caseworker, caseload):
    """Each department's waiting citizens (in slot order) to its caseworkers (``rows``), the
    least-loaded first (ties: the lower row), each filled up to the department's even share
    of all its cases, the ceiling of (cases held + waiting) / caseworkers. Departments
    without caseworkers keep their citizens waiting."""
    headcount = np.zeros(n_departments, dtype=np.int64)
    total = np.zeros(n_departments)  # cases held and waiting
    for k in range(len(rows)):
        headcount[row_department[k]] += 1
        total[row_department[k]] += caseload[rows[k]]
    first_waiting = np.zeros(n_departments + 1, dtype=np.int64)  # the waiting, by department, from here
    for d in waiting_department:
        first_waiting[d + 1] += 1
    even_share = np.zeros(n_departments, dtype=np.int64)
    for d in range(n_departments):
        total[d] += first_waiting[d + 1]
        first_waiting[d + 1] += first_waiting[d]
        if headcount[d] > 0:
            even_share[d] = np.int64(np.ceil(total[d] / headcount[d]))
    by_department = np.empty(len(waiting), dtype=np.int64)
    placed = first_waiting[:-1].copy()
    for w in range(len(waiting)):
        by_department[placed[waiting_department[w]]] = waiting[w]
        placed[waiting_department[w]] += 1

    # The caseworkers with room (a load below the even share), by department and load, ties in
    # row order: a counting sort, one bucket per department and load below its even share.
    first_bucket = np.zeros(n_departments + 1, dtype=np.int64)
    for d in range(n_departments):
        first_bucket[d + 1] = first_bucket[d] + even_share[d]
    in_bucket = np.zeros(first_bucket[-1] + 1, dtype=np.int64)
    for k in range(len(rows)):
        d, load = row_department[k], caseload[rows[k]]
        if load < even_share[d]:
            in_bucket[first_bucket[d] + load + 1] += 1
    for b in range(len(in_bucket) - 1):
        in_bucket[b + 1] += in_bucket[b]
    first_with_room = np.zeros(n_departments + 1, dtype=np.int64)  # the department's caseworkers with room, from here in ``order``
    for d in range(n_departments):
        first_with_room[d + 1] = in_bucket[first_bucket[d + 1]]
    order = np.empty(in_bucket[-1], dtype=np.int64)
    for k in range(len(rows)):
        d, load = row_department[k], caseload[rows[k]]
        if load < even_share[d]:
            order[in_bucket[first_bucket[d] + load]] = rows[k]
            in_bucket[first_bucket[d] + load] += 1

    for d in range(n_departments):
        if headcount[d] == 0:
            continue
        k, seats = first_with_room[d], 0
        for w in range(first_waiting[d], first_waiting[d + 1]):
            if seats == 0:  # the next caseworker with room
                row = order[k]
                seats = even_share[d] - caseload[row]
                k += 1
            caseworker[slot(by_department[w])] = row
            caseload[row] += 1
            seats -= 1


def detach(model, rows: np.ndarray) -> None:
    """Take these citizens from their caseworkers; they wait for a new one (a change)."""
    citizens = model.citizens
    had = rows[citizens.caseworker[rows] != NO_CASEWORKER]
    np.subtract.at(model.caseworkers.caseload, citizens.caseworker[had], 1)
    citizens.caseworker[had] = NO_CASEWORKER
    citizens.changes[had] += 1
    citizens.changed[had] = True
    model.tally.add("caseworker_changes", citizens.slot_municipality[had])


def remove_caseworkers(model, rows: np.ndarray, reason: str) -> None:
    """Caseworkers leave (``reason`` is ``quits`` or ``layoffs``); their cases wait (see ``assign_waiting``)."""
    if len(rows) == 0:
        return
    staff = model.caseworkers
    model.tally.add(reason, staff.municipality[rows])
    leaving = np.zeros(staff.size + 1, dtype=bool)  # last entry answers for NO_CASEWORKER (-1)
    leaving[rows] = True
    citizens = model.citizens  # (a caseworker's clients are in the caseworker's municipality)
    detach(model, _clients_of(citizens.occupied_in(staff.municipality[rows]), citizens.caseworker, leaving))
    staff.reset(rows)


def move_caseworkers(model, rows: np.ndarray, unit: int) -> None:
    """Caseworkers move to another unit of their jobcenter; their cases wait for a colleague (see ``assign_waiting``)."""
    if len(rows) == 0:
        return
    staff = model.caseworkers
    moving = np.zeros(staff.size + 1, dtype=bool)  # last entry answers for NO_CASEWORKER (-1)
    moving[rows] = True
    citizens = model.citizens
    detach(model, _clients_of(citizens.occupied_in(staff.municipality[rows]), citizens.caseworker, moving))
    staff.unit[rows] = unit


def employ(model, municipality: np.ndarray, unit: np.ndarray, start: dict) -> None:
    """New caseworkers take empty rows, without cases; ``start`` holds their values of the
    columns other rules own (``turnover.hire`` gives them)."""
    staff = model.caseworkers
    staff.employ(staff.free_slots(len(municipality)), {"municipality": municipality, "unit": unit, "caseload": 0, **start})


def rebalance(model, departments: np.ndarray, tolerance: float) -> None:
    """Move cases well above an even share in these departments to their least-loaded colleagues.

    A caseworker keeps their first cases (in slot order) up to the even share plus
    ``tolerance`` (a share of it); the rest wait for a caseworker.
    """
    citizens, staff = model.citizens, model.caseworkers
    n_departments = department_count(model)
    staff_department = staff.department()
    rows = staff.employed()
    headcount = np.bincount(staff_department[rows], minlength=n_departments)
    total = np.bincount(staff_department[rows], weights=staff.caseload[rows], minlength=n_departments)
    even_share = np.ceil(total / np.maximum(headcount, 1))
    keep = np.full(n_departments, KEEP_ALL)  # departments not rebalanced keep everything
    keep[departments] = np.ceil(even_share[departments] * (1 + tolerance))
    rows_there = citizens.occupied_in(departments // 2)  # (a caseworker's clients are in the caseworker's municipality)
    detach(model, _cases_beyond(rows_there, citizens.caseworker, staff_department, keep, staff.size))


@kernel
def _clients_of(rows, caseworker, chosen):
    """The citizens (slots) among ``rows`` whose caseworker is ``chosen`` (``chosen[-1]``: waiting)."""
    clients = np.empty(len(rows), dtype=np.int64)
    n_clients = 0
    for r in rows:
        i = slot(r)
        if chosen[caseworker[i]]:
            clients[n_clients] = i
            n_clients += 1
    return clients[:n_clients]


@kernel
def _cases_beyond(rows, caseworker, staff_department, keep, n_staff):
    """The cases (slots) each caseworker holds beyond ``keep`` of their department, in slot order
    (departments that keep everything, ``KEEP_ALL``, are not counted)."""
    held = np.zeros(n_staff, dtype=np.int64)
    beyond = np.empty(len(rows), dtype=np.int64)
    n_beyond = 0
    for r in rows:
        i = slot(r)
        c = caseworker[i]
        if c == NO_CASEWORKER or keep[staff_department[c]] == KEEP_ALL:
            continue
        held[c] += 1
        if held[c] > keep[staff_department[c]]:
            beyond[n_beyond] = i
            n_beyond += 1
    return beyond[:n_beyond]
