"""The registry of rules: every mechanism of the model, registered once, and what follows from them.

A rule declares in its own module what the model needs from it (a
:class:`~abm.declarations.Rule`: parameters, checks, state columns, outputs, hooks, its
weekly ``apply``). The built-in rules are registered by :mod:`abm.rules`, which also
holds the week's order; a researcher registers one of their own from any file with
:func:`register` (``docs/extending.md``). Everything else is derived here, from whatever
is registered when it is asked for: the config's sections and checks (``abm.config.SCHEMA``,
``CHECKS``), the state tables' columns (:mod:`abm.state`), the outputs (the weekly table,
the summary, the DataCollector), the hooks the model calls and the week it steps.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import Any, Callable, NamedTuple

import numpy as np

from abm import shipping
from abm.declarations import Column, Output, Rule
from abm.errors import ConfigError

RESERVED_SECTIONS = ("run", "compare")
"""Config sections of the config itself (:mod:`abm.config`), which no rule may own."""

TABLES = ("citizens", "caseworkers")

_NAME = re.compile(r"[a-z][a-z0-9_]*")

_rules: dict[str, Rule] = {}  # in registration order: the order of sections, columns and outputs
_after: dict[str, str] = {}  # a rule registered from outside: the rule its apply follows in the week
_built_in: dict[str, tuple[str, ...]] = {"names": (), "week": (), "start": ()}
_followers: list = []  # what is kept until the registry changes (``follows_registry``)


class Start(NamedTuple):
    """What the start-up hooks are given: the clients per municipality at the start and,
    for a stationary start (``population.start``), the stock they are drawn from."""

    clients: np.ndarray
    stock: object | None


def register_built_in(rules: Sequence[Rule], week: Sequence[str], start: Sequence[str]) -> None:
    """Register the package's own rules, their weekly ``apply`` in the order ``week`` and
    their start-up hooks in the order ``start`` (:mod:`abm.rules`)."""
    for rule in rules:
        _add(rule)
    _built_in.update(week=tuple(week), start=tuple(start), names=tuple(r.name for r in rules))
    _changed()


def register(rule: Rule, after: str | None = None, replace: bool = False) -> Rule:
    """Add a rule of your own; its ``apply`` (if any) runs in the week right after the rule
    named ``after`` (default: after the last one), its start-up hook after the built-in ones.

    Registering the same rule again does nothing; another rule under a registered name
    needs ``replace=True``, and the built-in rules cannot be replaced.
    """
    existing = _rules.get(rule.name)
    if existing is not None and existing == rule and _after.get(rule.name) == after:
        return existing
    if rule.name in _built_in["names"]:
        raise ConfigError(f"rule {rule.name!r} is built in; register yours under another name")
    if existing is not None and not replace:
        raise ConfigError(f"rule {rule.name!r} is already registered; pass replace=True to replace it")
    if rule.apply is not None and after is not None and after not in week_names():
        raise ConfigError(f"rule {rule.name!r}: after={after!r} is not a rule of the week; the week: {', '.join(week_names())}")
    previous = dict(_rules), dict(_after)
    _rules.pop(rule.name, None)
    _after.pop(rule.name, None)
    try:
        _add(rule)
        if after is not None:
            _after[rule.name] = after
        _changed()
        _derived()  # a column or output declared twice is an error now, not when a model is built
    except Exception:  # the registry as it was
        _rules.clear()
        _rules.update(previous[0])
        _after.clear()
        _after.update(previous[1])
        _changed()
        raise
    return rule


def unregister(name: str) -> None:
    """Remove a rule registered with :func:`register`."""
    if name in _built_in["names"]:
        raise ConfigError(f"rule {name!r} is built in and cannot be unregistered")
    if name not in _rules:
        raise ConfigError(f"rule {name!r} is not registered; registered: {', '.join(_rules)}")
    del _rules[name]
    _after.pop(name, None)
    _changed()


def user_registered() -> list[tuple[Rule, str | None]]:
    """(rule, after) of each rule registered from outside the package, in registration order."""
    return [(rule, _after.get(name)) for name, rule in _rules.items() if name not in _built_in["names"]]


def for_workers() -> bytes:
    """The rules registered from outside the package, pickled with their code, for Ray workers."""
    user = user_registered()
    return shipping.with_code(user, {rule.module for rule, _ in user})


def register_from_driver(payload: bytes) -> None:
    """In a worker: register the rules :func:`for_workers` packed in the driver (the driver's win)."""
    for rule, after in pickle.loads(payload):
        register(rule, after=after, replace=True)


def rules() -> tuple[Rule, ...]:
    """Every registered rule, in registration order."""
    return tuple(_rules.values())


def week_names() -> tuple[str, ...]:
    """The names of the rules whose ``apply`` makes up the week, in order."""
    return _derived().week


def week() -> tuple[tuple[str, Callable], ...]:
    """(name, apply) of each rule of the week, in order."""
    return tuple((name, _rules[name].apply) for name in week_names())


def starting() -> tuple[Callable, ...]:
    """The start-up hooks, in the order they run."""
    return _derived().start


def on_entry() -> tuple[Callable, ...]:
    """The entry hooks, in registration order (they draw from one stream in this order)."""
    return tuple(rule.on_entry for rule in _rules.values() if rule.on_entry is not None)


def on_exit() -> tuple[Callable, ...]:
    """The exit hooks, in registration order."""
    return tuple(rule.on_exit for rule in _rules.values() if rule.on_exit is not None)


def sections() -> Mapping[str, Mapping]:
    """Every rule's config sections, section -> its parameters, in registration order (the
    same object until the registry changes)."""
    return _derived().sections


def checks() -> tuple:
    """Every rule's checks between parameters."""
    return _derived().checks


def declared_columns(table: str) -> dict[str, tuple[str, Column]]:
    """Every column of ``table`` ("citizens" or "caseworkers"): name -> (declaring module, column)."""
    return dict(_derived().columns[table])


def state_columns(table: str) -> dict[str, tuple[type, object]]:
    """``FIELDS`` of a state table: name -> (dtype, fill value)."""
    return {name: (column.dtype, column.fill) for name, (_, column) in _derived().columns[table].items()}


def outputs() -> tuple[Output, ...]:
    """Every output, in the order of the weekly table's columns."""
    return _derived().outputs


def owner(output: str) -> str:
    """The module that declares an output."""
    return _derived().owner[output]


def agent_setters(column: str) -> tuple[Callable, ...]:
    """What the rules keep derived from a citizen column: run after a Mesa agent sets it."""
    return tuple(rule.on_agent_set[column] for rule in _rules.values() if column in rule.on_agent_set)


def follows_registry(function: Callable[[], Any]) -> Callable[[], Any]:
    """``function`` with its value kept until the registry changes (for what is derived from it)."""
    kept = cache(function)
    _followers.append(kept)
    return kept


class Live(Sequence):
    """A tuple that follows the registry (``OUTPUTS``, ``CHECKS``): read it, never keep a copy."""

    def __init__(self, items: Callable[[], tuple]):
        self._items = items

    def __getitem__(self, index):
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __contains__(self, item) -> bool:
        return item in self._items()

    def __repr__(self) -> str:
        return repr(self._items())


class LiveMapping(Mapping):
    """A dict that follows the registry (units of the outputs' columns): read it, never keep a copy."""

    def __init__(self, items: Callable[[], dict]):
        self._items = items

    def __getitem__(self, key):
        return self._items()[key]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


OUTPUTS = Live(outputs)
"""Every output, in the order of the weekly table's columns (follows the registry)."""


# -- internals ---------------------------------------------------------------------------


class _Derived(NamedTuple):
    week: tuple[str, ...]
    start: tuple[Callable, ...]
    sections: Mapping[str, Mapping]
    checks: tuple
    columns: dict[str, dict[str, tuple[str, Column]]]
    outputs: tuple[Output, ...]
    owner: dict[str, str]


def _add(rule: Rule) -> None:
    if not isinstance(rule, Rule):
        raise ConfigError(f"register a abm.declarations.Rule, not {type(rule).__name__}")
    if not isinstance(rule.name, str) or not _NAME.fullmatch(rule.name):
        raise ConfigError(f"rule name {rule.name!r} is not allowed: expected lower-case letters, digits and _ , starting with a letter")
    for section in rule.params:
        if section in RESERVED_SECTIONS:
            raise ConfigError(f"rule {rule.name!r}: section [{section}] belongs to the config itself")
    _rules[rule.name] = rule


def _changed() -> None:
    _derived.cache_clear()
    for follower in _followers:
        follower.cache_clear()


@cache
def _derived() -> _Derived:
    """What follows from the rules registered now (recomputed after every change)."""
    week = [name for name in _built_in["week"] if name in _rules]
    for name, rule in _rules.items():
        if rule.apply is not None and name not in week:
            after = _after.get(name)
            week.insert(week.index(after) + 1 if after in week else len(week), name)
    start = [_rules[name].start for name in _built_in["start"] if name in _rules]
    start += [rule.start for name, rule in _rules.items() if rule.start is not None and name not in _built_in["start"]]
    sections: dict[str, Mapping] = {}
    for rule in _rules.values():
        for section, params in rule.params.items():
            if section in sections:
                raise ConfigError(f"config section [{section}] is declared by two rules (one is {rule.name!r})")
            sections[section] = params
    columns: dict[str, dict[str, tuple[str, Column]]] = {table: {} for table in TABLES}
    for rule in _rules.values():
        for table in TABLES:
            for name, column in rule.state(table).items():
                if name in columns[table]:
                    raise ConfigError(f"{table} column {name!r} is declared by {columns[table][name][0]} and {rule.module}")
                columns[table][name] = (rule.module, column)
    outputs = tuple(output for rule in _rules.values() for output in rule.outputs)
    names = [output.name for output in outputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"outputs declared twice: {', '.join(repeated)}")
    owner = {output.name: rule.module for rule in _rules.values() for output in rule.outputs}
    return _Derived(tuple(week), tuple(start), MappingProxyType(sections), tuple(c for r in _rules.values() for c in r.checks), columns,
                    outputs, owner)
