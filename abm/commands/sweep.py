"""``abm sweep EXPERIMENT``: many runs from an experiment file, in parallel on Ray.

Local by default (an embedded Ray with ``--workers`` CPUs; ``--workers 1`` runs in this
process without Ray), or on a running cluster with ``--address HOST:PORT``. Results go to
``results/<experiment>/`` (see :mod:`abm.sweep.store`); ``--resume`` continues an
interrupted sweep there.
"""

from __future__ import annotations

import os
from pathlib import Path

from abm.commands.common import add_executor_arguments
from abm.resources import HOURS_LIMIT, RUN_LIMIT, plan_sweep
from abm.sweep import load_experiment, run_sweep
from abm.sweep.analysis import analyse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="a batch of runs from an experiment file, on Ray; resumable")
    parser.add_argument("experiment", type=Path, help="experiment file (TOML), e.g. experiments/caseload_sweep.toml")
    add_executor_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the sweep in the results folder: run only what is missing")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/<experiment name>)")
    parser.add_argument("--yes", action="store_true", help=f"run a design of more than {RUN_LIMIT:,} runs or {HOURS_LIMIT:g} hours (estimated)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    experiment = load_experiment(args.experiment, yes=args.yes)
    configs = [experiment.base.with_overrides(point) for point in experiment.points]
    workers = None if args.address else args.workers or os.cpu_count() or 1
    print(f"{experiment.name}: " + plan_sweep(configs, experiment.replications * len(experiment.strategies), workers,
                                              args.yes, args.force, str(args.experiment)), flush=True)
    store, summary, failures = run_sweep(experiment, args.out, args.resume, args.workers, args.address)
    print(analyse(experiment, summary, store.folder))
    print(f"\nresults: {store.folder}/ (summary.parquet: {summary.height} runs; weekly/*.parquet; table.txt; plots/)")
    if failures.height:
        print(f"{failures.height} runs failed (errors in {store.folder}/failures.parquet); run again with --resume to retry them")
        return 1
    return 0
