"""Sweep benchmark: serial against Ray with 2 workers, on the same short runs.

    .venv/bin/python benchmarks/sweep_bench.py [--repeats 3] [--weeks 520]

Runs a grid of 48 short runs (8 caseload targets x 2 strategies x 3 replications; 10 years
of 12 municipalities at 1/20 scale, about a second each) through ``abm.sweep.run_sweep``,
writes and bookkeeping included: serially (``workers=1``, no Ray), then on an embedded Ray
with 2 CPUs, ``--repeats`` times each, and prints the medians: wall times, speed-up, runs
per minute, and Ray's overhead per run two ways: (Ray time x workers - serial time) / runs,
which includes each worker importing the model once, and the round trip of an empty Ray
task. Ray's start-up (once per sweep) is timed apart. The machine's load is printed too:
other processes on the same CPUs lower the speed-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import ray

from abm.sweep import load_experiment, run_sweep
from abm.sweep.executor import connect

WORKERS = 2
EXPERIMENT = """
base = "{base}"
strategies = ["status_quo", "invest"]
replications = 3
seed = 1
[set]
"run.weeks" = {weeks}
"municipalities.count" = 12
"municipalities.population_scale" = 0.05
[design]
kind = "grid"
[design.parameters]
"council.caseload_target" = [40, 60, 80, 100, 120, 140, 160, 180]
"""


def timed_sweep(experiment, folder: Path, workers: int) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    _, summary, failures = run_sweep(experiment, folder, workers=workers)
    elapsed = time.perf_counter() - start
    assert failures.height == 0 and summary.height == len(experiment.tasks())
    return elapsed


@ray.remote
def _empty() -> None:
    return None


def empty_task_round_trip(tasks: int = 2000) -> float:
    """Seconds per empty task, submitted together as a sweep submits its batches."""
    ray.get([_empty.remote() for _ in range(100)])  # warm the workers
    start = time.perf_counter()
    ray.get([_empty.remote() for _ in range(tasks)])
    return (time.perf_counter() - start) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weeks", type=int, default=520)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    base = Path(__file__).resolve().parents[1] / "configs" / "baseline.toml"
    path = work / "bench.toml"
    path.write_text(EXPERIMENT.format(base=base, weeks=args.weeks), encoding="utf-8")
    experiment = load_experiment(path)
    runs = len(experiment.tasks())
    load_before = os.getloadavg()[0]

    serial = [timed_sweep(experiment, work / "serial", 1) for _ in range(args.repeats)]
    start = time.perf_counter()
    connect(WORKERS, None)  # the embedded Ray exactly as `abm sweep` starts it
    startup = time.perf_counter() - start
    parallel = [timed_sweep(experiment, work / "ray", WORKERS) for _ in range(args.repeats)]
    round_trip = empty_task_round_trip()
    ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    s, p = statistics.median(serial), statistics.median(parallel)
    print(f"sweep of {runs} runs ({args.weeks} weeks, 12 municipalities at 1/20 scale), median of {args.repeats}")
    print(f"  serial (no Ray)          {s:8.2f} s   ({s / runs:.3f} s per run; all: {', '.join(f'{t:.1f}' for t in serial)})")
    print(f"  Ray, {WORKERS} workers           {p:8.2f} s   (all: {', '.join(f'{t:.1f}' for t in parallel)})")
    print(f"  speed-up                 {s / p:8.2f} x   (with Ray's start-up: {s / (p + startup):.2f} x)")
    print(f"  runs per minute          {runs / p * 60:8.1f}     (serial: {runs / s * 60:.1f})")
    print(f"  Ray overhead per run     {(p * WORKERS - s) / runs * 1000:8.1f} ms  ((Ray time x {WORKERS} - serial) / runs)")
    print(f"  empty Ray task           {round_trip * 1000:8.2f} ms  (round trip, tasks submitted together)")
    print(f"  Ray start-up             {startup:8.2f} s   (once per sweep)")
    print(f"  machine load (1 min)     {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs "
          f"(other processes share them)")


if __name__ == "__main__":
    main()
