"""Targets files: empirical figures, the experiment that measures each in the model, and the statistic.

A targets file (``targets/*.toml``) names a base config, settings for every experiment
(``[set]``: the model size a calibration can afford), the replications, optional bounds
for calibrated parameters (``[parameters]``) and a list of ``[[targets]]``. A target is a
statistic (``abm.calibration.statistics.STATISTICS``), the empirical value with its
standard error (``se``) or 95% interval (``interval``), a weight, a tolerance in z units,
its source and its ``role``: ``fit`` (default: in the calibration's loss and the check),
``test`` (held out: not in the loss, checked, for out-of-sample validation) or ``report``
(printed for the record, neither in the loss nor the check). Single-arm statistics run the base with the target's ``[targets.set]``;
two-arm ones run ``[targets.control]`` and ``[targets.treatment]`` under common random numbers.

Everything is checked when the file is read, before any run: each mistake is one line
naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abm.calibration.statistics import STATISTICS
from abm.config import Config, load_config, param_of, read_toml, split_key
from abm.errors import ConfigError, show

FILE_KEYS = ("name", "description", "base", "seed", "replications", "tolerance", "set", "parameters", "targets", "pending")
"""``pending``: evidence the model cannot measure yet, listed for the record (not checked)."""
TARGET_KEYS = ("name", "statistic", "value", "se", "interval", "weight", "tolerance", "source", "note", "role", "set", "control", "treatment")
ROLES = ("fit", "test", "report")
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Target:
    name: str
    statistic: str
    value: float
    se: float
    weight: float
    tolerance: float
    source: str
    note: str
    role: str  # fit (in the loss), test (held out, checked) or report (printed only)
    arms: tuple[dict[str, Any], ...]  # overrides per arm: (set,) or (control, treatment)


@dataclass(frozen=True)
class Targets:
    path: Path
    name: str
    description: str
    base: Path
    seed: int
    replications: int
    settings: dict[str, Any]
    bounds: dict[str, tuple[float, float]]
    targets: tuple[Target, ...] = field(default=())

    def base_config(self, config_path: str | Path | None = None) -> Config:
        """The config the experiments start from (the targets' base unless another is given), with ``[set]``."""
        return load_config(config_path or self.base).with_overrides(self.settings, origin=f"{self.path}: set")

    def arm_configs(self, config: Config, target: Target) -> list[Config]:
        return [config.with_overrides(arm, origin=f"{self.path}: targets {target.name!r}") for arm in target.arms]

    def parameter_bounds(self, keys: list[str], origin: str = "--params") -> dict[str, tuple[float, float]]:
        """Search bounds of the parameters to calibrate: the file's, else the schema's range."""
        bounds = {}
        for key in keys:
            param = _numeric_param(key, origin)
            bounds[key] = self.bounds.get(key, (param.low, param.high))
        return bounds


def load_targets(path: str | Path) -> Targets:
    """Read and check a targets file (a ConfigError naming file, key and value on any mistake)."""
    path = Path(path)
    document = read_toml(path, what="targets")
    for key in document:
        if key not in FILE_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r}; allowed: {', '.join(FILE_KEYS)}")
    base_name = document.get("base")
    if not isinstance(base_name, str):
        raise ConfigError(f"{path}: base = {base_name!r} is not allowed: expected the path of a config file, relative to the targets file")
    base = path.parent / base_name
    if not base.is_file():
        raise ConfigError(f"{path}: base = {base_name!r}: no such config file ({base})")
    settings = _overrides(document.get("set", {}), path, "set")
    bounds = _bounds(document.get("parameters", {}), path)
    raw_targets = document.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise ConfigError(f"{path}: targets = {raw_targets!r} is not allowed: expected a non-empty list of [[targets]] tables")
    default_tolerance = _number(document.get("tolerance", 2.0), path, "tolerance", positive=True)
    targets = tuple(_target(raw, index, path, default_tolerance) for index, raw in enumerate(raw_targets))
    names = [t.name for t in targets]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{path}: targets name = {name!r} is used twice; every target needs its own name")
    result = Targets(
        path, str(document.get("name", path.stem)), str(document.get("description", "")), base,
        _whole(document.get("seed", 20260101), path, "seed", 0), _whole(document.get("replications", 4), path, "replications", 1),
        settings, bounds, targets,
    )
    config = result.base_config()  # every override must give a valid config
    for target in targets:
        for arm in result.arm_configs(config, target):
            problem = STATISTICS[target.statistic].problem(arm)
            if problem:
                raise ConfigError(f"{path}: targets {target.name!r}: statistic = {target.statistic!r} {problem}")
    return result


