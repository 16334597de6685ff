"""The model's mechanisms, in the order of the week, and what they declare together.

Each module below declares its parameters (``PARAMS``), the state columns it owns
(``CITIZEN_STATE``, ``CASEWORKER_STATE``) and the outcomes it measures (``OUTPUTS``;
see :mod:`abm.declarations`). The state tables (:mod:`abm.state`), the week's counters and
the weekly record (:mod:`abm.metrics`) are built from what is gathered here.
"""

from __future__ import annotations

from abm import jobcenter, population
from abm.declarations import Column, Output
from abm.rules import casework, costs, council, inflow, migration, progress, protest, trust, turnover

MODULES = (population, inflow, jobcenter, casework, progress, trust, protest, turnover, migration, council, costs)

_TABLES = {"citizens": "CITIZEN_STATE", "caseworkers": "CASEWORKER_STATE"}


def declared_columns(table: str) -> dict[str, tuple[str, Column]]:
    """Every column of ``table`` ("citizens" or "caseworkers"): name -> (declaring module, column)."""
    columns: dict[str, tuple[str, Column]] = {}
    for module in MODULES:
        for name, column in getattr(module, _TABLES[table], {}).items():
            if name in columns:
                raise ValueError(f"{table} column {name!r} is declared by {columns[name][0]} and {module.__name__}")
            columns[name] = (module.__name__, column)
    return columns


def state_columns(table: str) -> dict[str, tuple[type, object]]:
    """``FIELDS`` of a state table: name -> (dtype, fill value)."""
    return {name: (column.dtype, column.fill) for name, (_, column) in declared_columns(table).items()}


def _outputs() -> tuple[Output, ...]:
    outputs = tuple(output for module in MODULES for output in getattr(module, "OUTPUTS", ()))
    names = [output.name for output in outputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"outputs declared twice: {', '.join(repeated)}")
    return outputs


OUTPUTS = _outputs()
"""Every output, in the order of the weekly table's columns."""

OWNER = {output.name: module.__name__ for module in MODULES for output in getattr(module, "OUTPUTS", ())}
"""The module that declares each output."""
