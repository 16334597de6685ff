"""How a mechanism declares the state it owns and the outcomes it measures.

Beside its parameters (``PARAMS``, see :mod:`abm.parameters`), each module of the model
declares, once:

- ``CITIZEN_STATE`` / ``CASEWORKER_STATE``: the columns it owns, name -> :class:`Column`;
- ``OUTPUTS``: what it measures each week, a tuple of :class:`Output`.

:mod:`abm.mechanisms` gathers them: the state tables, the event counters, the weekly
record, the national aggregates and the README's result schema all follow from these
declarations, so adding an outcome or a state variable touches one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Column:
    """One column of a state table: its numpy dtype, its value in an empty row, its meaning."""

    dtype: type
    fill: object
    doc: str


@dataclass(frozen=True)
class Sum:
    """Nationally: the municipalities' values added up (counts, DKK)."""

    def expression(self, name: str) -> pl.Expr:
        return pl.col(name).sum()

    def inputs(self, name: str) -> tuple[str, ...]:
        return (name,)

    def value(self, name: str, row: Mapping[str, np.ndarray]) -> float:
        return float(np.sum(row[name]))

    def describe(self) -> str:
        return "sum"


@dataclass(frozen=True)
class Weighted:
    """Nationally: the mean of the municipalities' values weighted by ``weight`` (a column,
    or the sum of several); municipalities where the value is undefined weigh nothing."""

    weight: str | tuple[str, ...]

    def _weight(self) -> pl.Expr:
        names = (self.weight,) if isinstance(self.weight, str) else self.weight
        return pl.sum_horizontal(*names) if len(names) > 1 else pl.col(names[0])

    def expression(self, name: str) -> pl.Expr:
        weight = self._weight()
        return (pl.col(name).fill_null(0) * weight).sum() / weight.sum()

    def inputs(self, name: str) -> tuple[str, ...]:
        return (name, *((self.weight,) if isinstance(self.weight, str) else self.weight))

    def value(self, name: str, row: Mapping[str, np.ndarray]) -> float:
        weight = sum(row[column] for column in self.inputs(name)[1:])
        return _quotient(np.sum(np.nan_to_num(row[name]) * weight), np.sum(weight))

    def describe(self) -> str:
        names = (self.weight,) if isinstance(self.weight, str) else self.weight
        return f"mean weighted by {' + '.join(f'`{n}`' for n in names)}"


@dataclass(frozen=True)
class Ratio:
    """Nationally: a ratio of sums, ``scale`` x sum(numerator) / sum(denominator); the
    numerator is a column or a difference of two (``("clients", "waiting_for_caseworker")``)."""

    numerator: str | tuple[str, str]
    denominator: str
    scale: float = 1.0

    def numerator_expression(self) -> pl.Expr:
        if isinstance(self.numerator, str):
            return pl.col(self.numerator)
        return pl.col(self.numerator[0]) - pl.col(self.numerator[1])

    def inputs(self, name: str) -> tuple[str, ...]:
        return (*((self.numerator,) if isinstance(self.numerator, str) else self.numerator), self.denominator)

    def value(self, name: str, row: Mapping[str, np.ndarray]) -> float:
        numerator = row[self.numerator] if isinstance(self.numerator, str) else row[self.numerator[0]] - row[self.numerator[1]]
        return _quotient(np.sum(numerator) * self.scale, np.sum(row[self.denominator]))

    def expression(self, name: str) -> pl.Expr:
        total = self.numerator_expression().sum()
        return (total * self.scale if self.scale != 1.0 else total) / pl.col(self.denominator).sum()

    def describe(self) -> str:
        numerator = self.numerator if isinstance(self.numerator, str) else " - ".join(self.numerator)
        scale = f"{self.scale:g} x " if self.scale != 1.0 else ""
        return f"{scale}sum of `{numerator}` / sum of `{self.denominator}`"


National = Sum | Weighted | Ratio
"""How an output adds up over municipalities: ``expression`` for a table of weeks (polars,
``metrics.national``), ``value`` for one week's row (numpy, cheap enough for every week)."""


def _quotient(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


@dataclass(frozen=True)
class Output:
    """One outcome measured every week per municipality (a column of the weekly table).

    ``measure(model)`` gives its value per municipality at the end of the week; without
    one, it is an event counter that the mechanism adds to during the week
    (``model.tally.add(name, ...)``). ``national`` says how municipalities add up to the
    country (``None``: they do not, e.g. a median); ``recorded=False`` keeps a counter out
    of the weekly table (it only feeds another output). ``summary`` names the figures of
    the run's summary row it gives, from its national series (see ``SUMMARIES``).
    """

    name: str
    dtype: str  # "int" or "float"
    unit: str
    doc: str
    national: National | None = Sum()
    measure: Callable[[object], np.ndarray] | None = None
    recorded: bool = True
    summary: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.dtype not in ("int", "float"):
            raise ValueError(f"output {self.name!r}: dtype must be 'int' or 'float', not {self.dtype!r}")
        unknown = [kind for kind in self.summary if kind not in SUMMARIES]
        if unknown or (self.summary and (self.national is None or not self.recorded)):
            raise ValueError(f"output {self.name!r}: summary {self.summary!r} needs a recorded output with a national "
                             f"aggregate and kinds from {', '.join(SUMMARIES)}")
        if {"total", "per_year"} & set(self.summary) and not isinstance(self.national, Sum):
            raise ValueError(f"output {self.name!r}: only a summed output has a total or a yearly rate")

    @property
    def counted(self) -> bool:
        return self.measure is None


SUMMARIES = {
    "total": "summed over the run",
    "per_year": "summed over the run, per year",
    "final_year": "mean of the weekly national figure over the final year",
}
"""The summary figures an output can declare; each is the summary key ``<name>_<kind>``."""


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator per municipality, NaN (stored as null) where the denominator is zero."""
    return np.divide(numerator, denominator, out=np.full(len(numerator), np.nan), where=denominator > 0)


def per_municipality(model, municipality: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or sums of ``weights``) per municipality, for measures."""
    return np.bincount(municipality, weights=weights, minlength=model.n_municipalities)


def group_quantile(group: np.ndarray, values: np.ndarray, n: int, q: float) -> np.ndarray:
    """The q-quantile (nearest rank) of values within each group; NaN for empty groups."""
    order = np.lexsort((values, group))
    counts = np.bincount(group, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pick = starts + np.floor(q * np.maximum(counts - 1, 0)).astype(np.int64)
    result = np.full(n, np.nan)
    has = counts > 0
    result[has] = values[order][pick[has]]
    return result

