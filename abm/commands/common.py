"""What several commands share: the config, executor and output arguments, and the checks of
numbers and addresses every command makes before it writes anything."""

from __future__ import annotations

import argparse
import ipaddress
import re
from pathlib import Path

from abm.errors import UserError, cut
from abm.resources import HOURS_LIMIT

DEFAULT_CONFIG = "configs/compare.toml"
SEED_RANGE = (0, 2**63 - 1)
HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")


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


def add_output_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """``--out`` and ``--overwrite`` (see docs/commands.md: nothing is overwritten unless asked)."""
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {default}); "
                        "a folder that holds files is refused unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that holds results, replacing the files this command writes "
                             "(never a sweep's folder)")


def add_yes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help=f"start even if the estimate is more than {HOURS_LIMIT:g} hours (otherwise refused with the estimate)")


def check_whole(option: str, value: int | None, low: int, high: int | None = None) -> None:
    """A whole-number option in ``[low, high]``, or one line naming it, its value and the range."""
    if value is None:
        return
    if value < low or (high is not None and value > high):
        allowed = f"a whole number from {low:,} to {high:,}" if high is not None else f"a whole number >= {low:,}"
        raise UserError(f"{option} {cut(str(value))}: expected {allowed}")


def check_seed(seed: int | None, option: str = "--seed", high: int = SEED_RANGE[1]) -> None:
    check_whole(option, seed, SEED_RANGE[0], high)


def check_address(address: str | None) -> None:
    """``HOST:PORT`` with a host name or IPv4 address and a port 1-65535, checked before connecting."""
    if address is None:
        return
    host, _, port = address.rpartition(":")
    example = "e.g. --address 10.0.0.5:6379"
    if host.startswith("[") or host.count(":"):
        raise UserError(f"--address {cut(repr(address))}: an IPv6 address; give the Ray head's IPv4 address or host name "
                        f"and port, {example}")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UserError(f"--address {cut(repr(address))}: expected HOST:PORT with a port from 1 to 65535, {example}")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        if host.replace(".", "").isdigit() or not HOST_NAME.fullmatch(host):
            raise UserError(f"--address {cut(repr(address))}: {cut(repr(host))} is neither an IPv4 address nor a "
                            f"host name, {example}") from None


def check_executor_options(workers: int | None, address: str | None) -> None:
    """Workers and address checked as numbers and words, before anything connects or is written."""
    check_whole("--workers", workers, 1, 4096)
    check_address(address)
