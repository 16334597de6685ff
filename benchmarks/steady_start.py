"""Does the status quo drift from its start? (how the burn-in was chosen; docs/ODD.md section 5)

    .venv/bin/python benchmarks/steady_start.py [--seeds 8] [--burn-ins 0 26 104] [--given]

Status quo, 8 municipalities at 0.15 scale, 10 years after the burn-in: the change of the
national yearly means of clients, caseload and trust from the first recorded year to the
tenth, with its standard error over the seeds, and the caseworker changes per client in
both years, for each burn-in (and, with ``--given``, for the given start as well).
Not a speed benchmark: a start that is not the stock the flows keep shows as a drift.
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from abm.config import defaults
from abm.execution import replication_seeds
from abm.simulate import national_weekly, run_simulation

SIZE = {"municipalities.count": 8, "municipalities.population_scale": 0.15, "run.weeks": 520, "council.strategy": "status_quo"}
DRIFTS = ("clients", "caseload_mean", "trust_mean")


def first_and_last_year(overrides: dict, seed: int) -> pl.DataFrame:
    """The national yearly means of the first and the tenth recorded year."""
    weekly = national_weekly(run_simulation(defaults().with_overrides(SIZE | overrides), seed).weekly)
    yearly = weekly.with_columns((pl.col("week") // 52).alias("year")).group_by("year").agg(
        pl.col(*DRIFTS, "changes_per_client").mean()).sort("year")
    return yearly[[0, -1]]


def report(label: str, overrides: dict, seeds) -> None:
    years = [first_and_last_year(overrides, seed) for seed in seeds]
    drift = {c: np.array([y[c][1] / y[c][0] - 1 for y in years]) for c in DRIFTS}
    changes = [np.mean([y["changes_per_client"][k] for y in years]) for k in (0, 1)]
    spread = {c: v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan") for c, v in drift.items()}
    print(f"{label:26s} " + "  ".join(f"{c.split('_')[0]} {drift[c].mean():+.1%} (se {spread[c]:.1%})" for c in DRIFTS)
          + f"  changes a client, year 1 {changes[0]:.3f}, year 10 {changes[1]:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seed sets (default 8)")
    parser.add_argument("--burn-ins", type=int, nargs="+", default=[0, 26, 104], help="burn-ins in weeks (default 0 26 104)")
    parser.add_argument("--given", action="store_true", help="also the given start (population.start = 'given')")
    args = parser.parse_args()
    seeds = replication_seeds(20260101, args.seeds)
    for weeks in args.burn_ins:
        report(f"stationary, burn-in {weeks}", {"run.burn_in_weeks": weeks}, seeds)
        if args.given:
            report(f"given, burn-in {weeks}", {"run.burn_in_weeks": weeks, "population.start": "given"}, seeds)


if __name__ == "__main__":
    main()
