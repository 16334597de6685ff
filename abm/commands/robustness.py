"""``abm robustness RESULTS``: which policy is robust over a sweep's scenarios, not best on average.

Per policy (strategy and lever settings): each outcome's distribution over the scenarios
and the regret against the best policy in each scenario; see :mod:`abm.sweep.decision`.
"""

from __future__ import annotations

from pathlib import Path

from abm.errors import UserError
from abm.sweep.decision import robustness

DEFAULT_OUTCOMES = ["net_cost_mdkk:min", "trust_mean:max"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("robustness", help="outcomes and regret per policy over a sweep's scenarios")
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
            raise UserError(f"{option} {item!r}: expected OUTCOME:min or OUTCOME:max, e.g. net_cost_mdkk:min")
        pairs.append((name, sense))
    return pairs


def handle(args) -> int:
    text, out = robustness(args.results, parse_senses(args.outcomes, "--outcomes"), args.out)
    print(text)
    print(f"\nwritten: {out}/ (robustness.parquet, robustness_*.png, robustness.html)")
    return 0
