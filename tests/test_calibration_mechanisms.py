"""The mechanisms issue 14's calibration needs: each does what it says, on a small config.
The Hill curve of quality and the stationary start are on by default (the calibration uses
them); the virtual field trials are off unless a config asks for them."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from abm.config import defaults
from abm.model import JobcenterModel
from abm.rules import casework, progress, turnover
from abm.rules.progress import EXITS
from conftest import small_config
from test_invariants import check_weekly


def _gain_per_case(p, high: float, low: float) -> float:
    """Quality gained per case removed from ``high`` down to ``low`` cases."""
    minutes = lambda c: p.hours_per_week * p.casework_share * 60 / c  # noqa: E731
    return (casework.quality_of_minutes(minutes(low), p) - casework.quality_of_minutes(minutes(high), p)) / (high - low)


def test_quality_exponent_one_is_the_plain_curve_and_above_one_gives_diminishing_returns():
    plain = defaults().with_overrides({"casework.quality_exponent": 1.0}).casework
    minutes = np.array([3.0, 15.0, 40.0])
    assert np.allclose(casework.quality_of_minutes(minutes, plain), minutes / (minutes + plain.half_quality_minutes))
    # Exponent 1: convex in the caseload, each case removed buys more than the one before.
    assert _gain_per_case(plain, 70, 40) > _gain_per_case(plain, 150, 100) > _gain_per_case(plain, 250, 150)
    hill = defaults().with_overrides({"casework.half_quality_minutes": 5.0, "casework.quality_exponent": 3.0}).casework
    assert casework.quality_of_minutes(5.0, hill) == 0.5
    # Exponent 3: the gain per case removed shrinks as caseloads fall below ~200.
    assert _gain_per_case(hill, 250, 150) > _gain_per_case(hill, 150, 100) > 2 * _gain_per_case(hill, 70, 40)


def test_exit_out_of_the_labour_force_is_its_own_kind_for_job_ready_clients():
    weeks = 52
    off = JobcenterModel(small_config(run__weeks=weeks, progress__out_of_labour_force_hazard=0.0), seed=3).run().weekly()
    assert "exits_out_of_labour_force" not in off.columns  # switched off: no such column
    model = JobcenterModel(small_config(run__weeks=weeks, progress__out_of_labour_force_hazard=0.02), seed=3)
    weekly = model.run().weekly()
    out = weekly["exits_out_of_labour_force"].sum()
    job_ready_weeks = weekly["clients_job_ready"].sum()
    # About 2% of the job-ready clients a week (counted at the end of the week: the week's entrants
    # are at risk too, so a little more).
    assert 0.017 < out / job_ready_weeks < 0.025
    assert weekly["clients"].sum() < off["clients"].sum()
    check_weekly(weekly)  # every citizen still accounted for


TRIAL = {"municipalities.sizes": [40000, 60000], "council.initial_caseload": 150.0, "council.trial_start_week": 5,
         "council.trial_weeks": 40, "council.trial_caseload": 70.0, "run.weeks": 45}


def _run(values: dict, seed: int = 3) -> pl.DataFrame:
    return JobcenterModel(defaults().with_overrides(values), seed=seed).run().weekly()


def test_in_office_trial_runs_the_treatment_unit_at_its_caseload_and_the_control_at_the_one_it_had():
    # Without the caseworker-change penalty, which the moved stock pays once and which at the fitted
    # default about cancels 40 weeks of better casework (docs/VALIDATION.md, the Austrian stock).
    weekly = _run({**TRIAL, "progress.change_penalty": 0.0})
    before = weekly.filter(pl.col("week") == 4)
    during = weekly.filter(pl.col("week").is_between(6, 44))
    assert (before["trial_clients"] == 0).all()
    # Half the clients at the start, and half the entrants, are in the treatment unit.
    start = weekly.filter(pl.col("week") == 5)
    assert np.allclose(start["trial_clients"] / start["clients"], 0.5, atol=0.03)
    # Both units hold their caseloads, up to whole positions (a unit of 11 caseworkers moves in steps of 9%)
    # and the quits whose replacements are still being recruited.
    assert abs(during["trial_caseload"].median() - 70.0) < 3.5
    assert (during["trial_caseload"] - 70.0).abs().quantile(0.8) < 7.0
    control = during.sort("municipality", "week")["control_caseload"].to_numpy().reshape(2, -1)
    had = before.sort("municipality")["control_caseload"].to_numpy()[:, None]
    assert np.all(np.abs(np.median(control, axis=1) / had[:, 0] - 1) < 0.1)
    # The units add up to the municipality, and their exits to the exits by kind.
    assert (weekly["trial_clients"] + weekly["control_clients"] == weekly["clients"]).all()
    assert "trial_exits_out_of_labour_force" in weekly.columns  # on by default, counted per unit too
    for kind in (kind for kind in EXITS if f"exits_{kind}" in weekly.columns):
        assert (weekly[f"trial_exits_{kind}"] + weekly[f"control_exits_{kind}"] == weekly[f"exits_{kind}"]).all(), kind
    assert np.allclose(weekly["trial_net_cost"] + weekly["control_net_cost"], weekly["net_cost"])  # the arms' costs add up too
    # The treatment unit's clients find jobs faster (more time per client: 150 -> 70 cases; the
    # fitted quality curve makes that about a sixth more exits: 1.07-1.21 on seeds 3-12).
    rate = {unit: during[f"{unit}_exits_job"].sum() / during[f"{unit}_clients"].sum() for unit in ("trial", "control")}
    assert 1.03 < rate["trial"] / rate["control"] < 1.4
    check_weekly(weekly)


def test_a_trial_of_entrants_only_leaves_the_stock_in_the_control_unit():
    weekly = _run({**TRIAL, "council.trial_clients": "entrants", "council.trial_staff": "new_hires"})
    start = weekly.filter(pl.col("week") == 5)
    assert (start["trial_clients"] < 0.02 * start["clients"]).all()  # only the week's entrants
    later = weekly.filter(pl.col("week") == 44)
    inflow = weekly.filter(pl.col("week").is_between(5, 44)).group_by("municipality").agg(pl.col("inflow").sum()).sort("municipality")
    assert (later.sort("municipality")["trial_clients"] < 0.5 * inflow["inflow"]).all()
    assert (later["trial_clients"] > 0.15 * inflow["inflow"]).all()
    # The unit is staffed as its entrants arrive (at once, not after the recruitment delay).
    growing = weekly.filter(pl.col("week").is_between(10, 44))
    assert growing["trial_caseload"].max() <= 72.0 and growing["trial_caseload"].median() > 50.0
    check_weekly(weekly)


def test_more_contact_early_in_the_spell_raises_early_job_exits_at_the_others_expense():
    # At 200 cases quality is far from saturated, so time moved to early clients shows.
    base = {"municipalities.sizes": [40000, 60000], "run.weeks": 52, "casework.early_contact_weeks": 13,
            "council.initial_caseload": 200.0}
    same = _run(base)  # factor 1: every client the same share (today's results), early exits counted
    more = _run({**base, "casework.early_contact_factor": 3.0})
    early = more["exits_job_early"].sum() / same["exits_job_early"].sum()
    later = (more["exits_job"] - more["exits_job_early"]).sum() / (same["exits_job"] - same["exits_job_early"]).sum()
    assert 1.1 < early < 2.5  # three times the meetings in the first 13 weeks (measured: 1.31)
    assert later < 1.0  # the others get less of the caseworker's time
    check_weekly(more)


def test_early_contact_factor_one_changes_nothing():
    base = {"municipalities.sizes": [40000], "run.weeks": 20}
    plain = _run(base)
    counted = _run({**base, "casework.early_contact_weeks": 13})
    assert plain.equals(counted.drop("exits_job_early"))


def test_paid_early_meetings_leave_the_others_their_time_and_are_paid_as_staff_cost():
    """With ``early_contact_paid`` each caseworker is paid the early clients' extra shares of
    their casework time, and the other clients keep theirs."""
    values = {"municipalities.sizes": [40000, 60000], "run.weeks": 30, "casework.early_contact_weeks": 13,
              "casework.early_contact_factor": 3.0, "council.initial_caseload": 200.0, "casework.early_contact_paid": True}
    model = JobcenterModel(defaults().with_overrides(values), seed=3)
    casework.apply(model)  # this week's casework, on the state as it stands
    staff, citizens = model.caseworkers, model.citizens
    rows = citizens.occupied()
    assigned = rows[citizens.caseworker[rows] >= 0]
    early = np.bincount(citizens.caseworker[assigned][citizens.spell[assigned] < 13], minlength=staff.size)
    active = np.flatnonzero(staff.active)
    assert early[active].sum() > 0
    assert np.allclose(staff.paid_extra_share[active] * staff.caseload[active], 2.0 * early[active])
    p = model.params.casework
    untouched = casework.quality_of_minutes(casework.caseworker_minutes(model), p) * (1 - p.stress_quality_penalty * staff.stress)
    assert np.allclose(staff.quality[active], untouched[active])  # the others' time is what it would be without early meetings
    weekly = _run(values)
    unpaid = _run({**values, "casework.early_contact_paid": False})
    # Per caseworker employed (the two runs' quits differ, so their headcounts do): about 1 + 2 x the early share of the caseload.
    paid_per_caseworker = (weekly["staff_cost"] / weekly["caseworkers"]) / (unpaid["staff_cost"] / unpaid["caseworkers"])
    assert (paid_per_caseworker > 1.0).all() and (paid_per_caseworker < 2.0).all()
    check_weekly(weekly)


def test_more_frequent_meetings_raise_the_early_job_chance_by_the_meeting_elasticity():
    """Beyond the time they buy: at ``meeting_elasticity`` 1, four times the meetings multiply
    the early job chance by 0.3 + 0.7 x 4 = 3.1 (self_help_share 0.3); at 0, only by what the
    quality of more time adds, and the later exits are the same."""
    values = {"municipalities.sizes": [40000, 60000], "run.weeks": 52, "casework.early_contact_weeks": 13,
              "casework.early_contact_factor": 4.0, "casework.early_contact_paid": True}
    without = _run({**values, "progress.meeting_elasticity": 0.0})
    stronger = _run({**values, "progress.meeting_elasticity": 1.0})
    early = stronger["exits_job_early"].sum() / without["exits_job_early"].sum()
    assert 1.6 < early < 3.1  # below 3.1x: clients who leave sooner are no longer there to leave later in the 13 weeks (measured: 1.96)
    assert progress.meeting_boost(defaults().with_overrides({**values, "progress.meeting_elasticity": 1.0})) == 0.3 + 0.7 * 4.0
    assert progress.meeting_boost(defaults().with_overrides({**values, "casework.early_contact_factor": 1.0})) == 1.0


def test_caseworker_absence_cancels_meetings_and_lowers_exits_during_the_period():
    base = {"municipalities.sizes": [40000, 60000], "run.weeks": 40}
    plain = _run(base)
    absent = _run({**base, "casework.absence_start_week": 10, "casework.absence_weeks": 20, "casework.absence_share": 0.5})
    period = lambda weekly: weekly.filter(pl.col("week").is_between(10, 29))  # noqa: E731
    before = lambda weekly: weekly.filter(pl.col("week") < 10)  # noqa: E731
    assert before(absent).drop("meetings_cancelled").equals(before(plain))  # nothing changes before the period
    assert (before(absent)["meetings_cancelled"] == 0).all()
    cancelled = period(absent)["meetings_cancelled"].sum() / (period(absent)["clients"] - period(absent)["waiting_for_caseworker"]).sum()
    assert 0.45 < cancelled < 0.55
    # Half the meetings cancelled: the job chance that depends on casework (70% of it) falls by about half.
    ratio = period(absent)["exits_job"].sum() / period(plain)["exits_job"].sum()
    assert 0.5 < ratio < 0.85
    check_weekly(absent)


def test_the_stationary_start_is_the_stock_the_inflow_and_the_exit_hazard_keep():
    """One group with one weekly exit chance h (job, education and out of the labour force)
    and inflow L a week: the stock is about L / h,
    its spells geometric with mean (1 - h) / h."""
    config = defaults().with_overrides({
        "municipalities.sizes": [200_000], "population.start": "stationary", "run.burn_in_weeks": 0,
        "labour_market.inflow_shares": [1.0, 0.0, 0.0], "progress.distance_effect": 0.0, "progress.health_effect": 0.0,
        "progress.job_hazard": [0.04, 0.0, 0.0], "progress.education_hazard": [0.01, 0.0, 0.0],
    })
    model = JobcenterModel(config, seed=2)
    rows = model.citizens.occupied()
    boost = progress.quality_boost(casework.quality_at_caseload(model, config.council.initial_caseload), model)
    quality = np.array([casework.quality_at_caseload(model, config.council.initial_caseload)])
    hazard = 0.05 * boost + config.progress.out_of_labour_force_hazard * progress.sanction_boost(quality, model)[0]
    inflow = config.labour_market.inflow_per_1000 * 200
    assert abs(len(rows) / (inflow / hazard) - 1) < 0.03
    assert abs(model.citizens.spell[rows].mean() / ((1 - hazard) / hazard) - 1) < 0.05
    assert (model.citizens.group[rows] == 0).all()


def test_stress_rises_only_above_the_sustainable_caseload():
    p = defaults().turnover
    # The default threshold (60) is below the ordinary caseload: ordinary caseloads stress.
    assert turnover.stress_level(p, np.array([30.0, 60.0]), 0.0).tolist() == [p.stress_base] * 2
    assert turnover.stress_level(p, np.array([120.0]), 0.0)[0] == p.stress_base + p.stress_load * 1.0
    high = defaults().with_overrides({"turnover.sustainable_caseload": 120.0}).turnover
    assert turnover.stress_level(high, np.array([100.0]), 0.0)[0] == high.stress_base
    # In a run, caseworkers stay at the base stress while the threshold is above their caseload.
    weekly = _run({"municipalities.sizes": [40000, 60000], "run.weeks": 20, "turnover.sustainable_caseload": 200.0})
    assert np.allclose(weekly["stress_mean"], p.stress_base)
    ordinary = _run({"municipalities.sizes": [40000, 60000], "run.weeks": 20})
    assert (ordinary["stress_mean"] > p.stress_base + 0.1).all()


def test_pressing_is_defined_when_the_reference_quality_is_perfect():
    """Extreme curves can make the reference quality exactly 1 in floating point."""
    p = defaults().progress
    assert progress.press_chance(1.0, p, 1.0) == 0.0
    assert progress.press_chance(np.array([0.5]), p, 1.0)[0] == p.press_probability * 3.0**p.press_quality_exponent


def test_lower_caseloads_raise_exits_out_of_the_labour_force_only_with_sanctions():
    """Casework's monitoring and sanctions (sanction_elasticity): the trial's treatment unit
    (70 cases) loses more clients out of the labour force per client-week than its control
    (150); without the mechanism the hazard is casework's to neither side (the ratio is about 1)."""
    def out_rate_ratio(elasticity: float) -> float:
        weekly = _run({**TRIAL, "progress.sanction_elasticity": elasticity, "run.weeks": 45})
        during = weekly.filter(pl.col("week").is_between(6, 44))
        rate = {unit: during[f"{unit}_exits_out_of_labour_force"].sum() / during[f"{unit}_clients"].sum() for unit in ("trial", "control")}
        return rate["trial"] / rate["control"]
    # Without sanctions the units differ only in who is job-ready (the hazard is the same for each
    # job-ready client): within 20%. With them, the treatment's rate rises by more than 15% against
    # that (1.28-1.98 for seeds 1-3 on this small model).
    without = out_rate_ratio(0.0)
    assert abs(without - 1) < 0.2
    assert out_rate_ratio(2.0) / without > 1.15


