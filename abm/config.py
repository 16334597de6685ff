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
import errno
import json
import stat
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from abm.errors import ConfigError, cut, show, suggest
from abm.parameters import Param
import abm.rules  # noqa: F401 (registers the built-in rules)
from abm import denmark, mechanisms, strategies

RUN_PARAMS: dict[str, Param] = {
    "weeks": Param(520, "weeks", "Length of a run (10 years of weekly steps).", "assumption", low=1, high=5200),
    "burn_in_weeks": Param(
        26, "weeks", "Weeks simulated before week 0, with every council holding its starting caseload, so all strategies start from a settled state (not recorded).",
        "assumption: the clients are drawn as the stock the flows keep, caseworker changes included (docs/ODD.md section 5); 26 weeks let trust, which follows experience and friends with time constants of 10-20 weeks, settle from its drawn start", low=0, high=5200,
    ),
    "seed": Param(20260101, "", "Seed of the run's random-number tree.", "assumption", low=0, high=2**63 - 1),
}

COMPARE_PARAMS: dict[str, Param] = {
    "strategies": Param(
        [],
        "",
        "Strategies `abm compare` puts side by side, each applied to every municipality; empty = every registered strategy.",
        "assumption: the strategies of MODEL.md's strategy table (the levers the debate in the seeds is about)",
        choices=strategies.names,
        kind="list[str]",
    ),
    "replications": Param(5, "runs", "Replications per strategy (common random numbers across strategies).", "assumption", low=1, high=1000),
    "baseline_strategy": Param(
        "status_quo", "", "Strategy the others are measured against (payback year).", "assumption: the status quo as the reference (MODEL.md)", choices=strategies.names
    ),
}

class Schema(Mapping):
    """Every config section, section -> its parameters: the run's, then each registered rule's
    (:mod:`abm.mechanisms`, in registration order), then the comparison's. It follows the
    registry, so a rule registered from outside the package brings its section."""

    def __init__(self) -> None:
        self._rules: Mapping | None = None
        self._sections: dict[str, Mapping[str, Param]] = {}

    def _current(self) -> dict[str, Mapping[str, Param]]:
        rules = mechanisms.sections()
        if rules is not self._rules:
            self._rules, self._sections = rules, {"run": RUN_PARAMS, **rules, "compare": COMPARE_PARAMS}
        return self._sections

    def __getitem__(self, section: str) -> Mapping[str, Param]:
        return self._current()[section]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


SCHEMA = Schema()

CHECKS = mechanisms.Live(lambda: (*mechanisms.checks(), *denmark.CHECKS))
"""Rules between parameters, each declared beside the parameters it reads (its rule's
``checks``; the Danish presets' in :mod:`abm.denmark`)."""


def param_of(dotted: str, origin: str = "config") -> Param:
    """The :class:`Param` of ``section.key``, or a ConfigError from ``origin`` naming what exists."""
    section, key = split_key(dotted, origin)
    return SCHEMA[section][key]


TOP_LEVEL_KEYS = ("extends", "description")
MAX_FILE_BYTES = 10 * 2**20
"""Largest config, experiment or targets file read (the shipped ones are a few kB)."""
MAX_EXTENDS = 32
"""Longest chain of ``extends`` (a longer one is a mistake, not a design)."""


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
    document = read_toml(path)
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(cut(str(p), 120) for p in (*chain, resolved))
        raise ConfigError(f"{cut(str(path))}: extends = ... forms a cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS:
        raise ConfigError(f"{cut(str(path))}: extends = ... chains more than {MAX_EXTENDS} files; layer fewer configs")
    description = document.pop("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{cut(str(path))}: description = {show(description)} is not allowed: expected a string")
    merged: dict[str, dict[str, Any]] = {}
    parent = document.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{cut(str(path))}: extends = {show(parent)} is not allowed: expected a file name string")
        target = path.parent / parent
        try:
            is_folder = stat.S_ISDIR(target.stat().st_mode)
        except FileNotFoundError:
            raise ConfigError(f"{cut(str(path))}: extends = {cut(repr(parent))}: no such file ({cut(str(target))})") from None
        except (OSError, RuntimeError, ValueError):
            is_folder = False  # read_toml names the problem (a loop of links, a name too long, a NUL character)
        if is_folder:
            raise ConfigError(f"{cut(str(path))}: extends = {cut(repr(parent))}: is a folder ({cut(str(target))}), "
                              f"expected a config .toml file")
        merged, parent_description = _read_layered(target, (*chain, resolved))
        description = description or parent_description
    for section, keys in document.items():
        if section not in SCHEMA:
            raise ConfigError(
                f"{cut(str(path))}: unknown section [{cut(section)}]{suggest(section, SCHEMA)}; "
                f"sections: {', '.join(SCHEMA)}; top-level keys: {', '.join(TOP_LEVEL_KEYS)}"
            )
        if not isinstance(keys, dict):
            raise ConfigError(f"{cut(str(path))}: {section} = {show(keys)} is not allowed: [{section}] must be a table of keys")
        for key in keys:
            split_key(f"{section}.{key}", cut(str(path)))
        merged.setdefault(section, {}).update(keys)
    return merged, description


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """A TOML document, or a ConfigError saying why the ``what`` file cannot be read: missing,
    a folder, a device or FIFO (never read: it could be endless or block), a symbolic-link
    loop, larger than ``MAX_FILE_BYTES``, not UTF-8, not TOML, or nested too deeply."""
    shown = cut(str(path))
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{shown}: no such {what} file") from None
    except OSError as error:
        reason = "a loop of symbolic links" if error.errno == errno.ELOOP else error.strerror
        raise ConfigError(f"{shown}: cannot be read as a {what} file: {reason}") from None
    except RuntimeError:  # Path.stat of some loops on older Pythons
        raise ConfigError(f"{shown}: cannot be read as a {what} file: a loop of symbolic links") from None
    except ValueError:
        raise ConfigError(f"{cut(repr(str(path)))}: cannot be read as a {what} file: the name holds a NUL character") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{shown}: is a folder, expected a {what} .toml file")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{shown}: not a regular file (a device, FIFO or socket), expected a {what} .toml file")
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{shown}: {info.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a {what} file may have")
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1).decode("utf-8")
        return tomllib.loads(text)
    except OSError as error:
        raise ConfigError(f"{shown}: cannot be read as a {what} file: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: not valid TOML: {cut(str(error))}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not valid TOML: the file is not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(f"{shown}: not allowed: tables or lists nested too deeply for a {what} file") from None
