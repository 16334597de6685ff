"""``abm check TARGETS [CONFIG]``: run every target's experiment for a config and print the fit table.

Exit status 1 if a target is outside its tolerance (for CI); 2 on a user mistake.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from abm.calibration.fit import experiment, fit_table, format_fit, passes, run_experiments
from abm.calibration.targets import load_targets
from abm.commands.common import add_yes_argument, check_executor_options, check_seed, check_whole
from abm.config import parse_overrides
from abm.errors import UserError
from abm.execution import check_reachable
from abm.resources import check_duration, check_memory, estimate

MAX_REPLICATIONS = 1000
DESCRIPTION = """\
Runs every target's experiment of a targets file (e.g. targets/denmark.toml) on CONFIG
(default: the targets file's base) and prints the fit table: per target the empirical value,
the model's mean over the replications, z = (model - empirical) / combined standard error,
and whether |z| is within the target's tolerance. Writes nothing.
Time: experiments x replications runs at the targets' [set] size, in this process by default
(--workers 1, unlike compare and sweep, which use every CPU); targets/denmark.toml at its
defaults takes about a minute. The estimate is printed first; above 2 hours it waits for --yes.

exit status: 0 every target within its tolerance; 1 a target missed (for CI); 2 a mistake in
the input (one line)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("check", help="the fit of a config to a targets file (exit 1 if a target is missed)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", type=Path, help="targets file (TOML), e.g. targets/denmark.toml")
    parser.add_argument("config", type=Path, nargs="?", default=None, help="config to check (default: the targets file's base)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter of the config, e.g. --set progress.quality_elasticity=0.8 (repeatable)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the replications' seeds come from (default: the targets file's); another seed set shows whether a fit is the seed's")
    add_execution_arguments(parser)
    add_yes_argument(parser)
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def add_execution_arguments(parser) -> None:
    """Replications and where runs execute (shared with ``abm calibrate``)."""
    parser.add_argument("--replications", type=int, default=None, help="replications per experiment (default: the targets file's)")
    parser.add_argument("--workers", type=int, default=1,
                        help="CPUs of a local Ray; 1 (default here, unlike compare and sweep) runs in this process without Ray")
    parser.add_argument("--address", default=None, metavar="HOST:PORT", help="run on a running Ray cluster instead")


def handle(args) -> int:
    check_executor_options(args.workers, args.address)
    if args.address is not None:
        check_reachable(args.address)
    check_seed(args.seed)
    check_whole("--replications", args.replications, 1, MAX_REPLICATIONS)
    targets = load_targets(args.targets)
    if args.seed is not None:
        targets = dataclasses.replace(targets, seed=args.seed)
    config = targets.base_config(args.config).with_overrides(parse_overrides(args.overrides), origin="--set")
    replications = args.replications or targets.replications
    runs = experiment(targets, config)
    configs = list(runs.configs.values())
    cpus = 1 if args.address else args.workers
    check_memory(configs, parallel=cpus, force=args.force, origin=str(args.targets))
    seconds = sum(estimate(arm).seconds for arm in configs) * replications / cpus
    print(f"{args.targets}: {len(configs)} experiments x {replications} replications, "
          + check_duration(seconds, args.yes or args.address is not None, str(args.targets), "the check", "fewer --replications"), flush=True)
    values = run_experiments([runs], replications, args.workers, args.address)[0]
    if isinstance(values, str):
        raise UserError(f"a run of the targets' experiments failed:\n{values}")
    table = fit_table(targets, values)
    print(f"fit of {args.config or targets.base} to {targets.path} ({replications} replications, seed {targets.seed})\n")
    print(format_fit(table))
    return 0 if passes(table) else 1
