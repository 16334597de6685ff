"""Sweep benchmark: serial against Ray with 2 workers, on the same runs of a few seconds.

    .venv/bin/python benchmarks/sweep_bench.py [--repeats 3] [--run-seconds 2] [--weeks 520]
                                               [--replications 4] [--experiment experiments/caseload_sweep.toml]
    .venv/bin/python benchmarks/sweep_bench.py --driver-cost [--tiny-runs 400]

Two sweeps are timed. First the project's own caseload sweep as it comes
(``experiments/caseload_sweep.toml``, 42 runs of well under a second: what a user runs),
then a grid of 64 runs (8 caseload targets x 2 strategies x 4 replications, ``--replications``
to change; 10 years of the baseline's 12 municipalities) through ``abm.sweep.run_sweep``,
writes and bookkeeping included: serially (``workers=1``, no Ray, as ``abm sweep --workers 1``), then on an
embedded Ray with 2 CPUs, ``--repeats`` times each, and prints the medians: wall times,
speed-up, runs per minute, and Ray's overhead per run: (Ray time without start-up x
workers - serial time) / runs, which includes each worker importing the model and making
its first run, the last runs' tail and Ray's shut-down. The serial sweeps run in this
process, which has imported the model and made a run already, so they pay none of that.
Ray's start-up and shut-down and the round trip of an empty Ray task are timed apart, and
so is what no executor can remove: a run is slower while another runs beside it (shared
caches and memory), measured with plain processes, no Ray.

The issue asks for "short runs of a few seconds". What a run costs changes as the model
gets faster, so the run size is chosen by its cost, not fixed: before timing anything the
benchmark sets the municipalities' population scale so that one run takes about
``--run-seconds`` here (a run's cost grows about linearly with the scale) and prints the
scale it chose and the cost it measured.

Serial and Ray sweeps alternate, and the machine's load is printed: other processes on the
same CPUs lower the speed-up. For each sweep the benchmark also prints the driver's own CPU
time per run during the Ray sweeps (receiving results, writing Parquet, the progress bar:
CPU taken from the workers), and splits Ray's time into what the side-by-side slowdown
explains (serial x (1 + slowdown) / workers) and the rest (start-up, workers importing the
model, first runs, tail, shut-down).

``--driver-cost`` measures only what the sweep itself costs per run, for a user planning
many runs on a cluster: ``--tiny-runs`` runs of a tiny config (3 municipalities at 1/50 of
Denmark's size for a year, a few tens of milliseconds each) as ``abm sweep`` makes them on
an embedded Ray with 2 workers, against the same runs' simulation time in one warm process
without Ray, and serially as ``abm sweep --workers 1`` (the same writes, no Ray).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil
import ray

from abm.execution import Task
from abm.simulate import run_simulation
from abm.sweep import load_experiment, run_sweep
from abm.execution import connect
from abm.sweep.experiment import Experiment

WORKERS = 2
CALIBRATION_STEPS = 3
SIDE_BY_SIDE_RUNS = 8  # runs in each share at least; fewer give a noisy figure on a shared machine
SIDE_BY_SIDE_SECONDS = 16.0  # and enough of them for a share of about this long
EXPERIMENT = """
base = "{base}"
strategies = ["status_quo", "invest"]
replications = {replications}
seed = 1
[set]
"run.weeks" = {weeks}
"municipalities.count" = {count}
"municipalities.population_scale" = {scale}
[design]
kind = "grid"
[design.parameters]
"council.caseload_target" = {targets}
"""
GRID_TARGETS = [40, 60, 80, 100, 120, 140, 160, 180]


def experiment_at(folder: Path, weeks: int, scale: float, replications: int = 4, count: int = 12,
                  targets: list[int] = GRID_TARGETS) -> Experiment:
    """The benchmark's sweep (status quo and invest over caseload ``targets``) as an experiment file in ``folder``."""
    path = folder / "bench.toml"
    base = Path(__file__).resolve().parents[1] / "configs" / "baseline.toml"
    path.write_text(EXPERIMENT.format(base=base, weeks=weeks, count=count, scale=scale, replications=replications,
                                      targets=targets), encoding="utf-8")
    return load_experiment(path)


