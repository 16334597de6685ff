"""The sweep driver: check everything, then run what is missing, writing each run at once."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
from tqdm import tqdm

from abm.errors import UserError
from abm.simulate import run_simulation
from abm.sweep.executor import Runner, check_reachable, execute
from abm.sweep.experiment import Experiment
from abm.sweep.store import SweepStore


def run_sweep(
    experiment: Experiment,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    address: str | None = None,
    runner: Runner = run_simulation,
) -> tuple[SweepStore, pl.DataFrame, pl.DataFrame]:
    """Run an experiment's missing runs; return its store, summary and failures.

    Every input is checked before the first run: the cluster address answers, the results
    folder (default ``results/<experiment>``) is new, or holds this experiment when
    resuming. ``workers == 1`` without ``address`` runs in this process without Ray.
    ``runner`` runs one simulation (config, seed); tests and the benchmark substitute it.
    """
    if address is not None and workers is not None:
        raise UserError("--workers sets the CPUs of the local Ray; with --address the cluster's CPUs are used")
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: expected 1 or more")
    if address is not None:
        check_reachable(address)
    store = SweepStore.open(out or Path("results") / experiment.name, experiment, resume)
    tasks = experiment.tasks()
    done = store.done()
    todo = {task.labels["run_id"]: task for task in tasks if task.labels["run_id"] not in done}
    failed = 0
    with tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=experiment.name, unit="run") as bar:
        bar.set_postfix(failed=0)
        for outcomes in execute(list(todo.values()), runner, workers or os.cpu_count() or 1, address):
            for run_id, result, error in outcomes:
                if error is None:
                    store.record_success(todo[run_id], result)
                else:
                    store.record_failure(todo[run_id], error)
                    failed += 1
                bar.update(1)
                bar.set_postfix(failed=failed)
    summary, failures = store.finish()
    return store, summary, failures
