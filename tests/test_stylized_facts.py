"""The patterns of MODEL.md, asserted as paired comparisons with 95% intervals.

Everything else equal, moving from ~110 to ~55 cases per caseworker must shorten spells,
raise exits to job and education, speed up flexjob / pension decisions, raise trust,
lower turnover, protests, pressing of sick citizens and (within a few years) net cost.
An overloaded jobcenter (220+) protests again and again and loses its staff; austerity
is the reverse of investing.

Every arm runs the same replication seeds (common random numbers), so each comparison is
made per replication (a paired ratio or difference against status quo), and a fact holds
when the 95% t-interval of its mean over the replications lies wholly on the stated side of
the bound.

A fact must be the model's, not the seed's. `scripts/check_stylized_facts.py --seed-sets 0-9`
evaluated these facts, 24 replications each, on ten seed sets with the shipped default (fitted
to the ABC posterior on the experiments; the start drawing caseworker changes with the stock
and a 26-week burn-in; docs/VALIDATION.md): every fact held on all ten, and on this module's
SEED. The worst interval end seen, and on which seed set:

    invest reaches its target caseload                         < 65         53.812 (5)
    status quo stays near its caseload                         > 85         97.274 (4)
    invest shortens spells (ratio)                             < 0.92        0.906 (8)
    invest raises job/education exits (ratio)                  > 1.05        1.096 (1)
    invest lowers full-year unemployment (ratio)               < 0.92        0.871 (2)
    invest speeds up decisions (ratio)                         < 0.98        0.959 (4)
    invest raises trust (difference)                           > 0.08        0.145 (4)
    invest lowers turnover (ratio)                             < 0.9         0.843 (7)
    invest: more caseworker changes while hiring (ratio)       > 1.1         1.202 (5)
    invest means fewer protesters (difference)                 < -3         -3.811 (4)
    status quo has protesters                                  > 1           3.812 (4)
    invest presses fewer sick citizens (difference)            < -0.01      -0.022 (2)
    invest lowers net cost in the final year (ratio)           < 0.9         0.886 (4)
    invest lowers net cost over five years (ratio)             < 1           0.921 (1)
    overloaded: protest events per municipality-year           > 8          12.913 (7)
    overloaded: turnover                                       > 0.25        0.265 (6)
    overloaded raises turnover (ratio)                         > 1.3         1.804 (5)
    austerity lowers trust (difference)                        < 0          -0.250 (8)
    austerity raises turnover (ratio)                          > 1.3         1.560 (9)
    austerity lengthens spells (ratio)                         > 1.1         1.128 (2)
    austerity means more protesters (difference)               > 0         260.201 (0)
    austerity raises final-year net cost (ratio)               > 1           1.474 (6)
    status quo turnover at least 10%                           > 0.1         0.120 (4)
    status quo turnover at most 22%                            < 0.22        0.181 (5)

The directions are MODEL.md's (the Copenhagen evaluation, seed 003; the staff surveys, seed
004). The magnitudes are the fitted model's, each set about at the worst interval end over the
ten seed sets, rounded outward: they guard the size of an effect against unnoticed change, they
are not evidence. Restated with the refit, because the Austrian caseload RCT (Böheim, Eppel &
Mahringer 2023) measured a casework effect about a third of the German-fitted default's:
investing to 55 now raises job and education exits by about 10% (was > 1.15), lowers full-year
unemployment by about 13% (was < 0.85), speeds decisions by about 4% (was < 0.95), lowers
turnover by about 15-20% (was < 0.8) and presses fewer of the sick by 2-4 points (was < -0.025);
an overloaded office has 12-14 protest events a municipality-year (was > 15; the protest group
of the seeds held 11 demonstrations from July 2017, weekly that summer). One fact was dropped:
"invest: fewer caseworker changes in the final year". No source states it (the seeds name fewer
staff quitting, which holds); with the fitted curve the final-year difference is -0.05 to +0.04
per client-year across the ten seed sets, so the model does not predict it either way. "Invest
means fewer protesters" is a difference, not a ratio: protests are rare, and a replication
whose status quo had none made the ratio 0 / 0 on one seed set. Rerun the check after any
change that moves random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from scipy import stats

from abm.config import defaults
from abm.execution import replication_seeds
from abm.simulate import run_simulation

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stylized_facts")]  # one module fixture of many runs, on one worker
REPLICATIONS = 24
SEED = 77  # the replications' seeds come from this one (common random numbers across arms)
CONFIDENCE = 0.95
BASE = {
    "municipalities.count": 6,
    "municipalities.population_scale": 0.1,
    "run.weeks": 260,
    "council.initial_caseload": 110.0,
}
ARMS = {
    "status_quo": {},
    "invest": {"council.strategy": "invest", "council.caseload_target": 55.0},
    "austerity": {"council.strategy": "austerity"},
    "overloaded": {"council.initial_caseload": 220.0},
}
Outcomes = dict[str, dict[str, np.ndarray]]  # arm -> outcome -> one value per replication


def outcomes(overrides: dict, seed: int = SEED, replications: int = REPLICATIONS) -> dict[str, np.ndarray]:
    """Every numeric summary outcome of one arm, one value per replication."""
    config = defaults().with_overrides({**BASE, **overrides})
    runs = [run_simulation(config, run_seed).summary for run_seed in replication_seeds(seed, replications)]
    return {key: np.array([run[key] for run in runs]) for key in runs[0] if isinstance(runs[0][key], (int, float))}


def ratio(arm: str, outcome: str, baseline: str = "status_quo") -> Callable[[Outcomes], np.ndarray]:
    """Per replication, the arm's outcome over the baseline's on the same seed."""
    return lambda runs: runs[arm][outcome] / runs[baseline][outcome]


def difference(arm: str, outcome: str, baseline: str = "status_quo") -> Callable[[Outcomes], np.ndarray]:
    """Per replication, the arm's outcome minus the baseline's on the same seed."""
    return lambda runs: runs[arm][outcome] - runs[baseline][outcome]


def level(arm: str, outcome: str, per: float = 1.0) -> Callable[[Outcomes], np.ndarray]:
    """Per replication, the arm's outcome itself (divided by ``per``)."""
    return lambda runs: runs[arm][outcome] / per