def seconds_per_run(tasks: list[Task], start_together=None) -> float:
    """Run the tasks one after another in this process; seconds per run. The first run of
    a process (imports, loading the compiled kernels) is done before, untimed."""
    run_simulation(tasks[0].config, tasks[0].seed)
    if start_together is not None:
        start_together.wait()
    start = time.perf_counter()
    for task in tasks:
        run_simulation(task.config, task.seed)
    return (time.perf_counter() - start) / len(tasks)


def calibrated_scale(folder: Path, weeks: int, target: float) -> float:
    """The population scale (2 significant digits) at which one run takes about ``target`` s."""
    scale = 0.1
    for _ in range(CALIBRATION_STEPS):
        cost = seconds_per_run(experiment_at(folder, weeks, scale).tasks()[:1])
        scale = float(f"{min(10.0, scale * target / cost):.2g}")
    return scale


def side_by_side_slowdown(tasks: list[Task]) -> float:
    """How much slower a run is while another runs beside it, without Ray: the same runs in
    this process alone, then in ``WORKERS`` plain processes at once. Ray cannot beat this."""
    alone = seconds_per_run(tasks)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        barrier = manager.Barrier(WORKERS)  # each process takes one share: none starts timing before the others are ready
        together = list(pool.map(seconds_per_run, [tasks] * WORKERS, [barrier] * WORKERS))
    return statistics.mean(together) / alone - 1


def timed_sweep(experiment: Experiment, folder: Path, workers: int) -> tuple[float, float, bytes]:
    """Wall seconds, this (the driver's) process's CPU seconds, and the summary's bytes."""
    shutil.rmtree(folder, ignore_errors=True)
    start, cpu = time.perf_counter(), time.process_time()
    _, summary, failures = run_sweep(experiment, folder, workers=workers)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert failures.height == 0 and summary.height == len(experiment.tasks())
    return elapsed, cpu, (folder / "summary.parquet").read_bytes()


@ray.remote
def _empty() -> None:
    return None


def empty_task_round_trip(tasks: int = 2000) -> float:
    """Seconds per empty task, submitted together as a sweep submits its batches."""
    ray.get([_empty.remote() for _ in range(100)])  # warm the workers
    start = time.perf_counter()
    ray.get([_empty.remote() for _ in range(tasks)])
    return (time.perf_counter() - start) / tasks


