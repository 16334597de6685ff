"""Sweep benchmark: serial against Ray with 2 workers, on the same short runs.

    .venv/bin/python benchmarks/sweep_bench.py [--repeats 3] [--weeks 520]

Runs a grid of 64 short runs (8 caseload targets x 2 strategies x 4 replications; 10 years
of the baseline: 12 municipalities at 1/10 scale, about a second each) through ``abm.sweep.run_sweep``,
writes and bookkeeping included: serially (``workers=1``, no Ray), then on an embedded Ray
with 2 CPUs, ``--repeats`` times each, and prints the medians: wall times, speed-up, runs
per minute, and Ray's overhead per run two ways: (Ray time x workers - serial time) / runs,
which includes each worker importing the model once, and the round trip of an empty Ray
task. Each Ray sweep starts and stops its own Ray, as ``abm sweep`` does; Ray's start-up
is also timed apart. Serial and Ray sweeps alternate, and the machine's load is printed:
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
replications = 4
seed = 1
[set]
"run.weeks" = {weeks}
"municipalities.count" = 12
"municipalities.population_scale" = 0.1
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

    start = time.perf_counter()
    connect(WORKERS, None)  # the embedded Ray exactly as `abm sweep` starts it
    startup = time.perf_counter() - start
    round_trip = empty_task_round_trip()
    ray.shutdown()
    serial, parallel, loads = [], [], []
    for _ in range(args.repeats):  # alternated, so a change in the machine's load hits both alike
        loads.append(os.getloadavg()[0])
        serial.append(timed_sweep(experiment, work / "serial", 1))
        parallel.append(timed_sweep(experiment, work / "ray", WORKERS))  # starts and stops its own Ray, as `abm sweep`
    shutil.rmtree(work, ignore_errors=True)

    s, p = statistics.median(serial), statistics.median(parallel)
    sweep = p - startup  # the runs themselves, workers importing the model included
    print(f"sweep of {runs} runs ({args.weeks} weeks, 12 municipalities at 1/10 scale), median of {args.repeats} (best)")
    print(f"  serial (no Ray)          {s:8.2f} s   ({s / runs:.3f} s per run; all: {_list(serial)})")
    print(f"  Ray, {WORKERS} workers           {p:8.2f} s   (start-up included; all: {_list(parallel)})")
    print(f"  speed-up                 {s / p:8.2f} x   (best: {min(serial) / min(parallel):.2f} x; "
          f"without Ray's start-up: {s / sweep:.2f} x)")
    print(f"  runs per minute          {runs / p * 60:8.1f}     (serial: {runs / s * 60:.1f})")
    print(f"  Ray overhead per run     {(sweep * WORKERS - s) / runs * 1000:8.1f} ms  "
          f"((Ray time without start-up x {WORKERS} - serial) / runs)")
    print(f"  empty Ray task           {round_trip * 1000:8.2f} ms  (round trip, tasks submitted together)")
    print(f"  Ray start-up             {startup:8.2f} s   (once per sweep)")
    print(f"  machine load (1 min)     {_list(loads)} at each repeat, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
