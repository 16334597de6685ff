"""Check the stylized facts of tests/test_stylized_facts.py on many seed sets, offline.

The test module asserts each fact for one seed set (its SEED); a fact that holds only for
that seed is a fact about the seed, not the model. This script runs the module's four arms
for every seed set given, evaluates every fact with the module's own statistics and bounds,
and prints one row per fact: the statistic per seed set, the worst value and whether every
seed set passes. Heavy (seed sets x 4 arms x replications runs, about a minute per seed set
on an idle machine): run it alone, e.g.

    PYTHONPATH=$PWD nohup .venv/bin/python scripts/check_stylized_facts.py --seed-sets 0-10 77 \
        --save /tmp/facts.json > /tmp/facts.log 2>&1 &

`--load FILE` re-evaluates the facts on the outcomes saved by `--save`, without running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_stylized_facts as facts  # noqa: E402  (the module under check, by path)


def seed_sets(specs: list[str]) -> list[int]:
    """'0-10 77' -> [0, 1, ..., 10, 77]."""
    seeds: list[int] = []
    for spec in specs:
        low, _, high = spec.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def run_arms(seed: int, replications: int) -> dict[str, dict[str, list[float]]]:
    return {
        arm: {key: values.tolist() for key, values in facts.outcomes(overrides, seed, replications).items()}
        for arm, overrides in facts.ARMS.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-sets", nargs="+", default=["0-10"], help="seeds or ranges, e.g. 0-10 77")
    parser.add_argument("--replications", type=int, default=facts.REPLICATIONS)
    parser.add_argument("--save", type=Path, help="write every seed set's outcomes here (JSON)")
    parser.add_argument("--load", type=Path, help="evaluate outcomes saved by --save instead of running")
    args = parser.parse_args()

    if args.load:
        saved = json.loads(args.load.read_text())
    else:
        saved = {}
        for seed in seed_sets(args.seed_sets):
            start = time.perf_counter()
            saved[str(seed)] = run_arms(seed, args.replications)
            print(f"seed set {seed}: {time.perf_counter() - start:.0f} s", flush=True)
            if args.save:
                args.save.write_text(json.dumps(saved))

    replications = min(args.replications, *(len(arms["status_quo"]["seed"]) for arms in saved.values()))
    print(f"\n{len(saved)} seed sets ({', '.join(saved)}), {replications} replications each")
    print(f"{'fact':<56} {'bound':>10} {'worst':>9}  ok  " + " ".join(f"{s:>7}" for s in saved))
    failing = 0
    for fact in facts.FACTS:
        values = []
        for arms in saved.values():
            outcomes = {arm: {k: np.array(v[:replications]) for k, v in series.items()} for arm, series in arms.items()}
            values.append(fact.statistic(outcomes))
        worst = fact.worst(values)
        ok = all(fact.holds(value) for value in values)
        failing += not ok
        print(f"{fact.name:<56} {fact.bound_text:>10} {worst:9.3f}  {'yes' if ok else 'NO ':3} "
              + " ".join(f"{value:7.3f}" for value in values))
    print(f"\n{failing} of {len(facts.FACTS)} facts fail on some seed set")


if __name__ == "__main__":
    main()