@dataclass(frozen=True)
class Fact:
    """The 95% interval of the mean of ``values`` over replications lies below or above ``bound``."""

    name: str
    values: Callable[[Outcomes], np.ndarray]
    side: str  # "<" or ">"
    bound: float

    def statistic(self, runs: Outcomes) -> float:
        """The interval's end nearest the bound: the upper end for '<', the lower for '>'."""
        interval = stats.ttest_1samp(self.values(runs), 0.0).confidence_interval(CONFIDENCE)
        return float(interval.high if self.side == "<" else interval.low)

    def holds(self, statistic: float) -> bool:
        return statistic < self.bound if self.side == "<" else statistic > self.bound

    def worst(self, statistics: list[float]) -> float:
        return max(statistics) if self.side == "<" else min(statistics)

    @property
    def bound_text(self) -> str:
        return f"{self.side} {self.bound:g}"


MUNICIPALITIES = BASE["municipalities.count"]  # protest_events_per_year counts all municipalities' events
FACTS = [
    # Investing to 55 cases per caseworker, against status quo at ~110.
    Fact("invest reaches its target caseload", level("invest", "caseload_mean"), "<", 65),
    Fact("status quo stays near its caseload", level("status_quo", "caseload_mean"), ">", 85),
    Fact("invest shortens spells (ratio)", ratio("invest", "spell_mean_weeks"), "<", 0.92),
    Fact("invest raises job/education exits (ratio)", ratio("invest", "job_education_exits_per_client_year"), ">", 1.05),
    Fact("invest lowers full-year unemployment (ratio)", ratio("invest", "full_year_unemployed"), "<", 0.92),
    Fact("invest speeds up decisions (ratio)", ratio("invest", "decision_weeks_mean"), "<", 0.98),
    Fact("invest raises trust (difference)", difference("invest", "trust_mean"), ">", 0.08),
    Fact("invest lowers turnover (ratio)", ratio("invest", "turnover_annual"), "<", 0.9),
    # Hiring up to the target moves cases once.
    Fact("invest: more caseworker changes while hiring (ratio)", ratio("invest", "caseworker_changes_per_client_year"), ">", 1.1),
    # A difference, not a ratio: protests are rare, and a replication whose status quo has none makes the ratio 0 / 0.
    Fact("invest means fewer protesters (difference)", difference("invest", "protesters_mean"), "<", -3),
    Fact("status quo has protesters", level("status_quo", "protesters_mean"), ">", 1),
    Fact("invest presses fewer sick citizens (difference)", difference("invest", "sick_pressed_share"), "<", -0.01),
    Fact("invest lowers net cost in the final year (ratio)", ratio("invest", "net_cost_final_year_mdkk"), "<", 0.9),
    Fact("invest lowers net cost over five years (ratio)", ratio("invest", "net_cost_mdkk"), "<", 1.0),
    # An overloaded jobcenter (220 cases per caseworker).
    Fact("overloaded: protest events per municipality-year", level("overloaded", "protest_events_per_year", MUNICIPALITIES), ">", 8),
    Fact("overloaded: turnover", level("overloaded", "turnover_annual"), ">", 0.25),
    Fact("overloaded raises turnover (ratio)", ratio("overloaded", "turnover_annual"), ">", 1.3),
    # Austerity, the reverse of investing.
    Fact("austerity lowers trust (difference)", difference("austerity", "trust_mean"), "<", 0),
    Fact("austerity raises turnover (ratio)", ratio("austerity", "turnover_annual"), ">", 1.3),
    Fact("austerity lengthens spells (ratio)", ratio("austerity", "spell_mean_weeks"), ">", 1.1),
    Fact("austerity means more protesters (difference)", difference("austerity", "protesters_mean"), ">", 0),
    Fact("austerity raises final-year net cost (ratio)", ratio("austerity", "net_cost_final_year_mdkk"), ">", 1.0),
    # Danish turnover is 14-15% a year in ordinary years; we accept 10-22% at ~110 cases.
    Fact("status quo turnover at least 10%", level("status_quo", "turnover_annual"), ">", 0.10),
    Fact("status quo turnover at most 22%", level("status_quo", "turnover_annual"), "<", 0.22),
]


@pytest.fixture(scope="module")
def runs() -> Outcomes:
    return {arm: outcomes(overrides) for arm, overrides in ARMS.items()}


@pytest.mark.parametrize("fact", FACTS, ids=lambda fact: fact.name)
def test_stylized_fact(fact: Fact, runs: Outcomes):
    values = fact.values(runs)
    statistic = fact.statistic(runs)
    assert fact.holds(statistic), (
        f"{fact.name}: the {CONFIDENCE:.0%} interval's end is {statistic:.4g}, not {fact.bound_text} "
        f"(mean {values.mean():.4g}, per replication {np.round(values, 3).tolist()})"
    )
