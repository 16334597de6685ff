"""Calibration benchmark: ``abm calibrate`` on the shipped targets, on 2 workers against serially.

    .venv/bin/python benchmarks/calibration_bench.py [--trials 200] [--serial-trials 200]
                                                     [--replications 4] [--workers 2] [--keep DIR]

Runs the command a user runs, as a new process each time: a calibration of four parameters
(the three fitted to Hainmueller et al. and the Danish stock, and the meeting effect fitted
to Maibom et al.) to ``targets/denmark.toml``, ``--trials`` trials of ``--replications``
replications each, first on an embedded Ray with ``--workers`` CPUs, then in one process
(``--workers 1``) for ``--serial-trials`` trials. Everything is timed end to end: start-up,
Ray, the trials, the outputs.

Trials are asked in fixed rounds from a seeded sampler, so the serial calibration's trials
are the first ``--serial-trials`` trials of the parallel one, parameter for parameter and
loss for loss (checked). The speed-up is therefore measured on the same work: the serial
wall time against the time the parallel calibration took to finish those same trials (from
its start, read from Optuna's storage). With ``--serial-trials`` equal to ``--trials`` that
is the whole calibration, end to end. Prints both, the trials per minute and the machine's
load. ``--keep DIR`` keeps the parallel calibration's results folder there (its best
parameters, trials and accepted set, as ``abm calibrate`` writes them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import polars as pl

REPO = Path(__file__).resolve().parents[1]
TARGETS = "targets/denmark.toml"
PARAMS = ("progress.quality_elasticity", "casework.half_quality_minutes", "labour_market.inflow_per_1000",
          "progress.meeting_elasticity")


def timed_calibration(trials: int, workers: int, replications: int, out: Path) -> float:
    """Wall seconds of one ``abm calibrate`` process."""
    command = [sys.executable, "-m", "abm.cli", "calibrate", TARGETS, "--params", *PARAMS, "--trials", str(trials),
               "--replications", str(replications), "--workers", str(workers), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def seconds_to_finish(out: Path, trials: int) -> float:
    """Seconds from the first trial's start to the end of the first ``trials`` trials (Optuna's storage)."""
    study = optuna.load_study(study_name="calibration", storage=f"sqlite:///{out / 'study.db'}")
    done = sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)[:trials]
    start = min(trial.datetime_start for trial in done)
    return (max(trial.datetime_complete for trial in done) - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="trials of the parallel calibration (default 200)")
    parser.add_argument("--serial-trials", type=int, default=None, help="trials of the serial one (default: --trials)")
    parser.add_argument("--replications", type=int, default=4, help="replications per experiment (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the embedded Ray (default 2)")
    parser.add_argument("--keep", type=Path, default=None, help="copy the parallel calibration's results folder here")
    args = parser.parse_args()
    serial_trials = args.serial_trials or args.trials
    if serial_trials > args.trials:
        parser.error("--serial-trials must not exceed --trials (the serial trials are the parallel ones' first)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="calibration-bench-") as work:
        parallel_out, serial_out = Path(work) / "parallel", Path(work) / "serial"
        loads = [os.getloadavg()[0]]
        parallel = timed_calibration(args.trials, args.workers, args.replications, parallel_out)
        loads.append(os.getloadavg()[0])
        serial = timed_calibration(serial_trials, 1, args.replications, serial_out)
        loads.append(os.getloadavg()[0])
        columns = ["trial", *PARAMS, "loss"]
        same = pl.read_parquet(serial_out / "trials.parquet").select(columns).sort("trial").equals(
            pl.read_parquet(parallel_out / "trials.parquet").select(columns).sort("trial").head(serial_trials))
        parallel_same_work = seconds_to_finish(parallel_out, serial_trials)
        serial_trials_only = seconds_to_finish(serial_out, serial_trials)
        if args.keep:
            shutil.copytree(parallel_out, args.keep, dirs_exist_ok=True)
    print(f"abm calibrate {TARGETS} --params {' '.join(PARAMS)} --replications {args.replications}")
    print(f"  --workers {args.workers}, {args.trials} trials: {parallel / 60:.1f} min end to end "
          f"({args.trials / parallel * 60:.1f} trials a minute)")
    print(f"  --workers 1, {serial_trials} trials: {serial / 60:.1f} min end to end "
          f"({serial_trials / serial * 60:.1f} trials a minute); its trials are the parallel one's first "
          f"{serial_trials}: {'identical' if same else 'NOT identical'}")
    if serial_trials == args.trials:
        print(f"  speed-up, end to end: {serial / parallel:.2f}x")
    print(f"  speed-up on the same {serial_trials} trials (first start to last end): "
          f"{serial_trials_only / parallel_same_work:.2f}x ({serial_trials_only / 60:.1f} min against {parallel_same_work / 60:.1f} min)")
    print(f"  machine load (1 min): {', '.join(f'{load:.1f}' for load in loads)} before, between and after, on {os.cpu_count()} CPUs")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
