"""One module per ``abm`` command, each with ``add_parser(subparsers)``."""

from abm.commands import compare, run, validate

COMMANDS = [run, compare, validate]
