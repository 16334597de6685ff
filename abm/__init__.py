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

from abm.config import Config, defaults, load_config  # noqa: E402
from abm.declarations import Column, Output, Rule  # noqa: E402
from abm.mechanisms import register as register_rule  # noqa: E402
from abm.model import JobcenterModel  # noqa: E402
from abm.simulate import RunResult, run_simulation  # noqa: E402
from abm.strategies import register_strategy  # noqa: E402
from abm.api import evaluate, schema  # noqa: E402

__all__ = ["Column", "Config", "JobcenterModel", "Output", "Rule", "RunResult", "defaults", "evaluate", "load_config",
           "register_rule", "register_strategy", "run_simulation", "schema", "__version__"]
