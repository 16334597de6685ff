"""``abm calibrate TARGETS --params KEY ...``: fit parameters to a targets file (Optuna, resumable).

See :mod:`abm.calibration.calibrate` for what is written where.
"""

from __future__ import annotations

from pathlib import Path

from abm.calibration import abc
from abm.calibration.calibrate import calibrate
from abm.commands.check import add_execution_arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("calibrate", help="fit parameters to empirical targets (Optuna; resumable)")
    parser.add_argument("targets", type=Path, help="targets file (TOML), e.g. targets/denmark.toml")
    parser.add_argument("--params", nargs="+", default=[], metavar="KEY",
                        help="parameters to fit, e.g. progress.quality_elasticity casework.half_quality_minutes "
                             "(with --method abc, default: every parameter with a prior range in the targets file)")
    parser.add_argument("--method", choices=("optuna", abc.METHOD), default="optuna",
                        help="optuna (default): the best point (TPE); abc: a posterior by ABC-SMC (pyabc), docs/calibration.md")
    abc.add_arguments(parser)
    parser.add_argument("--trials", type=int, default=50, help="trials in all, counting those of a resumed study (default 50)")
    add_execution_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the calibration stored in the results folder")
    parser.add_argument("--seed", type=int, default=None, help="seed of the sampler (default: the targets file's seed)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/calibrate-<targets name>)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    if args.method == abc.METHOD:
        return abc.handle(args)
    result = calibrate(args.targets, args.params, args.trials, args.replications, args.workers, args.address,
                       args.resume, args.out, args.seed)
    print((result.folder / "fit.txt").read_text(encoding="utf-8"))
    print(f"best parameters: {result.best_params}")
    print(f"results: {result.folder}/ (best.toml, trials.parquet, accepted.parquet, fit.txt, plots/, report.html)")
    return 0
