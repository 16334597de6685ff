"""A rule is one file: a researcher's own rule, written outside the package, joins the model.

The rule below lives in ``tmp_path``, is imported the way a researcher imports their own
module and registers itself with ``abm.register_rule``. It owns a parameter section, a check
between its parameters, a citizen column and an output; nothing in the package is edited,
yet all four show up where the built-in rules' do: the config (schema, defaults,
validation), the week, the weekly table, the run's summary, the Mesa agents and the
DataCollector.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import mesa
import numpy as np
import polars as pl
import pytest

from abm import execution, mechanisms
from abm.agents import Citizen
from abm.compare import run_comparison
from abm.config import SCHEMA, defaults
from abm.errors import ConfigError
from abm.model import JobcenterModel, schedule
from abm.simulate import run_simulation
from abm.state import CitizenState
from test_strategies import import_file

RESEARCHER_FILE = '''
"""Volunteering: some clients volunteer, week by week (my own rule)."""
import numpy as np

import abm
from abm.declarations import per_municipality
from abm.parameters import Check, Param

PARAMS = {
    "start_chance": Param(0.1, "per week", "Chance a client starts volunteering in a week.", "assumption", low=0.0, high=1.0),
    "stop_chance": Param(0.2, "per week", "Chance a volunteer stops in a week.", "assumption", low=0.0, high=1.0),
}


def _one_draw(config):
    """One draw decides both, so the two chances cannot add up to more than 1."""
    p = config.volunteering
    if p.start_chance + p.stop_chance > 1:
        return (f"volunteering.start_chance + volunteering.stop_chance = {p.start_chance:g} + {p.stop_chance:g} "
                "is not allowed: at most 1")
    return None


def apply(model):
    p = model.params.volunteering
    citizens = model.citizens
    rows = citizens.occupied()
    draw = model.streams.volunteering.random(len(rows))
    now = citizens.volunteering[rows]
    citizens.volunteering[rows] = np.where(now, draw >= p.stop_chance, draw < p.start_chance)


def _volunteers(model):
    citizens = model.citizens
    rows = citizens.occupied()
    return per_municipality(model, citizens.slot_municipality[rows], citizens.volunteering[rows])


RULE = abm.register_rule(abm.Rule(
    "volunteering",
    params={"volunteering": PARAMS},
    checks=(Check(("volunteering.start_chance", "volunteering.stop_chance"), _one_draw),),
    citizen_state={"volunteering": abm.Column(bool, False, "volunteering this week", agent="write")},
    outputs=(abm.Output("volunteers", "int", "citizens", "clients volunteering at the end of the week",
                        measure=_volunteers, summary=("final_year",)),),
    apply=apply,
), after="trust")
'''

SMALL = {"municipalities.count": 3, "municipalities.population_scale": 0.05, "run.weeks": 30, "run.burn_in_weeks": 4}


@pytest.fixture
def volunteering(tmp_path):
    """The researcher's module, imported (which registers its rule); removed afterwards."""
    path = tmp_path / "my_rule.py"
    path.write_text(RESEARCHER_FILE)
    assert "volunteering" not in SCHEMA
    yield import_file(path, "my_rule")
    sys.modules.pop("my_rule", None)
    mechanisms.unregister("volunteering")


def test_a_rule_from_the_researchers_file_joins_the_config(volunteering):
    assert SCHEMA["volunteering"]["start_chance"].default == 0.1
    config = defaults().with_overrides(SMALL)
    assert config.volunteering.stop_chance == 0.2
    with pytest.raises(ConfigError, match="volunteering.start_chance = 2 is not allowed"):
        config.with_overrides({"volunteering.start_chance": 2})
    with pytest.raises(ConfigError, match=r"start_chance \+ volunteering.stop_chance = 0.9 \+ 0.2 is not allowed"):
        config.with_overrides({"volunteering.start_chance": 0.9})
    assert [name for name, _ in schedule()].index("volunteering") == [name for name, _ in schedule()].index("trust") + 1


