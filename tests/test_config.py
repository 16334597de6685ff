"""Configs: layering, overrides, and a clear error for every kind of bad input."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.cli import main
from abm.config import CHECKS, SCHEMA, defaults, load_config, parse_overrides
from abm.errors import ConfigError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.toml")), ids=lambda path: path.stem)
def test_shipped_configs_validate(path, capsys):
    """Every shipped config passes ``abm validate``, and what its file sets is what the loaded
    config holds (the file's own keys override what it extends)."""
    assert main(["validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out
    config = load_config(path)
    for section, values in tomllib.loads(path.read_text()).items():
        for key, value in values.items() if isinstance(values, dict) else ():
            assert config.get(f"{section}.{key}") == value, f"{path}: {section}.{key}"


def test_extends_layers_and_overrides_win(tmp_path):
    write(tmp_path, "base.toml", "[council]\ncaseload_target = 70.0\ninitial_caseload = 90.0\n")
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\n[council]\ncaseload_target = 60.0\n')
    config = load_config(child, ["council.strategy=invest", "run.weeks=10"])
    assert config.council.caseload_target == 60.0
    assert config.council.initial_caseload == 90.0
    assert config.council.strategy == "invest"
    assert config.run.weeks == 10


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("[council\nstrategy = 1", ["bad.toml", "not valid TOML"]),
        ("[council]\nstrategy = \"invset\"\n", ["bad.toml", "council.strategy", '"invset"', "'invest'"]),
        ("[council]\ncaseload_tagret = 55.0\n", ["bad.toml", "council.caseload_tagret", "did you mean 'council.caseload_target'"]),
        ("[councl]\nstrategy = \"invest\"\n", ["bad.toml", "[councl]", "did you mean 'council'"]),
        ("[trust]\nsocial_rate = 1.7\n", ["bad.toml", "trust.social_rate", "1.7", "<= 1"]),
        ("[run]\nweeks = \"ten\"\n", ["bad.toml", "run.weeks", '"ten"', "whole number"]),
        ("[run]\nweeks = 10.5\n", ["bad.toml", "run.weeks", "10.5", "whole number"]),
        ("[labour_market]\ninflow_shares = [0.5, \"x\"]\n", ["bad.toml", "labour_market.inflow_shares", "list"]),
        ('extends = "missing.toml"\n', ["bad.toml", "extends", "missing.toml", "no such file"]),
        ("[council]\nstrategy = true\n", ["bad.toml", "council.strategy", "true"]),
    ],
)
def test_bad_config_names_file_key_value_and_allowed(tmp_path, text, fragments):
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.toml")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("council.strategy", "section.key=value"),
        ("nosuch.key=1", "unknown section 'nosuch'"),
        ("run.wekes=3", "did you mean 'run.weeks'"),
        ("run.weeks=-3", "out of range"),
        ("council.strategy=bogus", '"bogus"'),
    ],
)
def test_bad_override_is_an_error(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config("configs/baseline.toml", [override])


INTERNAL_REFERENCE = re.compile(r"\bissues? #?\d+|optuna|experiments/\S+\.toml", re.IGNORECASE)
"""Pointers into the project's own history or runs, which are not evidence (a fit names what it was fitted to)."""


def test_every_parameter_documents_unit_and_source():
    for section, params in SCHEMA.items():
        for key, param in params.items():
            assert param.doc and param.source, f"{section}.{key} lacks a doc or source"
            assert param.problem(param.default) is None
            for source in (param.source, param.plausible_source or ""):
                assert not INTERNAL_REFERENCE.search(source), f"{section}.{key}: source {source!r} points inside the project, not to evidence"


NUMERIC = [(s, k, p) for s, params in SCHEMA.items() for k, p in params.items() if p.kind in ("float", "int")]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_numeric_overrides_are_accepted_exactly_when_in_range(data):
    section, key, param = data.draw(st.sampled_from(NUMERIC))
    value = data.draw(st.one_of(st.integers(-10**7, 10**7), st.floats(allow_nan=False, allow_infinity=False, width=32)))
    if param.kind == "int" and isinstance(value, float):
        value = round(value)
    in_range = (param.low is None or value >= param.low) and (param.high is None or value <= param.high)
    dotted = f"{section}.{key}"
    if in_range:
        try:
            config = defaults().with_overrides(parse_overrides([f"{dotted}={value!r}"]))
        except ConfigError as error:  # in its range, but a rule between parameters refuses it with the defaults
            assert any(dotted in check.keys for check in CHECKS) and dotted in str(error), error
            return
        assert math.isclose(config.get(dotted), value, rel_tol=1e-6)
    else:
        with pytest.raises(ConfigError) as error:
            defaults().with_overrides(parse_overrides([f"{dotted}={value!r}"]))
        assert dotted in str(error.value)


def test_parameter_docs_match_the_schema():
    """docs/parameters.md is generated from the code; regenerate it when a parameter changes."""
    from pathlib import Path

    from abm.config import describe_schema

    assert Path("docs/parameters.md").read_text() == describe_schema() + "\n", "run: abm validate --schema > docs/parameters.md"


# -- a frozen config (issue 13 item 4) ---------------------------------------------------


def test_a_loaded_config_cannot_be_changed_in_place():
    from abm.config import FrozenConfigError

    config = load_config("configs/baseline.toml")
    for change in (lambda: setattr(config.council, "strategy", "invest"),
                   lambda: setattr(config.run, "weeks", "ten"),
                   lambda: setattr(config.council, "wealth", 5),
                   lambda: setattr(config, "council", None),
                   lambda: delattr(config.run, "seed")):
        with pytest.raises(FrozenConfigError, match="with_overrides"):
            change()
    with pytest.raises(AttributeError):  # lists are tuples: no append behind the record's back
        config.population.stock_shares.append(0.1)
    assert config.council.strategy == "status_quo" and config.run.weeks == 520


def test_what_a_run_records_is_what_ran():
    from abm.simulate import run_simulation

    config = defaults().with_overrides({"municipalities.count": 2, "municipalities.population_scale": 0.02, "run.weeks": 8})
    changed = config.with_overrides({"council.strategy": "invest", "council.caseload_target": 30.0})
    assert config.council.strategy == "status_quo"
    summary = run_simulation(changed, seed=1).summary
    assert summary["strategy"] == "invest"
    assert json.loads(summary["config"])["council"]["caseload_target"] == 30.0
    assert summary["config"] == changed.to_json()


def test_with_overrides_validates_shape_and_rules():
    config = defaults()
    with pytest.raises(ConfigError, match="exactly 3"):
        config.with_overrides({"costs.benefit_per_week": [1.0]})
    with pytest.raises(ConfigError, match="adding up to 1"):
        config.with_overrides({"labour_market.inflow_shares": [0.5, 0.4, 0.3]})
    with pytest.raises(ConfigError, match="council_degree = 1 .* 12 municipalities"):
        config.with_overrides({"network.council_degree": 1})
    assert config.with_overrides({"network.council_degree": 1, "municipalities.count": 2}).network.council_degree == 1
    assert config.with_overrides({"network.council_degree": 1, "municipalities.sizes": [500, 900]}).network.council_degree == 1
    with pytest.raises(ConfigError, match="at most 1"):
        config.with_overrides({"progress.disability_share": [0.5, 0.5, 0.5], "progress.flexjob_share": [0.5, 0.6, 0.1]})
    shares = [0.57, 0.29, 0.14]  # adds up to 0.9999999999999999 in floating point
    assert list(config.with_overrides({"population.stock_shares": shares}).population.stock_shares) == shares


def test_defaults_and_shipped_configs_pass_every_rule():
    from abm.config import CHECKS

    for config in [defaults()] + [load_config(f"configs/{name}.toml") for name in ("baseline", "compare", "overloaded", "denmark")]:
        assert all(check.problem(config) is None for check in CHECKS)


FREE_LENGTH_LISTS = {"municipalities.names", "municipalities.sizes", "council.strategy_mix", "compare.strategies"}


def test_every_per_group_list_declares_three_values():
    """A new list parameter must say its length, or be one whose length is free."""
    lists = {f"{s}.{k}": p for s, params in SCHEMA.items() for k, p in params.items() if p.kind.startswith("list")}
    assert set(lists) - FREE_LENGTH_LISTS, "no per-group lists left?"
    for name, param in lists.items():
        if name not in FREE_LENGTH_LISTS:
            assert param.length == 3 and len(param.default) == 3, f"{name} does not declare length=3"


def test_seed_option_is_checked_as_run_seed():
    assert load_config("configs/baseline.toml", seed=5).run.seed == 5
    for bad in (-1, 2**63):
        with pytest.raises(ConfigError, match=r"--seed: run.seed"):
            load_config("configs/baseline.toml", seed=bad)
