"""``abm optimise EXPERIMENT --objectives net_cost_mdkk:min trust_mean:max``: the levers' Pareto front,
and the best policy for municipalities of each size class.

Optuna's NSGA-II over the experiment's strategies and levers, each candidate scored over
its scenarios on the executor; see :mod:`abm.sweep.optimise`.
"""

from __future__ import annotations

import re
from pathlib import Path

from abm.commands.common import add_executor_arguments
from abm.commands.robustness import parse_senses
from abm.errors import UserError
from abm.sweep import load_experiment
from abm.sweep.optimise import SIZE_CLASSES, optimise

CONSTRAINT = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*(<=|>=)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("optimise", help="multi-objective search over an experiment's levers (NSGA-II)")
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
    parser.set_defaults(handler=handle)


def parse_constraint(text: str) -> tuple[str, str, float]:
    match = CONSTRAINT.fullmatch(text)
    if not match:
        raise UserError(f"--constraint {text!r}: expected OUTCOME <= VALUE or OUTCOME >= VALUE, "
                        f"e.g. \"protest_events_per_year <= 1\"")
    return match[1], match[2], float(match[3])


def handle(args) -> int:
    objectives = parse_senses(args.objectives, "--objectives")
    constraints = [parse_constraint(text) for text in args.constraint]
    for option, value in (("--generations", args.generations), ("--population", args.population)):
        if value < 1:
            raise UserError(f"{option} {value}: expected 1 or more")
    experiment = load_experiment(args.experiment)
    text, out = optimise(experiment, objectives, constraints, args.generations, args.population, args.out,
                         args.workers, args.address, limits=tuple(args.size_classes))
    print(text)
    written = ["pareto.parquet", "pareto.txt", "pareto.png", "size_classes.txt", "candidate_runs.parquet", "study.db"]
    if (out / "size_classes.parquet").is_file():
        written[4:4] = ["size_classes.parquet", "size_classes.png"]
    print(f"\nwritten: {out}/ ({', '.join(written)})")
    return 0
