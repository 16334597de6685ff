"""The stationary start is drawn from the weekly rules' exit model (issue 22 item 4, issue 24 item 1).

``progress._presence`` walks a spell in closed form (segments of constant weekly exit chance
around the health path's settling week, the clarification decision and the weeks from which
each caseworker change counts); here it is checked against the same spell walked week by
week, its spell draw against the survival curve, and the stock's caseworker changes against
a week-by-week simulation of entrants.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.rules import progress

HORIZON = 1560.0
CHURN = np.array([1.0, 0.8, 0.64, 0.512])  # what 0..3 changes leave of the job chance (a penalty of 20% a change)
NO_CHANGES = np.array([], dtype=np.int64)


def survival_week_by_week(settle, decision, job, rest, back, change_weeks=NO_CHANGES, churn_before=CHURN,
                          churn_after=CHURN, horizon=HORIZON) -> np.ndarray:
    """The chance of still being a client at each spell week 0 .. horizon - 1, one week at a time."""
    alive, curve = 1.0, []
    for week in range(int(horizon)):
        if week == decision:
            alive *= back
        curve.append(alive)
        changes = int(np.sum(change_weeks <= week))
        which = (0 if week < decision else 2) + (0 if week < settle else 1)
        churn = churn_before[changes] if week < decision else churn_after[changes]
        alive *= 1 - min(job[which] * churn + rest[which], 1.0)
    return np.array(curve)


SPELLS = [  # settle, decision, job and other exits' chances (usual/settled health before/after the decision), back
    (50.0, np.inf, (0.04, 0.015, 0.04, 0.015), (0.01, 0.005, 0.01, 0.005), 0.0),  # job-ready: no decision
    (50.0, 120.0, (0.003, 0.001, 0.02, 0.008), (0.001, 0.0, 0.01, 0.002), 0.4),   # decision after settling
    (50.0, 20.0, (0.003, 0.001, 0.02, 0.008), (0.001, 0.0, 0.01, 0.002), 0.4),    # decision before settling
    (0.0, 300.0, (0.0, 0.0, 0.004, 0.004), (0.0, 0.0, 0.001, 0.001), 1.0),        # nobody pressed, no exit before the decision
    (50.0, 2000.0, (0.0, 0.0, 0.02, 0.02), (0.0, 0.0, 0.01, 0.01), 0.5),          # decision beyond the horizon: stays to the end
    (10.0, 30.0, (0.9, 0.9, 0.4, 0.4), (0.2, 0.2, 0.1, 0.1), 0.5),                # certain exit in the first week
]
CHANGES = [NO_CHANGES, np.array([7, 60, 61]), np.array([1, 300, 900]), np.array([2000, 2001, 2002])]


def _args(spell, change_weeks, churn_after=CHURN):
    settle, decision, job, rest, back = spell
    return settle, decision, HORIZON, job, rest, CHURN, churn_after, back, change_weeks


@pytest.mark.parametrize("change_weeks", CHANGES)
@pytest.mark.parametrize("spell", SPELLS)
def test_presence_is_the_sum_of_the_weekly_survival(spell, change_weeks):
    settle, decision, job, rest, back = spell
    churn_after = CHURN**2  # the job-ready track's penalty differs from the group's
    curve = survival_week_by_week(settle, decision, job, rest, back, change_weeks, CHURN, churn_after)
    presence, week = progress._presence(*_args(spell, change_weeks, churn_after), np.inf)
    assert presence == pytest.approx(curve.sum(), rel=1e-9)
    assert week == -1.0


@pytest.mark.parametrize("change_weeks", CHANGES[:2])
@pytest.mark.parametrize("spell", SPELLS[:3])
def test_spells_are_drawn_in_proportion_to_survival(spell, change_weeks):
    """The spell week at target t is the first week where the running sum of survival exceeds t."""
    settle, decision, job, rest, back = spell
    running = np.cumsum(survival_week_by_week(settle, decision, job, rest, back, change_weeks))
    rng = np.random.default_rng(1)
    for target in rng.random(300) * running[-1]:
        _, week = progress._presence(*_args(spell, change_weeks), target)
        expected = int(np.searchsorted(running, target, side="right"))
        assert abs(week - expected) <= 1  # floating point at a segment's edge may move it by one week


def test_the_bound_is_never_below_the_presence():
    """Entrants are drawn at a rate set by ``_presence_bounds``: the chances at their lowest,
    after as many changes as cost job chance. It must bound every presence, whatever the changes."""
    rng = np.random.default_rng(2)
    out = 0.005
    for _ in range(300):
        decision = float(rng.choice([np.inf, rng.integers(1, 2000)]))
        job = tuple(rng.random(4) * 0.05)
        rest = (0.0, 0.0, out, out)
        change_weeks = np.sort(rng.integers(1, 400, 3))
        presence, _ = progress._presence(50.0, decision, HORIZON, job, rest, CHURN, CHURN, rng.random(), change_weeks,
                                         np.inf)
        lowest = (job[0] * CHURN[-1], job[1] * CHURN[-1], job[2] * CHURN[-1] + out, job[3] * CHURN[-1] + out)
        bound = progress._geometric_sum(min(lowest[:2]), min(decision, HORIZON))
        if decision < HORIZON:
            bound += progress._geometric_sum(min(lowest[2:]), HORIZON - decision)
        assert presence <= bound * (1 + 1e-12)


def test_the_stock_carries_the_changes_the_weeks_would_have_given_it():
    """Entrants followed week by week (an exit draw, then a caseworker change with chance
    ``change``, as the week runs progress before turnover) leave a stock whose changes by
    spell are those the closed form draws: the mean changes and the share with none, at
    every spell week, agree within sampling error."""
    rng = np.random.default_rng(3)
    job, rest, change, horizon = 0.03, 0.004, 0.01, 400
    settle, decision, back = 0.0, np.inf, 0.0
    # Week by week: entrants spread over ``horizon`` weeks; the stock now is those still clients.
    n = 100_000
    entered = rng.integers(0, horizon, n)
    spell_now = horizon - 1 - entered
    changes, alive = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    for week in range(horizon):
        walking = alive & (spell_now > week)  # spell week ``week`` is behind them
        chance = job * CHURN[np.minimum(changes, 3)] + rest
        alive &= ~(walking & (rng.random(n) < chance))
        changes += walking & alive & (rng.random(n) < change)
    walked_spell, walked_changes = spell_now[alive], changes[alive]

    # Closed form: the same entrants' change weeks drawn up front, kept with chance presence / horizon.
    m = 100_000
    change_weeks = np.cumsum(rng.geometric(change, (m, 3)), axis=1)
    spells, counts = [], []
    for i in range(m):
        args = (settle, decision, float(horizon), (job,) * 4, (rest,) * 4, CHURN, CHURN, back, change_weeks[i])
        presence, _ = progress._presence(*args, np.inf)
        if rng.random() * horizon < presence:
            _, week = progress._presence(*args, rng.random() * presence)
            spells.append(week)
            below = int(np.sum(change_weeks[i] <= week))
            later = rng.binomial(int(week - change_weeks[i][2]), change) if below == 3 and week > change_weeks[i][2] else 0
            counts.append(below + later)
    drawn_spell, drawn_changes = np.array(spells), np.array(counts)

    assert len(drawn_spell) / m == pytest.approx(len(walked_spell) / n, rel=0.03)
    for low, high in ((0, 20), (20, 60), (60, 150), (150, 400)):
        walked = walked_changes[(walked_spell >= low) & (walked_spell < high)]
        drawn = drawn_changes[(drawn_spell >= low) & (drawn_spell < high)]
        error = 4 * np.sqrt(walked.var() / len(walked) + drawn.var() / len(drawn))
        assert abs(drawn.mean() - walked.mean()) < error + 1e-3
        assert abs(np.mean(drawn == 0) - np.mean(walked == 0)) < 4 * np.sqrt(0.25 / len(walked) + 0.25 / len(drawn))


def test_needs_drawn_in_proportion_to_their_bound_are_the_needs_thinning_keeps():
    """A group with a clarification track draws its candidates' needs weighted by an upper
    bound of presence (``need_proposal``) instead of drawing every entrant of the horizon and
    thinning by need: the candidates left after thinning are the same in number and in need."""
    from scipy import stats

    from abm.config import defaults
    from abm.model import JobcenterModel
    from abm.rules import council

    model = JobcenterModel(defaults().with_overrides({"municipalities.count": 2, "municipalities.population_scale": 0.02,
                                                      "run.burn_in_weeks": 0}), seed=1)
    spells = progress.stationary_casework(model, council.starting_caseload(model), 1560)
    rng = np.random.default_rng(4)
    for g in (1, 2):
        proposal = progress.need_proposal(model, spells, g)
        assert proposal.per_need > 0 and proposal.rate < spells.horizon  # the weighted draw is in use
        entrants = 400_000  # each with its chance bound / horizon (the plain way) ...
        plain = progress.clarification_need(model.params, np.full(entrants, g, dtype=np.int8), rng)
        plain_bound = progress.presence_bound(model, spells, np.full(entrants, g, dtype=np.int8), plain)
        plain_kept = plain[rng.random(entrants) < plain_bound / spells.horizon]
        candidates = rng.poisson(entrants * proposal.rate / spells.horizon)  # ... or at the proposal's rate
        need, proposed = progress.proposed_needs(model.params, proposal, g, candidates, rng)
        bound = progress.presence_bound(model, spells, np.full(candidates, g, dtype=np.int8), need)
        assert np.all(bound <= proposed)
        weighted_kept = need[rng.random(candidates) < bound / proposed]
        assert len(weighted_kept) == pytest.approx(len(plain_kept), rel=4 / np.sqrt(len(plain_kept)))
        assert stats.ks_2samp(plain_kept, weighted_kept).pvalue > 1e-3
