"""One module per ``abm`` command, each with ``add_parser(subparsers)``."""

from abm.commands import compare, run, sweep, validate, viz
from abm.commands import calibrate, check
from abm.commands import discover, optimise, robustness
from abm.commands import brief

COMMANDS = [run, compare, sweep, validate, viz]
COMMANDS += [check, calibrate]
COMMANDS += [discover, robustness, optimise]
COMMANDS += [brief]
