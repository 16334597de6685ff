"""How a mechanism declares what the model needs from it: a :class:`Rule`.

Each module of the model declares, once, a ``RULE`` naming its parameters (``PARAMS``,
see :mod:`abm.parameters`), the rules between them (``CHECKS``), the state columns it owns
(name -> :class:`Column`), what it measures each week (:class:`Output`), its start-up and
entry hooks and its weekly ``apply``. :mod:`abm.mechanisms` is the registry of rules: the
config schema, the state tables, the event counters, the weekly record, the national
aggregates, the Mesa agents' attributes and the README's result schema all follow from
these declarations, so adding a rule, an outcome or a state variable touches one file.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, field
from functools import reduce
from typing import Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class Column:
    """One column of a state table: its numpy dtype, its value in an empty row, its meaning.

    ``agent`` says how the Mesa agent of a row shows it (:mod:`abm.agents`): "read" (an
    attribute), "write" (an attribute that can be set, within ``low`` and ``high``) or
    "hidden" (bookkeeping, not an attribute).
    """

    dtype: type
    fill: object
    doc: str
    agent: str = "read"
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.agent not in ("read", "write", "hidden"):
            raise ValueError(f"column {self.doc!r}: agent must be 'read', 'write' or 'hidden', not {self.agent!r}")


class _Aggregate:
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
class Sum(_Aggregate):
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
class Weighted(_Aggregate):
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
class Ratio(_Aggregate):
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
"""How an output adds up over municipalities (see :class:`_Aggregate`)."""


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



@dataclass(frozen=True)
class Rule:
    """Everything the model needs from one mechanism, declared beside it and registered once
    (:func:`abm.mechanisms.register`).

    - ``name``: its name in the week and its random stream (``model.streams.<name>``);
    - ``params``: the config sections it owns, section name -> its ``PARAMS``;
    - ``checks``: rules between parameters (:class:`abm.parameters.Check`);
    - ``citizen_state`` / ``caseworker_state``: the columns it owns, name -> :class:`Column`;
    - ``outputs``: what it measures, :class:`Output` s in the weekly table's order;
    - ``start(model, start)``: sets up what it owns when the model is built (``start`` has
      the starting clients per municipality and, for a stationary start, their stock);
    - ``on_entry(model, slots, rng)``: values of its columns for citizens entering these slots;
    - ``on_exit(model, slots, kind)``: sees the citizens leaving by exits of ``kind`` (before
      their slots are emptied);
    - ``apply(model)``: its part of the week (where in the week: :data:`abm.rules.WEEK`);
    - ``on_agent_set``: column -> ``f(model, rows)``, run after a Mesa agent sets that column,
      for the values this rule keeps derived from it.
    """

    name: str
    params: Mapping[str, Mapping] = field(default_factory=dict)
    checks: tuple = ()
    citizen_state: Mapping[str, Column] = field(default_factory=dict)
    caseworker_state: Mapping[str, Column] = field(default_factory=dict)
    outputs: tuple[Output, ...] = ()
    start: Callable | None = None
    on_entry: Callable | None = None
    on_exit: Callable | None = None
    apply: Callable | None = None
    on_agent_set: Mapping[str, Callable] = field(default_factory=dict)
    module: str = ""
    """The module that declares it (default: where the ``Rule`` is made, as ``namedtuple`` finds it)."""

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", sys._getframe(2).f_globals.get("__name__", "?"))

    def state(self, table: str) -> Mapping[str, Column]:
        """The columns it owns in ``table`` ("citizens" or "caseworkers")."""
        return {"citizens": self.citizen_state, "caseworkers": self.caseworker_state}[table]
