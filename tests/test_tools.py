"""The door for other tools: abm.schema(), abm.evaluate() and the docs' EMA Workbench example."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import abm
from abm.config import SCHEMA
from abm.errors import ConfigError

SMALL = {"municipalities.count": 2, "municipalities.population_scale": 0.02, "run.weeks": 26, "run.burn_in_weeks": 4}


def test_schema_lists_every_parameter_with_range_or_choices():
    schema = abm.schema()
    assert set(schema) == {f"{s}.{k}" for s, params in SCHEMA.items() for k in params}
    for key, entry in schema.items():
        assert entry["identifier"] == key.replace(".", "__") and entry["identifier"].isidentifier()
        if entry["kind"] in ("int", "float"):
            assert entry["low"] is not None and entry["high"] is not None and entry["low"] <= entry["default"] <= entry["high"]
        if entry["kind"] == "str":
            assert entry["choices"] and entry["default"] in entry["choices"]
        assert entry["unit"] is not None and entry["doc"] and entry["allowed"]
    assert schema["population.stock_shares"]["length"] == 3 and schema["population.stock_shares"]["total"] == 1.0


def test_evaluate_is_reproducible_and_takes_either_name():
    params = SMALL | {"council.strategy": "invest", "council.caseload_target": 70.0}
    first = abm.evaluate(params, seed=3, outcomes=["net_cost_mdkk", "trust_mean"])
    again = abm.evaluate({key.replace(".", "__"): value for key, value in params.items()}, seed=3,
                         outcomes=["net_cost_mdkk", "trust_mean"])
    other = abm.evaluate(params | {"council.caseload_target": 300.0}, seed=3, outcomes=["net_cost_mdkk"])
    assert first == again
    assert set(first) == {"net_cost_mdkk", "trust_mean"} and all(math.isfinite(v) for v in first.values())
    assert other["net_cost_mdkk"] != first["net_cost_mdkk"]
    assert set(abm.evaluate(SMALL, seed=3)) == set(abm.simulate.OUTCOMES)


def test_evaluate_validates_like_a_config():
    with pytest.raises(ConfigError, match=r"abm.evaluate: progress.job_hazard = \[0.1\] .* exactly 3"):
        abm.evaluate(SMALL | {"progress.job_hazard": [0.1]}, seed=1)
    with pytest.raises(ConfigError, match="run.seed = -1"):
        abm.evaluate(SMALL, seed=-1)
    with pytest.raises(ConfigError, match="unknown outcome 'net_cost'"):
        abm.evaluate(SMALL, seed=1, outcomes=["net_cost"])


@pytest.mark.slow
def test_the_docs_ema_workbench_example_runs(capsys):
    pytest.importorskip("ema_workbench")
    text = Path(__file__).resolve().parent.parent.joinpath("docs", "tools.md").read_text()
    namespace = run_example(text.split("## EMA Workbench")[1])
    experiments, outcomes = namespace["experiments"], namespace["outcomes"]
    assert len(experiments) == 8  # 4 scenarios x 2 policies
    assert set(experiments["council__strategy"]) <= set(SCHEMA["council"]["strategy"].options())
    assert experiments["council__caseload_target"].between(40, 150).all()  # the plausible range, not 1-1000
    for name in ("net_cost_mdkk", "trust_mean", "turnover_annual"):
        assert len(outcomes[name]) == 8 and all(math.isfinite(v) for v in outcomes[name])
    # each run is abm.evaluate with the sampled values: the first one, redone, gives the same outcome
    row = experiments.iloc[0]
    params = {name: row[name] for name in ("council__strategy", "council__caseload_target", "labour_market__scenario",
                                           "trust__social_rate", "protest__network_weight")}
    params |= {"municipalities.sizes": [50000, 50000, 50000], "municipalities.population_scale": 0.1, "run.weeks": 104,
               "run.burn_in_weeks": 10}
    assert abm.evaluate(params, seed=1, outcomes=["net_cost_mdkk"])["net_cost_mdkk"] == outcomes["net_cost_mdkk"][0]


def test_results_open_in_pandas_after_the_install(tmp_path):
    """pyarrow is a dependency, so pandas reads a run's Parquet files as written: same rows, columns and values."""
    import pandas as pd
    import polars as pl

    from abm.cli import main

    out = tmp_path / "run"
    argv = ["run", "configs/baseline.toml", "--out", str(out), *(f"--set={key}={value}" for key, value in SMALL.items())]
    assert main(argv) == 0
    for name in ("weekly.parquet", "summary.parquet"):
        frame, ours = pd.read_parquet(out / name), pl.read_parquet(out / name)
        assert list(frame.columns) == ours.columns and len(frame) == ours.height > 0
        assert frame[ours.columns[-1]].tolist() == ours[ours.columns[-1]].to_list()
    assert pd.read_parquet(out / "weekly.parquet")["week"].tolist() == pl.read_parquet(out / "weekly.parquet")["week"].to_list()
    assert pl.read_parquet(out / "summary.parquet").to_pandas()["seed"].iloc[0] == pl.read_parquet(out / "summary.parquet")["seed"][0]


