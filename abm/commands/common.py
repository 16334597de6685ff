"""What several commands share: the config arguments, and the executor's options."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a batch of runs executes (:func:`abm.execution.execute`): the same for every command."""
    parser.add_argument("--workers", type=int, default=None,
                        help="CPUs of the local Ray (default: all); 1 runs in this process without Ray")
    parser.add_argument("--address", default=None, metavar="HOST:PORT",
                        help="join a running Ray cluster (its head's address) instead of starting Ray here")
