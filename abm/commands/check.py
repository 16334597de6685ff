"""``abm check TARGETS [CONFIG]``: run every target's experiment for a config and print the fit table.

Exit status 1 if a target is outside its tolerance (for CI); 2 on a user mistake.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from abm.calibration.fit import experiment, fit_table, format_fit, passes, run_experiments
from abm.calibration.targets import load_targets
from abm.config import parse_overrides
from abm.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("check", help="the fit of a config to a targets file (exit 1 if a target is missed)")
    parser.add_argument("targets", type=Path, help="targets file (TOML), e.g. targets/denmark.toml")
    parser.add_argument("config", type=Path, nargs="?", default=None, help="config to check (default: the targets file's base)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter of the config, e.g. --set progress.quality_elasticity=0.8 (repeatable)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the replications' seeds come from (default: the targets file's); another seed set shows whether a fit is the seed's")
    add_execution_arguments(parser)
    parser.set_defaults(handler=handle)


def add_execution_arguments(parser) -> None:
    """Replications and where runs execute (shared with ``abm calibrate``)."""
    parser.add_argument("--replications", type=int, default=None, help="replications per experiment (default: the targets file's)")
    parser.add_argument("--workers", type=int, default=1, help="CPUs of a local Ray; 1 (default) runs in this process without Ray")
    parser.add_argument("--address", default=None, metavar="HOST:PORT", help="run on a running Ray cluster instead")


def handle(args) -> int:
    targets = load_targets(args.targets)
    if args.seed is not None:
        targets = dataclasses.replace(targets, seed=args.seed)
    if args.replications is not None and args.replications < 1:
        raise UserError(f"--replications {args.replications}: expected a whole number >= 1")
    config = targets.base_config(args.config).with_overrides(parse_overrides(args.overrides), origin="--set")
    replications = args.replications or targets.replications
    values = run_experiments([experiment(targets, config)], replications, args.workers, args.address)[0]
    if isinstance(values, str):
        raise UserError(f"a run of the targets' experiments failed:\n{values}")
    table = fit_table(targets, values)
    print(f"fit of {args.config or targets.base} to {targets.path} ({replications} replications, seed {targets.seed})\n")
    print(format_fit(table))
    return 0 if passes(table) else 1
