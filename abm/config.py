"""Configs: TOML files validated against the parameter schema.

A config file holds sections of parameters (``[trust]``, ``[council]`` ...). It may start
with ``extends = "baseline.toml"`` (a path relative to the file) to layer on another
config, and any key can be overridden from the command line as ``--set section.key=value``.
Every value is checked against its :class:`~abm.parameters.Param` (type, range, list
length, sum), then the whole config against the rules between parameters (``CHECKS``); a
mistake raises :class:`~abm.errors.ConfigError` naming the file, the key, the value and
what is allowed.

A :class:`Config` is frozen: what a run records (``to_json``) is exactly what ran. To
change a value, make a new config with :meth:`Config.with_overrides`, which validates.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from abm.errors import ConfigError, show, suggest
from abm.parameters import Check, Param
from abm.rules import casework, costs, council, inflow, migration, progress, protest, trust, turnover
from abm import denmark, network, population, strategies

RUN_PARAMS: dict[str, Param] = {
    "weeks": Param(520, "weeks", "Length of a run (10 years of weekly steps).", "assumption", low=1, high=5200),
    "burn_in_weeks": Param(
        104, "weeks", "Weeks simulated before week 0, with every council holding its starting caseload, so all strategies start from a settled state (not recorded).",
        "assumption: the clients are drawn stationary but without caseworker changes, which build up over their spells; shorter burn-ins leave the status quo drifting (docs/ODD.md section 5)", low=0, high=5200,
    ),
    "seed": Param(20260101, "", "Seed of the run's random-number tree.", "assumption", low=0, high=2**63 - 1),
}

COMPARE_PARAMS: dict[str, Param] = {
    "strategies": Param(
        [],
        "",
        "Strategies `abm compare` puts side by side, each applied to every municipality; empty = every registered strategy.",
        "MODEL.md strategy table",
        choices=strategies.names,
        kind="list[str]",
    ),
    "replications": Param(5, "runs", "Replications per strategy (common random numbers across strategies).", "assumption", low=1, high=1000),
    "baseline_strategy": Param(
        "status_quo", "", "Strategy the others are measured against (payback year).", "MODEL.md", choices=strategies.names
    ),
}

SCHEMA: dict[str, dict[str, Param]] = {
    "run": RUN_PARAMS,
    "municipalities": population.MUNICIPALITY_PARAMS,
    "population": population.PARAMS,
    "network": network.PARAMS,
    "labour_market": inflow.PARAMS,
    "casework": casework.PARAMS,
    "progress": progress.PARAMS,
    "trust": trust.PARAMS,
    "protest": protest.PARAMS,
    "turnover": turnover.PARAMS,
    "migration": migration.PARAMS,
    "council": council.PARAMS,
    "costs": costs.PARAMS,
    "compare": COMPARE_PARAMS,
}

CHECKS: list[Check] = [*network.CHECKS, *population.CHECKS, *progress.CHECKS, *denmark.CHECKS]
"""Rules between parameters, each declared beside the parameters it reads."""

TOP_LEVEL_KEYS = ("extends", "description")


class FrozenConfigError(AttributeError):
    """A loaded config was changed in place (it must stay what a run records)."""


def _refuse_change(where: str, name: str) -> None:
    key = name if "." in name else "section.key"
    raise FrozenConfigError(
        f"{where} is frozen: cannot set {name!r}; make a changed copy with "
        f"config.with_overrides({{{key!r}: value}}), which validates the new value"
    )


class Section:
    """Read-only attribute access to one section's validated values (``params.trust.social_rate``).

    Lists are tuples and tables read-only mappings here, so a rule cannot change a value
    the recorded config still shows.
    """

    def __init__(self, name: str, values: Mapping[str, Any]):
        object.__setattr__(self, "_name", name)
        for key, value in values.items():
            object.__setattr__(self, key, _read_only(value))

    def __setattr__(self, name: str, value: Any) -> None:
        _refuse_change(f"config section [{self._name}]", f"{self._name}.{name}")

    def __delattr__(self, name: str) -> None:
        _refuse_change(f"config section [{self._name}]", f"{self._name}.{name}")

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"<{self._name}: {items}>"


class Config:
    """A fully resolved, validated configuration: every parameter has a value.

    Frozen: setting an attribute raises :class:`FrozenConfigError`; :meth:`with_overrides`
    returns a new, validated config.
    """

    def __init__(self, values: dict[str, dict[str, Any]], origin: str = "<defaults>", description: str = ""):
        object.__setattr__(self, "_values", copy.deepcopy(values))
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "description", description)
        for name, section in values.items():
            object.__setattr__(self, name, Section(name, section))

    def __setattr__(self, name: str, value: Any) -> None:
        _refuse_change("a Config", name)

    def __delattr__(self, name: str) -> None:
        _refuse_change("a Config", name)

    def get(self, dotted: str) -> Any:
        section, key = split_key(dotted, self.origin)
        return copy.deepcopy(self._values[section][key])

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._values)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), stored beside every result so a run can be redone."""
        return json.dumps(self._values, sort_keys=True, separators=(",", ":"))

    def with_overrides(self, overrides: Mapping[str, Any], origin: str = "override") -> "Config":
        """A new config with these ``{"section.key": value}`` changes, each value and the whole validated."""
        values = self.to_dict()
        for dotted, raw in overrides.items():
            section, key = split_key(dotted, origin)
            values[section][key] = _checked(SCHEMA[section][key], raw, origin, dotted)
        return Config(values, self.origin, self.description).validated(origin)

    def validated(self, origin: str) -> "Config":
        """This config, once every rule between parameters (``CHECKS``) holds; else a ConfigError from ``origin``."""
        for check in CHECKS:
            problem = check.problem(self)
            if problem:
                raise ConfigError(f"{origin}: {problem}")
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._values == other._values

    def __repr__(self) -> str:
        return f"Config(origin={self.origin!r})"


