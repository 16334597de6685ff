"""``abm optimise EXPERIMENT --objectives net_cost_mdkk:min trust_mean:max``: the levers' Pareto front,
and the best policy for municipalities of each size class.

Optuna's NSGA-II over the experiment's strategies and levers, each candidate scored over
its scenarios on the executor; see :mod:`abm.sweep.optimise`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from abm.commands.common import add_executor_arguments, add_yes_argument, check_executor_options, check_whole
from abm.commands.robustness import parse_senses
from abm.errors import UserError, cut
from abm.output import output_folder
from abm.resources import check_duration, check_memory, estimate
from abm.sweep import load_experiment
from abm.sweep.optimise import SIZE_CLASSES, optimise

CONSTRAINT = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*(<=|>=)\s*(\S+)\s*")
MAX_GENERATIONS = 10_000
MAX_POPULATION = 10_000
DESCRIPTION = """\
Multi-objective search (Optuna's NSGA-II, seeded by the experiment's seed) over an
experiment's strategies and [levers]: each candidate policy is scored by each objective's
mean over the experiment's scenarios x replications, with the same seeds for every
candidate. Each generation's runs go to the executor together (an embedded Ray with all
CPUs; --workers 1: in this process). Writes, in results/<experiment>-optimise/ (or --out; a
folder that holds files is refused):
  study.db (Optuna's study), pareto.parquet, pareto.txt, pareto.png, candidate_runs.parquet,
  size_classes.txt (and .parquet, .png): the best policy per municipality size class
Time: generations x population x scenarios x replications runs; the estimate is printed
first, and above 2 hours it waits for --yes. --population is at least 2.

exit status: 0 done; 2 a mistake in the input (one line, nothing written); 130 interrupted."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("optimise", help="multi-objective search over an experiment's levers (NSGA-II)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", type=Path, help="experiment file with [levers], e.g. experiments/payback_discovery.toml")
    parser.add_argument("--objectives", nargs="+", required=True, metavar="OUTCOME:min|max",
                        help="e.g. --objectives net_cost_mdkk:min trust_mean:max")
    parser.add_argument("--constraint", action="append", default=[], metavar='"OUTCOME <= VALUE"',
                        help='e.g. --constraint "protest_events_per_year <= 1" (repeatable)')
    parser.add_argument("--generations", type=int, default=5, help="NSGA-II generations (default 5)")
    parser.add_argument("--population", type=int, default=8, help="candidates per generation (default 8)")
    parser.add_argument("--size-classes", type=int, nargs="+", default=list(SIZE_CLASSES), metavar="INHABITANTS",
                        help="limits of the municipality size classes for the best policy per class "
                             f"(default {' '.join(map(str, SIZE_CLASSES))}: under 20,000 ... 100,000 and over)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/<experiment>-optimise)")
    add_executor_arguments(parser)
    add_yes_argument(parser)
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``OUTCOME <= VALUE`` (or ``>=``) with a finite number, or one line saying what is expected."""
    match = CONSTRAINT.fullmatch(text)
    expected = "expected OUTCOME <= VALUE or OUTCOME >= VALUE with a number, e.g. \"protest_events_per_year <= 1\""
    if not match:
        raise UserError(f"--constraint {cut(repr(text))}: {expected}")
    try:
        value = float(match[3])
    except ValueError:
        raise UserError(f"--constraint {cut(repr(text))}: {cut(repr(match[3]))} is not a number; {expected}") from None
    if not math.isfinite(value):
        raise UserError(f"--constraint {cut(repr(text))}: {match[3]!r} is not a finite number; {expected}")
    return match[1], match[2], value


def handle(args) -> int:
    check_executor_options(args.workers, args.address)
    objectives = parse_senses(args.objectives, "--objectives")
    constraints = [parse_constraint(text) for text in args.constraint]
    check_whole("--generations", args.generations, 1, MAX_GENERATIONS)
    check_whole("--population", args.population, 2, MAX_POPULATION)  # NSGA-II breeds pairs
    experiment = load_experiment(args.experiment)
    scenarios = {tuple(sorted((k, repr(p[k])) for k in experiment.uncertainties)) for p in experiment.points} or {()}
    configs = [experiment.base.with_overrides(point) for point in experiment.points] or [experiment.base]
    cpus = 1 if args.address else args.workers or os.cpu_count() or 1
    check_memory(configs, parallel=cpus, force=args.force, origin=str(args.experiment))
    runs = args.generations * args.population * len(scenarios) * experiment.replications
    seconds = max(estimate(config).seconds for config in configs) * runs / cpus
    print(f"{args.experiment}: {runs:,} runs, " + check_duration(
        seconds, args.yes or args.address is not None, str(args.experiment), f"{runs:,} runs",
        "fewer --generations or --population, or fewer scenarios or replications"), flush=True)
    with output_folder(args.out or Path("results") / f"{experiment.name}-optimise", create=False,
                       can_overwrite=False) as out:
        text, out = optimise(experiment, objectives, constraints, args.generations, args.population, out,
                             args.workers, args.address, limits=tuple(args.size_classes))
    print(text)
    written = ["pareto.parquet", "pareto.txt", "pareto.png", "size_classes.txt", "candidate_runs.parquet", "study.db"]
    if (out / "size_classes.parquet").is_file():
        written[4:4] = ["size_classes.parquet", "size_classes.png"]
    print(f"\nwritten: {out}/ ({', '.join(written)})")
    return 0
