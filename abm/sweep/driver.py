"""The sweep driver: check everything, then run what is missing, writing each run at once."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from abm.execution import Runner, check_executor, execute
from abm.simulate import run_simulation
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
    check_executor(workers, address)
    store = SweepStore.open(out or Path("results") / experiment.name, experiment, resume)
    tasks = experiment.tasks()
    done = store.done()
    todo = [task for task in tasks if task.run_id not in done]
    for task, result, error in execute(todo, workers=workers, address=address, runner=runner,
                                       description=experiment.name, done=len(tasks) - len(todo)):
        if error is None:
            store.record_success(task, result)
        else:
            store.record_failure(task, error)
    summary, failures = store.finish()
    return store, summary, failures
