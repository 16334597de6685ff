"""What is measured: the week's event counts (``Tally``) and the weekly table per municipality.

Rules count events as they happen (``model.tally.add("quits", municipality_of_each)``);
at the end of the week ``WeeklyRecord`` turns state and counts into one row per
municipality. Columns are documented in README.md (result schema).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from abm.rules import costs

COUNTED = (
    "inflow", "exits_job", "exits_education", "exits_flexjob", "exits_disability", "moved_in", "moved_out",
    "exit_spell_weeks", "decisions", "decision_weeks", "protesters", "protest_event", "hires", "quits", "layoffs",
    "caseworker_changes", "sick", "sick_pressed",
)


class Tally:
    """Counts of this week's events per municipality, reset at the start of every week."""

    def __init__(self, n_municipalities: int):
        self.n = n_municipalities
        self.reset()

    def reset(self) -> None:
        self.values = {name: np.zeros(self.n) for name in COUNTED}
        self.exits_by_department = np.zeros(2 * self.n)

    def add(self, name: str, municipality: np.ndarray, weights: np.ndarray | None = None) -> None:
        if len(municipality):
            self.values[name] += np.bincount(municipality, weights=weights, minlength=self.n)

    def add_totals(self, name: str, per_municipality: np.ndarray) -> None:
        """Add counts a rule has already summed per municipality."""
        self.values[name] += per_municipality

    def set(self, name: str, values: np.ndarray) -> None:
        self.values[name] = values


class WeeklyRecord:
    """One row per municipality and week, kept as numpy columns until the run ends."""

    def __init__(self, n_weeks: int, n_municipalities: int):
        self.rows = 0
        self.n = n_municipalities
        self.columns: dict[str, np.ndarray] = {}
        self.capacity = n_weeks

    def _put(self, name: str, values: np.ndarray) -> None:
        if name not in self.columns:
            self.columns[name] = np.full((self.capacity, self.n), np.nan)
        self.columns[name][self.rows] = values

    def record(self, model) -> dict[str, np.ndarray]:
        """Measure the week just simulated; returns this week's row per municipality."""
        staff, councils, tally = model.caseworkers, model.councils, model.tally
        counts = tally.values
        n = self.n
        census = model.census
        clients = census.clients
        staff_rows = np.flatnonzero(staff.active)
        staff_muni = staff.municipality[staff_rows]
        caseworkers = np.bincount(staff_muni, minlength=n)
        benefit, staffing, net = costs.week_cost(model, census)
        exits = sum(counts[f"exits_{kind}"] for kind in ("job", "education", "flexjob", "disability"))
        row = {
            "clients": clients,
            "clients_job_ready": census.by_group[:, 0],
            "clients_activity_ready": census.by_group[:, 1],
            "clients_resource": census.by_group[:, 2],
            "clients_pilot": census.pilot,
            **{name: counts[name] for name in ("inflow", "exits_job", "exits_education", "exits_flexjob",
                                               "exits_disability", "moved_in", "moved_out", "decisions")},
            "spell_mean": _ratio(census.spell, clients),
            "spell_median": census.median_spell(),
            "exit_spell_mean": _ratio(counts["exit_spell_weeks"], exits),
            "decision_weeks_mean": _ratio(counts["decision_weeks"], counts["decisions"]),
            "trust_mean": _ratio(census.trust, clients),
            "protesters": counts["protesters"],
            "protest_event": counts["protest_event"],
            "media_pressure": councils.media_pressure.copy(),
            "caseworkers": caseworkers,
            "trainees": np.bincount(staff_muni, weights=staff.experience[staff_rows] < model.params.casework.trainee_weeks, minlength=n),
            "positions": councils.headcount.sum(axis=1),
            "recruiting": np.bincount(model.recruitment.municipality, minlength=n),
            "caseload_mean": _ratio(np.bincount(staff_muni, weights=staff.caseload[staff_rows], minlength=n), caseworkers),
            "caseload_p90": _group_quantile(staff_muni, staff.caseload[staff_rows], n, 0.9),
            "stress_mean": _ratio(np.bincount(staff_muni, weights=staff.stress[staff_rows], minlength=n), caseworkers),
            "hires": counts["hires"],
            "quits": counts["quits"],
            "layoffs": counts["layoffs"],
            "turnover_annualised": _ratio(counts["quits"] * 52, caseworkers),
            "caseworker_changes": counts["caseworker_changes"],
            "changes_per_client": _ratio(census.changes, clients),
            "waiting_for_caseworker": census.waiting,
            "sick": counts["sick"],
            "sick_pressed": counts["sick_pressed"],
            "sick_pressed_share": _ratio(counts["sick_pressed"], counts["sick"]),
            "benefit_cost": benefit,
            "staff_cost": staffing,
            "net_cost": net,
        }
        for name, values in row.items():
            self._put(name, values)
        self.rows += 1
        return row

    def so_far(self, name: str) -> np.ndarray:
        """A recorded column for the weeks recorded so far, shape (weeks, municipalities)."""
        column = self.columns.get(name)  # absent until the first week is recorded
        return np.full((self.rows, self.n), np.nan) if column is None else column[: self.rows]

    def frame(self, model) -> pl.DataFrame:
        """The weekly table: one row per municipality and week, in week then municipality order."""
        weeks = self.rows
        n = self.n
        data = {
            "week": np.repeat(np.arange(weeks, dtype=np.int32), n),
            "municipality": np.tile(np.arange(n, dtype=np.int32), weeks),
            "strategy": np.tile(np.array(model.councils.strategy_names()), weeks),
            "inhabitants": np.tile(model.inhabitants, weeks),
        }
        for name, values in self.columns.items():
            data[name] = values[:weeks].ravel()
        frame = pl.DataFrame(data).insert_column(2, pl.Series("municipality_name", model.municipalities["name"].to_list() * weeks))
        frame = frame.insert_column(3, pl.Series("region", model.municipalities["region"].to_list() * weeks, dtype=pl.String))
        integral = [c for c in frame.columns if c in _INTEGER_COLUMNS]
        return frame.with_columns(
            [pl.col(c).cast(pl.Int64) for c in integral]
            + [pl.col(c).fill_nan(None) for c in frame.columns if c not in integral and frame.schema[c] == pl.Float64]
        )


_INTEGER_COLUMNS = {
    "clients", "clients_job_ready", "clients_activity_ready", "clients_resource", "clients_pilot", "inflow",
    "exits_job", "exits_education", "exits_flexjob", "exits_disability", "moved_in", "moved_out", "decisions",
    "protesters", "protest_event", "caseworkers", "trainees", "positions", "recruiting", "hires", "quits",
    "layoffs", "caseworker_changes", "waiting_for_caseworker", "sick", "sick_pressed", "inhabitants",
}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (stored as null) where the denominator is zero."""
    return np.divide(numerator, denominator, out=np.full(len(numerator), np.nan), where=denominator > 0)


def _group_quantile(group: np.ndarray, values: np.ndarray, n: int, q: float) -> np.ndarray:
    """The q-quantile (nearest rank) of values within each group; NaN for empty groups."""
    order = np.lexsort((values, group))
    counts = np.bincount(group, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pick = starts + np.floor(q * np.maximum(counts - 1, 0)).astype(np.int64)
    result = np.full(n, np.nan)
    has = counts > 0
    result[has] = values[order][pick[has]]
    return result
