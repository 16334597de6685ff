"""The ``abm`` command line: ``run``, ``compare``, ``sweep``, ``viz``, ``validate`` and the analyses.

Every user mistake (a bad config, a path that cannot be written ...) ends in one clear
message on stderr and exit status 2, never a traceback. An interruption (Ctrl+C) exits
130 with a line saying what was kept (:mod:`abm.output`); output piped into a reader that
stops early (``| head``) ends quietly. Each command lives in its own
module (:mod:`abm.commands`) and registers itself through ``add_parser``; this module
only assembles them, so nothing imports it back.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from abm import signals
from abm.commands import COMMANDS
from abm.errors import UserError, cut

LONGEST_MESSAGE = 2000
EXIT_STATUSES = """exit status: 0 done; 1 done, but a run failed or a target was missed (see each command);
2 a mistake in the input, nothing written; 130 interrupted (Ctrl+C), with a line saying what was kept.
Each command's --help says what it does, what it writes and roughly how long it takes."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abm", description="Municipal jobcenters under council investment strategies.",
                                     epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        with signals.stopping(), warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return int(args.handler(args) or 0)
    except UserError as error:
        print(f"abm {args.command}: error: {cut(str(error), LONGEST_MESSAGE)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        kept = getattr(interrupt, "__notes__", None)
        print(f"abm {args.command}: interrupted" + (f"; {kept[-1]}" if kept else ""), file=sys.stderr)
        return signals.exit_status(interrupt)
    except BrokenPipeError:
        # the reader of our output stopped early (`abm validate --show | head`): end quietly,
        # and keep Python from failing again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a process ended by SIGPIPE


def _one_line_warning(command: str):
    """Warnings (a config's small municipalities) as one line under the command's name, like its errors."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"abm {command}: warning: {filename}: {cut(str(message), LONGEST_MESSAGE)}", file=sys.stderr)
    return show


if __name__ == "__main__":
    sys.exit(main())