def test_the_sanction_multiplier_is_one_at_the_reference_and_exactly_one_when_off():
    model = JobcenterModel(small_config(run__weeks=1, progress__sanction_elasticity=1.5), seed=1)
    q_ref = casework.reference_quality(model.params)
    boost = progress.sanction_boost(np.array([0.5 * q_ref, q_ref, min(1.0, 1.5 * q_ref)]), model)
    assert boost[1] == pytest.approx(1.0) and boost[0] < 1.0 < boost[2]
    off = JobcenterModel(small_config(run__weeks=1, progress__sanction_elasticity=0.0), seed=1)
    assert (progress.sanction_boost(np.linspace(0, 1, 11), off) == 1.0).all()


def test_the_change_penalty_is_per_group_and_the_default_carries_the_activity_ready_figure_over():
    """The 22% is an activity-ready figure: the job-ready group's penalty is that times its factor,
    and factor 1 gives every group exactly the former (1 - change_penalty)^changes."""
    fitted = defaults().progress
    assert progress.change_penalties(fitted) == pytest.approx([0.22 * fitted.change_penalty_job_ready_factor, 0.22, 0.22])
    p = defaults().with_overrides({"progress.change_penalty_job_ready_factor": 1.0}).progress
    former = (1 - p.change_penalty) ** np.arange(p.change_penalty_cap + 1.0)
    churn = progress.churn_by_changes(p)
    assert churn.shape == (3, p.change_penalty_cap + 1)
    assert (churn == former[None, :]).all()  # bit for bit: the regression baseline holds
    half = defaults().with_overrides({"progress.change_penalty_job_ready_factor": 0.5}).progress
    assert progress.change_penalties(half) == pytest.approx([0.11, 0.22, 0.22])
    assert (progress.churn_by_changes(half)[1:] == former[None, :]).all()  # the others keep the figure


