"""Experiment files: which runs a sweep makes, checked before any run starts.

An experiment (TOML, in ``experiments/``) names a base config, overrides on it, the
strategies, the replications, the seed, and a design of the parameters that vary::

    description = "Caseload target from 40 to 220: invest against status quo"
    base = "../configs/baseline.toml"        # relative to this file
    strategies = ["status_quo", "invest"]    # default: the base config's council.strategy
    replications = 3                         # default 1
    seed = 7                                 # default: the base config's run.seed

    [set]                                    # overrides on the base config
    "run.weeks" = 104

    [design]
    kind = "grid"                            # grid | list | random | sobol
    [design.parameters]                      # grid: every combination of these lists
    "council.caseload_target" = [40, 100, 160, 220]

``list`` takes ``[[design.points]]`` tables (explicit points, all naming the same
parameters); ``random`` and ``sobol`` take ``n`` and ``[design.bounds]`` (``name = [low,
high]``, numbers only). ``sobol`` uses SALib's Saltelli scheme without second-order terms,
so it makes ``n * (parameters + 2)`` points; ``n`` must be a power of two. Sampled values
of whole-number parameters are rounded.

Instead of ``[design]``, an experiment for decision support separates what nobody controls
from what the council chooses (the XLRM frame of exploratory modelling)::

    [uncertainties]                          # scenarios: sampled, crossed with every policy
    sampler = "lhs"                          # lhs (Latin hypercube) | sobol (scrambled, n a power of two)
    n = 40                                   # | morris (n trajectories: n x (uncertainties + 1) scenarios)
    [uncertainties.bounds]                   # numeric: name = [low, high]
    "council.initial_caseload" = [60, 140]
    [uncertainties.choices]                  # any kind: name = [value, ...], drawn evenly
    "labour_market.scenario" = ["baseline", "recession"]

    [levers]                                 # policies: every strategy at every combination
    "council.caseload_target" = [55, 80, 110]

Scenarios are drawn with SciPy's ``qmc`` or SALib's Morris trajectories (seeded by the
experiment's seed; a Morris design also gets elementary-effects screening); the design
points are every scenario x lever combination (kind ``scenarios``). A key cannot be both
an uncertainty and a lever. A strategy that does not read a lever (``status_quo`` and the
caseload target) is run once per scenario and replication, not once per lever value
(:func:`abm.execution.identical_runs`).

Parameter names are the config's dotted keys and every generated value is checked by its
:class:`~abm.parameters.Param`, so a mistake fails here with the file, the key, the value
and what is allowed, as configs do.

Every run is one :class:`~abm.execution.Task` with a fixed seed, built by
:func:`~abm.execution.batch_tasks` as ``abm compare``'s are. Replication ``r`` has the same
seed in every strategy and design point (common random numbers): differences between
strategies and along a parameter are not blurred by different random draws, and a Sobol
design sees the parameters' effect, not the noise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.config import Config, load_config, param_of, read_toml, split_key
from abm.errors import ConfigError, show, suggest
from abm.execution import Task, batch_tasks
from abm.parameters import Param
from abm.resources import check_design_size

KINDS = ("grid", "list", "random", "sobol")
TOP_LEVEL_KEYS = ("description", "base", "set", "strategies", "replications", "seed", "design", "uncertainties", "levers")
SAMPLERS = ("lhs", "sobol", "morris")
UNCERTAINTY_KEYS = ("sampler", "n", "bounds", "choices")
DESIGN_KEYS = {"grid": ("kind", "parameters"), "list": ("kind", "points"), "random": ("kind", "n", "bounds"), "sobol": ("kind", "n", "bounds")}
NUMERIC_KINDS = ("int", "float")
RANDOM_STREAM = 0x5EED  # keeps the random design's draws apart from any run's seed tree


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: the base config, the design points and how each is run."""

    name: str                        # file stem; results go to results/<name>/
    path: Path
    description: str
    base: Config                     # the base config with ``set`` applied
    kind: str                        # grid | list | random | sobol | scenarios
    parameters: tuple[str, ...]      # the varied dotted keys, in column order
    points: tuple[dict, ...]         # one {name: value} per design point, every value checked
    bounds: dict                     # random/sobol: {name: (low, high)}; empty otherwise
    n: int | None                    # random: samples; sobol: base samples
    strategies: tuple[str, ...]
    replications: int
    seed: int
    uncertainties: tuple[str, ...] = ()  # scenarios: the sampled keys (a scenario is one combination of them)
    levers: tuple[str, ...] = ()         # scenarios: the keys of the lever grid (with the strategy, a policy)
    sampler: str = ""                    # scenarios: lhs | sobol | morris
    unit_samples: tuple[tuple[float, ...], ...] = ()  # scenarios: each scenario in the unit cube (Morris needs them)

    def tasks(self) -> list[Task]:
        """Every run, in run-id order: point, then replication, then strategy."""
        return batch_tasks(self.base, self.strategies, self.replications, self.seed, list(self.points), str(self.path))

    def resolved(self) -> dict:
        """The experiment as plain data: what the manifest records and the identity hashes."""
        return {
            "name": self.name, "kind": self.kind, "parameters": list(self.parameters),
            "bounds": {name: list(b) for name, b in self.bounds.items()}, "n": self.n,
            "strategies": list(self.strategies), "replications": self.replications, "seed": self.seed,
            "base": json.loads(self.base.to_json()), "points": list(self.points),
            "uncertainties": list(self.uncertainties), "levers": list(self.levers), "sampler": self.sampler,
        }

    def identity(self) -> str:
        """Hash of every run's id, seed and resolved config: equal only for the same runs."""
        digest = hashlib.sha256()
        for task in self.tasks():
            digest.update(json.dumps([task.run_id, task.seed, task.config.to_json()]).encode())
        return digest.hexdigest()[:16]

    def salib_problem(self) -> dict:
        return {"num_vars": len(self.parameters), "names": list(self.parameters),
                "bounds": [list(self.bounds[name]) for name in self.parameters]}


