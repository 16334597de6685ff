"""The ``abm`` command line: ``run``, ``compare``, ``sweep``, ``viz``, ``validate``.

Every user mistake (a bad config, a path that cannot be written ...) ends in one clear
message on stderr and exit status 2, never a traceback. Each command lives in its own
module and registers itself through ``add_parser``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from abm.errors import UserError

DEFAULT_CONFIG = "configs/compare.toml"


def add_config_arguments(parser: argparse.ArgumentParser, config_required: bool = True) -> None:
    """The arguments every config-driven command shares."""
    if config_required:
        parser.add_argument("config", type=Path, help="config file (TOML), e.g. configs/baseline.toml")
    else:
        parser.add_argument("config", type=Path, nargs="?", default=None, help=f"config file (default {DEFAULT_CONFIG})")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a parameter, e.g. --set council.strategy=invest (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's run.seed)")


def build_parser() -> argparse.ArgumentParser:
    from abm.commands import COMMANDS

    parser = argparse.ArgumentParser(prog="abm", description="Municipal jobcenters under council investment strategies.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        print(f"abm {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"abm {args.command}: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
