"""``abm validate CONFIG``: check a config and say what is wrong, or show what it resolves to."""

from __future__ import annotations

import argparse

from abm import strategies
from abm.commands.common import add_config_arguments
from abm.config import describe_schema, load_config
from abm.errors import UserError


DESCRIPTION = """\
Checks a config file (its extends chain, every value against the parameter schema, the rules
between parameters, the municipalities' names) and says what is wrong in one line, or that it
is valid. --show prints every resolved parameter; --schema every parameter with its unit,
range and source (docs/parameters.md is made with it); --strategies the registered
strategies. Writes nothing; takes about a second.

exit status: 0 valid; 2 a mistake (one line naming the file, the key, the value and what is allowed)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a config and say what is wrong",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, config_required=False)
    parser.add_argument("--show", action="store_true", help="print every resolved parameter")
    parser.add_argument("--schema", action="store_true", help="print every parameter with unit, range and source (Markdown)")
    parser.add_argument("--strategies", action="store_true", help="print the registered strategies (Markdown)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    if args.schema:
        print(describe_schema())
        return 0
    if args.strategies:
        print(strategies.describe())
        return 0
    if args.config is None:
        raise UserError("give a config file to check, e.g. abm validate configs/baseline.toml")
    config = load_config(args.config, args.overrides, seed=args.seed)  # every check, names of municipalities too
    if args.show:
        for section, values in config.to_dict().items():
            for key, value in values.items():
                print(f"{section}.{key} = {value!r}")
    print(f"{args.config}: valid ({config.description or 'no description'})")
    return 0