def load_experiment(path: str | Path, yes: bool = False) -> Experiment:
    """Read and validate an experiment file; raise ConfigError naming what is wrong.

    A design of more than :data:`abm.resources.RUN_LIMIT` runs is refused before its points
    are drawn, unless ``yes``."""
    path = Path(path)
    document = read_toml(path, "experiment")
    origin = str(path)
    _check_keys(document, TOP_LEVEL_KEYS, origin, "")

    base_name = document.get("base")
    if not isinstance(base_name, str):
        raise ConfigError(f"{origin}: base = {show(base_name)} is not allowed: expected the base config's path "
                          f"(relative to the experiment), e.g. base = \"../configs/baseline.toml\"")
    if not (path.parent / base_name).is_file():
        raise ConfigError(f"{origin}: base = {base_name!r}: no such config file ({path.parent / base_name})")
    base = load_config(path.parent / base_name)
    overrides = _flatten(_table(document, "set", origin), origin, "set")
    for name in ("council.strategy", "council.strategy_mix"):
        if name in overrides:
            raise ConfigError(f"{origin}: set.{name}: strategies are given by strategies = [...], not in [set]")
    base = base.with_overrides(overrides, origin=f"{origin}: set")

    strategies = document.get("strategies", [base.council.strategy])
    problem = param_of("compare.strategies").problem(strategies)
    if problem or not strategies or len(set(strategies)) != len(strategies):
        raise ConfigError(f"{origin}: strategies = {show(strategies)} is not allowed: "
                          f"{problem or 'expected a non-empty list without repeats'}")
    replications = _whole(document.get("replications", 1), origin, "replications", 1, 10_000)
    seed = _whole(document.get("seed", base.run.seed), origin, "seed", 0, 2**63 - 1)

    runs_per_point = replications * len(strategies)
    common = {"name": path.stem, "path": path, "description": str(document.get("description", "")), "base": base,
              "strategies": tuple(strategies), "replications": replications, "seed": seed}
    if "uncertainties" in document or "levers" in document:
        if "design" in document:
            raise ConfigError(f"{origin}: [design] and [uncertainties]/[levers] are two ways to give the runs: keep one")
        uncertainties, levers, points, sampler, unit = _scenarios(document, origin, seed, runs_per_point, yes)
        return _checked(Experiment(
            **common, kind="scenarios", parameters=(*uncertainties, *levers), points=tuple(points), bounds={}, n=None,
            uncertainties=uncertainties, levers=levers, sampler=sampler, unit_samples=tuple(map(tuple, unit.tolist())),
        ))
    design = _table(document, "design", origin)
    if not design:
        raise ConfigError(f"{origin}: no [design]: add one with kind = one of {', '.join(KINDS)}, "
                          f"or give [uncertainties] and [levers]")
    kind = design.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{origin}: design.kind = {show(kind)} is not allowed: expected one of "
                          f"{', '.join(KINDS)}{suggest(kind, KINDS)}")
    _check_keys(design, DESIGN_KEYS[kind], origin, "design.")
    n, bounds = None, {}
    if kind == "grid":
        parameters, options = _grid(design, origin)
        check_design_size(math.prod(len(values) for values in options) * runs_per_point, origin, yes)
        points = [dict(zip(parameters, combination)) for combination in itertools.product(*options)]
    elif kind == "list":
        parameters, points = _list(design, origin)
        check_design_size(len(points) * runs_per_point, origin, yes)
    else:
        n = _whole(design.get("n"), origin, "design.n", 1, 1_000_000)
        if kind == "sobol" and n & (n - 1):
            raise ConfigError(f"{origin}: design.n = {n} is not allowed: Sobol sampling needs a power of two, e.g. "
                              f"{1 << (n.bit_length() - 1)} or {1 << n.bit_length()}")
        bounds = _bounds(design, origin, "design.bounds")
        parameters = tuple(bounds)
        check_design_size(n * (len(parameters) + 2 if kind == "sobol" else 1) * runs_per_point, origin, yes)
        samples = _sobol_samples(bounds, n, seed) if kind == "sobol" else _random_samples(bounds, n, seed)
        points = [{name: _rounded(param_of(name), value) for name, value in zip(parameters, row)} for row in samples.tolist()]
    return _checked(Experiment(**common, kind=kind, parameters=parameters, points=tuple(points), bounds=bounds, n=n))


