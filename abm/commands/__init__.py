"""One module per ``abm`` command, each with ``add_parser(subparsers)``."""

from abm.commands import compare, run, sweep, validate

COMMANDS = [run, compare, sweep, validate]
