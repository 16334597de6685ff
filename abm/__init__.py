"""abm: an agent-based model of Danish municipal jobcenters under council investment strategies.

From Python::

    from abm import JobcenterModel, load_config, run_simulation
    config = load_config("configs/baseline.toml", ["council.strategy=invest"])
    result = run_simulation(config, seed=1)
    result.weekly      # polars DataFrame, one row per municipality and week
    result.summary     # dict, one row of national outcomes

A strategy of your own: ``@abm.register_strategy("name", doc=...)`` on its decision rule
(see :mod:`abm.strategies` and docs/extending.md), then ``council.strategy = "name"``.
A rule of your own: ``abm.register_rule(abm.Rule("name", ...), after="trust")`` (see
:mod:`abm.mechanisms` and docs/extending.md).

For other tools (EMA Workbench, SALib, Optuna): ``abm.evaluate(params, seed)`` and
``abm.schema()`` (see :mod:`abm.api`).
"""

__version__ = "0.1.0"

import importlib

_EXPORTS = {  # name: the module defining it, imported at first use: `import abm.cli` stays light, so
    # the command line can start Ray before it imports the model (abm.execution.start_early)
    "Config": "abm.config", "defaults": "abm.config", "load_config": "abm.config",
    "Column": "abm.declarations", "Output": "abm.declarations", "Rule": "abm.declarations",
    "register_rule": "abm.mechanisms", "JobcenterModel": "abm.model",
    "RunResult": "abm.simulate", "run_simulation": "abm.simulate",
    "register_strategy": "abm.strategies", "evaluate": "abm.api", "schema": "abm.api",
}
_SOURCE_NAMES = {"register_rule": "register"}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), _SOURCE_NAMES.get(name, name))
        globals()[name] = value
        return value
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:  # a submodule, as `import abm` made them attributes before (abm.strategies.names())
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