def _checked(experiment: Experiment) -> Experiment:
    """The experiment with its design points as given replaced by checked ones: every value
    (and the config it makes) is checked, and coerced to its parameter's type."""
    origin = str(experiment.path)
    for name in experiment.parameters:
        if name in ("council.strategy", "council.strategy_mix"):
            raise ConfigError(f"{origin}: design varies {name}: give strategies = [...] instead")
    checked = []
    for number, point in enumerate(experiment.points):
        experiment.base.with_overrides(point, origin=f"{origin}: design point {number}")  # checks every value
        checked.append({name: param_of(name).coerce(value) for name, value in point.items()})
    return dataclasses.replace(experiment, points=tuple(checked))


def _scenarios(document: dict, origin: str, seed: int, runs_per_point: int,
               yes: bool) -> tuple[tuple[str, ...], tuple[str, ...], list[dict], str, np.ndarray]:
    """The uncertainties' and levers' names, every scenario x lever combination, the sampler
    and the scenarios in the unit cube."""
    table = _table(document, "uncertainties", origin)
    _check_keys(table, UNCERTAINTY_KEYS, origin, "uncertainties.")
    sampler = table.get("sampler", "lhs")
    if sampler not in SAMPLERS:
        raise ConfigError(f"{origin}: uncertainties.sampler = {show(sampler)} is not allowed: expected one of "
                          f"{', '.join(SAMPLERS)}{suggest(str(sampler), SAMPLERS)}")
    n = _whole(table.get("n"), origin, "uncertainties.n", 1, 1_000_000)
    if sampler == "sobol" and n & (n - 1):
        raise ConfigError(f"{origin}: uncertainties.n = {n} is not allowed: the Sobol sampler needs a power of two, e.g. "
                          f"{1 << (n.bit_length() - 1)} or {1 << n.bit_length()}")
    bounds = _bounds(table, origin, "uncertainties.bounds") if "bounds" in table else {}
    choices = _flatten(_table(table, "choices", origin), origin, "uncertainties.choices")
    for name, options in choices.items():
        if not isinstance(options, list) or not options:
            raise ConfigError(f"{origin}: uncertainties.choices.{name} = {show(options)} is not allowed: "
                              f"expected a non-empty list of values ({param_of(name).allowed()})")
    uncertainties = (*bounds, *(name for name in choices if name not in bounds))
    if len(uncertainties) < len(bounds) + len(choices):
        twice = sorted(set(bounds) & set(choices))
        raise ConfigError(f"{origin}: {', '.join(twice)} is in both uncertainties.bounds and uncertainties.choices: keep one")
    if not uncertainties:
        raise ConfigError(f"{origin}: [uncertainties] names no parameter: give [uncertainties.bounds] name = [low, high] "
                          f"or [uncertainties.choices] name = [values]")
    lever_values = _flatten(_table(document, "levers", origin), origin, "levers")
    for name, options in lever_values.items():
        if name in uncertainties:
            raise ConfigError(f"{origin}: levers.{name} is also an uncertainty: a parameter is either chosen (a lever) "
                              f"or not controlled (an uncertainty), not both")
        if name in ("council.strategy", "council.strategy_mix"):
            raise ConfigError(f"{origin}: levers.{name}: strategies are given by strategies = [...]")
        if not isinstance(options, list) or not options:
            raise ConfigError(f"{origin}: levers.{name} = {show(options)} is not allowed: "
                              f"expected a non-empty list of values ({param_of(name).allowed()})")
    scenario_count = n * (len(uncertainties) + 1) if sampler == "morris" else n
    check_design_size(scenario_count * math.prod(len(v) for v in lever_values.values()) * runs_per_point, origin, yes)
    unit = _unit_samples(sampler, n, len(uncertainties), seed)
    scenarios = []
    for row in unit:
        scenario = {}
        for name, u in zip(uncertainties, row.tolist()):
            if name in bounds:
                low, high = bounds[name]
                scenario[name] = _rounded(param_of(name), low + u * (high - low))
            else:
                scenario[name] = choices[name][min(int(u * len(choices[name])), len(choices[name]) - 1)]
        scenarios.append(scenario)
    points = [{**scenario, **dict(zip(lever_values, combination))}
              for scenario in scenarios for combination in itertools.product(*lever_values.values())]
    return tuple(uncertainties), tuple(lever_values), points, sampler, unit


