"""The mechanisms issue 14's calibration needs: each does what it says, on a small config,
and is off (today's results) by default."""

from __future__ import annotations

import numpy as np

from abm.config import defaults
from abm.model import JobcenterModel
from abm.rules import casework
from conftest import small_config
from test_invariants import check_weekly


def _gain_per_case(p, high: float, low: float) -> float:
    """Quality gained per case removed from ``high`` down to ``low`` cases."""
    minutes = lambda c: p.hours_per_week * p.casework_share * 60 / c  # noqa: E731
    return (casework.quality_of_minutes(minutes(low), p) - casework.quality_of_minutes(minutes(high), p)) / (high - low)


def test_quality_exponent_one_is_the_plain_curve_and_above_one_gives_diminishing_returns():
    plain = defaults().casework
    minutes = np.array([3.0, 15.0, 40.0])
    assert np.allclose(casework.quality_of_minutes(minutes, plain), minutes / (minutes + plain.half_quality_minutes))
    # Exponent 1: convex in the caseload, each case removed buys more than the one before.
    assert _gain_per_case(plain, 70, 40) > _gain_per_case(plain, 150, 100) > _gain_per_case(plain, 250, 150)
    hill = defaults().with_overrides({"casework.quality_exponent": 3.0, "casework.half_quality_minutes": 5.0}).casework
    assert casework.quality_of_minutes(5.0, hill) == 0.5
    # Exponent 3: the gain per case removed shrinks as caseloads fall below ~200.
    assert _gain_per_case(hill, 250, 150) > _gain_per_case(hill, 150, 100) > 2 * _gain_per_case(hill, 70, 40)


def test_exit_out_of_the_labour_force_is_its_own_kind_for_job_ready_clients():
    weeks = 52
    off = JobcenterModel(small_config(run__weeks=weeks), seed=3).run().weekly()
    assert "exits_out_of_labour_force" not in off.columns  # switched off: the table is today's
    model = JobcenterModel(small_config(run__weeks=weeks, progress__out_of_labour_force_hazard=0.02), seed=3)
    weekly = model.run().weekly()
    out = weekly["exits_out_of_labour_force"].sum()
    job_ready_weeks = weekly["clients_job_ready"].sum()
    # About 2% of the job-ready clients a week (counted at the end of the week: the week's entrants
    # are at risk too, so a little more).
    assert 0.017 < out / job_ready_weeks < 0.025
    assert weekly["clients"].sum() < off["clients"].sum()
    check_weekly(weekly)  # every citizen still accounted for
