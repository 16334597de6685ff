"""A door for other tools: one run as a flat function, and the schema as plain data.

EMA Workbench, SALib, Optuna and the like want ``f(parameters) -> outcomes`` and each
parameter's range; they should not need to know about configs, sections or summaries::

    import abm
    abm.schema()["council.caseload_target"]   # {"kind": "float", "low": 1.0, "high": 1000.0, "unit": ...}
    abm.evaluate({"council.caseload_target": 70, "run.weeks": 104}, seed=1)   # {"net_cost_mdkk": ..., ...}

Parameters are named by their dotted config key (``council.caseload_target``) or, where a
tool needs Python identifiers, with ``__`` for the dot (``council__caseload_target``).
Every value is validated as a config value is. See docs/tools.md for an EMA Workbench model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from abm.config import SCHEMA, Config, defaults, load_config
from abm.errors import ConfigError
from abm.simulate import OUTCOMES, run_simulation

SEPARATOR = "__"  # council__caseload_target: the identifier form of council.caseload_target


def schema() -> dict[str, dict[str, Any]]:
    """Every parameter by dotted key: kind, default, range or choices, shape, unit, meaning, source.

    ``low``/``high`` are ``None`` where a parameter has no numeric range (they are what the
    model accepts); ``plausible_low``/``plausible_high`` are the range worth exploring, with
    ``plausible_source`` (evidence, "assumption", or "unknown: the validity range" where
    nothing narrows it: :meth:`abm.parameters.Param.plausible_range`); ``choices`` is
    ``None`` unless it is one of a set; ``length``/``total`` describe lists (per target
    group, shares adding up). ``identifier`` is the name to use where a tool needs one.
    """
    return {
        f"{section}.{key}": {
            "identifier": f"{section}{SEPARATOR}{key}", "kind": param.kind, "default": param.default,
            "low": param.low, "high": param.high, "choices": list(param.options()) if param.choices is not None else None,
            "length": param.length, "total": param.total, "unit": param.unit, "doc": param.doc,
            "source": param.source, "allowed": param.allowed(),
            **dict(zip(("plausible_low", "plausible_high", "plausible_source"), param.plausible_range())),
        }
        for section, params in SCHEMA.items()
        for key, param in params.items()
    }


def evaluate(
    params: Mapping[str, Any],
    seed: int,
    outcomes: Iterable[str] = OUTCOMES,
    base: Config | str | Path | None = None,
) -> dict[str, float | None]:
    """Run the model once and return the chosen summary outcomes.

    ``params`` override ``base`` (a config, a config file, or the defaults); ``outcomes``
    are summary columns (default: the comparison table's). An outcome that is undefined
    for the run (e.g. mean trust without any client) is ``None``.
    """
    config = base if isinstance(base, Config) else defaults() if base is None else load_config(base)
    overrides = {name.replace(SEPARATOR, "."): value for name, value in params.items()} | {"run.seed": seed}
    config = config.with_overrides(overrides, origin="abm.evaluate")
    outcomes = list(outcomes)
    summary = run_simulation(config, config.run.seed).summary
    unknown = [name for name in outcomes if name not in summary]
    if unknown:
        numeric = [name for name, value in summary.items() if isinstance(value, (int, float)) or value is None]
        raise ConfigError(f"abm.evaluate: unknown outcome {unknown[0]!r}; outcomes: {', '.join(numeric)}")
    return {name: None if summary[name] is None else float(summary[name]) for name in outcomes}
