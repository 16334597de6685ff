"""`abm compare --posterior FILE --draws K`: the comparison rerun at vectors drawn from a posterior by weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from abm.cli import main
from abm.errors import UserError
from abm.posterior import load_posterior, variance_parts

SMALL = ["--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.05", "--set", "run.weeks=104",
         "--set", "run.burn_in_weeks=4", "--set", "compare.replications=2",
         "--set", "compare.strategies=['status_quo', 'invest']"]
KEY = "progress.quality_elasticity"
SHIPPED = Path(__file__).resolve().parents[1] / "targets" / "experiments-posterior.parquet"


def accepted(folder, elasticities: list[float]):
    """An accepted.parquet as abm calibrate (Optuna) writes it: one row per accepted trial, no weights."""
    path = folder / "accepted.parquet"
    pl.DataFrame({"trial": list(range(len(elasticities))), "loss": [1.0 + i for i in range(len(elasticities))],
                  KEY: elasticities}, schema_overrides={KEY: pl.Float64}).write_parquet(path)
    return path


def weighted(folder, elasticities: list[float], weights: list, name: str = "posterior.parquet"):
    """A posterior.parquet as abm calibrate --method abc writes it."""
    path = folder / name
    pl.DataFrame({KEY: elasticities, "weight": weights, "distance": [1.0] * len(weights), "generation": [3] * len(weights)},
                 schema_overrides={"weight": pl.Float64}).write_parquet(path)
    return path


@pytest.mark.slow  # about 20 s: 2 distinct vectors x 2 replications x 2 strategies of a comparison
def test_posterior_intervals_follow_the_calibrated_parameter(tmp_path, capsys):
    """Investing saves more unemployment where exits depend more on casework: the draws at the larger
    elasticity give the larger saving, and the table gives the mean with an interval and its two parts."""
    out = tmp_path / "out"
    posterior = weighted(tmp_path, [0.5, 4.0], [0.5, 0.5])
    assert main(["compare", *SMALL, "--workers", "1", "--out", str(out), "--posterior", str(posterior), "--draws", "4"]) == 0
    printed = capsys.readouterr().out
    assert "over 4 parameter vectors drawn by weight" in printed and "x 2 replications" in printed
    differences = pl.read_parquet(out / "posterior.parquet").filter(pl.col("strategy") == "invest")
    assert differences.height == 4 * 2 and set(differences[KEY]) == {0.5, 4.0}  # every draw x replication
    by_elasticity = differences.group_by(KEY).agg(pl.col("full_year_unemployed").mean()).sort(KEY)
    weak, strong = by_elasticity["full_year_unemployed"].to_list()
    assert strong < weak < 0
    text = (out / "posterior.txt").read_text()
    assert text.startswith("Paired difference from") and " par, " in text and " seed" in text


def test_draws_follow_the_weights_and_the_seed(tmp_path):
    path = weighted(tmp_path, [0.5, 1.0, 2.0], [0.2, 0.0, 0.8])
    draws = [vector[KEY] for vector in load_posterior(path, 4000, seed=11)]
    assert 1.0 not in draws  # weight 0 is never drawn
    assert abs(draws.count(2.0) / len(draws) - 0.8) < 0.03  # binomial sd 0.006: 5 sd
    assert draws == [vector[KEY] for vector in load_posterior(path, 4000, seed=11)]
    assert draws != [vector[KEY] for vector in load_posterior(path, 4000, seed=12)]


def test_an_unweighted_file_counts_its_vectors_as_equally_likely(tmp_path):
    draws = [vector[KEY] for vector in load_posterior(accepted(tmp_path, [4.0, 0.5]), 4000, seed=3)]
    assert abs(draws.count(4.0) / len(draws) - 0.5) < 0.04


def test_the_shipped_posterior_loads_with_the_six_fitted_parameters():
    vectors = load_posterior(SHIPPED, 5, seed=1)
    assert len(vectors) == 5 and all(len(vector) == 6 for vector in vectors)
    assert {"progress.quality_elasticity", "casework.quality_exponent", "progress.sanction_elasticity"} <= set(vectors[0])


def test_variance_parts_split_parameter_and_seed_spread():
    """Draws that differ by +-3 with seed noise of sd 1: the parts come back near 3 and 1."""
    generator = np.random.default_rng(5)
    means = np.repeat([-3.0, 3.0], 200)
    values = means[:, None] + generator.normal(0, 1, size=(400, 4))
    parameter, seed = variance_parts(values)
    assert abs(parameter - 3.0) < 0.15 and abs(seed - 1.0) < 0.05
    assert variance_parts(np.zeros((1, 3)))[0] != variance_parts(np.zeros((1, 3)))[0]  # one draw: no parameter part (NaN)


def test_a_posterior_that_is_not_a_calibration_gives_one_line_and_writes_nothing(tmp_path, capsys):
    wrong = tmp_path / "wrong.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(wrong)
    unknown = tmp_path / "unknown.parquet"
    pl.DataFrame({"progress.no_such_thing": [1.0], "weight": [1.0]}).write_parquet(unknown)
    text = tmp_path / "text.parquet"
    pl.DataFrame({KEY: ["high"], "weight": [1.0]}).write_parquet(text)
    missing_value = tmp_path / "null.parquet"
    pl.DataFrame({KEY: [1.0, None], "weight": [1.0, 1.0]}).write_parquet(missing_value)
    not_parquet = tmp_path / "text.txt"
    not_parquet.write_text("not a table")
    cases = [
        (tmp_path / "missing.parquet", "no such file"), (not_parquet, "not a Parquet file"),
        (wrong, "not a calibration's posterior"), (accepted(tmp_path, []), "no parameter vector met every target"),
        (unknown, "names no parameter"), (text, "not numbers"), (missing_value, "missing"),
        (weighted(tmp_path, [1.0, 2.0], [0.5, -0.5], "negative.parquet"), "'weight': value -0.5"),
        (weighted(tmp_path, [1.0, 2.0], [0.5, float("nan")], "nan.parquet"), "'weight': value nan"),
        (weighted(tmp_path, [1.0, 2.0], [0.0, 0.0], "zero.parquet"), "not all 0"),
        (weighted(tmp_path, [1.0, -50.0], [0.5, 0.5], "range.parquet"), "out of range"),
    ]
    for path, message in cases:
        out = tmp_path / "out"
        assert main(["compare", *SMALL, "--workers", "1", "--out", str(out), "--posterior", str(path)]) == 2
        error = capsys.readouterr().err
        assert str(path) in error and message in error and "Traceback" not in error, (path, error)
        assert len(error.strip().splitlines()) == 1
        assert not out.exists()
    with pytest.raises(UserError, match="--draws 0"):
        load_posterior(weighted(tmp_path, [1.0], [1.0], "one.parquet"), 0, seed=1)