def test_a_rule_from_the_researchers_file_runs_and_is_measured(volunteering):
    config = defaults().with_overrides(SMALL)
    result = run_simulation(config, seed=3)
    volunteers = result.weekly["volunteers"]
    clients = result.weekly["clients"]
    share = volunteers.sum() / clients.sum()
    assert 0.2 < share < 0.5, share  # the stationary share start / (start + stop) = 1/3, from an empty start
    assert result.summary["volunteers_final_year"] == pytest.approx(
        result.weekly.group_by("week").agg(pl.col("volunteers").sum())["volunteers"].mean())  # 30 weeks: all in the final year

    quiet = run_simulation(config.with_overrides({"volunteering.start_chance": 0.0}), seed=3)
    assert quiet.weekly["volunteers"].sum() == 0
    assert quiet.weekly.drop("volunteers").equals(result.weekly.drop("volunteers"))  # its own stream: the rest is unchanged


def test_a_rule_from_the_researchers_file_is_seen_by_mesa(volunteering):
    model = JobcenterModel(defaults().with_overrides(SMALL), seed=4)
    collector = mesa.DataCollector(model_reporters={"Volunteers": lambda m: m.national("volunteers")},
                                   agent_reporters={"volunteering": "volunteering"})
    for _ in range(3):
        model.step()
        collector.collect(model)
    national = collector.get_model_vars_dataframe()["Volunteers"]
    assert list(national) == [float(model.record.so_far("volunteers")[week].sum()) for week in range(3)]
    assert national.iloc[-1] > 0
    agents = collector.get_agent_vars_dataframe()
    last_week = agents.xs(agents.index.get_level_values("Step").max(), level="Step")["volunteering"]
    assert last_week.dropna().sum() == national.iloc[-1]  # councils and municipalities have no such column: None
    citizen = next(iter(model.agents_by_type[Citizen]))
    citizen.volunteering = not citizen.volunteering
    assert model.citizens.volunteering[citizen.row] == citizen.volunteering
    assert "volunteering" in Citizen.settable()


def test_an_unregistered_rule_leaves_nothing_behind(volunteering):
    mechanisms.unregister("volunteering")
    try:
        assert "volunteering" not in SCHEMA and "volunteering" not in CitizenState(np.array([4])).FIELDS
        assert "volunteers" not in {output.name for output in mechanisms.outputs()}
        JobcenterModel(defaults().with_overrides(SMALL), seed=4)  # builds the agents' attributes anew
        assert not hasattr(Citizen, "volunteering")
    finally:
        mechanisms.register(volunteering.RULE, after="trust")  # for the fixture to remove


def test_a_rule_cannot_take_what_another_declares():
    from abm.declarations import Column, Rule

    with pytest.raises(ConfigError, match="column 'trust' is declared by abm.rules.trust and"):
        mechanisms.register(Rule("mine", citizen_state={"trust": Column(float, 0.0, "mine")}))
    with pytest.raises(ConfigError, match=r"section \[trust\] is declared by two rules"):
        mechanisms.register(Rule("mine", params={"trust": {}}))
    with pytest.raises(ConfigError, match="rule 'trust' is built in"):
        mechanisms.register(Rule("trust"))
    assert "mine" not in {rule.name for rule in mechanisms.rules()}


def test_a_rule_reaches_a_process_that_cannot_import_its_file(volunteering, tmp_path):
    """What Ray workers are sent (``execution.driver_context``): the rule with its code, so a
    fresh process that has not got the researcher's file runs it all the same."""
    payload = tmp_path / "context.pickle"
    payload.write_bytes(pickle.dumps(execution.driver_context()))
    worker = textwrap.dedent(f"""
        import pickle, sys
        from abm import execution
        from abm.config import defaults
        from abm.simulate import run_simulation
        assert "my_rule" not in sys.modules
        execution.install_context(pickle.loads(open({str(payload)!r}, "rb").read()))
        result = run_simulation(defaults().with_overrides({SMALL!r}), seed=3)
        print(result.summary["volunteers_final_year"])
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-c", worker], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    here = run_simulation(defaults().with_overrides(SMALL), seed=3).summary["volunteers_final_year"]
    assert float(done.stdout.split()[-1]) == here > 0


@pytest.mark.slow
def test_a_rule_registered_by_the_driver_runs_on_ray_workers(volunteering):
    """On real Ray workers (which cannot import the researcher's file) as serially: same bytes."""
    config = defaults().with_overrides({**SMALL, "compare.replications": 1, "compare.strategies": ["status_quo", "invest"]})
    on_ray, _, _ = run_comparison(config, workers=2)
    serial, _, _ = run_comparison(config, workers=1)
    assert on_ray.equals(serial) and (on_ray["volunteers_final_year"] > 0).all()