def unit_problem(names: tuple[str, ...]) -> dict:
    """SALib's problem for scenarios drawn in the unit cube (:func:`_unit_samples`)."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def _unit_samples(sampler: str, n: int, dimensions: int, seed: int) -> np.ndarray:
    """Points in the unit cube, seeded: ``n`` from SciPy's quasi-Monte Carlo samplers, or
    ``n`` Morris trajectories of ``dimensions + 1`` points each (SALib)."""
    from scipy.stats import qmc

    rng = np.random.default_rng([seed, RANDOM_STREAM])
    if sampler == "morris":
        from SALib.sample import morris

        return morris.sample(unit_problem(tuple(map(str, range(dimensions)))), n, seed=seed)
    if sampler == "sobol":
        return qmc.Sobol(dimensions, scramble=True, seed=rng).random_base2(n.bit_length() - 1)
    return qmc.LatinHypercube(dimensions, seed=rng).random(n)


# -- designs ---------------------------------------------------------------------------


def _grid(design: dict, origin: str) -> tuple[tuple[str, ...], list[list]]:
    """The grid's parameter names and each one's values (the points are every combination)."""
    values = _flatten(_table(design, "parameters", origin), origin, "design.parameters")
    if not values:
        raise ConfigError(f"{origin}: design.parameters is empty: a grid needs name = [values, ...] for at least one parameter")
    for name, options in values.items():
        if not isinstance(options, list) or not options:
            raise ConfigError(f"{origin}: design.parameters.{name} = {show(options)} is not allowed: "
                              f"expected a non-empty list of values ({param_of(name).allowed()})")
    return tuple(values), list(values.values())


def _list(design: dict, origin: str) -> tuple[tuple[str, ...], list[dict]]:
    raw = design.get("points")
    if not isinstance(raw, list) or not raw or not all(isinstance(p, dict) for p in raw):
        raise ConfigError(f"{origin}: design.points = {show(raw)} is not allowed: expected one or more "
                          f"[[design.points]] tables of name = value")
    points = [_flatten(point, origin, f"design.points[{i}]") for i, point in enumerate(raw)]
    names = tuple(points[0])
    if not names:
        raise ConfigError(f"{origin}: design.points[0] is empty: each point sets at least one parameter")
    for i, point in enumerate(points):
        if set(point) != set(names):
            raise ConfigError(f"{origin}: design.points[{i}] sets {sorted(point)}, but points[0] sets {sorted(names)}: "
                              f"every point must set the same parameters")
    return names, [{name: point[name] for name in names} for point in points]


def _bounds(table: dict, origin: str, key: str) -> dict[str, tuple[float, float]]:
    raw = _flatten(_table(table, "bounds", origin), origin, key)
    if not raw:
        raise ConfigError(f"{origin}: {key} is empty: give name = [low, high] for at least one parameter")
    bounds = {}
    for name, pair in raw.items():
        param = param_of(name)
        where = f"{origin}: {key}.{name} = {show(pair)} is not allowed"
        if param.kind not in NUMERIC_KINDS:
            raise ConfigError(f"{where}: only numeric parameters can be sampled ({name} is {param.kind}); use a grid or list design")
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair)):
            raise ConfigError(f"{where}: expected [low, high], two numbers")
        low, high = float(pair[0]), float(pair[1])
        if not low < high:
            raise ConfigError(f"{where}: low must be below high (reversed or empty bounds)")
        for value in (low, high):
            problem = param.problem(value)
            if problem:
                raise ConfigError(f"{where}: {value:g} is {problem}")
        bounds[name] = (low, high)
    return bounds


def _random_samples(bounds: dict, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, RANDOM_STREAM])
    lows, highs = np.array(list(bounds.values())).T
    return lows + rng.random((n, len(bounds))) * (highs - lows)


def _sobol_samples(bounds: dict, n: int, seed: int) -> np.ndarray:
    from SALib.sample import sobol

    problem = {"num_vars": len(bounds), "names": list(bounds), "bounds": [list(b) for b in bounds.values()]}
    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


# -- helpers ---------------------------------------------------------------------------


def _flatten(table: dict, origin: str, where: str) -> dict[str, Any]:
    """``{"council": {"caseload_target": x}}`` and ``{"council.caseload_target": x}`` alike
    become ``{"council.caseload_target": x}``; every name is checked against the schema."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                flat[f"{key}.{inner}"] = inner_value
        else:
            flat[key] = value
    for name in flat:
        split_key(name, f"{origin}: {where}")
    return flat


def _table(document: dict, key: str, origin: str) -> dict:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {key} = {show(value)} is not allowed: expected a table [{key}]")
    return value


def _check_keys(table: dict, allowed: tuple[str, ...], origin: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{origin}: unknown key {prefix}{key}{suggest(key, allowed)}; allowed here: "
                              f"{', '.join(prefix + a for a in allowed)}")


def _whole(value: Any, origin: str, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{origin}: {key} = {show(value)} is not allowed: expected a whole number >= {low} and <= {high}")
    return value


def _rounded(param: Param, value: float) -> float | int:
    """A sampled value; whole-number parameters are rounded to the nearest whole number."""
    return int(round(value)) if param.kind == "int" else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
