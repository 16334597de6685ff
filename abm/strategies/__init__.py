"""Council strategies by name: the built-in ones and any a researcher registers.

A strategy is one definition: the rule that sets the positions of the councils following
it at each budget decision, the ``council.*`` parameters that rule reads, whether the
headcount cap applies, and an optional weekly bookkeeping step. The built-in strategies
are defined beside this registry, in :mod:`abm.strategies.built_in`; a researcher adds one
from their own Python file::

    import numpy as np
    import abm

    @abm.register_strategy("hold_80", doc="hires or cuts to 80 cases per caseworker")
    def hold_80(d):
        return np.ceil(d.ordinary_clients / 80)

after which ``council.strategy = "hold_80"`` (or ``strategy_mix``, ``compare.strategies``)
works in any config loaded in that process. Configs only name strategies, never import
code. ``docs/extending.md`` walks through it.

Ray workers start with only the built-in strategies: whoever hands runs to workers sends
:func:`for_workers` (the user-registered strategies, code included) with them and calls
:func:`register_from_driver` in the worker before running (doing so again does nothing).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

from abm import mechanisms, shipping
from abm.errors import ConfigError
from abm.jobcenter import ORDINARY

SECTION = "council"
"""The config section whose parameters strategies read (declared by :mod:`abm.rules.council`)."""

CAP_PARAMETERS = ("council.max_headcount_factor", "council.min_caseload")
"""The headcount cap's parameters (:func:`headcount_cap`): a capped strategy's results depend on them."""


def headcount_cap(initial_headcount: np.ndarray, clients: np.ndarray, p) -> np.ndarray:
    """The most positions each council may pay for: ``max_headcount_factor`` x its initial
    positions, and none that would bring it below ``min_caseload`` cases per caseworker
    (``clients``: per municipality and unit; ``p``: the council section)."""
    return np.minimum(np.floor(p.max_headcount_factor * initial_headcount), np.ceil(clients.sum(axis=1) / p.min_caseload))

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, eq=False)
class Decision:
    """What a council knows at a budget decision: the figures before any council acts.

    Every strategy decides on the same figures, so the order in which strategies decide
    does not change their decisions. Arrays have one row per municipality; ``decide``
    returns one target per municipality and only the rows in ``follows`` are used.
    """

    model: Any
    params: Any
    """The council parameters the strategy declared it reads (``d.params.caseload_target``)."""
    follows: np.ndarray
    """True for the municipalities whose council follows this strategy."""
    clients: np.ndarray
    """Clients per unit, shape (municipalities, 2): the ordinary unit, then a pilot unit."""
    positions: np.ndarray
    """Positions per unit, shape (municipalities, 2), as set at the last decision."""
    weeks_since_first_decision: int
    cap: np.ndarray | None = None
    """The most positions a council may pay for (capped strategies only)."""

    @property
    def ordinary_clients(self) -> np.ndarray:
        return self.clients[:, ORDINARY]

    @property
    def ordinary_positions(self) -> np.ndarray:
        return self.positions[:, ORDINARY].astype(float)

    def capped(self, target: np.ndarray) -> np.ndarray:
        """``target`` limited by the headcount cap (``max_headcount_factor``, ``min_caseload``)."""
        if self.cap is None:
            raise TypeError("this strategy is not declared capped=True, so the headcount cap is not given to it")
        return np.minimum(target, self.cap)


@dataclass(frozen=True)
class Strategy:
    """A council strategy: how positions are set at each budget decision.

    ``decide(decision)`` returns target positions of the ordinary unit, one per
    municipality. ``reads`` names every ``council.*`` key it (and ``track``) reads: the
    rule sees only those in ``decision.params``, so the declaration is complete, and runs
    that differ only in parameters none of their strategies read are identical.
    ``capped`` strategies are given the headcount cap (``Decision.capped``) and apply it
    where they hire. ``track(model, params)``, if given, runs every week before any
    decision while some council follows the strategy. ``uses_second_unit``: the strategy
    puts clients in the jobcenter's second unit itself (a pilot), so no in-office trial runs
    where it is followed. ``label`` names it in figures and
    reports (default: the name made readable, "Pilot then scale"; see :func:`label`). Frozen,
    so it can be shipped to Ray workers as it is (:func:`for_workers`).
    """

    name: str
    decide: Callable[[Decision], np.ndarray]
    doc: str
    reads: tuple[str, ...] = ()
    capped: bool = False
    track: Callable[[Any, Any], None] | None = None
    label: str = ""
    uses_second_unit: bool = False

    @property
    def parameters(self) -> tuple[str, ...]:
        """The ``council.*`` keys its decisions depend on: what it reads, and the cap's keys if capped.

        The council keys every strategy depends on (decision timing, starting caseloads)
        are not listed unless read by the rule itself; see :func:`settings`.
        """
        return self.reads + (CAP_PARAMETERS if self.capped else ())

    def declared(self, section: Any) -> "_Declared":
        """The parameters this strategy declared, read from a config's ``council`` section."""
        return _Declared(self, section)


