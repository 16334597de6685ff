"""``abm calibrate TARGETS --params KEY ...``: fit parameters to a targets file (Optuna, resumable).

See :mod:`abm.calibration.calibrate` for what is written where.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from abm.calibration import abc
from abm.calibration.calibrate import calibrate
from abm.commands.check import add_execution_arguments
from abm.commands.common import add_yes_argument, check_executor_options

DESCRIPTION = """\
Fits the parameters named by --params so that the model meets the targets of a targets file
(each target: a statistic of an experiment on the base config, the empirical value and its
standard error). Optuna's TPE sampler, seeded, asks 4 trials at a time; each trial runs every
target's experiment --replications times and is scored by the weighted sum of squared z.
Search bounds: the targets file's [parameters] (e.g. targets/denmark.toml), else the
parameter's whole allowed range in the schema (abm validate --schema), which is wide.
A strategy's setting that no experiment's strategy reads (council.caseload_target when every
arm runs status_quo) is refused.

Writes, in results/calibrate-<targets name>/ (or --out), which must be new unless --resume:
  study.db  Optuna's study: every finished trial, kept as it ends (--resume continues it)
  best.toml  a config layer extending the base with the best values
  trials.parquet, accepted.parquet (trials within every tolerance: abm compare --posterior)
  fit.txt, fit.parquet, plots/, report.html
Time: trials x experiments x replications runs, in this process by default (--workers 1);
targets/denmark.toml with the default 50 trials takes roughly 10-20 minutes on one CPU. The estimate
is printed first and above 2 hours it waits for --yes.

exit status: 0 done; 2 a mistake in the input, the folder or the study (one line, nothing
written); 130 interrupted (Ctrl+C): finished trials stay in study.db for --resume."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("calibrate", help="fit parameters to empirical targets (Optuna; resumable)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", type=Path, help="targets file (TOML), e.g. targets/denmark.toml")
    parser.add_argument("--params", nargs="+", default=[], metavar="KEY",
                        help="parameters to fit, e.g. progress.quality_elasticity casework.half_quality_minutes "
                             "(with --method abc, default: every parameter with a prior range in the targets file)")
    parser.add_argument("--method", choices=("optuna", abc.METHOD), default="optuna",
                        help="optuna (default): the best point (TPE); abc: a posterior by ABC-SMC (pyabc), docs/calibration.md")
    abc.add_arguments(parser)
    parser.add_argument("--trials", type=int, default=50, help="trials in all, counting those of a resumed study (default 50)")
    add_execution_arguments(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue the calibration stored in the results folder (refused unless its study.db was "
                             "started for the same targets, parameters, bounds and replications)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the sampler (default: the targets file's seed)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/calibrate-<targets name>)")
    add_yes_argument(parser)
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_executor_options(args.workers, args.address)
    if args.method == abc.METHOD:
        return abc.handle(args)
    result = calibrate(args.targets, args.params, args.trials, args.replications, args.workers, args.address,
                       args.resume, args.out, args.seed, yes=args.yes, force=args.force)
    print((result.folder / "fit.txt").read_text(encoding="utf-8"))
    print(f"best parameters: {result.best_params}")
    print(f"results: {result.folder}/ (best.toml, trials.parquet, accepted.parquet, fit.txt, plots/, report.html)")
    return 0
