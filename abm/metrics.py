"""What is measured: the week's event counts (``Tally``), the weekly table per municipality
and its national aggregates, all following the mechanisms' declared ``OUTPUTS``.

Rules count events as they happen (``model.tally.add("quits", municipality_of_each)``);
at the end of the week ``WeeklyRecord`` measures every declared output into one row per
municipality. ``national`` is the one way municipalities add up to the country (or to a
strategy's municipalities), used by the run summary, the DataCollector, the browser app
and the plots. The result schema of docs/results.md is generated from the same declarations.
"""

from __future__ import annotations

import operator
from typing import Iterable, Mapping

import numpy as np
import polars as pl

from abm.declarations import SUMMARIES
from abm import mechanisms
from abm.mechanisms import OUTPUTS, Live, follows_registry
from abm.rules.turnover import TURNOVER_WINDOW, annualised_turnover  # noqa: F401 (the one definition, used from here)

COUNTED = Live(follows_registry(lambda: tuple(output.name for output in OUTPUTS if output.counted)))
"""The event counters rules add to during the week."""

RECORDED = Live(follows_registry(lambda: tuple(output for output in OUTPUTS if output.recorded)))
"""The outputs a weekly table may have, in its column order (after ``IDENTITY``); a run's
table has those its config records (``recorded_outputs``)."""

IDENTITY = ("week", "municipality", "municipality_name", "region", "strategy")
"""The columns that say which row is which."""

_INTEGER_COLUMNS = Live(follows_registry(lambda: tuple(output.name for output in RECORDED if output.dtype == "int")))


def recorded_outputs(config) -> tuple:
    """The outputs in the weekly table of a run of ``config``: those whose mechanism is on."""
    return tuple(output for output in RECORDED if output.recorded_in(config))


class Tally:
    """Counts of this week's events per municipality, reset at the start of every week."""

    def __init__(self, n_municipalities: int):
        self.n = n_municipalities
        self.reset()

    def reset(self) -> None:
        self.values = {name: np.zeros(self.n) for name in COUNTED}
        self.exits_by_department = np.zeros(2 * self.n)  # per department (``jobcenter.department``)

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

    def __init__(self, n_weeks: int, n_municipalities: int, outputs: tuple):
        self.outputs = outputs  # ``recorded_outputs`` of the run's config
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
        counts = model.tally.values
        row = {output.name: counts[output.name] if output.counted else output.measure(model) for output in self.outputs}
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
        }
        for output in self.outputs:
            data[output.name] = self.so_far(output.name).ravel()
        frame = weekly_frame(data)
        frame = frame.insert_column(2, pl.Series("municipality_name", model.municipalities["name"].to_list() * weeks))
        return frame.insert_column(3, pl.Series("region", model.municipalities["region"].to_list() * weeks, dtype=pl.String))


def weekly_frame(data: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """Recorded columns as the weekly table's types: counts as integers, undefined ratios as null."""
    frame = pl.DataFrame(data)
    integral = [c for c in frame.columns if c in _INTEGER_COLUMNS]
    return frame.with_columns(
        [pl.col(c).cast(pl.Int64) for c in integral]
        + [pl.col(c).fill_nan(None) for c in frame.columns if c not in integral and frame.schema[c] == pl.Float64]
    )


def national(weekly: pl.DataFrame, by: Iterable[str] = ("week",), names: Iterable[str] | None = None,
             smooth: Mapping[str, int] | None = None) -> pl.DataFrame:
    """Municipalities added up per ``by`` group (the country per week by default), as each
    output declares (sums, weighted means, ratios of sums); outputs without a national
    aggregate, or whose columns ``weekly`` lacks, are left out.

    ``names`` picks outputs (default: every one in ``weekly``); ``smooth`` sums an output's
    parts over a rolling window of weeks (per group of the other ``by`` columns), e.g.
    ``{"turnover_annualised": 52}``. ``by=()`` gives one row.
    """
    by = list(by)
    smooth = dict(smooth or {})
    chosen = [o for o in RECORDED if o.national is not None and (names is None or o.name in names)
              and all(column in weekly.columns for column in o.national.inputs(o.name))]
    parts = {o.name: o.national.parts(o.name, lambda column: pl.col(column).fill_null(0)) for o in chosen}
    sums = {o.name: [f"_{o.name}_{i}" for i in range(len(parts[o.name]))] for o in chosen}
    windowed = [name for name in sums if smooth.get(name, 1) > 1]
    if windowed and "week" not in by:
        raise ValueError(f"only a table of weeks can be smoothed: {', '.join(windowed)}")
    aggregates = [part.sum().alias(alias) for name in parts for part, alias in zip(parts[name], sums[name])]
    result = weekly.group_by(by).agg(aggregates).sort(by) if by else weekly.select(aggregates)
    if windowed:
        groups = [column for column in by if column != "week"]
        result = result.sort([*groups, "week"]).with_columns(
            _rolling(alias, smooth[name], groups) for name in windowed for alias in sums[name])
    return result.select(*by, *(o.national.combine(*(pl.col(alias) for alias in sums[o.name]), divide=operator.truediv)
                                .alias(o.name) for o in chosen))


def _rolling(column: str, window: int, groups: list[str]) -> pl.Expr:
    rolled = pl.col(column).rolling_sum(window, min_samples=1)
    return rolled.over(groups) if groups else rolled


def national_now(row: Mapping[str, np.ndarray], names: Iterable[str]) -> dict[str, float]:
    """This week's national figures from a recorded row (``WeeklyRecord.record``'s return
    value), by the same rules as ``national`` (for the DataCollector, every week)."""
    return {o.name: float(o.national.figure(o.name, row, slice(None))) for o in RECORDED if o.name in names}


def describe_outputs() -> str:
    """The weekly-table schema of docs/results.md (between ``<!-- outputs:begin -->`` and ``<!-- outputs:end -->``)."""
    lines = [
        "| column | type | unit | nationally | meaning | in the run summary | declared in |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        "| `week`, `municipality`, `municipality_name`, `region`, `strategy` | int, int, str, str, str | | | identity of the row (week 0 is the first week after the burn-in); `municipality` is the index, `municipality_name` e.g. \"Høje-Taastrup\" or \"Synthetic 03\", `region` one of the five regions (null for synthetic municipalities) | | `abm/metrics.py`, `abm/denmark.py` |",
    ]
    for output in RECORDED:
        national_rule = "-" if output.national is None else output.national.describe()
        module = "abm/" + mechanisms.owner(output.name).removeprefix("abm.").replace(".", "/") + ".py"
        only = f" (only when {output.when.doc})" if output.when is not None else ""
        summary = ", ".join(f"`{output.name}_{kind}` ({SUMMARIES[kind]})" for kind in output.summary)
        lines.append(f"| `{output.name}` | {output.dtype} | {output.unit} | {national_rule} | {output.doc}{only} | {summary} | `{module}` |")
    return "\n".join(lines)


OUTPUT_MARKERS = ("<!-- outputs:begin -->", "<!-- outputs:end -->")


def with_output_schema(readme: str) -> str:
    """A Markdown page (docs/results.md) with the weekly-table schema between ``OUTPUT_MARKERS`` regenerated."""
    begin, end = OUTPUT_MARKERS
    head, rest = readme.split(begin, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{begin}\n{describe_outputs()}\n{end}{tail}"


if __name__ == "__main__":  # python -m abm.metrics docs/results.md
    import sys
    from pathlib import Path

    readme = Path(sys.argv[1])
    readme.write_text(with_output_schema(readme.read_text()))
