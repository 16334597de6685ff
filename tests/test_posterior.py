"""`abm compare --posterior`: the comparison rerun over a calibration's accepted parameter vectors."""

from __future__ import annotations

import polars as pl
import pytest

from abm.cli import main

SMALL = ["--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.05", "--set", "run.weeks=104",
         "--set", "run.burn_in_weeks=4", "--set", "compare.replications=2",
         "--set", "compare.strategies=['status_quo', 'invest']"]


def accepted(folder, elasticities: list[float]):
    """An accepted.parquet as abm calibrate writes it: one row per accepted trial, its parameters and loss."""
    path = folder / "accepted.parquet"
    pl.DataFrame({"trial": list(range(len(elasticities))), "loss": [1.0 + i for i in range(len(elasticities))],
                  "progress.quality_elasticity": elasticities}).write_parquet(path)
    return path


@pytest.mark.slow
def test_posterior_ranges_follow_the_calibrated_parameter(tmp_path, capsys):
    """Investing saves more unemployment where exits depend more on casework: the vector with
    the larger elasticity gives the larger saving, and the table shows the range."""
    out = tmp_path / "out"
    assert main(["compare", *SMALL, "--workers", "1", "--out", str(out),
                 "--posterior", str(accepted(tmp_path, [0.5, 4.0])), "--draws", "2"]) == 0
    printed = capsys.readouterr().out
    assert "across 2 calibrated parameter vectors" in printed
    differences = pl.read_parquet(out / "posterior.parquet").filter(pl.col("strategy") == "invest").sort("point")
    assert differences.height == 2
    weak, strong = differences["full_year_unemployed"].to_list()
    assert strong < weak < 0
    assert (out / "posterior.txt").read_text().startswith("Paired difference from")


@pytest.mark.slow
def test_draws_keep_the_best_vectors_by_loss(tmp_path):
    out = tmp_path / "out"
    assert main(["compare", *SMALL, "--workers", "1", "--out", str(out),
                 "--posterior", str(accepted(tmp_path, [4.0, 0.5, 2.0])), "--draws", "1"]) == 0
    assert pl.read_parquet(out / "posterior.parquet")["point"].unique().to_list() == [0]


def test_a_posterior_that_is_not_a_calibration_gives_one_line_and_writes_nothing(tmp_path, capsys):
    wrong = tmp_path / "wrong.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(wrong)
    for path, message in [(tmp_path / "missing.parquet", "no such file"), (wrong, "no calibrated parameters"),
                          (accepted(tmp_path, []), "no parameter vector met every target")]:
        out = tmp_path / "out"
        assert main(["compare", *SMALL, "--workers", "1", "--out", str(out), "--posterior", str(path)]) == 2
        error = capsys.readouterr().err
        assert str(path) in error and message in error and "Traceback" not in error
        assert not out.exists()
