"""The ``abm`` command line: ``run``, ``compare``, ``sweep``, ``viz``, ``validate``.

Every user mistake (a bad config, a path that cannot be written ...) ends in one clear
message on stderr and exit status 2, never a traceback. Each command lives in its own
module (:mod:`abm.commands`) and registers itself through ``add_parser``; this module
only assembles them, so nothing imports it back.
"""

from __future__ import annotations

import argparse
import sys

from abm import signals
from abm.commands import COMMANDS
from abm.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abm", description="Municipal jobcenters under council investment strategies.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with signals.stopping():
            return int(args.handler(args) or 0)
    except UserError as error:
        print(f"abm {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"abm {args.command}: interrupted; finished results are kept", file=sys.stderr)
        return signals.exit_status(interrupt)


if __name__ == "__main__":
    sys.exit(main())
