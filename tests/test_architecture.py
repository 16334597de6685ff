"""Each mechanism's parameters are read only in the module that declares them (issue 12).

A module that needs what another mechanism's parameter decides calls a function of that
mechanism's module (``inflow.expected_inflow(model)``, ``turnover.stress_at(model, caseload)``,
``population.group_means(params)``), so each parameter has one reader to change. The check
reads the source: an attribute ``<section>`` of anything named ``params`` or ``config``
(``model.params.casework``, ``config.population``, ``params.network``) is a read of that
section of the schema.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import abm
from abm import mechanisms
from abm.config import SCHEMA

PACKAGE = Path(abm.__file__).resolve().parent

RULE_FILES = sorted(".".join(("abm", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
                    for path in (PACKAGE / "rules").rglob("*.py"))
CHECKED = sorted({"abm.model", "abm.people", "abm.network", "abm.strategies.built_in", *(rule.module for rule in mechanisms.rules()),
                  *(name for name in RULE_FILES if name != "abm.rules")})
"""The model, the people's life cycle, the built-in strategies and every module of a rule
(a rule split into a package, as the council's, owns its sections in each of its modules)."""

ALLOWED = {"abm.model": {"run"}, "abm.strategies.built_in": {"council"}}
"""Reads of a section a module does not declare, and why: the model schedules the run, so it
reads ``run`` (weeks, burn-in, seed), which the config declares for every command; the
built-in strategies read the council's settings they declare (``Strategy.reads``)."""


def declared_sections(module) -> set[str]:
    """The schema sections whose parameters ``module`` declares (its ``PARAMS`` and the like)."""
    return {section for section, params in SCHEMA.items() if any(value is params for value in vars(module).values())}


def foreign_reads(source: str, own: set[str]) -> list[str]:
    """``line: expression`` of each read of a schema section outside ``own`` in ``source``."""
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in SCHEMA and node.attr not in own:
            base = node.value
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
            if name in ("params", "config"):
                reads.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(reads, key=lambda read: int(read.split(":")[0]))


def test_no_module_reads_parameters_it_does_not_declare():
    found = {}
    for name in CHECKED:
        module = importlib.import_module(name)
        package = name.rsplit(".", 1)[0]
        own = declared_sections(module) | ALLOWED.get(name, set())
        if package in RULE_FILES and package != "abm.rules":
            own |= declared_sections(importlib.import_module(package))
        reads = foreign_reads(Path(module.__file__).read_text(), own)
        if reads:
            found[name] = reads
    assert not found, ("read another mechanism's parameters; call a function of the declaring module instead: "
                       + "; ".join(f"{name} {reads}" for name, reads in found.items()))


def test_the_check_finds_foreign_reads():
    source = """
def rule(model, config, params):
    a = model.params.labour_market.inflow_per_1000
    b = config.population.health_mean
    c = params.casework
    d = model.params.trust.social_rate
    e = model.network.degree  # the citizens' network, not a section of the config
"""
    assert foreign_reads(source, {"trust"}) == ["3: model.params.labour_market", "4: config.population", "5: params.casework"]


def test_sections_are_found_where_declared():
    from abm import population
    from abm.rules import inflow, trust

    assert declared_sections(trust) == {"trust"}
    assert declared_sections(inflow) == {"labour_market"}
    assert declared_sections(population) == {"population", "municipalities"}


def imported_modules(module) -> set[str]:
    """The ``abm`` modules ``module``'s source imports (at any depth of its code)."""
    names = set()
    for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name.startswith("abm")}


def test_the_strategy_registry_and_the_council_do_not_import_each_other():
    """The registry knows the council only through the rule registry (its section's parameters);
    the council's modules use the registry, never the built-in strategies defined on top of both."""
    import abm.strategies

    council_modules = [name for name in RULE_FILES if name.startswith("abm.rules.council")]
    assert not {name for name in imported_modules(abm.strategies) if name.startswith("abm.rules")}
    for name in council_modules:
        assert "abm.strategies.built_in" not in imported_modules(importlib.import_module(name)), name
