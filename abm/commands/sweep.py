"""``abm sweep EXPERIMENT``: many runs from an experiment file, in parallel on Ray.

Local by default (an embedded Ray with ``--workers`` CPUs; ``--workers 1`` runs in this
process without Ray), or on a running cluster with ``--address HOST:PORT``. Results go to
``results/<experiment>/`` (see :mod:`abm.sweep.store`); ``--resume`` continues an
interrupted sweep there.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from abm.commands.common import add_executor_arguments, check_executor_options
from abm.output import output_folder
from abm.resources import HOURS_LIMIT, RUN_LIMIT, plan_sweep
from abm.sweep import load_experiment, run_sweep
from abm.sweep.analysis import analyse
from abm.sweep.store import MANIFEST

DESCRIPTION = f"""\
Every run of an experiment file's design (design points x replications x strategies), on
an embedded Ray with all CPUs (--workers 1: in this process; --address: on a cluster).
Writes, in results/<experiment name>/ (or --out), each run the moment it finishes:
  manifest.json  the experiment's identity and resolved runs
  runs/*.parquet, weekly/*.parquet  each run's summary row and weekly rows
  summary.parquet  every finished run;  failures.parquet  the runs that raised, if any
  table.txt, plots/  the outcomes along the design
A folder that holds files is refused; --resume continues an interrupted sweep there and
runs only what is missing. The estimate is printed first: more than {RUN_LIMIT:,} runs or
{HOURS_LIMIT:g} hours waits for --yes. experiments/caseload_sweep.toml takes about 10 minutes on 2 CPUs.

exit status: 0 done; 1 done, but runs failed (--resume retries them); 2 a mistake in the
input or the output folder (one line, nothing written); 130 interrupted (Ctrl+C): finished
runs are kept for --resume."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="a batch of runs from an experiment file, on Ray; resumable",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", type=Path, help="experiment file (TOML), e.g. experiments/caseload_sweep.toml")
    add_executor_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the sweep in the results folder: run only what is missing")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/<experiment name>)")
    parser.add_argument("--yes", action="store_true", help=f"run a design of more than {RUN_LIMIT:,} runs or {HOURS_LIMIT:g} hours (estimated)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_executor_options(args.workers, args.address)
    experiment = load_experiment(args.experiment, yes=args.yes)
    configs = [experiment.base.with_overrides(point) for point in experiment.points]
    workers = None if args.address else args.workers or os.cpu_count() or 1
    print(f"{experiment.name}: " + plan_sweep(configs, experiment.replications * len(experiment.strategies), workers,
                                              args.yes, args.force, str(args.experiment)), flush=True)
    folder = args.out or Path("results") / experiment.name
    with output_folder(folder, checked=False, keep_finished=True, scaffolding=(MANIFEST,), create=False):
        store, summary, failures = run_sweep(experiment, folder, args.resume, args.workers, args.address)
    print(analyse(experiment, summary, store.folder))
    print(f"\nresults: {store.folder}/ (summary.parquet: {summary.height} runs; weekly/*.parquet; table.txt; plots/)")
    if failures.height:
        print(f"{failures.height} runs failed (errors in {store.folder}/failures.parquet); run again with --resume to retry them")
        return 1
    return 0