def side_by_side_tasks(tasks: list[Task], seconds: float) -> list[Task]:
    """Runs spread over the sweep, enough for a share of about ``seconds`` (at least 8)."""
    cost = seconds_per_run(tasks[:1])
    count = min(len(tasks), max(SIDE_BY_SIDE_RUNS, round(seconds / cost)))
    return tasks[::len(tasks) // count][:count]


def compare(label: str, experiment: Experiment, work: Path, repeats: int, startup: float) -> None:
    """Serial and Ray sweeps of ``experiment``, alternated; print the medians."""
    runs = len(experiment.tasks())
    slowdown = side_by_side_slowdown(side_by_side_tasks(experiment.tasks(), SIDE_BY_SIDE_SECONDS))
    serial, parallel, driver, loads = [], [], [], []
    for _ in range(repeats):  # alternated, so a change in the machine's load hits both alike
        loads.append(os.getloadavg()[0])
        seconds, _, serial_bytes = timed_sweep(experiment, work / "serial", 1)
        serial.append(seconds)
        seconds, cpu, ray_bytes = timed_sweep(experiment, work / "ray", WORKERS)  # starts and stops its own Ray
        parallel.append(seconds)
        driver.append(cpu)
        assert ray_bytes == serial_bytes  # the same results, byte for byte
    s, p = statistics.median(serial), statistics.median(parallel)
    sweep = p - startup  # the runs themselves, workers importing the model and Ray's shut-down included
    explained = s * (1 + slowdown) / WORKERS  # Ray's time if the side-by-side slowdown were its only cost
    print(f"{label}: {runs} runs, median of {repeats}")
    print(f"  serial (no Ray)          {s:8.2f} s   ({s / runs:.2f} s per run; all: {_list(serial)})")
    print(f"  Ray, {WORKERS} workers           {p:8.2f} s   (start-up included; all: {_list(parallel)})")
    print(f"  speed-up                 {s / p:8.2f} x   (per repeat: {_list([a / b for a, b in zip(serial, parallel)], 2)} x; "
          f"without Ray's start-up: {s / sweep:.2f} x)")
    print(f"  runs per minute          {runs / p * 60:8.1f}     (serial: {runs / s * 60:.1f})")
    print(f"  Ray overhead per run     {(sweep * WORKERS - s) / runs * 1000:8.1f} ms  "
          f"((Ray time without start-up x {WORKERS} - serial) / runs)")
    print(f"  runs side by side        {slowdown * 100:+8.1f} %   (a run's cost while {WORKERS} run at once without Ray, "
          f"against alone: the machine's limit is {WORKERS / (1 + slowdown):.2f} x)")
    print(f"  Ray's time explained     {explained:8.2f} s   by the side-by-side slowdown; the other "
          f"{p - explained:.2f} s are fixed costs (start-up, imports, first runs, tail, shut-down)")
    print(f"  driver CPU per run       {statistics.median(driver) / runs * 1000:8.1f} ms  "
          f"(this process during the Ray sweeps: results, Parquet writes, progress bar)")
    print(f"  machine load (1 min)     {_list(loads)} at each repeat, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


class TreeCPU:
    """The CPU seconds of this process's descendants (Ray's daemons and workers), read every
    ``POLL_S`` in a thread while ``with`` runs: Ray does not wait for its workers, so
    ``getrusage`` misses them; a process's last fraction of an interval is missed."""

    POLL_S = 0.25  # the polling's own CPU (about 1 ms a poll) is counted as the driver's

    def __enter__(self) -> TreeCPU:
        self.seen: dict[int, tuple[str, float]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._done.wait(self.POLL_S):
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    times = child.cpu_times()
                    self.seen[child.pid] = (child.name(), times.user + times.system)

    def __exit__(self, *exception) -> None:
        self._done.set()
        self._thread.join()

    def seconds(self, workers: bool) -> float:
        """CPU of Ray's workers (named ``ray::<task>``), or of everything else (its daemons)."""
        return sum(cpu for name, cpu in self.seen.values() if name.startswith("ray::") and "Agent" not in name) if workers \
            else sum(cpu for name, cpu in self.seen.values() if not (name.startswith("ray::") and "Agent" not in name))


def driver_cost(work: Path, runs: int) -> None:
    """The sweep's own cost per run beside the simulations, on ``runs`` tiny runs (2 strategies
    x ``runs / 2`` replications), in CPU seconds (a busy machine changes them less than the
    wall time): the same runs in one warm process (the simulations alone), as ``abm sweep`` on
    an embedded Ray with 2 workers (its driver, its workers and Ray's daemons apart), and as
    ``abm sweep --workers 1`` (the same writes, no Ray)."""
    experiment = experiment_at(work, 52, 0.02, runs // 2, count=3, targets=[55])  # tiny runs: the driver's share shows
    tasks = experiment.tasks()
    n = len(tasks)
    seconds_per_run(tasks[:1])  # imports and the compiled kernels, untimed
    cpu, start = time.process_time(), time.perf_counter()
    for task in tasks:
        run_simulation(task.config, task.seed)
    simulations, wall = time.process_time() - cpu, time.perf_counter() - start
    load = os.getloadavg()[0]
    with TreeCPU() as tree:
        ray_wall, driver_cpu, ray_bytes = timed_sweep(experiment, work / "tiny-ray", WORKERS)
    serial_wall, serial_cpu, serial_bytes = timed_sweep(experiment, work / "tiny-serial", 1)
    assert ray_bytes == serial_bytes  # the same results, byte for byte
    workers_cpu, daemons_cpu = tree.seconds(workers=True), tree.seconds(workers=False)
    print(f"tiny runs: {n} runs of a year of 3 municipalities at population scale 0.02 (2 strategies x {n // 2} replications); "
          "CPU seconds, and wall seconds on this machine as it was")
    print(f"  simulations alone        {simulations * 1000 / n:8.1f} ms CPU per run  (one warm process, no writes; "
          f"{simulations:.1f} s CPU, {wall:.1f} s wall)")
    print(f"  serial sweep, no Ray     {(serial_cpu - simulations) * 1000 / n:8.1f} ms CPU per run beside the simulations  "
          f"(results tabled and written, progress bar; {serial_wall:.1f} s wall)")
    print(f"  Ray sweep, {WORKERS} workers:      {ray_wall:.1f} s wall, start-up and shut-down included "
          f"({n / ray_wall:.1f} runs per second)")
    print(f"    driver                 {driver_cpu * 1000 / n:8.1f} ms CPU per run  (receiving and writing results, "
          f"scheduling, progress bar)")
    print(f"    workers beyond the simulations {(workers_cpu - simulations) * 1000 / n:6.1f} ms CPU per run  "
          f"(importing the model once each, receiving tasks, sending results; workers {workers_cpu:.1f} s CPU)")
    print(f"    Ray's daemons          {daemons_cpu * 1000 / n:8.1f} ms CPU per run  ({daemons_cpu:.1f} s CPU: GCS, raylet, "
          f"agents, monitors, start-up included)")
    print(f"  machine load (1 min)     {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run-seconds", type=float, default=2.0, help="what one run should cost here (default 2 s)")
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--replications", type=int, default=4,
                        help="replications in the grid (16 runs each; default 4: 64 runs): Ray's fixed costs per sweep weigh less on longer sweeps")
    parser.add_argument("--experiment", default=str(Path(__file__).resolve().parents[1] / "experiments" / "caseload_sweep.toml"),
                        help="an experiment file timed as it comes (default: the caseload sweep; '' to skip)")
    parser.add_argument("--driver-cost", action="store_true", help="only the sweep's own cost per run, on --tiny-runs tiny runs")
    parser.add_argument("--tiny-runs", type=int, default=400, help="with --driver-cost: how many (default 400)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))

    start = time.perf_counter()
    connect(WORKERS, None)  # the embedded Ray exactly as `abm sweep` starts it
    startup = time.perf_counter() - start
    round_trip = empty_task_round_trip()
    start = time.perf_counter()
    ray.shutdown()
    shutdown = time.perf_counter() - start
    print(f"  Ray start-up             {startup:8.2f} s   (once per sweep; shut-down: {shutdown:.2f} s)")
    print(f"  empty Ray task           {round_trip * 1000:8.2f} ms  (round trip, tasks submitted together)")
    if args.driver_cost:
        driver_cost(work, args.tiny_runs)
        shutil.rmtree(work, ignore_errors=True)
        return
    scale = calibrated_scale(work, args.weeks, args.run_seconds)
    grid = experiment_at(work, args.weeks, scale, args.replications)
    if args.experiment:
        compare(f"{Path(args.experiment).name} as it comes", load_experiment(args.experiment), work, args.repeats, startup)
    compare(f"grid of {len(grid.tasks())} runs of {args.weeks} weeks, 12 municipalities at population scale {scale} "
            f"(chosen for runs of about {args.run_seconds:g} s)", grid, work, args.repeats, startup)
    shutil.rmtree(work, ignore_errors=True)


def _list(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


if __name__ == "__main__":
    main()
