"""What a run will cost before it starts: memory and rough time, and how big a sweep is.

A run's memory is mostly its tables: one row per citizen *slot* (every client plus
``SLOT_HEADROOM`` room to enter and move), one per caseworker, and the weekly record (one
row per municipality and week). Measured once with ``benchmarks/memory.py`` (peak resident
memory of fresh processes at 6.5 million slots, 4.5 million caseworkers and 98 x 5,200
weekly rows, minus a near-empty run)::

    memory = 260 MiB + 400 B x slots + 270 B x caseworkers + 620 B x municipality-weeks

The estimate is of the tables at the start (clients and staff at their starting levels);
a run whose jobcenters fill up over the years needs more, which the margin below allows
for. Time is rough: about 6 million client-weeks a second on one core
(``benchmarks/results.json``).

``abm run``, ``abm compare`` and ``abm sweep`` call :func:`check_memory` before any output
folder is made; ``--force`` runs anyway. ``abm sweep`` calls :func:`check_design_size`
before it draws a design's points (above ``RUN_LIMIT`` runs it asks for ``--yes``), then
:func:`plan_sweep`, which also asks for ``--yes`` when the local sweep would take more
than ``HOURS_LIMIT`` hours; ``run``, ``compare``, ``check``, ``calibrate`` and ``optimise``
ask the same through :func:`check_duration`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from abm.config import Config
from abm.errors import UserError
from abm.people import SLOT_HEADROOM
from abm.population import given_clients
from abm.denmark import municipality_frame

GIB = 2**30
BASE_BYTES = 260 * 2**20         # Python, numpy, numba, polars, Mesa and one tiny model
BYTES_PER_SLOT = 400             # citizen columns, network ties and a slot's share of temporaries
BYTES_PER_CASEWORKER = 270
BYTES_PER_WEEKLY_ROW = 620       # the weekly record and the table made from it
MARGIN = 1.25                    # jobcenters that fill up, and the allocator's slack
CLIENT_WEEKS_PER_SECOND = 6e6    # one core, full-scale benchmark
RUN_LIMIT = 10_000
"""Most runs a sweep makes without ``--yes`` (a random design with ``n = 10000``, or a
Sobol design of 1,024 base samples over 8 parameters, at one replication and strategy)."""
HOURS_LIMIT = 2.0
"""Longest a local sweep may take (estimated) without ``--yes``."""


@dataclass(frozen=True)
class Estimate:
    """What one run needs: bytes of memory (with ``MARGIN``) and seconds on one core."""

    bytes: int
    seconds: float
    clients: int
    caseworkers: int
    municipalities: int
    weeks: int

    def describe(self) -> str:
        return (f"{self.clients:,} clients and {self.caseworkers:,} caseworkers in {self.municipalities} "
                f"municipalities for {self.weeks} weeks")


def estimate(config: Config) -> Estimate:
    """The memory and time one run of ``config`` needs, from its population and weeks."""
    inhabitants = municipality_frame(config.municipalities)["inhabitants"].to_numpy()
    clients = given_clients(inhabitants, config)
    slots = float(np.ceil(clients * SLOT_HEADROOM).sum()) + 16 * len(inhabitants)
    caseload = config.council.initial_caseload * (1 - config.council.initial_caseload_spread)
    caseworkers = float(np.ceil(clients / caseload).sum()) * max(1.0, config.council.max_headcount_factor)
    weeks = config.run.weeks
    memory = BASE_BYTES + MARGIN * (BYTES_PER_SLOT * slots + BYTES_PER_CASEWORKER * caseworkers
                                    + BYTES_PER_WEEKLY_ROW * weeks * len(inhabitants))
    client_weeks = float(clients.sum()) * (weeks + config.run.burn_in_weeks)
    return Estimate(int(memory), 1.0 + client_weeks / CLIENT_WEEKS_PER_SECOND, int(clients.sum()),
                    int(caseworkers), len(inhabitants), weeks)


def available_memory() -> int:
    """Bytes this machine can give a new process now without swapping (Linux MemAvailable)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(configs: list[Config], parallel: int = 1, force: bool = False, origin: str = "") -> Estimate:
    """Refuse, with one line, runs that would need more memory than the machine has.

    ``configs`` are the runs to make (the largest counts); ``parallel`` of them run at once.
    Returns the largest run's estimate. ``force`` skips the refusal (``--force``).
    """
    largest = max((estimate(config) for config in configs), key=lambda e: e.bytes)
    at_once = max(1, min(parallel, len(configs)))
    needed = largest.bytes * at_once
    available = available_memory()
    if needed > available and not force:
        runs = "a run of" if at_once == 1 else f"{at_once} runs at once (--workers), the largest of"
        raise UserError(
            f"{origin + ': ' if origin else ''}{runs} {largest.describe()} needs about {_gib(needed)} of memory "
            f"(and about {_duration(largest.seconds)} a run), but {_gib(available)} is available: make it smaller "
            f"(municipalities.population_scale, municipalities.sizes, run.weeks{', fewer --workers' if at_once > 1 else ''}) "
            f"or add --force to try anyway"
        )
    return largest


def plan_sweep(configs: list[Config], runs_each: int, workers: int | None, yes: bool, force: bool, origin: str) -> str:
    """Check a sweep's memory and time before it starts; return the line that announces it.

    ``configs`` are its design points, each run ``runs_each`` times (replications x
    strategies); ``workers`` is the local Ray's CPUs, or ``None`` on a cluster, whose nodes
    have their own memory and CPUs (only the CPU time is stated there).
    """
    runs = len(configs) * runs_each
    cpu_seconds = sum(estimate(config).seconds for config in configs) * runs_each
    if workers is None:
        return f"{runs:,} runs, about {_duration(cpu_seconds)} of CPU time (estimated)"
    check_memory(configs, parallel=workers, force=force, origin=origin)
    seconds = cpu_seconds / max(1, min(workers, runs))
    if seconds > HOURS_LIMIT * 3600 and not yes:
        raise UserError(f"{origin}: the design's {runs:,} runs would take about {_duration(seconds)} on {workers} CPUs "
                        f"(estimated), more than the {HOURS_LIMIT:g} h a sweep starts without asking: make the design "
                        f"smaller, or add --yes to run it")
    return f"{runs:,} runs, about {_duration(seconds)} on {workers} CPUs (estimated)"


def check_duration(seconds: float, yes: bool, origin: str, what: str, smaller: str) -> str:
    """The estimate as words; refused above ``HOURS_LIMIT`` hours unless ``yes`` (as ``abm sweep`` does).
    Commands on a cluster (``--address``) pass ``yes``: its CPUs are not known here, as in :func:`plan_sweep`."""
    if seconds > HOURS_LIMIT * 3600 and not yes:
        raise UserError(f"{origin}: {what} would take about {_duration(seconds)} (estimated), more than the "
                        f"{HOURS_LIMIT:g} h a command starts without asking: {smaller}, or add --yes to run it")
    return f"about {_duration(seconds)} (estimated)"


def check_design_size(runs: int, origin: str, yes: bool) -> None:
    """Refuse a design of more than ``RUN_LIMIT`` runs unless ``yes`` (``--yes``), before it is drawn."""
    if runs > RUN_LIMIT and not yes:
        raise UserError(
            f"{origin}: the design makes {runs:,} runs, more than the {RUN_LIMIT:,} a sweep makes without asking: "
            f"make design.n, the grid, replications or strategies smaller, or add --yes to run them all"
        )


def _gib(size: float) -> str:
    return f"{size / GIB:.1f} GiB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
