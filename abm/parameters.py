"""How a model parameter is declared: default, unit, allowed values and source.

Each rule module declares its own parameters beside its code (``PARAMS``); the schema in
:mod:`abm.config` gathers them by section. A parameter knows how to check a value, so
every config file, ``--set`` override and experiment is validated the same way.

A parameter's shape is part of its declaration (``length=3`` for one value per target
group, ``total=1.0`` for shares that must add up). Rules between parameters (one must not
exceed another, a graph the generator can build) are :class:`Check` objects, declared
beside the parameters they read (``CHECKS``) and run by :meth:`abm.config.Config.validated`
on every config, after each value has passed its own :class:`Param`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

SUM_TOLERANCE = 1e-6  # shares typed as decimals (0.57 + 0.29 + 0.14) sum to 1 only up to rounding

# The source of the casework parameters fitted by approximate Bayesian computation (docs/VALIDATION.md).
FITTED_TO_EXPERIMENTS = (
    "ABC-SMC posterior on targets/experiments.toml (fitted to the Austrian caseload RCT's entrants, Böheim, Eppel & Mahringer "
    "2023, Tables 5-6, and the Danish early-meetings experiment, Maibom, Rosholm & Svarer 2017; "
    "targets/experiments-posterior.parquet): the default is the one of four particles near the targets that "
    "met the fitted targets best when rerun with 8 replications (docs/VALIDATION.md)"
)
PRIOR_OF_THE_FIT = ("the uniform prior of the ABC fit (targets/experiments.toml [parameters]; why each range: "
                    "docs/calibration.md): a range the evidence and stated assumptions make plausible")

_KINDS = ("float", "int", "bool", "str", "list[float]", "list[int]", "list[str]", "table[float]", "table[str]")


@dataclass(frozen=True)
class Param:
    """One parameter: its default, unit, allowed range or choices, and where it comes from.

    ``source`` names a seed fact (``seed 002``), a public figure, or says ``assumption``.
    Lists may declare their ``length`` (exactly that many values, e.g. one per target
    group: the compiled rules index them by group) and ``total`` (the values add up to it).
    ``choices`` may be a function, asked at every check, for choices that can grow after
    import (the registered strategies); such a default is checked by the tests instead.

    ``low``/``high`` say what the model accepts; ``plausible`` (low, high) says what the
    evidence or a stated assumption makes believable, with ``plausible_source`` naming it:
    the range to sample in a sensitivity analysis or search in an optimisation (a caseload
    target of 1 is valid, not plausible). Where none is declared, :meth:`plausible_range`
    gives the validity range and says that no plausible range is known.
    """

    default: Any
    unit: str
    doc: str
    source: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None
    kind: str = ""
    length: int | None = None
    total: float | None = None
    plausible: tuple[float, float] | None = None
    plausible_source: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", _infer_kind(self.default))
        if self.kind not in _KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        problem = None if callable(self.choices) else self.problem(self.default)
        if problem:
            raise ValueError(f"default {self.default!r} is invalid: {problem}")
        if self.plausible is not None:
            low, high = self.plausible
            if not self.plausible_source:
                raise ValueError("a plausible range needs its plausible_source (evidence, or 'assumption')")
            if self.problem(low) or self.problem(high) or not low <= self.default <= high:
                raise ValueError(f"plausible range {self.plausible} must lie within the allowed values and hold the default")

    def plausible_range(self) -> tuple[float | None, float | None, str]:
        """(low, high, source) of the values worth exploring: the declared plausible range, else
        the validity range with a source that says no plausible range is known."""
        if self.plausible is not None:
            return self.plausible[0], self.plausible[1], self.plausible_source
        return self.low, self.high, "unknown: the validity range (no evidence or assumption narrows it)"

    def options(self) -> tuple[str, ...] | None:
        """The allowed choices now, or None if the parameter has none."""
        return tuple(self.choices()) if callable(self.choices) else self.choices

    def allowed(self) -> str:
        """The allowed values, in words, for error messages and docs."""
        if self.choices is not None:
            base = "one of " + ", ".join(repr(c) for c in self.options())
        elif self.kind == "bool":
            base = "true or false"
        elif self.kind in ("str", "list[str]"):
            base = "a string"
        else:
            whole = "int" in self.kind
            number = "a whole number" if whole else "a number"
            lo = "" if self.low is None else f" >= {_bound(self.low, whole)}"
            hi = "" if self.high is None else f" <= {_bound(self.high, whole)}"
            base = number + (lo + (" and" if lo and hi else "") + hi)
        if self.kind.startswith("table"):
            return f"a table of name = {base}"
        if not self.kind.startswith("list"):
            return base
        element = base.replace("one of", "values from")
        if self.length is not None:
            element = f"exactly {self.length} values, each " + element.removeprefix("a ")
        adds_up = "" if self.total is None else f", adding up to {self.total:g}"
        return f"a list of {element}{adds_up}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or ``None`` if it is."""
        if self.kind.startswith("list"):
            if not isinstance(value, list):
                return f"expected {self.allowed()}"
            element = self.kind[5:-1]
            for item in value:
                if self._scalar_problem(item, element):
                    return f"element {item!r} is not allowed; expected {self.allowed()}"
            if self.length is not None and len(value) != self.length:
                return f"{len(value)} value{'s' * (len(value) != 1)} given; expected {self.allowed()}"
            if self.total is not None and abs(sum(value) - self.total) > SUM_TOLERANCE:
                return f"the values add up to {sum(value):g}; expected {self.allowed()}"
            return None
        if self.kind.startswith("table"):
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                return f"expected {self.allowed()}"
            element = self.kind[6:-1]
            for key, item in value.items():
                if self._scalar_problem(item, element):
                    return f"{key} = {item!r} is not allowed; expected {self.allowed()}"
            return None
        return self._scalar_problem(value, self.kind)

    def _scalar_problem(self, value: Any, kind: str) -> str | None:
        if kind == "bool":
            return None if isinstance(value, bool) else f"expected {self.allowed()}"
        if kind == "str":
            if not isinstance(value, str):
                return f"expected {self.allowed()}"
            if self.choices is not None and value not in self.options():
                return f"expected {self.allowed()}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected {self.allowed()}"
        if kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            return f"expected {self.allowed()}"
        if value != value:  # NaN
            return f"expected {self.allowed()}"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"out of range; allowed: {self.allowed()}"
        return None

    def coerce(self, value: Any) -> Any:
        """The value in its canonical Python type (ints stay ints, floats become floats)."""
        if self.kind == "float":
            return float(value)
        if self.kind == "int":
            return int(value)
        if self.kind == "list[float]":
            return [float(v) for v in value]
        if self.kind == "list[int]":
            return [int(v) for v in value]
        if self.kind == "table[float]":
            return {key: float(v) for key, v in value.items()}
        return value


@dataclass(frozen=True)
class Check:
    """A rule between parameters that no single :class:`Param` can see.

    ``keys`` are the dotted parameters it reads (named in the error); ``problem`` gets the
    config and returns why it is not allowed (naming the values and what is allowed), or
    ``None``.
    """

    keys: tuple[str, ...]
    problem: Callable[[Any], str | None]


def _bound(value: float, whole: bool) -> str:
    """A range bound as typed: whole-number bounds in full (a seed's maximum is 9223372036854775807)."""
    return str(int(value)) if whole else f"{value:g}"


def _infer_kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    raise ValueError(f"cannot infer the kind of {default!r}; give kind=")