def _target(raw: Any, index: int, path: Path, default_tolerance: float) -> Target:
    where = f"targets[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} = {raw!r} is not allowed: expected a [[targets]] table")
    for key in raw:
        if key not in TARGET_KEYS:
            raise ConfigError(f"{path}: {where}.{key} is not a target key; allowed: {', '.join(TARGET_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: {where}.name = {name!r} is not allowed: expected a non-empty string")
    where = f"targets {name!r}"
    statistic = raw.get("statistic")
    if statistic not in STATISTICS:
        raise ConfigError(f"{path}: {where}: statistic = {statistic!r} is not allowed: expected one of {', '.join(STATISTICS)}")
    value = _number(raw.get("value"), path, f"{where}: value")
    if ("se" in raw) == ("interval" in raw):
        raise ConfigError(f"{path}: {where}: give the uncertainty as either se = <standard error> or interval = [low, high] (95%), not both or neither")
    if "se" in raw:
        se = _number(raw["se"], path, f"{where}: se", positive=True)
    else:
        interval = raw["interval"]
        if (not isinstance(interval, list) or len(interval) != 2 or not all(isinstance(v, (int, float)) for v in interval)
                or not interval[0] < interval[1]):
            raise ConfigError(f"{path}: {where}: interval = {interval!r} is not allowed: expected [low, high] with low < high")
        se = (interval[1] - interval[0]) / (2 * Z_95)
    arms_wanted = STATISTICS[statistic].arms
    if arms_wanted == 2:
        if "set" in raw or "control" not in raw or "treatment" not in raw:
            raise ConfigError(f"{path}: {where}: statistic {statistic!r} compares two arms: give [targets.control] and [targets.treatment] (no [targets.set])")
        arms = (_overrides(raw["control"], path, f"{where}.control"), _overrides(raw["treatment"], path, f"{where}.treatment"))
    else:
        if "control" in raw or "treatment" in raw:
            raise ConfigError(f"{path}: {where}: statistic {statistic!r} reads one run: give its settings as [targets.set], not control/treatment")
        arms = (_overrides(raw.get("set", {}), path, f"{where}.set"),)
    return Target(
        name, statistic, value, se, _number(raw.get("weight", 1.0), path, f"{where}: weight", positive=True),
        _number(raw.get("tolerance", default_tolerance), path, f"{where}: tolerance", positive=True),
        str(raw.get("source", "")), str(raw.get("note", "")), _role(raw.get("role", "fit"), path, where), arms,
    )


def _role(value: Any, path: Path, where: str) -> str:
    if value not in ROLES:
        raise ConfigError(f"{path}: {where}: role = {value!r} is not allowed: expected one of {', '.join(ROLES)}")
    return value


def _overrides(table: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} = {table!r} is not allowed: expected a table of \"section.key\" = value")
    for key in table:
        split_key(key, f"{path}: {where}")
    return dict(table)


def _bounds(table: Any, path: Path) -> dict[str, tuple[float, float]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: parameters = {table!r} is not allowed: expected a table of \"section.key\" = [low, high]")
    bounds = {}
    for key, value in table.items():
        param = _numeric_param(key, f"{path}: parameters")
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{path}: parameters.{key} = {value!r} is not allowed: expected [low, high]")
        low, high = float(value[0]), float(value[1])
        if not low < high:
            raise ConfigError(f"{path}: parameters.{key} = {value!r} is not allowed: low must be below high")
        if param.problem(low) or param.problem(high):
            raise ConfigError(f"{path}: parameters.{key} = {value!r} is not allowed: outside the schema's range ({param.allowed()})")
        bounds[key] = (low, high)
    return bounds


def _numeric_param(key: str, origin: str):
    param = param_of(key, origin)
    if param.kind not in ("float", "int") or param.low is None or param.high is None:
        raise ConfigError(f"{origin}: {key} cannot be calibrated: only numbers with a schema range can ({key} is {param.allowed()})")
    return param


def _number(value: Any, path: Path, where: str, positive: bool = False) -> float:
    try:  # an integer of 400 digits is TOML, but no float
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:
        number = math.nan
    if not math.isfinite(number) or (positive and number <= 0):
        raise ConfigError(f"{path}: {where} = {show(value)} is not allowed: expected a {'positive ' if positive else ''}number (a finite one)")
    return number


def _whole(value: Any, path: Path, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{path}: {where} = {value!r} is not allowed: expected a whole number >= {low}")
    return value
