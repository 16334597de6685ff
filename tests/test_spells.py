"""The per-person spell log agrees with the weekly table, and costs nothing when off."""

from __future__ import annotations

import polars as pl

from abm.rules.progress import EXITS
from abm.simulate import run_simulation
from tests.conftest import small_config


def _run(**overrides):
    # migration raised so that moves happen in a small run
    config = small_config(**{"migration.weekly_chance": 0.5, "migration.trust_threshold": 0.5, **overrides})
    return run_simulation(config, 11, spell_log=True)


def test_entries_exits_and_moves_match_the_weekly_table():
    result = _run()
    spells, weekly = result.spells, result.weekly
    entries = (spells.filter(pl.col("entry_week") >= 0).group_by("municipality", "entry_week").len()
               .rename({"entry_week": "week", "len": "spells"}))
    inflow = weekly.select("municipality", "week", "inflow").filter(pl.col("inflow") > 0)
    joined = inflow.join(entries.cast({"municipality": pl.Int64, "week": pl.Int64}),
                         on=["municipality", "week"], how="full", coalesce=True)
    assert joined.height > 0
    assert (joined["inflow"].fill_null(0) == joined["spells"].fill_null(0)).all()

    for kind in ("job", "education", "flexjob", "disability"):
        ended = (spells.filter(pl.col("exit_kind") == kind).group_by("exit_municipality", "exit_week").len()
                 .sort("exit_municipality", "exit_week"))
        table = (weekly.filter(pl.col(f"exits_{kind}") > 0).select("municipality", "week", f"exits_{kind}")
                 .sort("municipality", "week"))
        assert ended["len"].to_list() == table[f"exits_{kind}"].cast(pl.UInt32).to_list()
        assert ended["exit_week"].to_list() == table["week"].cast(pl.Int32).to_list()

    censored = spells.filter(pl.col("exit_kind") == "censored")
    last_week = weekly.filter(pl.col("week") == weekly["week"].max())
    assert censored.height == last_week["clients"].sum()
    assert censored["exit_week"].null_count() == censored.height
    assert spells["person"].n_unique() == spells.height  # one spell per person
    # the group only changes from a clarification track back to job-ready
    assert (spells.filter(pl.col("group") == 0)["exit_group"] == 0).all()
    assert spells.filter(pl.col("exit_kind").is_in(["flexjob", "disability"]))["exit_group"].is_in([1, 2]).all()
    assert spells.filter(pl.col("exit_group") != pl.col("group"))["exit_group"].eq(0).all()


def test_moves_match_the_weekly_table():
    # without a burn-in every move the log counts (over the whole spell) is in the weekly table
    result = _run(run__burn_in_weeks=0)
    assert result.weekly["moved_out"].sum() > 0
    assert result.spells["moves"].sum() == result.weekly["moved_out"].sum()


def test_completed_spell_lengths_match_the_weekly_mean():
    result = _run()
    ended = result.spells.filter(pl.col("exit_kind") != "censored")
    mean_from_log = (ended["exit_week"] - ended["entry_week"]).mean()
    weekly = result.weekly
    exits = sum(weekly[f"exits_{kind}"] for kind in EXITS if f"exits_{kind}" in weekly.columns)  # every exit kind in use
    mean_from_table = (weekly["exit_spell_mean"].fill_null(0) * exits).sum() / exits.sum()
    assert abs(mean_from_log - mean_from_table) < 1e-9


def test_the_log_changes_no_result_and_is_absent_when_off():
    config = small_config()
    on, off = run_simulation(config, 5, spell_log=True), run_simulation(config, 5)
    assert off.spells is None
    assert on.weekly.equals(off.weekly)
