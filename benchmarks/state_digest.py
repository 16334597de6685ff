"""A digest (sha256) of a model's whole state after some weeks: the check that a change made
for speed changed no result, not even in the last bit.

    .venv/bin/python benchmarks/state_digest.py [--weeks 60] [--scale 0.1]

Runs 98 municipalities at ``--scale`` for ``--weeks`` recorded weeks (after the burn-in),
once with the defaults and every strategy, once more with the optional mechanisms on
(early contact, caseworker absence, a business cycle, sanctions, a health effect other than
1) and once with sanctions off, and prints one digest per run and one of all: every
recorded weekly column, every citizen and caseworker state column (empty slots too), the
councils' arrays, the ties, this week's friends and the state of every random stream.
The regression baseline compares a few columns at a few weeks to 1e-12; this compares
every bit, so it must print the same before and after a change that claims to keep results.
"""

from __future__ import annotations

import argparse
import hashlib
import warnings

import numpy as np

from abm.config import defaults
from abm.model import JobcenterModel

STRATEGIES = ["status_quo", "invest", "austerity", "pilot_then_scale", "responsive", "imitate"]
RUNS = {
    "defaults": {},
    "mechanisms on": {
        "casework.early_contact_weeks": 13, "casework.early_contact_factor": 2.0,
        "casework.absence_weeks": 20, "casework.absence_start_week": 10, "casework.absence_share": 0.3,
        "labour_market.cycle_amplitude": 0.2, "labour_market.cycle_period_weeks": 52,
        "progress.sanction_elasticity": 3.0, "progress.health_effect": 1.5,
    },
    "sanctions off": {"progress.sanction_elasticity": 0.0, "progress.out_of_labour_force_hazard": 0.004},
}


def _feed(digest, name: str, value) -> None:
    """Adds a named value: arrays by dtype, shape and bytes; the rest by its repr."""
    digest.update(name.encode())
    if isinstance(value, np.ndarray):
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    else:
        digest.update(repr(value).encode())


def state_digest(model) -> str:
    digest = hashlib.sha256()
    for name in sorted(model.record.columns):
        _feed(digest, f"weekly.{name}", model.record.so_far(name))
    for table_name in ("citizens", "caseworkers"):
        table = getattr(model, table_name)
        for name in sorted(vars(table)):
            value = getattr(table, name)
            if isinstance(value, np.ndarray) and not name.startswith("_"):
                _feed(digest, f"{table_name}.{name}", value)
    for name in sorted(vars(model.councils)):
        value = getattr(model.councils, name)
        if isinstance(value, np.ndarray):
            _feed(digest, f"councils.{name}", value)
    _feed(digest, "ties", model.network.ties)
    _feed(digest, "friend", model.friend)
    for name in sorted(name for name, value in vars(model.streams).items() if isinstance(value, np.random.Generator)):
        _feed(digest, f"stream.{name}", getattr(model.streams, name).bit_generator.state)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=60)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # small municipalities at a small scale: known, and beside the point here
    whole = hashlib.sha256()
    for label, overrides in RUNS.items():
        config = defaults().with_overrides({
            "municipalities.count": 98, "municipalities.population_scale": args.scale, "run.weeks": args.weeks,
            "council.strategy_mix": STRATEGIES, **overrides,
        })
        model = JobcenterModel(config, seed=20260101)
        model.run()
        value = state_digest(model)
        whole.update(value.encode())
        print(f"{label:14s} {value}  ({int(model.citizens.active.sum())} clients)")
    print(f"{'all':14s} {whole.hexdigest()}")


if __name__ == "__main__":
    main()