class _Declared:
    """A config section that gives a strategy only the keys it declared it reads."""

    def __init__(self, strategy: Strategy, section: Any):
        self._strategy, self._section = strategy, section

    def __getattr__(self, key: str) -> Any:
        if f"council.{key}" not in self._strategy.reads:
            raise AttributeError(f"strategy {self._strategy.name!r} reads council.{key} without declaring it: add it to reads=")
        return getattr(self._section, key)


_registry: dict[str, Strategy] = {}
_built_in: set[str] = set()


def register(strategy: Strategy, replace: bool = False) -> Strategy:
    """Add ``strategy`` under its name; registering an identical one again does nothing.

    A different strategy under a registered name needs ``replace=True``; built-in names
    are never replaced.
    """
    _check(strategy)
    name, existing = strategy.name, _registry.get(strategy.name)
    if existing is None or not _identical(existing, strategy):
        if existing is not None and name in _built_in:
            raise ConfigError(f"strategy {name!r} is built in; register yours under another name")
        if existing is not None and not replace:
            raise ConfigError(f"strategy {name!r} is already registered with another definition; pass replace=True to replace it")
        _registry[name] = strategy
    return _registry[name]


def register_built_in(strategy: Strategy) -> None:
    """Register one of the package's own strategies (:mod:`abm.strategies.built_in`)."""
    register(strategy)
    _built_in.add(strategy.name)


def register_strategy(name: str, *, doc: str, reads: tuple[str, ...] = (), capped: bool = False,
                      track: Callable[[Any, Any], None] | None = None, label: str = "", uses_second_unit: bool = False,
                      replace: bool = False):
    """Decorator: register the decorated ``decide(decision)`` function as strategy ``name``.

    See :class:`Strategy` for the arguments; the function is returned unchanged.
    """

    def decorate(decide: Callable[[Decision], np.ndarray]) -> Callable[[Decision], np.ndarray]:
        register(Strategy(name, decide, doc, tuple(reads), capped, track, label, uses_second_unit), replace=replace)
        return decide

    return decorate


def unregister(name: str) -> None:
    """Remove a registered (not built-in) strategy."""
    if name in _built_in:
        raise ConfigError(f"strategy {name!r} is built in and cannot be unregistered")
    lookup(name)
    del _registry[name]


def registered() -> dict[str, Strategy]:
    """Every registered strategy by name, the built-in ones first, then in registration order."""
    return dict(_registry)


def user_registered() -> dict[str, Strategy]:
    """The strategies registered from outside the package: what Ray workers must be given."""
    return {name: strategy for name, strategy in _registry.items() if name not in _built_in}


def for_workers() -> bytes:
    """The user-registered strategies pickled with their code, for Ray workers.

    A strategy's functions are pickled by value even when they live in an importable
    module (the researcher's file), since a worker cannot import a file it does not have.
    """
    user = user_registered()
    return shipping.with_code(user, {f.__module__ for s in user.values() for f in (s.decide, s.track) if f is not None})


