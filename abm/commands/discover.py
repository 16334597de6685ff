"""``abm discover RESULTS --when EXPRESSION``: where, among a sweep's scenarios, a condition holds.

PRIM and CART (EMA Workbench) on a finished sweep; see :mod:`abm.sweep.decision`. Writes
into ``RESULTS/discovery/<hash of the expression>/`` (or ``--out``), never into the sweep's
own files.
"""

from __future__ import annotations

from pathlib import Path

from abm.sweep.decision import DENSITY, discover


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("discover", help="scenario discovery (PRIM, CART) on a finished sweep")
    parser.add_argument("results", type=Path, help="a sweep's results folder, e.g. results/payback_discovery")
    parser.add_argument("--when", required=True, metavar="EXPRESSION",
                        help='condition on outcomes, e.g. "invest.net_cost_mdkk < status_quo.net_cost_mdkk"')
    parser.add_argument("--density", type=float, default=DENSITY,
                        help=f"the PRIM box shown: of those with at least this density (default {DENSITY}), "
                             "the largest coverage x density")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default RESULTS/discovery/<hash>)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    text, out = discover(args.results, args.when, args.out, args.density)
    print(text)
    print(f"\nwritten: {out}/ ({', '.join(sorted(path.name for path in out.iterdir()))})")
    return 0
