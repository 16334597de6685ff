"""Memory estimates and the refusal of runs too big for the machine (issue 15 item 2)."""

from __future__ import annotations

import pytest

from abm.config import defaults
from abm.errors import UserError
from abm.resources import BASE_BYTES, RUN_LIMIT, available_memory, check_design_size, check_memory, estimate, plan_sweep


def test_estimate_grows_with_population_staff_and_weeks():
    small = defaults().with_overrides({"municipalities.count": 4, "municipalities.population_scale": 0.1})
    assert estimate(small).bytes > BASE_BYTES
    assert estimate(small.with_overrides({"municipalities.population_scale": 1.0})).bytes > estimate(small).bytes
    assert estimate(small.with_overrides({"council.initial_caseload": 10.0})).bytes > estimate(small).bytes
    assert estimate(small.with_overrides({"run.weeks": 5200})).bytes > estimate(small).bytes
    assert estimate(small.with_overrides({"run.weeks": 5200})).seconds > estimate(small).seconds


def test_a_run_bigger_than_the_machine_is_refused_with_both_sizes():
    huge = defaults().with_overrides({"municipalities.sizes": [10_000_000] * 98, "municipalities.population_scale": 10.0})
    assert estimate(huge).bytes > available_memory()
    with pytest.raises(UserError, match=r"x.toml: a run of .* needs about [\d.]+ GiB .* but [\d.]+ GiB is available.*--force"):
        check_memory([huge], origin="x.toml")
    assert check_memory([huge], force=True) == estimate(huge)
    small = defaults()
    assert check_memory([small, huge.with_overrides({"municipalities.population_scale": 0.0001})]).bytes >= estimate(small).bytes


def test_parallel_runs_count_once_each():
    config = defaults()
    per_run = estimate(config).bytes
    workers = available_memory() // per_run + 1
    check_memory([config] * workers, parallel=1)
    with pytest.raises(UserError, match=f"{workers} runs at once"):
        check_memory([config] * workers, parallel=workers)


def test_a_design_above_the_limit_needs_yes():
    check_design_size(RUN_LIMIT, "e.toml", yes=False)
    check_design_size(RUN_LIMIT + 1, "e.toml", yes=True)
    with pytest.raises(UserError, match=r"e.toml: the design makes 10,001 runs.*--yes"):
        check_design_size(RUN_LIMIT + 1, "e.toml", yes=False)


def test_a_sweep_of_many_hours_needs_yes_and_is_announced():
    config = defaults().with_overrides({"municipalities.count": 98, "municipalities.population_scale": 1.0})
    hours = estimate(config).seconds * 2000 / 2 / 3600
    assert hours > 2
    with pytest.raises(UserError, match=r"e.toml: the design's 2,000 runs would take about [\d.]+ h on 2 CPUs.*--yes"):
        plan_sweep([config] * 100, 20, workers=2, yes=False, force=False, origin="e.toml")
    assert plan_sweep([config] * 100, 20, workers=2, yes=True, force=False, origin="e.toml").startswith("2,000 runs, about")
    assert "CPU time" in plan_sweep([config] * 100, 20, workers=None, yes=False, force=False, origin="e.toml")
