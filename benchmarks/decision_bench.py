"""Decision-support benchmark: runs saved by deduplication, and the worked example's wall time.

    .venv/bin/python benchmarks/decision_bench.py [--skip-runs]

Prints, for every experiment in ``experiments/``, the results it gives and the runs it
makes once runs identical by construction are run once (:func:`abm.execution.identical_runs`),
then times ``experiments/payback_discovery.toml`` through ``abm.sweep.run_sweep`` serially
(``workers=1``, no Ray) and on an embedded Ray with 2 CPUs, start-up included, and checks
that both give the same summary. One measurement each: on a shared machine read the ratio,
not the seconds, and print the load beside it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from abm.execution import identical_runs
from abm.sweep import load_experiment, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-runs", action="store_true", help="only count the runs saved")
    args = parser.parse_args()
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        tasks = load_experiment(path).tasks()
        runs = len(identical_runs(tasks))
        print(f"{path.name}: {len(tasks)} results from {runs} runs ({1 - runs / len(tasks):.0%} saved)")
    if args.skip_runs:
        return
    experiment = load_experiment(ROOT / "experiments" / "payback_discovery.toml")
    summaries, seconds = {}, {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            _, summaries[workers], _ = run_sweep(experiment, Path(folder) / "out", workers=workers)
            seconds[workers] = time.perf_counter() - start
        print(f"payback_discovery on {workers} worker(s): {seconds[workers]:.1f} s (load {os.getloadavg()[0]:.1f})")
    print(f"same summary serial and on Ray: {summaries[1].equals(summaries[2])}; "
          f"speed-up on 2 workers: {seconds[1] / seconds[2]:.2f}x")


if __name__ == "__main__":
    main()
