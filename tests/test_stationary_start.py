"""The stationary start is drawn from the weekly rules' exit model (issue 22 item 4, issue 24 item 1).

``progress._presence`` walks a spell in closed form (segments of constant weekly exit chance
around the health path's settling week and the clarification decision); here it is checked
against the same spell walked week by week, and its spell draw against the survival curve.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.rules import progress

HORIZON = 1560.0


def survival_week_by_week(settle, decision, chances, back, horizon=HORIZON) -> np.ndarray:
    """The chance of still being a client at each spell week 0 .. horizon - 1, one week at a time."""
    usual_before, settled_before, usual_after, settled_after = chances
    alive, curve = 1.0, []
    for week in range(int(horizon)):
        if week == decision:
            alive *= back
        curve.append(alive)
        if week < decision:
            chance = usual_before if week < settle else settled_before
        else:
            chance = usual_after if week < settle else settled_after
        alive *= 1 - chance
    return np.array(curve)


SPELLS = [  # settle, decision, (chances before/after the decision at usual/settled health), back
    (50.0, np.inf, (0.05, 0.02, 0.05, 0.02), 0.0),         # job-ready: no decision
    (50.0, 120.0, (0.004, 0.001, 0.03, 0.01), 0.4),        # decision after settling
    (50.0, 20.0, (0.004, 0.001, 0.03, 0.01), 0.4),         # decision before settling
    (0.0, 300.0, (0.0, 0.0, 0.005, 0.005), 1.0),           # nobody pressed, no exit before the decision
    (50.0, 2000.0, (0.0, 0.0, 0.03, 0.03), 0.5),           # decision beyond the horizon: stays to the end
    (10.0, 30.0, (1.0, 1.0, 0.5, 0.5), 0.5),               # certain exit in the first week
]


@pytest.mark.parametrize("settle, decision, chances, back", SPELLS)
def test_presence_is_the_sum_of_the_weekly_survival(settle, decision, chances, back):
    curve = survival_week_by_week(settle, decision, chances, back)
    presence, week = progress._presence(settle, decision, HORIZON, *chances, back, np.inf)
    assert presence == pytest.approx(curve.sum(), rel=1e-9)
    assert week == -1.0


@pytest.mark.parametrize("settle, decision, chances, back", SPELLS[:3])
def test_spells_are_drawn_in_proportion_to_survival(settle, decision, chances, back):
    """The spell week at target t is the first week where the running sum of survival exceeds t."""
    curve = survival_week_by_week(settle, decision, chances, back)
    running = np.cumsum(curve)
    rng = np.random.default_rng(1)
    for target in rng.random(300) * running[-1]:
        _, week = progress._presence(settle, decision, HORIZON, *chances, back, target)
        expected = int(np.searchsorted(running, target, side="right"))
        assert abs(week - expected) <= 1  # floating point at a segment's edge may move it by one week


def test_the_bound_is_never_below_the_presence():
    """Entrants are drawn at a rate set by ``_presence_bounds``; it must bound every presence."""
    rng = np.random.default_rng(2)
    out = 0.005
    for _ in range(200):
        decision = float(rng.choice([np.inf, rng.integers(1, 2000)]))
        before = rng.random(2) * 0.05
        after = out + rng.random(2) * 0.05
        presence, _ = progress._presence(50.0, decision, HORIZON, *before, *after, rng.random(), np.inf)
        bound = progress._geometric_sum(0.0, min(decision, HORIZON))
        if decision < HORIZON:
            bound += progress._geometric_sum(out, HORIZON - decision)
        assert presence <= bound * (1 + 1e-12)
