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

import operator
from dataclasses import dataclass
from functools import reduce
from typing import Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class Column:
    """One column of a state table: its numpy dtype, its value in an empty row, its meaning."""

    dtype: type
    fill: object
    doc: str


class _Rule:
    """How an output adds up over municipalities, written once for polars and numpy: ``parts``
    are the per-municipality quantities that are summed, ``combine`` makes the figure from
    their sums. ``metrics.national`` sums them per group of a table (polars), ``figure``
    over chosen municipalities of numpy columns (the DataCollector, the browser app)."""

    def figure(self, name: str, columns: Mapping[str, np.ndarray], members: np.ndarray | None = None,
               window: int = 1) -> np.ndarray:
        """The figure of the municipalities ``members`` (a mask, indices or a slice) together, from
        ``columns`` shaped (weeks, municipalities) or (municipalities,) (one week); with
        ``members=None``, of each municipality on its own. ``window`` > 1 sums over that many
        weeks, NaN before the first full window."""
        parts = self.parts(name, lambda column: np.nan_to_num(columns[column]))
        sums = (part if members is None else part[..., members].sum(axis=-1) for part in parts)
        return self.combine(*(_rolling_sum(total, window) for total in sums), divide=ratio)


@dataclass(frozen=True)
class Sum(_Rule):
    """Nationally: the municipalities' values added up (counts, DKK)."""

    def inputs(self, name: str) -> tuple[str, ...]:
        return (name,)

    def parts(self, name: str, column: Callable) -> tuple:
        return (column(name),)

    def combine(self, total, divide: Callable):
        return total

    def describe(self) -> str:
        return "sum"


@dataclass(frozen=True)
class Weighted(_Rule):
    """Nationally: the mean of the municipalities' values weighted by ``weight`` (a column,
    or the sum of several); municipalities where the value is undefined weigh nothing."""

    weight: str | tuple[str, ...]

    def _weights(self) -> tuple[str, ...]:
        return (self.weight,) if isinstance(self.weight, str) else self.weight

    def inputs(self, name: str) -> tuple[str, ...]:
        return (name, *self._weights())

    def parts(self, name: str, column: Callable) -> tuple:
        weight = reduce(operator.add, (column(w) for w in self._weights()))
        return column(name) * weight, weight

    def combine(self, weighted, weight, divide: Callable):
        return divide(weighted, weight)

    def describe(self) -> str:
        return f"mean weighted by {' + '.join(f'`{n}`' for n in self._weights())}"


@dataclass(frozen=True)
class Ratio(_Rule):
    """Nationally: a ratio of sums, ``scale`` x sum(numerator) / sum(denominator); the
    numerator is a column or a difference of two (``("clients", "waiting_for_caseworker")``)."""

    numerator: str | tuple[str, str]
    denominator: str
    scale: float = 1.0

    def _numerators(self) -> tuple[str, ...]:
        return (self.numerator,) if isinstance(self.numerator, str) else self.numerator

    def inputs(self, name: str) -> tuple[str, ...]:
        return (*self._numerators(), self.denominator)

    def parts(self, name: str, column: Callable) -> tuple:
        return reduce(operator.sub, (column(n) for n in self._numerators())), column(self.denominator)

    def combine(self, numerator, denominator, divide: Callable):
        return divide(numerator * self.scale if self.scale != 1.0 else numerator, denominator)

    def describe(self) -> str:
        scale = f"{self.scale:g} x " if self.scale != 1.0 else ""
        return f"{scale}sum of `{' - '.join(self._numerators())}` / sum of `{self.denominator}`"


National = Sum | Weighted | Ratio
"""How an output adds up over municipalities (see :class:`_Rule`)."""


def _rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sums over the past ``window`` weeks (axis 0); NaN before the first full window."""
    if window <= 1:
        return values
    total = np.cumsum(values, axis=0, dtype=float)
    total[window:] = total[window:] - total[:-window]
    total[: window - 1] = np.nan
    return total


@dataclass(frozen=True)
class When:
    """A condition on the run's config: ``holds(config)``, described as ``doc`` (for the README)."""

    doc: str
    holds: Callable[[object], bool]


@dataclass(frozen=True)
class Output:
    """One outcome measured every week per municipality (a column of the weekly table).

    ``measure(model)`` gives its value per municipality at the end of the week; without
    one, it is an event counter that the mechanism adds to during the week
    (``model.tally.add(name, ...)``). ``national`` says how municipalities add up to the
    country (``None``: they do not, e.g. a median); ``recorded=False`` keeps a counter out
    of the weekly table (it only feeds another output). ``summary`` names the figures of
    the run's summary row it gives, from its national series (see ``SUMMARIES``). ``when``
    records it only in runs whose config switches its mechanism on, so a mechanism that is
    off adds no column and leaves the weekly table of every earlier config as it was.
    """

    name: str
    dtype: str  # "int" or "float"
    unit: str
    doc: str
    national: National | None = Sum()
    measure: Callable[[object], np.ndarray] | None = None
    recorded: bool = True
    summary: tuple[str, ...] = ()
    when: When | None = None

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

    def recorded_in(self, config) -> bool:
        """Whether a run of ``config`` has this output as a column of its weekly table."""
        return self.recorded and (self.when is None or self.when.holds(config))


SUMMARIES = {
    "total": "summed over the run",
    "per_year": "summed over the run, per year",
    "final_year": "mean of the weekly national figure over the final year",
}
"""The summary figures an output can declare; each is the summary key ``<name>_<kind>``."""


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator per municipality (or group), NaN (stored as null) where the denominator is zero."""
    return np.divide(numerator, denominator, out=np.full(np.shape(numerator), np.nan), where=denominator > 0)


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