def run_example(section: str) -> dict:
    """Run the first Python block of a docs section; its namespace."""
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/tools.md", "exec"), namespace)
    return namespace


def docs_section(title: str) -> str:
    return Path(__file__).resolve().parent.parent.joinpath("docs", "tools.md").read_text().split(f"## {title}")[1]


def test_every_parameter_has_a_plausible_range_within_its_validity_range():
    schema = abm.schema()
    known = 0
    for key, entry in schema.items():
        if entry["kind"] not in ("int", "float"):
            continue
        low, high, source = entry["plausible_low"], entry["plausible_high"], entry["plausible_source"]
        assert entry["low"] <= low <= entry["default"] <= high <= entry["high"], key
        assert source, key
        if source.startswith("unknown"):
            assert (low, high) == (entry["low"], entry["high"]), key  # said so, and the validity range
        else:
            known += 1
            assert "issue 14" not in source, key
    assert known >= 20
    target = schema["council.caseload_target"]
    assert (target["plausible_low"], target["plausible_high"]) == (40.0, 150.0) and "Hainmueller" in target["plausible_source"]


def test_a_plausible_range_outside_the_valid_one_or_without_source_is_refused():
    from abm.parameters import Param

    with pytest.raises(ValueError, match="plausible_source"):
        Param(1.0, "x", "doc", "assumption", low=0.0, high=2.0, plausible=(0.5, 1.5))
    with pytest.raises(ValueError, match="within the allowed values and hold the default"):
        Param(1.0, "x", "doc", "assumption", low=0.0, high=2.0, plausible=(0.5, 3.0), plausible_source="assumption")
    with pytest.raises(ValueError, match="within the allowed values and hold the default"):
        Param(1.0, "x", "doc", "assumption", low=0.0, high=2.0, plausible=(1.5, 2.0), plausible_source="assumption")


@pytest.mark.slow
def test_the_docs_salib_example_gives_sobol_indices_of_the_outcomes_that_vary():
    namespace = run_example(docs_section("SALib"))
    indices, samples = namespace["indices"], namespace["samples"]
    assert len(samples) == 4 * (3 + 2)
    bounds = namespace["problem"]["bounds"]
    schema = abm.schema()
    assert bounds == [[schema[k]["plausible_low"], schema[k]["plausible_high"]] for k in namespace["KEYS"]]
    assert bounds[2] == [40.0, 150.0]  # the caseload target's plausible range, not its validity range 1-1000
    assert {"net_cost_mdkk", "trust_mean", "full_year_unemployed"} <= set(indices)  # these move with the parameters
    for outcome, result in indices.items():
        assert len(result["ST"]) == 3 and all(math.isfinite(v) for v in result["ST"]), outcome


def test_the_docs_optuna_example_searches_the_plausible_range():
    namespace = run_example(docs_section("Optuna"))
    study = namespace["study"]
    assert len(study.trials) == 6
    assert all(40.0 <= trial.params["council.caseload_target"] <= 150.0 for trial in study.trials)
    best = study.best_trial
    assert best.value == min(trial.value for trial in study.trials)
    # the best trial, redone with abm.evaluate, costs the same: the objective is the model
    redo = abm.evaluate(namespace["SETTING"] | best.params, seed=1, outcomes=["net_cost_mdkk"])
    assert redo["net_cost_mdkk"] == best.value
