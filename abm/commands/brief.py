"""``abm brief MUNICIPALITY``: one page for a council's analyst (:mod:`abm.brief`)."""

from __future__ import annotations

from pathlib import Path

from abm.brief import POSTERIOR, Request, brief
from abm.commands.common import add_executor_arguments
from abm.execution import check_executor


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "brief", help="one HTML page comparing the strategies for one Danish municipality at its real size",
        description="Compare every strategy for one municipality (a Danish municipality by name, e.g. \"Høje-Taastrup\", "
                    "or a config, whose first municipality is briefed) at its real size among a few municipalities of "
                    "similar size, and write brief.html: the answer with its interval, payback and its probability, "
                    "trust, turnover and protests, the calibration's uncertainty, the assumptions and the command that "
                    "redoes it. Writes into a new folder (default results/brief-<name>); a folder with files is refused. "
                    "At the defaults: 6 strategies x 5 replications = 30 runs, and 5 x 30 more with the posterior "
                    "(minutes on a laptop; --weeks 104 --replications 3 --no-posterior is a quick look). "
                    "Exit status 0 on success, 2 on bad input.")
    parser.add_argument("target", help='a Danish municipality by name (e.g. "Høje-Taastrup") or a config file (TOML)')
    parser.add_argument("--weeks", type=int, default=520, help="horizon in weeks (default 520: ten years)")
    parser.add_argument("--replications", type=int, default=5, help="seeds per strategy (default 5)")
    parser.add_argument("--peers", type=int, default=3, help="municipalities of similar size simulated beside it (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's run.seed)")
    parser.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                        help=f"a calibration's accepted.parquet; default {POSTERIOR} when it exists")
    parser.add_argument("--no-posterior", action="store_true", help="skip the calibration's uncertainty (faster)")
    parser.add_argument("--draws", type=int, default=5, help="with a posterior: the best this many accepted vectors (default 5)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter, e.g. --set run.burn_in_weeks=52 (repeatable)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/brief-<name>)")
    add_executor_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_executor(args.workers, args.address)
    posterior = None if args.no_posterior else args.posterior or (POSTERIOR if POSTERIOR.is_file() else None)
    request = Request(args.target, weeks=args.weeks, replications=args.replications, peers=args.peers, seed=args.seed,
                      posterior=posterior, draws=args.draws, overrides=tuple(args.overrides))
    text, out = brief(request, args.out, workers=args.workers, address=args.address)
    print(text)
    print(f"\nbrief: {out}/brief.html (and comparison.txt, comparison.parquet, runs.parquet"
          + (", posterior.parquet)" if posterior else ")"))
    return 0
