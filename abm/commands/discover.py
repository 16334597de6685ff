"""``abm discover RESULTS --when EXPRESSION``: where, among a sweep's scenarios, a condition holds.

PRIM and CART (EMA Workbench) on a finished sweep; see :mod:`abm.sweep.decision`. Writes
into ``RESULTS/discovery/<hash of the expression>/`` (or ``--out``), never into the sweep's
own files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from abm.output import output_folder
from abm.sweep.decision import DENSITY, check_density, discover, discovery_folder

DESCRIPTION = f"""\
Scenario discovery on a finished sweep (abm sweep): where, among its design points, the
condition --when holds. PRIM finds a box of the uncertainties and levers (coverage, density,
each limit's quasi-p value); CART's leaves give a second view. Reads the sweep's
manifest.json and summary.parquet, never changes them, and writes, in
RESULTS/discovery/<hash of the question>/ (or --out; a folder that holds files is refused):
  scenarios.parquet, prim_trajectory.parquet, prim_box.parquet, cart_boxes.parquet
  prim_tradeoff.png, prim_box.png, discovery.txt, discovery.html
Takes seconds. --density (default {DENSITY}) is a share above 0 and at most 1.

exit status: 0 done; 2 a mistake in the input, or a damaged sweep folder (one line, nothing written)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("discover", help="scenario discovery (PRIM, CART) on a finished sweep",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a sweep's results folder, e.g. results/payback_discovery")
    parser.add_argument("--when", required=True, metavar="EXPRESSION",
                        help='condition on outcomes, e.g. "invest.net_cost_mdkk < status_quo.net_cost_mdkk"; '
                             "numbers, outcomes, strategy.outcome, + - * /, comparisons, and, or, not")
    parser.add_argument("--density", type=float, default=DENSITY,
                        help=f"the PRIM box shown: of those with at least this density (default {DENSITY}), "
                             "the largest coverage x density")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default RESULTS/discovery/<hash>)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_density(args.density)
    with output_folder(args.out or discovery_folder(args.results, args.when, args.density), create=False,
                       can_overwrite=False, analysis=True) as out:
        text, out = discover(args.results, args.when, out, args.density)
    print(text)
    print(f"\nwritten: {out}/ ({', '.join(sorted(path.name for path in out.iterdir()))})")
    return 0
