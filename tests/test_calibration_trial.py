"""The in-office trial's statistics (Böheim, Eppel & Mahringer 2023 as the model runs it):
each randomised client's days add up to the window, and the arms are balanced at randomisation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from abm.calibration.statistics import TRIAL_WINDOW, expected_weeks_employed, trial_contrasts, trial_person_days
from abm.config import defaults
from abm.simulate import run_simulation

TRIAL = {"municipalities.sizes": [40000, 60000], "council.initial_caseload": 250.0, "council.trial_weeks": 8,
         "council.trial_share": 0.3, "council.trial_caseload": 100.0, "council.trial_clients": "both",
         "run.weeks": 8 + TRIAL_WINDOW, "run.burn_in_weeks": 26}


@pytest.fixture(scope="module")
def trial_run():
    config = defaults().with_overrides(TRIAL)
    return config, run_simulation(config, 5, spell_log=True).spells


def test_every_randomised_clients_days_add_up_to_the_window(trial_run):
    config, spells = trial_run
    people = trial_person_days(spells, config)
    assert set(people["sample"]) == {"entrants", "stock"} and people.height > 1000
    total = people["employment"] + people["unemployment"] + people["out_of_labour_force"]
    assert np.allclose(total.to_numpy(), TRIAL_WINDOW * 7)
    assert (people.select(pl.col("employment", "unemployment", "out_of_labour_force", "duration").min()).row(0) >= (0, 0, 0, 0))
    assert (people["duration"] <= people["unemployment"] + 1e-9).all()  # returns after a job loss add to the spell


def test_arms_are_balanced_at_randomisation(trial_run):
    """The trial's share of each sample is treated, and the stock's arms had spells of the same
    length when randomised (a difference of means within 4 standard errors: holds for any seed)."""
    config, spells = trial_run
    stock = spells.filter(pl.col("randomised_week").is_not_null() & (pl.col("group") == 0))
    entrants = spells.filter(pl.col("randomised_week").is_null() & pl.col("entry_week").is_between(0, 7) & (pl.col("group") == 0))
    for sample in (stock, entrants):
        share = (sample["unit"] == 1).mean()
        assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / sample.height)
    elapsed = stock.select(elapsed=pl.col("randomised_week") - pl.col("entry_week"), treated=pl.col("unit") == 1)
    treated, control = (elapsed.filter(pl.col("treated") == arm)["elapsed"].to_numpy() for arm in (True, False))
    se = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
    assert abs(treated.mean() - control.mean()) < 4 * se
    assert set(stock["randomised_week"].unique()) == {0}


def test_the_trial_contrasts_exist_only_with_a_trial(trial_run):
    config, spells = trial_run
    contrasts = trial_contrasts(spells, config)
    assert all(np.isfinite(v) for v in contrasts.values())
    assert contrasts["trial_entrants_unemployment_days"] < 0  # the treatment unit's clients leave sooner
    untreated = defaults().with_overrides({"council.trial_weeks": 0})
    assert all(np.isnan(v) for v in trial_contrasts(spells, untreated).values())


def test_expected_employment_is_the_two_state_chain_integrated():
    weeks = np.array([0.0, 1.0, 52.0, 104.0])
    assert np.allclose(expected_weeks_employed(weeks, 0.0, 0.05), weeks)  # jobs that never end
    loss, finding = 0.01, 0.05
    grid = np.linspace(0, 104, 200_001)
    employed = finding / (loss + finding) + loss / (loss + finding) * np.exp(-(loss + finding) * grid)  # P(employed at t)
    assert expected_weeks_employed(np.array([104.0]), loss, finding)[0] == pytest.approx(np.trapezoid(employed, grid), rel=1e-6)