def _read_only(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    return value


def defaults() -> Config:
    """The schema's defaults: the baseline calibration without any file."""
    return Config({s: {k: copy.deepcopy(p.default) for k, p in params.items()} for s, params in SCHEMA.items()})


def load_config(path: str | Path, overrides: Iterable[str] = (), seed: int | None = None) -> Config:
    """Read, layer (``extends``), validate and override a config file.

    ``overrides`` are ``section.key=value`` strings; the value is read as a TOML value
    (``3``, ``0.5``, ``true``, ``["a", "b"]``) or, failing that, as a plain string.
    ``seed`` (the ``--seed`` option) overrides ``run.seed`` last and is checked like it.
    """
    path = Path(path)
    raw, description = _read_layered(path, chain=())
    config = defaults()
    values = config.to_dict()
    for section, keys in raw.items():
        for key, value in keys.items():
            values[section][key] = _checked(SCHEMA[section][key], value, str(path), f"{section}.{key}")
    overrides = parse_overrides(overrides)
    config = Config(values, origin=str(path), description=description)
    config = config.with_overrides(overrides, origin=f"{path} with --set" if overrides else str(path))
    return config if seed is None else config.with_overrides({"run.seed": seed}, origin="--seed")


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["trust.social_rate=0.2", ...]`` into ``{"trust.social_rate": 0.2}``."""
    parsed: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set council.strategy=invest")
        key, text = item.split("=", 1)
        key = key.strip()
        split_key(key, "--set")
        parsed[key] = parse_value(text.strip())
    return parsed


def parse_value(text: str) -> Any:
    """A command-line value as TOML (numbers, booleans, lists), else as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def describe_schema() -> str:
    """docs/parameters.md: every parameter as a Markdown table (``abm validate --schema``)."""
    lines = [
        "# Parameters",
        "",
        "Every parameter with its default, unit, allowed values and source, generated from the schema",
        "(the `PARAMS` beside each rule) by `abm validate --schema > docs/parameters.md`.",
        "",
        "| key | default | unit | allowed | source | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for section, params in SCHEMA.items():
        for key, p in params.items():
            lines.append(f"| `{section}.{key}` | `{json.dumps(p.default)}` | {p.unit} | {p.allowed()} | {p.source} | {p.doc} |")
    return "\n".join(lines)


# -- internals -------------------------------------------------------------------------


def split_key(dotted: str, origin: str) -> tuple[str, str]:
    if dotted.count(".") != 1:
        raise ConfigError(f"{origin}: key {dotted!r} must be section.key, e.g. council.strategy")
    section, key = dotted.split(".")
    if section not in SCHEMA:
        raise ConfigError(f"{origin}: unknown section {section!r}{suggest(section, SCHEMA)}; sections: {', '.join(SCHEMA)}")
    if key not in SCHEMA[section]:
        raise ConfigError(
            f"{origin}: unknown key {dotted!r}{suggest(key, SCHEMA[section], section + '.')}; "
            f"keys in [{section}]: {', '.join(SCHEMA[section])}"
        )
    return section, key


def _checked(param: Param, value: Any, origin: str, dotted: str) -> Any:
    problem = param.problem(value)
    if problem:
        raise ConfigError(f"{origin}: {dotted} = {show(value)} is not allowed: {problem} [{param.unit or 'no unit'}; {param.doc}]")
    return param.coerce(value)


def _read_layered(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, dict[str, Any]], str]:
    """The file's sections merged over those of the file it extends (recursively)."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"{path}: extends = ... forms a cycle: {cycle}")
    document = read_toml(path)
    description = document.pop("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{path}: description = {show(description)} is not allowed: expected a string")
    merged: dict[str, dict[str, Any]] = {}
    parent = document.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: extends = {show(parent)} is not allowed: expected a file name string")
        target = path.parent / parent
        if not target.is_file():
            raise ConfigError(f"{path}: extends = {parent!r}: no such file ({target})")
        merged, parent_description = _read_layered(target, (*chain, resolved))
        description = description or parent_description
    for section, keys in document.items():
        if section not in SCHEMA:
            raise ConfigError(
                f"{path}: unknown section [{section}]{suggest(section, SCHEMA)}; "
                f"sections: {', '.join(SCHEMA)}; top-level keys: {', '.join(TOP_LEVEL_KEYS)}"
            )
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: {section} = {show(keys)} is not allowed: [{section}] must be a table of keys")
        for key in keys:
            split_key(f"{section}.{key}", str(path))
        merged.setdefault(section, {}).update(keys)
    return merged, description


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """A TOML document, or a ConfigError saying why the ``what`` file cannot be read."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a {what} .toml file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