def register_from_driver(payload: bytes) -> None:
    """In a worker: register the strategies :func:`for_workers` packed in the driver.

    The driver's definitions win over any of the same name left in this process.
    """
    for strategy in pickle.loads(payload).values():
        register(strategy, replace=True)


def settings() -> frozenset[str]:
    """The council keys that only strategies read (every key a built-in strategy depends on).

    A run does not depend on a setting that none of its councils' strategies lists in
    :attr:`Strategy.parameters`: runs differing only in such settings are identical.
    """
    return frozenset(key for name in _built_in for key in _registry[name].parameters)


def names() -> tuple[str, ...]:
    """The registered strategies' names (the allowed values of ``council.strategy``)."""
    return tuple(_registry)


def label(name: str) -> str:
    """How figures and reports name a strategy: its registered label, else its name made
    readable ("pilot_then_scale" -> "Pilot then scale"), also for one no longer registered."""
    strategy = _registry.get(name)
    return strategy.label if strategy is not None and strategy.label else name.replace("_", " ").capitalize()


def lookup(name: str) -> Strategy:
    """The strategy registered under ``name``, or a ConfigError listing those that are."""
    try:
        return _registry[name]
    except KeyError:
        raise ConfigError(
            f"strategy {name!r} is not registered in this process; registered: {', '.join(_registry)} "
            "(register your own with abm.register_strategy before loading or running the config)"
        ) from None


def describe() -> str:
    """The registered strategies as a Markdown table (``abm validate --strategies``; in the README and the ODD)."""
    params = mechanisms.sections()[SECTION]
    lines = [
        "| strategy | at each budget decision, the council ... | reads (default) | capped |",
        "| --- | --- | --- | --- |",
    ]
    for strategy in _registry.values():
        parameters = ", ".join(f"`{key}` = {_default(params[key.split('.', 1)[1]].default)}" for key in strategy.reads)
        lines.append(f"| `{strategy.name}` | {strategy.doc} | {parameters or '-'} | {'yes' if strategy.capped else 'no'} |")
    return "\n".join(lines)


# -- internals ---------------------------------------------------------------------------


def _check(strategy: Strategy) -> None:
    """A clear error for a strategy that could not be run or documented."""
    params = mechanisms.sections()[SECTION]
    name = strategy.name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"strategy name {name!r} is not allowed: expected lower-case letters, digits and _ , starting with a letter")
    if not callable(strategy.decide) or (strategy.track is not None and not callable(strategy.track)):
        raise ConfigError(f"strategy {name!r}: decide (and track, if given) must be functions")
    if not isinstance(strategy.doc, str) or not strategy.doc.strip():
        raise ConfigError(f"strategy {name!r}: doc must say in a line what the council does")
    if not isinstance(strategy.label, str):
        raise ConfigError(f"strategy {name!r}: label must be text (how figures name it), got {strategy.label!r}")
    if not isinstance(strategy.reads, tuple):
        raise ConfigError(f"strategy {name!r}: reads must be a tuple of council.* keys")
    for key in strategy.reads:
        section, _, leaf = str(key).partition(".")
        if section != SECTION or leaf not in params:
            raise ConfigError(f"strategy {name!r} reads {key!r}: not a council parameter; council parameters: "
                              + ", ".join(f"{SECTION}.{k}" for k in params))


def _identical(a: Strategy, b: Strategy) -> bool:
    """Same declaration and the same functions (by code, defaults and closure), so a strategy
    shipped to a Ray worker by value counts as the one already registered there."""
    return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(Strategy))


def _same(x: Any, y: Any) -> bool:
    if x is y:
        return True
    if hasattr(x, "__code__") and hasattr(y, "__code__"):
        try:
            return bool(
                x.__code__ == y.__code__ and x.__defaults__ == y.__defaults__ and x.__kwdefaults__ == y.__kwdefaults__
                and [c.cell_contents for c in x.__closure__ or ()] == [c.cell_contents for c in y.__closure__ or ()]
            )
        except ValueError:  # closures over arrays: no single truth value
            return False
    return type(x) is type(y) and x == y


def _default(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
