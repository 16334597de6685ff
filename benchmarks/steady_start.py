"""Does the status quo drift from its start? (issue 14: a steady status quo)

    PYTHONPATH=. python benchmarks/steady_start.py [SEEDS]

Status quo, 8 municipalities at 0.15 scale, 10 years after the burn-in: the change of the
national yearly means of clients, caseload and trust from year 1 to year 10, averaged over
seeds, for each way of starting. Without the casework effect on exits (quality_elasticity
0) only the start can drift: that row isolates it from the caseload -> quality -> exits loop.
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl

from abm.config import defaults
from abm.execution import replication_seeds
from abm.simulate import national_weekly, run_simulation

SIZE = {"municipalities.count": 8, "municipalities.population_scale": 0.15, "run.weeks": 520, "council.strategy": "status_quo"}
CASES = {
    "given start (default)": {},
    "stationary start": {"population.start": "stationary"},
    "given start, no casework effect on exits": {"progress.quality_elasticity": 0.0},
    "stationary start, no casework effect on exits": {"population.start": "stationary", "progress.quality_elasticity": 0.0},
    "given start, 520-week burn-in": {"run.burn_in_weeks": 520},
    "stationary start, stress only above 120 cases": {"population.start": "stationary", "turnover.sustainable_caseload": 120.0},
}


def drift(overrides: dict, seeds) -> dict[str, float]:
    changes = []
    for seed in seeds:
        yearly = national_weekly(run_simulation(defaults().with_overrides(SIZE | overrides), seed).weekly).with_columns(
            (pl.col("week") // 52).alias("year")).group_by("year").agg(pl.col("clients", "caseload_mean", "trust_mean").mean()).sort("year")
        changes.append({c: yearly[c][-1] / yearly[c][0] - 1 for c in ("clients", "caseload_mean", "trust_mean")} | {"clients_year_1": yearly["clients"][0]})
    return {key: float(np.mean([c[key] for c in changes])) for key in changes[0]}


if __name__ == "__main__":  # [SEEDS [CASE ...]]
    seeds = replication_seeds(20260101, int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    for label, overrides in CASES.items():
        if len(sys.argv) > 2 and label not in sys.argv[2:]:
            continue
        result = drift(overrides, seeds)
        print(f"{label:50s} clients {result['clients']:+.1%}  caseload {result['caseload_mean']:+.1%}  "
              f"trust {result['trust_mean']:+.1%}  (year-1 clients {result['clients_year_1']:.0f})", flush=True)