def test_the_weekly_kernel_charges_each_client_their_groups_penalty():
    """Everyone at the cap of caseworker changes, one week from the same state and draws: with
    the job-ready factor 0 the job-ready clients' job chances are whole again, so the week's job
    exits well above the default's (the exit draws are the same; the rarer draws for pressing
    and decisions shift once exits differ, so not exactly a superset); the activity-ready and
    resource groups still pay theirs, which the job-ready factor leaves alone."""
    def job_exits(values: dict) -> int:
        model = JobcenterModel(small_config(run__weeks=1, **values), seed=5)
        model.citizens.changes[model.citizens.occupied()] = model.params.progress.change_penalty_cap
        model.step()
        return int(model.weekly()["exits_job"].sum())
    full = job_exits({})
    job_ready_free = job_exits({"progress__change_penalty_job_ready_factor": 0.0})
    nobody = job_exits({"progress__change_penalty": 0.0})
    # (1 - 0.22)^-3 = 2.1 times the job-ready chance: well above the default's count.
    assert job_ready_free > 1.5 * full
    assert nobody > 1.5 * full
    changes = defaults().with_overrides({"progress.change_penalty_job_ready_factor": 0.0}).progress
    assert progress.churn_by_changes(changes)[1:, -1] == pytest.approx((1 - 0.22) ** 3)
