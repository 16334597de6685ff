"""Strategies as a registry: a researcher's own strategy, written in their own file, runs by name.

The strategy file below lives outside the package (in ``tmp_path``), is imported the way a
researcher imports their own module, and registers itself with ``abm.register_strategy``;
configs then name it like a built-in strategy.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import abm
from abm import strategies
from abm.cli import main
from abm.compare import comparison_strategies
from abm.config import defaults, load_config
from abm.errors import ConfigError
from abm.simulate import run_simulation
from abm.strategies import Strategy

RESEARCHER_FILE = '''
"""My strategies: councils that hold a fixed caseload."""
import numpy as np

import abm

CASELOAD = 80.0


@abm.register_strategy("hold_80", doc="hires or cuts to ceil(ordinary clients / 80)")
def hold_80(d):
    return np.ceil(d.ordinary_clients / CASELOAD)
'''

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"municipalities.sizes": [300_000, 200_000, 125_000], "municipalities.population_scale": 0.05,
         "run.weeks": 104, "run.burn_in_weeks": 52, "council.budget_cycle_weeks": 13, "council.initial_caseload": 110.0}


def import_file(path, name):
    """Import a Python file as a module, as ``import name`` would with its folder on the path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hold_80(tmp_path):
    """The researcher's module, imported (which registers its strategy); removed afterwards."""
    path = tmp_path / "my_strategies.py"
    path.write_text(RESEARCHER_FILE)
    assert "hold_80" not in strategies.names()
    yield import_file(path, "my_strategies")
    sys.modules.pop("my_strategies", None)
    strategies.unregister("hold_80")


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts Ray: one at a time under pytest-xdist
def test_a_strategy_from_the_researchers_file_runs_in_a_comparison_and_follows_its_rule(hold_80, tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text(textwrap.dedent(f"""\
        extends = "{ROOT / 'configs' / 'baseline.toml'}"
        [compare]
        strategies = ["status_quo", "hold_80"]
        replications = 2
        """))
    overrides = [f"{key}={value}" for key, value in SMALL.items()]
    out = tmp_path / "cmp"
    assert main(["compare", str(config), *[a for o in overrides for a in ("--set", o)], "--out", str(out)]) == 0

    runs = pl.read_parquet(out / "runs.parquet")
    assert sorted(runs["strategy"].unique()) == ["hold_80", "status_quo"] and runs.height == 4
    assert "Hold 80" in (out / "comparison.txt").read_text()  # its readable label (abm.style.strategy_label)
    weekly = pl.read_parquet(out / "weekly.parquet")
    decisions = weekly.filter((pl.col("strategy") == "hold_80") & (pl.col("week") % 13 == 0))
    # its rule, at every decision: ceil(clients / 80) positions (no pilot units, so all clients are ordinary)
    assert decisions["positions"].to_list() == np.ceil(decisions["clients"].to_numpy() / 80).astype(int).tolist()
    # and its caseworkers end up near 80 cases each (positions are whole, recruiting takes time)
    last_half_year = weekly.filter((pl.col("strategy") == "hold_80") & (pl.col("week") >= 78))
    assert abs(last_half_year["clients"].sum() / last_half_year["caseworkers"].sum() / 80 - 1) < 0.15


def test_configs_name_registered_strategies_only(hold_80, tmp_path):
    assert load_config("configs/baseline.toml", ["council.strategy=hold_80"]).council.strategy == "hold_80"
    assert comparison_strategies(defaults()) == [*strategies.names()] and comparison_strategies(defaults())[-1] == "hold_80"
    bad = tmp_path / "bad.toml"
    bad.write_text('[council]\nstrategy_mix = ["invest", "hold_81"]\n')
    with pytest.raises(ConfigError) as error:
        load_config(bad)
    message = str(error.value)
    assert all(fragment in message for fragment in ("bad.toml", "council.strategy_mix", "hold_81", "'hold_80'", "'status_quo'"))


def test_a_name_is_known_only_once_registered():
    with pytest.raises(ConfigError, match="council.strategy.*hold_80.*not allowed.*'imitate'"):
        load_config("configs/baseline.toml", ["council.strategy=hold_80"])


def test_registering_is_idempotent_and_guards_names(hold_80):
    strategy = strategies.registered()["hold_80"]
    strategies.register(strategy)
    copy = pickle.loads(strategies.for_workers())["hold_80"]  # shipped by value: other function objects
    assert copy.decide is not strategy.decide
    strategies.register(copy)  # identical by code: nothing happens
    assert strategies.registered()["hold_80"] is strategy
    other = Strategy("hold_80", lambda d: d.ordinary_positions, "keeps its positions")
    with pytest.raises(ConfigError, match="already registered.*replace=True"):
        strategies.register(other)
    strategies.register(other, replace=True)
    assert strategies.registered()["hold_80"] is other
    with pytest.raises(ConfigError, match="'invest' is built in"):
        strategies.register(Strategy("invest", lambda d: d.ordinary_positions, "keeps its positions"))
    with pytest.raises(ConfigError, match="reads 'council.caseload'.*council.caseload_target"):
        strategies.register(Strategy("typo", lambda d: d.ordinary_positions, "keeps", ("council.caseload",)))
    with pytest.raises(ConfigError, match="name 'Hold 90'"):
        strategies.register(Strategy("Hold 90", lambda d: d.ordinary_positions, "keeps"))
    assert list(strategies.user_registered()) == ["hold_80"]
    assert list(strategies.registered())[-1] == "hold_80" and "invest" in strategies.registered()


def test_a_rule_sees_only_the_parameters_it_declares():
    @abm.register_strategy("undeclared", doc="reads the invest target without saying so")
    def undeclared(d):
        return np.ceil(d.ordinary_clients / d.params.caseload_target)

    try:
        with pytest.raises(AttributeError, match="'undeclared' reads council.caseload_target without declaring it"):
            run_simulation(defaults().with_overrides({**SMALL, "council.strategy": "undeclared", "run.weeks": 2}), seed=1)
    finally:
        strategies.unregister("undeclared")


# Every strategy setting set away from its default. Runs whose strategies read none of the
# changed keys must be identical by construction: what sweeps may rely on to run them once.
CHANGED = {
    "council.caseload_target": 70.0, "council.austerity_rate": 0.25, "council.pilot_share": 0.5,
    "council.pilot_caseload": 40.0, "council.pilot_evaluation_weeks": 26, "council.pilot_win_margin": -0.5,
    "council.responsive_threshold": 0.0, "council.responsive_step": 0.5, "council.responsive_budget_factor": 0.5,
    "council.imitate_objective": "trust", "council.max_headcount_factor": 0.9, "council.min_caseload": 150.0,
}


@pytest.mark.parametrize("name", strategies.names())
def test_a_built_in_strategy_depends_on_the_parameters_it_declares_and_no_other(name):
    built_in = strategies.registered()[name]
    assert strategies.settings() == set(CHANGED), "give every strategy setting a changed value here"
    base = defaults().with_overrides({**SMALL, "municipalities.sizes": [300_000, 200_000, 125_000, 150_000], "council.strategy": name})
    weekly = run_simulation(base, seed=5).weekly
    others = {key: value for key, value in CHANGED.items() if key not in built_in.parameters}
    assert run_simulation(base.with_overrides(others), seed=5).weekly.equals(weekly)
    if built_in.parameters:  # and its own parameters do matter
        own = {key: CHANGED[key] for key in built_in.parameters}
        assert not run_simulation(base.with_overrides(own), seed=5).weekly.equals(weekly)


def test_the_docs_show_the_registrys_strategy_table():
    """README.md and docs/ODD.md list the strategies only in this generated table."""
    begin, end = "<!-- generated by abm validate --strategies -->\n", "\n<!-- end of generated table -->"
    for document in ("README.md", "docs/ODD.md"):
        text = (ROOT / document).read_text()
        assert text.count(begin) == text.count(end) == 1, f"{document}: mark the strategy table with {begin!r} ... {end!r}"
        shown = text.split(begin)[1].split(end)[0]
        assert shown == strategies.describe(), f"{document}: replace the table between the markers with `abm validate --strategies`"


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts Ray: one at a time under pytest-xdist
def test_a_user_strategy_runs_on_a_ray_worker_that_never_saw_its_file(hold_80):
    ray = pytest.importorskip("ray")
    payload = strategies.for_workers()
    config = defaults().with_overrides({**SMALL, "run.weeks": 30, "council.strategy": "hold_80"})

    def in_worker(payload, config, seed):
        from abm import strategies as registry
        from abm.simulate import run_simulation as run

        assert "my_strategies" not in sys.modules and "hold_80" not in registry.names()
        registry.register_from_driver(payload)
        registry.register_from_driver(payload)  # a second task in the same worker: nothing changes
        return run(config, seed).weekly

    ray.init(address="local", num_cpus=1, object_store_memory=100 * 1024**2, include_dashboard=False,
             _node_ip_address="127.0.0.1", logging_level="WARNING")
    try:
        remote = ray.get(ray.remote(in_worker).remote(payload, config, 9))
    finally:
        ray.shutdown()
    assert remote.equals(run_simulation(config, seed=9).weekly)
