"""``abm robustness RESULTS``: which policy is robust over a sweep's scenarios, not best on average.

Per policy (strategy and lever settings): each outcome's distribution over the scenarios
and the regret against the best policy in each scenario; see :mod:`abm.sweep.decision`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from abm.errors import UserError, cut
from abm.output import output_folder
from abm.sweep.decision import robustness

DEFAULT_OUTCOMES = ["net_cost_mdkk:min", "trust_mean:max"]
DESCRIPTION = """\
Which policy (a strategy with its lever settings) is robust over a finished sweep's
scenarios, not only best on average: per policy and outcome, the distribution over the
scenarios and the regret against the best policy in each scenario. Reads the sweep's
manifest.json and summary.parquet, never changes them, and writes, in RESULTS/robustness/
(or --out; a folder that holds files is refused): robustness.parquet, robustness.txt,
robustness_<outcome>.png, robustness.html. Takes seconds.

exit status: 0 done; 2 a mistake in the input, or a damaged sweep folder (one line, nothing written)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("robustness", help="outcomes and regret per policy over a sweep's scenarios",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a sweep's results folder, e.g. results/payback_discovery")
    parser.add_argument("--outcomes", nargs="+", default=DEFAULT_OUTCOMES, metavar="OUTCOME:min|max",
                        help=f"outcomes and which way is better (default {' '.join(DEFAULT_OUTCOMES)})")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default RESULTS/robustness)")
    parser.set_defaults(handler=handle)


def parse_senses(items: list[str], option: str) -> list[tuple[str, str]]:
    """``name:min`` / ``name:max`` pairs, or one clear line naming the bad one."""
    pairs = []
    for item in items:
        name, _, sense = item.rpartition(":")
        if not name or sense not in ("min", "max"):
            raise UserError(f"{option} {cut(repr(item))}: expected OUTCOME:min or OUTCOME:max, e.g. net_cost_mdkk:min")
        pairs.append((name, sense))
    return pairs


def handle(args) -> int:
    senses = parse_senses(args.outcomes, "--outcomes")
    with output_folder(args.out or args.results / "robustness", create=False, can_overwrite=False,
                       analysis=True) as out:
        text, out = robustness(args.results, senses, out)
    print(text)
    print(f"\nwritten: {out}/ (robustness.parquet, robustness_*.png, robustness.html)")
    return 0
