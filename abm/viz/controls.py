"""The browser app's model controls, generated from the config schema.

Each control is a config key; its widget (slider or dropdown) takes its range, choices
and unit from the key's :class:`~abm.parameters.Param` and starts at the value of the
config given to ``abm viz``. :class:`VizModel` is the model SolaraViz rebuilds on Reset:
the starting config with the controls' values laid over it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mesa.visualization import Slider

from abm import strategies
from abm.compare import comparison_strategies
from abm.config import Config, param_of, parse_value, read_toml
from abm.errors import ConfigError
from abm.model import JobcenterModel

CONTROLLED = {
    "council.strategy": "Strategy of every council",
    "council.strategy_mix": "Strategy mix (overrides it)",
    "council.caseload_target": "Invest caseload target",
    "council.austerity_rate": "Austerity cut",
    "labour_market.scenario": "Labour market",
    "municipalities.count": "Municipalities",
    "municipalities.population_scale": "Population scale",
    "run.seed": "Seed",
}
"""The config keys a researcher turns in the browser (in the order shown) and their labels."""

SLIDER_WINDOWS = {
    "council.caseload_target": (10.0, 200.0, 1.0),
    "council.austerity_rate": (0.0, 0.5, 0.01),
    "municipalities.population_scale": (0.01, 1.0, 0.01),
}
"""(min, max, step) for sliders whose schema range is too wide to pick a value on.

The window always widens to include the starting value and never leaves the schema range.
"""

TYPED = ("run.seed",)
"""Keys typed into a text box (no slider reaches any of 2**63 seeds), read like ``--set`` values."""

NO_MIX = "none: every council follows the strategy"
EVERY_STRATEGY = "every strategy in turn"


def _mix_options(config: Config) -> dict[str, list[str]]:
    """Dropdown labels for ``council.strategy_mix`` (a list) and the list each stands for."""
    options = {NO_MIX: [], EVERY_STRATEGY: list(strategies.names())}
    mix = config.get("council.strategy_mix")
    if mix not in options.values():
        options["config: " + ", ".join(mix)] = mix
    return options


def _widget(key: str, config: Config) -> Slider | dict[str, Any]:
    """The Mesa user parameter for one key: a dropdown for choices, else a slider or text box."""
    param, value, label = param_of(key), config.get(key), CONTROLLED[key]
    if param.kind == "list[str]":
        options = _mix_options(config)
        current = next(name for name, mix in options.items() if mix == value)
        return {"type": "Select", "value": current, "values": list(options), "label": label}
    if param.choices is not None:
        return {"type": "Select", "value": value, "values": list(param.options()), "label": label}
    if key in TYPED:
        return {"type": "InputText", "value": str(value), "label": label}
    low, high, step = SLIDER_WINDOWS.get(key, (param.low, param.high, 1))
    low, high = max(min(low, value), param.low), min(max(high, value), param.high)
    number = float if param.kind == "float" else int
    return Slider(label, value=number(value), min=number(low), max=number(high), step=number(step), dtype=number)


def settings_summary(config: Config) -> list[tuple[str, str]]:
    """(label, value with unit) of each controlled key: the settings a model was built with.

    Shown beside the views, since Solara's sliders do not show their value.
    """
    summary = []
    for key, label in CONTROLLED.items():
        value, unit = config.get(key), param_of(key).unit
        if isinstance(value, list):
            text = ", ".join(value) or "none"
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            text += f" {unit}" if unit and unit != label.lower() else ""
        summary.append((label, text))
    return summary


def user_params(config: Config) -> dict[str, Any]:
    """SolaraViz ``model_params``: the starting config (fixed) and one control per key."""
    return {"base": config, **{key: _widget(key, config) for key in CONTROLLED}}


def configured(base: Config, values: dict[str, Any]) -> tuple[Config, list[str]]:
    """``base`` with the controls' values, each validated like a ``--set``.

    A value the schema refuses (only the typed seed can be one) is left out and its error
    returned, so the page can say so instead of failing.
    """
    config, problems = base, []
    for key, value in values.items():
        if key == "council.strategy_mix":
            value = _mix_options(base)[value]
        elif key in TYPED:
            value = parse_value(str(value))
        try:
            config = config.with_overrides({key: value}, origin="browser")
        except ConfigError as error:
            problems.append(str(error))
    return config, problems


def compares_strategies(path: str | Path) -> bool:
    """Whether a config file is meant to compare strategies: its own ``[compare]`` names
    them or the baseline they are compared with (``configs/compare.toml`` does; a config
    that only sets the replications of ``abm compare``, as ``baseline.toml``, does not)."""
    chosen = read_toml(Path(path)).get("compare", {})
    return isinstance(chosen, dict) and bool({"strategies", "baseline_strategy"} & set(chosen))


def side_by_side(config: Config) -> Config:
    """The config with every compared strategy side by side (``council.strategy_mix``: the
    municipalities take them in turn), unless it mixes strategies already."""
    if config.council.strategy_mix:
        return config
    return config.with_overrides({"council.strategy_mix": comparison_strategies(config)}, origin=config.origin)


class VizModel(JobcenterModel):
    """The model as the browser builds it, with the seed its controls show; Play stops when the run ends.

    It keeps ``start``, the start measured as a week is (the state the burn-in left; the model
    records only the weeks it runs), which the views show as week 0."""

    def __init__(self, base: Config, **kwargs):  # Mesa's checker requires the name ``kwargs``
        config, self.control_problems = configured(base, kwargs)
        super().__init__(config, seed=config.run.seed)
        self.start = {name: np.array(values, copy=True) for name, values in self.latest.items()}
