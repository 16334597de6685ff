"""Valid configs drawn from the schema never break the model (issue 15).

Hypothesis draws every parameter from its declared range, choices and shape (per-group
lists of three, shares adding up to one, the rules between parameters), with a tiny
population and a few weeks so hundreds of runs take a couple of minutes. Each run must
keep the weekly bookkeeping invariants (tests/test_invariants.py) and write no NaN.

``ABM_PROPERTY_EXAMPLES=3000 pytest tests/test_random_configs.py`` draws more (default 300).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from abm.config import SCHEMA, defaults
from abm.denmark import municipalities
from abm.errors import ConfigError
from abm.model import JobcenterModel
from abm.parameters import Param
from abm.simulate import summarize
from test_invariants import check_state, check_weekly

EXAMPLES = int(os.environ.get("ABM_PROPERTY_EXAMPLES", "300"))
DANISH_NAMES = municipalities()["name"].to_list()

# Size and length stay tiny (a run is a fraction of a second); everything else spans its range.
TINY = {
    "municipalities.count": st.integers(1, 4),
    "municipalities.sizes": st.one_of(st.just([]), st.lists(st.integers(1, 4000), min_size=1, max_size=3)),
    "municipalities.population_scale": st.floats(0.0001, 0.01),
    "run.weeks": st.integers(1, 20),
    "run.burn_in_weeks": st.integers(0, 8),
}


def value_of(param: Param) -> st.SearchStrategy:
    """Any value the parameter's declaration allows."""
    if param.kind.startswith("table"):
        return st.just({})  # settings by municipality name: drawn with the names in valid_overrides
    if param.kind.startswith("list"):
        element = scalar(param, param.kind[5:-1])
        size = {"min_size": param.length, "max_size": param.length} if param.length else {"max_size": 6}
        values = st.lists(element, **size)
        if param.total is not None:
            values = values.filter(lambda v: sum(v) > 0).map(lambda v: [x * param.total / sum(v) for x in v])
        return values
    return scalar(param, param.kind)


def scalar(param: Param, kind: str) -> st.SearchStrategy:
    if param.choices is not None:
        return st.sampled_from(param.options())
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        return st.integers(int(param.low), int(param.high))
    return st.floats(param.low, param.high)


@st.composite
def valid_overrides(draw) -> dict:
    overrides = {}
    for section, params in SCHEMA.items():
        for key, param in params.items():
            name = f"{section}.{key}"
            overrides[name] = draw(TINY[name] if name in TINY else value_of(param))
    # Denmark's municipalities by name (then no sizes) or synthetic ones (no names, no regions).
    if overrides["municipalities.preset"] == "denmark":
        names = draw(st.lists(st.sampled_from(DANISH_NAMES), max_size=3, unique=True))
        overrides |= {"municipalities.names": names, "municipalities.sizes": []}
        if names:
            overrides["council.strategy_by_municipality"] = {names[0]: draw(scalar(SCHEMA["council"]["strategy"], "str"))}
            overrides["council.initial_caseload_by_municipality"] = {names[-1]: draw(st.floats(1.0, 1000.0))}
    else:
        overrides["municipalities.names"] = []
        if overrides["network.council_peers"] == "region":
            overrides["network.council_peers"] = "random"
    # A long benefit history is counted within the history window: draw it within the window.
    overrides["population.long_history_weeks"] = draw(st.integers(0, overrides["population.history_weeks"]))
    # A decision's two shares may not exceed the whole: draw flexjob within what disability leaves.
    overrides["progress.flexjob_share"] = [
        draw(st.floats(0.0, 1.0 - d)) for d in overrides["progress.disability_share"]
    ]
    return overrides


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(overrides=valid_overrides(), seed=st.integers(0, 2**63 - 1))
def test_any_valid_config_runs_with_invariants_and_no_nan(overrides, seed):
    runs_with_invariants(overrides, seed)


FOUND = json.loads((Path(__file__).parent / "data" / "random_config_failures.json").read_text(encoding="utf-8"))
"""Configs this test once found failing (the drawn start's presence bound: an exit chance above 1, or undefined)."""


@pytest.mark.parametrize("case", FOUND, ids=[f"found-{i}" for i in range(len(FOUND))])
def test_configs_found_failing_before_run_with_invariants(case):
    runs_with_invariants(case["overrides"], case["seed"])


def runs_with_invariants(overrides: dict, seed: int) -> None:
    try:
        config = defaults().with_overrides(overrides)
    except ConfigError as error:  # only the rules between parameters may still refuse a draw
        assume("network.council_degree" not in str(error))
        raise
    model = JobcenterModel(config, seed=seed)
    check_state(model)
    for _ in range(config.run.weeks):
        model.step()
        check_state(model)
    weekly = model.weekly()
    check_weekly(weekly)
    summary = summarize(weekly, config, seed)
    for name, value in summary.items():
        assert not (isinstance(value, float) and math.isnan(value)), f"summary {name} is NaN"
    nan_columns = [c for c in weekly.select(pl.selectors.float()).columns if weekly[c].is_nan().any()]
    assert not nan_columns, f"NaN in weekly columns {nan_columns}"
